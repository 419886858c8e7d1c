#!/usr/bin/env python3
"""The security groups of an applied sample, enforced as packet filters (tests/image.rs).

    security_groups.py apply STATE_JSON LAYOUT_JSON
        Loads an nftables ruleset into every network namespace of LAYOUT (each node's, and the
        hub's, where the NLB emulators run) from the security groups and rules of STATE_JSON
        (`terraform show -json`). Run again after a node comes or goes: every ruleset is
        replaced at once (one nft transaction per namespace; connections keep their state).
    security_groups.py flows STATE_JSON README
        Checks that the flows the groups open are exactly terraform/README.md's "Network flows"
        table (the same data the filters are made from).

What AWS does, and so the filters: a security group is stateful (replies pass), denies what no
rule allows, and is evaluated on the sender's egress and on the receiver's ingress; a rule that
names a group matches the addresses of that group's members, a CIDR rule the addresses in it.
Link-local services (IMDS, the Time Sync Service) are not filtered; loopback never is.

LAYOUT (JSON):
    {"vpc_cidr": "10.40.0.0/16",
     "aws_api": "169.254.169.1:PORT",   # moto: S3 (prefix list) and the interface endpoints
     "members": {"zookeeper": ["10.40.0.5", ...], "lb-zookeeper": [...], ...},
     "nodes": [{"netns": "...", "group": "zookeeper"}, ...],
     "hub": {"netns": "...", "listeners": {"lb-zookeeper": "10.40.255.10", ...}, "source": "10.40.255.1"}}

The hub's NLB emulators connect to their targets from one source address, a member of both NLB
groups (AWS tells the two NLBs apart; here they share it). Moto stands for S3 and the AWS APIs:
a group reaches it when it has HTTPS egress to S3's prefix list, to the VPC's CIDR (the
interface endpoints) or to a CIDR holding the API (api_egress_cidr_blocks).
"""
from __future__ import annotations

import ipaddress
import json
import subprocess
import sys

LINK_LOCAL_UNFILTERED = ("169.254.169.254", "169.254.169.123")  # IMDS, Amazon Time Sync


def load(state_path: str) -> tuple[dict[str, str], list[dict]]:
    """Group names by id and every rule, from the security_groups module of the state."""
    state = json.load(open(state_path))
    resources, stack = [], [state["values"]["root_module"]]
    while stack:
        m = stack.pop()
        resources += m.get("resources", [])
        stack += m.get("child_modules", [])
    resources = [r for r in resources if r["address"].startswith("module.security_groups.")]
    # the module's groups are aws_security_group.this["<key>"]: lb_master is "lb-master"
    groups = {
        r["values"]["id"]: r["index"].replace("_", "-")
        for r in resources if r["type"] == "aws_security_group"
    }
    rules = []
    for r in resources:
        if r["type"] not in ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"):
            continue
        v = r["values"]
        rules.append({
            "dir": "in" if r["type"].endswith("ingress_rule") else "out",
            "group": groups[v["security_group_id"]],
            "peer": groups.get(v.get("referenced_security_group_id") or ""),
            "cidr": v.get("cidr_ipv4"),
            "prefix_list": v.get("prefix_list_id"),
            "proto": v["ip_protocol"],
            "ports": None if v["ip_protocol"] == "-1" else (v["from_port"], v["to_port"]),
        })
    return groups, rules


def _set(group: str) -> str:
    return "g_" + group.replace("-", "_")


def _ports(rule) -> str:
    if rule["ports"] is None:
        return ""
    lo, hi = rule["ports"]
    return f" tcp dport {lo}" if lo == hi else f" tcp dport {lo}-{hi}"


def _reaches_api(rule, vpc_cidr: str, api_ip: str) -> bool:
    """HTTPS egress that reaches the AWS APIs: S3's prefix list, the VPC (the interface
    endpoints), or a CIDR holding the API's address."""
    if rule["dir"] != "out" or not (rule["ports"] is None or rule["ports"][0] <= 443 <= rule["ports"][1]):
        return False
    if rule["prefix_list"]:
        return True
    return bool(rule["cidr"]) and (rule["cidr"] == vpc_cidr or ipaddress.ip_address(api_ip) in ipaddress.ip_network(rule["cidr"]))


def _matches(rule, direction: str) -> str | None:
    """The nft match of a rule's peer, seen from its own group's member."""
    field = "saddr" if direction == "in" else "daddr"
    if rule["peer"]:
        return f"ip {field} @{_set(rule['peer'])}"
    if rule["cidr"]:
        return f"ip {field} {rule['cidr']}"
    return None  # prefix list: the API rule below


def sets(members: dict[str, list[str]], groups: set[str]) -> list[str]:
    out = []
    for g in sorted(groups):
        elems = sorted(set(members.get(g, [])))
        body = f" elements = {{ {', '.join(elems)} }};" if elems else ""
        out.append(f"  set {_set(g)} {{ type ipv4_addr;{body} }}")
    return out


