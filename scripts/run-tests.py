#!/usr/bin/env python3
"""Runs the workspace's test binaries and pytest side by side, as `cargo test` would one by one.

Most of the suite waits on real servers (ZooKeeper elections, moto, Terraform), not on the CPU,
so running a few test processes at once shortens the suite without making any test shorter.
Each Rust test binary gets its own loopback range (`MESOS_BOOT_TEST_NET`, see
tests/harness/net.rs), so two processes never start a ZooKeeper on the same address.

Usage: scripts/run-tests.py [--jobs N] [--lane-timeout S] [--summary FILE] [--cargo-arg ARG ...]
                            [-- PYTEST_ARGS...]
  builds with `cargo test --workspace --no-run`, then runs every test binary (cwd: its package,
  as cargo does) and `python -m pytest PYTEST_ARGS` (when given), at most N at a time, longest
  first. Prints each one's output when it ends, a table of durations, and one closing line,
  `N passed, M failed, K skipped` over every lane (also written to FILE); exits 1 if any lane
  failed. A lane still running after S seconds is killed, its log printed, and counts as
  failed. A `tests/*.rs` that no test target builds fails the run (cargo finds no test at the
  package's root by itself), and under CI=true so does any skipped test (an ignored Rust test,
  a pytest skip): a missing dependency must fail, not pass unseen.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Seconds each took in the last full run (longest first is what keeps the lanes even); an
# unknown binary counts as long, so it starts early.
WEIGHTS = {
    "pytest (deployed)": 650,
    "pytest": 450,
    "resilience": 380,
    "image": 310,
    "whole_system": 220,
    "soak": 190,
    "tls": 180,
    "ensemble": 170,
    "core": 90,
    "autoscaler": 70,
    "zk_config": 60,
    "membership": 60,
    "bad_input": 20,
    "harness_selftest": 20,
}


def build(cargo_args: list[str]) -> tuple[list[tuple[str, Path, Path]], set[Path]]:
    """(name, executable, cwd) of every test binary `cargo test --workspace` runs, and the
    source files of every target built."""
    cmd = ["cargo", "test", "--workspace", "--no-run", "--message-format=json-render-diagnostics"]
    out = subprocess.run(cmd + cargo_args, stdout=subprocess.PIPE, check=True, text=True).stdout
    found, sources = [], set()
    for line in out.splitlines():
        try:
            m = json.loads(line)
        except json.JSONDecodeError:
            continue
        if m.get("reason") == "compiler-artifact":
            sources.add(Path(m["target"]["src_path"]).resolve())
        if m.get("reason") != "compiler-artifact" or not m.get("profile", {}).get("test"):
            continue
        exe = m.get("executable")
        if not exe:
            continue
        kinds = m["target"]["kind"]
        name = m["target"]["name"] if "test" in kinds else f"{m['target']['name']} (unit)"
        found.append((name, Path(exe), Path(m["manifest_path"]).parent))
    return found, sources


def unbuilt_test_files(sources: set[Path]) -> list[Path]:
    """The `tests/*.rs` files no target was built from (a missing `[[test]]` entry)."""
    root = Path(__file__).resolve().parent.parent / "tests"
    return sorted(p for p in root.glob("*.rs") if p.resolve() not in sources)


def counts(name: str, text: str) -> tuple[int, int, int]:
    """(passed, failed, skipped) a lane reported: cargo's `test result:` lines (ignored counts
    as skipped), or pytest's closing summary."""
    if name.startswith("pytest"):
        last = [l for l in text.splitlines() if re.search(r"\b(passed|failed|error|skipped)\b", l) and " in " in l]
        if not last:
            return 0, 0, 0
        line = last[-1]
        get = lambda w: sum(int(n) for n in re.findall(rf"(\d+) {w}", line))
        return get("passed"), get("failed") + get("errors?"), get("skipped")
    p = f = sk = 0
    for m in re.finditer(r"test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored", text):
        p, f, sk = p + int(m[1]), f + int(m[2]), sk + int(m[3])
    return p, f, sk


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("TEST_JOBS", "3")))
    ap.add_argument("--cargo-arg", action="append", default=[])
    ap.add_argument("--lane-timeout", type=float, default=float(os.environ.get("TEST_LANE_TIMEOUT", "1800")))
    ap.add_argument("--summary", type=Path)
    ap.add_argument("pytest", nargs="*")
    a = ap.parse_args()

    binaries, sources = build(a.cargo_arg)
    unbuilt = unbuilt_test_files(sources)
    if unbuilt:
        print("FAILED: no [[test]] in tests/Cargo.toml builds " + ", ".join(p.name for p in unbuilt))
        return 1
    ci = os.environ.get("CI") == "true"
    jobs = []  # (name, argv, cwd, env)
    for i, (name, exe, cwd) in enumerate(binaries):
        # Disjoint /20s inside 127.0.0.0/16, the loopback "subnet" the harness gives moto
        # (a VPC is at most a /16).
        env = dict(os.environ, MESOS_BOOT_TEST_NET=f"127.0.{16 * (i % 16)}.11")
        jobs.append((name, [str(exe)], cwd, env))
    if a.pytest:
        # Two lanes: the tests of the sample applied to moto (one apply and one destroy, the
        # longest lane alone) and the rest (tests/terraform/conftest.py marks them).
        pytest = [sys.executable, "-m", "pytest", "-rs", *a.pytest]
        jobs.append(("pytest (deployed)", [*pytest, "-m", "deployed"], Path.cwd(), dict(os.environ)))
        jobs.append(("pytest", [*pytest, "-m", "not deployed"], Path.cwd(), dict(os.environ)))
    jobs.sort(key=lambda j: -WEIGHTS.get(j[0], 300 if "(unit)" not in j[0] else 10))

    logs = Path(tempfile.mkdtemp(prefix="mesos-boot-tests."))
    running, done, failed = [], [], []
    start = time.monotonic()
    while jobs or running:
        while jobs and len(running) < a.jobs:
            name, argv, cwd, env = jobs.pop(0)
            log = open(logs / (name.replace(" ", "_") + ".log"), "w+")
            print(f"-- start {name}", flush=True)
            # A session of its own: a lane that times out is killed with everything it started.
            p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            running.append((name, p, log, time.monotonic()))
        time.sleep(0.2)  # polling the children, not synchronising a test
        for r in list(running):
            name, p, log, t0 = r
            timed_out = p.poll() is None and time.monotonic() - t0 > a.lane_timeout
            if timed_out:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            if p.poll() is None:
                continue
            running.remove(r)
            took = time.monotonic() - t0
            log.seek(0)
            text = log.read()
            log.close()
            passed, nfailed, skipped = counts(name, text)
            ok = p.returncode == 0 and not timed_out and not (ci and skipped)
            why = (f"TIMED OUT after {a.lane_timeout:.0f} s" if timed_out
                   else f"{skipped} skipped under CI=true" if p.returncode == 0 and not ok
                   else f"FAILED (exit {p.returncode})")
            print(f"\n-- {name}: {'ok' if ok else why} in {took:.0f} s ({passed} passed, {nfailed} failed, {skipped} skipped)")
            # Failures in full; a passing binary's summary lines only.
            if ok:
                print("\n".join(l for l in text.splitlines() if l.startswith(("test result", "running ", "=")) or " passed" in l))
            else:
                print(text)
                failed.append(name)
            sys.stdout.flush()
            done.append((name, took, ok, passed, nfailed, skipped))
    print(f"\n== durations (wall {time.monotonic() - start:.0f} s, {a.jobs} at a time)")
    for name, took, ok, *_ in sorted(done, key=lambda d: -d[1]):
        print(f"{took:7.0f} s  {'ok    ' if ok else 'FAILED'}  {name}")
    total = [sum(d[i] for d in done) for i in (3, 4, 5)]
    # A lane that failed without a test failing (a crash, a timeout) still counts as a failure.
    total[1] += sum(1 for d in done if not d[2] and d[4] == 0)
    closing = f"{total[0]} passed, {total[1]} failed, {total[2]} skipped"
    if a.summary:
        a.summary.write_text(closing + "\n")
    if failed:
        print(f"FAILED: {', '.join(failed)} (logs in {logs})")
    print(f"tests: {closing} ({len(done)} lanes)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
