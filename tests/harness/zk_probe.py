#!/usr/bin/env python3
"""What a real ZooKeeper client (kazoo) may do at a znode, as a digest user or as nobody.

Usage: zk_probe.py HOSTS PATH USER:SECRET|- [LEADER_ZNODE]
Prints one line of JSON: for each operation, "ok" or the name of kazoo's exception
(NoAuthError, ...): get/children/set of PATH, create (and then delete) an ephemeral child, and
read LEADER_ZNODE when given.
"""
import json
import sys

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException


def attempt(op):
    try:
        op()
        return "ok"
    except KazooException as e:
        return type(e).__name__


def main():
    hosts, path, auth = sys.argv[1], sys.argv[2], sys.argv[3]
    leader = sys.argv[4] if len(sys.argv) > 4 else None
    auth_data = None if auth == "-" else [("digest", auth)]
    zk = KazooClient(hosts=hosts, auth_data=auth_data, timeout=10)
    zk.start(timeout=20)
    out = {
        "get": attempt(lambda: zk.get(path)),
        "children": attempt(lambda: zk.get_children(path)),
        "set": attempt(lambda: zk.set(path, b"")),
    }
    created = []
    out["create"] = attempt(
        lambda: created.append(zk.create(path + "/probe-", b"x", ephemeral=True, sequence=True))
    )
    if created:
        out["delete"] = attempt(lambda: zk.delete(created[0]))
    if leader:
        out["read_leader"] = attempt(lambda: zk.get(leader))
        out["set_leader"] = attempt(lambda: zk.set(leader, b"{}"))
    zk.stop()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