def node_ruleset(group: str, rules: list[dict], members, groups: set[str], vpc_cidr: str, api: str) -> str:
    api_ip, api_port = api.rsplit(":", 1)
    lines = ["flush ruleset", "table inet sg {", *sets(members, groups)]
    lines += [
        "  chain input {", "    type filter hook input priority 0; policy drop;",
        '    iif "lo" accept', "    ct state established,related accept",
    ]
    for r in rules:
        if r["group"] == group and r["dir"] == "in" and (m := _matches(r, "in")):
            lines.append(f"    {m}{_ports(r)} accept")
    lines += ["  }", "  chain output {", "    type filter hook output priority 0; policy drop;",
              '    oif "lo" accept', "    ct state established,related accept"]
    lines += [f"    ip daddr {a} accept" for a in LINK_LOCAL_UNFILTERED]
    if any(r["group"] == group and _reaches_api(r, vpc_cidr, api_ip) for r in rules):
        lines.append(f"    ip daddr {api_ip} tcp dport {api_port} accept")
    for r in rules:
        if r["group"] == group and r["dir"] == "out" and (m := _matches(r, "out")):
            lines.append(f"    {m}{_ports(r)} accept")
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def hub_ruleset(hub: dict, rules: list[dict], members, groups: set[str]) -> str:
    """The NLBs' own groups: ingress to each listener address, egress from the emulators'
    source address. The hub's other services (IMDS, moto) are left open."""
    lines = ["flush ruleset", "table inet sg {", *sets(members, groups)]
    lines += ["  chain input {", "    type filter hook input priority 0; policy accept;",
              "    ct state established,related accept"]
    for lb, addr in sorted(hub["listeners"].items()):
        lines.append(f"    ip daddr {addr} jump in_{_set(lb)}")
    lines += ["  }", "  chain output {", "    type filter hook output priority 0; policy accept;",
              "    ct state established,related accept",
              f"    ip saddr {hub['source']} jump out_nlb", "  }"]
    for lb in sorted(hub["listeners"]):
        lines.append(f"  chain in_{_set(lb)} {{")
        for r in rules:
            if r["group"] == lb and r["dir"] == "in" and (m := _matches(r, "in")):
                lines.append(f"    {m}{_ports(r)} accept")
        lines += ["    drop", "  }"]
    lines.append("  chain out_nlb {")
    for r in rules:
        if r["group"] in hub["listeners"] and r["dir"] == "out" and (m := _matches(r, "out")):
            lines.append(f"    {m}{_ports(r)} accept")
    lines += ["    drop", "  }", "}"]
    return "\n".join(lines) + "\n"


def nft(netns: str, ruleset: str):
    proc = subprocess.run(["nsenter", f"--net=/run/netns/{netns}", "nft", "-f", "-"], input=ruleset, text=True,
                          capture_output=True)
    if proc.returncode != 0:
        raise SystemExit(f"nft in {netns} failed ({proc.returncode}): {proc.stderr}\n--- ruleset\n{ruleset}")


def apply(state_path: str, layout_path: str):
    groups, rules = load(state_path)
    layout = json.load(open(layout_path))
    names = set(groups.values())
    unknown = {n["group"] for n in layout["nodes"]} - names
    if unknown:
        raise SystemExit(f"nodes of groups the state does not have: {unknown}")
    for n in layout["nodes"]:
        nft(n["netns"], node_ruleset(n["group"], rules, layout["members"], names, layout["vpc_cidr"], layout["aws_api"]))
    nft(layout["hub"]["netns"], hub_ruleset(layout["hub"], rules, layout["members"], names))


def flows(state_path: str, vpc_cidr: str, client_cidrs: set[str]) -> set[tuple[str, str, str]]:
    """(source, destination, ports) the groups open, named as the README's table names them."""
    groups, rules = load(state_path)
    names = set(groups.values())

    def ports(r):
        if r["ports"] is None:
            return "all"
        lo, hi = r["ports"]
        return str(lo) if lo == hi else f"{lo}-{hi}"

    def peer(r):
        if r["peer"]:
            return r["peer"]
        if r["prefix_list"]:
            return "s3"
        if r["cidr"] in client_cidrs and r["dir"] == "in":
            return "clients"
        if r["cidr"] == vpc_cidr and r["dir"] == "out":
            return "endpoints"
        return r["cidr"]

    ingress = {(peer(r), r["group"], ports(r)) for r in rules if r["dir"] == "in"}
    egress = {(r["group"], peer(r), ports(r)) for r in rules if r["dir"] == "out"}
    out = set()
    for src, dst, p in ingress:
        out.add((src, dst, p) if src not in names or (src, dst, p) in egress else ("<half-open>", dst, p))
    for src, dst, p in egress:
        if dst not in names:
            out.add((src, dst, p))
        elif (src, dst, p) not in ingress:
            out.add((src, "<half-open>", p))
    return out


def readme_flows(readme: str) -> set[tuple[str, str, str]]:
    text = open(readme).read()
    table = text.split("<!-- BEGIN FLOWS -->", 1)[1].split("<!-- END FLOWS -->", 1)[0]
    rows = [r.strip().strip("|").split("|") for r in table.strip().splitlines()[2:]]
    return {(c[0].strip(), c[1].strip(), c[2].strip()) for c in rows}


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "apply":
        apply(argv[1], argv[2])
        return 0
    if len(argv) == 4 and argv[0] == "flows":
        vpc = argv[3]
        got, want = flows(argv[1], vpc, {vpc}), readme_flows(argv[2])
        if got != want:
            print(f"the groups of {argv[1]} and the table of {argv[2]} differ:\n"
                  f"open but not in the table: {sorted(got - want)}\nin the table but not open: {sorted(want - got)}")
            return 1
        print(f"flows: the {len(got)} flows of the table are exactly the open ones")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
