#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this): installs what it needs
# (scripts/setup.sh), then lint, one static debug build, the Rust unit and integration tests
# (real ZooKeeper, moto, IMDS emulator, the booted image), and the Terraform/Packer/systemd
# tests. The release profile is built and measured by bench/.
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

# One compilation of the workspace, for the static musl target in the debug profile: the unit
# and integration tests, and the two binaries the integration tests drive (mesos-boot and
# mesos-scale: `--all-targets` builds them in the same invocation, so with the same dependency
# features; a separate `cargo build --bins` would compile the AWS SDK again without the
# dev-dependencies' features). Clippy lints the workspace on the way: clippy-driver as
# the workspace's rustc wrapper, which is what `cargo clippy` sets up for `cargo check`, here
# for a build that also generates code; the same `-D warnings`. Every later cargo call of the
# tests runs with the same wrapper and target, so it finds everything built.
#
# The release profile (fat LTO, opt-level s: what ships) is not built here: in the last run that
# built it, it took 35 min on two cores beside the debug build and clippy's check. `bench/run.sh` and `bench/scale.sh` build and measure it
# (the size of both binaries, the Lambda zip's 15 MiB goal, RSS, boot-to-quorum).
target=x86_64-unknown-linux-musl
lint=(env "RUSTC_WORKSPACE_WRAPPER=$(rustc --print sysroot)/bin/clippy-driver"
  "CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__")
section "cargo clippy -D warnings, in the static test build (cargo test --workspace --all-targets --no-run --target $target)"
"${lint[@]}" cargo test --workspace --all-targets --no-run --quiet --target "$target"
out=$(realpath "${CARGO_TARGET_DIR:-target}")/$target/debug
for bin in "$out/mesos-boot" "$out/mesos-scale"; do
  if readelf -lW "$bin" | grep -q INTERP || readelf -dW "$bin" | grep -q NEEDED; then
    echo "FAIL: $bin is not statically linked:"; readelf -dW "$bin" | grep NEEDED; exit 1
  fi
  echo "static: $("$bin" --version), $(stat -c %s "$bin") bytes (debug)"
done

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
# The integration tests drive the static binaries built above (the booted image installs
# mesos-boot), instead of having the harness build them with a feature resolution of its own.
# Each test binary runs as `cargo test --workspace` would run it (its package as cwd), but up
# to TEST_JOBS (3) at a time, each in its own loopback range, next to the
# Terraform/Packer/systemd tests (pytest, two lanes): most of the suite waits on servers, not
# on the two cores.
export MESOS_BOOT_BIN=$out/mesos-boot MESOS_SCALE_BIN=$out/mesos-scale
# The seeded soak (tests/soak.rs): 20 steps (about 3 min); bench/soak.sh runs 200.
export SOAK_STEPS=${SOAK_STEPS:-20}
summary=$(mktemp)
# Every lane's counts, and a closing line printed last (below): CI is judged by more than an
# exit code. A lane still running after TEST_LANE_TIMEOUT (1800 s) is killed and its log shown.
"${lint[@]}" .venv/bin/python scripts/run-tests.py --summary "$summary" \
  --cargo-arg=--target --cargo-arg="$target" -- -q tests/terraform tests/layout
"${lint[@]}" cargo test --workspace --doc --quiet --target "$target"

section "fuzz: every cargo-fuzz target of the pure parsers, briefly"
# bench/fuzz.sh runs them for minutes; here a few seconds each catch a parser that panics.
corpus=$(mktemp -d)
FUZZ_CORPUS=$corpus bench/fuzz.sh "${FUZZ_SECONDS_CI:-5}"
rm -rf "$corpus"

section "result"
echo "tests: $(cat "$summary"); fuzz: every target ran without a crash; $((SECONDS / 60)) min in all"
rm -f "$summary"
