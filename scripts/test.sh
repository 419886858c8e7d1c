#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this): installs what it needs
# (scripts/setup.sh), then lint, the static release binary, the Rust unit and integration
# tests (real ZooKeeper, moto, IMDS emulator), and the Terraform/Packer/systemd tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh system
export MOTO_SERVER=$PWD/.venv/bin/moto_server
section() { printf '\n== %s (%s)\n' "$1" "$(date +%T)"; }

# The tests' Python venvs (moto, pytest, checkov: minutes of download and install, little CPU)
# are made in the background while the code compiles; the tests wait for them.
venv_log=$(mktemp)
scripts/setup.sh venvs >"$venv_log" 2>&1 &
venv_pid=$!

# The booted-image test (tests/image.rs) needs the image's package stages (debootstrap,
# cloud-init, base.sh, zookeeper.sh: minutes on a fresh machine, mostly download and dpkg, cached
# in /var/cache/mesos-boot-image afterwards). They need no binary: built in the background while
# the code compiles; the image test then adds only the binary, units and templates.
image_log=$(mktemp)
packer/local-image.sh --prepare >"$image_log" 2>&1 &
image_pid=$!
image_start=$(date +%s)
# Whatever runs in the background stops with the suite.
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

section "cargo fmt --check"
cargo fmt --all -- --check

section "layers: bootstrap/src imports only downward, no circle (scripts/check-layers.py)"
python3 scripts/check-layers.py

# Two compilations of the workspace, each of the AWS SDK (the tests' debug build, linted by
# clippy on the way, and the static release build), are CPU work the two cores share: the
# release build runs in the background while the test build runs in the foreground (different
# profile directories: neither waits on the other's lock), and neither core idles while one
# crate (aws-sdk-ec2) is compiled on the other.
release_log=$(mktemp)
release_start=$(date +%s)
# Both static binaries in one invocation: one feature resolution, so the release build of
# aws-sdk-ec2 (the slowest crate by far) is compiled once, not once per binary.
cargo build --release --quiet --target x86_64-unknown-linux-musl -p mesos-boot -p mesos-scale \
  >"$release_log" 2>&1 &
release_pid=$!

# Clippy lints the workspace while the tests' debug build compiles it: clippy-driver as the
# workspace's rustc wrapper, which is what `cargo clippy` sets up for `cargo check`, here for a
# build that also generates code. One compilation of the dependencies instead of two (a check
# pass, then the debug build); the same `-D warnings`. Every later cargo call of the tests runs
# with the same wrapper, so it finds the workspace built.
lint=(env "RUSTC_WORKSPACE_WRAPPER=$(rustc --print sysroot)/bin/clippy-driver"
  "CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__")
section "cargo clippy -D warnings, in the test build (cargo test --workspace --all-targets --no-run)"
"${lint[@]}" cargo test --workspace --all-targets --no-run --quiet

section "static release binary (x86_64-unknown-linux-musl; started at $(date -d "@$release_start" +%T))"
if ! wait "$release_pid"; then
  cat "$release_log"; echo "FAIL: the release build"; exit 1
fi
cat "$release_log"; rm -f "$release_log"
echo "release build done $(($(date +%s) - release_start)) s after its start"
bin=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-musl/release/mesos-boot
if readelf -lW "$bin" | grep -q INTERP || readelf -dW "$bin" | grep -q NEEDED; then
  echo "FAIL: $bin is not statically linked:"; readelf -dW "$bin" | grep NEEDED; exit 1
fi
"$bin" --version
echo "static: yes, size $(stat -c %s "$bin") bytes"

section "autoscaler Lambda zip (static mesos-scale as bootstrap)"
scripts/lambda-zip.sh
zip=${CARGO_TARGET_DIR:-target}/lambda/mesos-scale.zip
size=$(stat -c %s "$zip")
[ "$size" -le $((15 * 1024 * 1024)) ] || { echo "FAIL: $zip is $size bytes (goal <= 15 MiB)"; exit 1; }

section "image stages (started in the background at $(date -d "@$image_start" +%T))"
if ! wait "$image_pid"; then
  cat "$image_log"; echo "FAIL: packer/local-image.sh --prepare"; exit 1
fi
grep '^local-image:' "$image_log"; rm -f "$image_log"
echo "image stages ready $(($(date +%s) - image_start)) s after their start"

section "venvs (made in the background)"
if ! wait "$venv_pid"; then
  cat "$venv_log"; echo "FAIL: scripts/setup.sh venvs"; exit 1
fi
cat "$venv_log"; rm -f "$venv_log"

section "tests: cargo's test binaries (the booted image included) and pytest side by side (scripts/run-tests.py)"
# The integration tests drive the static release binaries built above (what ships), instead of
# having the harness build debug ones with a feature resolution of their own (another full
# compile of aws-sdk-ec2 each). Each test binary runs as `cargo test --workspace` would run it
# (its package as cwd), but up to TEST_JOBS (3) at a time, each in its own loopback range, next
# to the Terraform/Packer/systemd tests (pytest): most of the suite waits on servers, not on
# the two cores.
rel=$(realpath "${CARGO_TARGET_DIR:-target}")/x86_64-unknown-linux-musl/release
export MESOS_BOOT_BIN=$rel/mesos-boot MESOS_SCALE_BIN=$rel/mesos-scale
# The seeded soak (tests/soak.rs): 20 steps (about 3 min); bench/soak.sh runs 200.
export SOAK_STEPS=${SOAK_STEPS:-20}
summary=$(mktemp)
# Every lane's counts, and a closing line printed last (below): CI is judged by more than an
# exit code. A lane still running after TEST_LANE_TIMEOUT (1800 s) is killed and its log shown.
"${lint[@]}" .venv/bin/python scripts/run-tests.py --summary "$summary" -- -q tests/terraform tests/layout
"${lint[@]}" cargo test --workspace --doc --quiet

section "fuzz: every cargo-fuzz target of the pure parsers, briefly"
# bench/fuzz.sh runs them for minutes; here a few seconds each catch a parser that panics.
corpus=$(mktemp -d)
FUZZ_CORPUS=$corpus bench/fuzz.sh "${FUZZ_SECONDS_CI:-5}"
rm -rf "$corpus"

section "result"
echo "tests: $(cat "$summary"); fuzz: every target ran without a crash; $((SECONDS / 60)) min in all"
rm -f "$summary"
