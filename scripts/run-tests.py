#!/usr/bin/env python3
"""Runs the workspace's test binaries and pytest side by side, as `cargo test` would one by one.

Most of the suite waits on real servers (ZooKeeper elections, moto, Terraform), not on the CPU,
so running a few test processes at once shortens the suite without making any test shorter.
Each Rust test binary gets its own loopback range (`MESOS_BOOT_TEST_NET`, see
tests/harness/net.rs), so two processes never start a ZooKeeper on the same address.

Usage: scripts/run-tests.py [--jobs N] [--cargo-arg ARG ...] [-- PYTEST_ARGS...]
  builds with `cargo test --workspace --no-run`, then runs every test binary (cwd: its package,
  as cargo does) and `python -m pytest PYTEST_ARGS` (when given), at most N at a time, longest
  first. Prints each one's output when it ends, a table of durations, and exits 1 if any failed.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Seconds each took in the last full run (longest first is what keeps the lanes even); an
# unknown binary counts as long, so it starts early.
WEIGHTS = {
    "pytest": 520,
    "image": 500,
    "ensemble": 190,
    "whole_system": 180,
    "soak": 150,
    "resilience": 110,
    "core": 70,
    "autoscaler": 65,
    "tls": 80,
    "membership": 60,
    "bad_input": 40,
    "zk_config": 30,
    "harness_selftest": 20,
}


def build(cargo_args: list[str]) -> list[tuple[str, Path, Path]]:
    """(name, executable, cwd) of every test binary `cargo test --workspace` runs."""
    cmd = ["cargo", "test", "--workspace", "--no-run", "--message-format=json-render-diagnostics"]
    out = subprocess.run(cmd + cargo_args, stdout=subprocess.PIPE, check=True, text=True).stdout
    found = []
    for line in out.splitlines():
        try:
            m = json.loads(line)
        except json.JSONDecodeError:
            continue
        if m.get("reason") != "compiler-artifact" or not m.get("profile", {}).get("test"):
            continue
        exe = m.get("executable")
        if not exe:
            continue
        kinds = m["target"]["kind"]
        name = m["target"]["name"] if "test" in kinds else f"{m['target']['name']} (unit)"
        found.append((name, Path(exe), Path(m["manifest_path"]).parent))
    return found


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("TEST_JOBS", "3")))
    ap.add_argument("--cargo-arg", action="append", default=[])
    ap.add_argument("pytest", nargs="*")
    a = ap.parse_args()

    jobs = []  # (name, argv, cwd, env)
    for i, (name, exe, cwd) in enumerate(build(a.cargo_arg)):
        # Disjoint /20s inside 127.0.0.0/16, the loopback "subnet" the harness gives moto
        # (a VPC is at most a /16).
        env = dict(os.environ, MESOS_BOOT_TEST_NET=f"127.0.{16 * (i % 16)}.11")
        jobs.append((name, [str(exe)], cwd, env))
    if a.pytest:
        jobs.append(("pytest", [sys.executable, "-m", "pytest", *a.pytest], Path.cwd(), dict(os.environ)))
    jobs.sort(key=lambda j: -WEIGHTS.get(j[0], 300 if "(unit)" not in j[0] else 10))

    logs = Path(tempfile.mkdtemp(prefix="mesos-boot-tests."))
    running, done, failed = [], [], []
    start = time.monotonic()
    while jobs or running:
        while jobs and len(running) < a.jobs:
            name, argv, cwd, env = jobs.pop(0)
            log = open(logs / (name.replace(" ", "_") + ".log"), "w+")
            print(f"-- start {name}", flush=True)
            p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
            running.append((name, p, log, time.monotonic()))
        time.sleep(0.2)  # polling the children, not synchronising a test
        for r in list(running):
            name, p, log, t0 = r
            if p.poll() is None:
                continue
            running.remove(r)
            took = time.monotonic() - t0
            log.seek(0)
            text = log.read()
            log.close()
            ok = p.returncode == 0
            print(f"\n-- {name}: {'ok' if ok else f'FAILED (exit {p.returncode})'} in {took:.0f} s")
            # Failures in full; a passing binary's summary lines only.
            if ok:
                print("\n".join(l for l in text.splitlines() if l.startswith(("test result", "running ", "=")) or " passed" in l))
            else:
                print(text)
                failed.append(name)
            sys.stdout.flush()
            done.append((name, took, ok))
    print(f"\n== durations (wall {time.monotonic() - start:.0f} s, {a.jobs} at a time)")
    for name, took, ok in sorted(done, key=lambda d: -d[1]):
        print(f"{took:7.0f} s  {'ok    ' if ok else 'FAILED'}  {name}")
    if failed:
        print(f"FAILED: {', '.join(failed)} (logs in {logs})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
