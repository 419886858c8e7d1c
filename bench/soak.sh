#!/usr/bin/env bash
# The long soak: 200 seeded failure steps (tests/soak.rs) against real ZooKeeper, moto and the
# fault proxy; prints the seed, the count of each step and the acknowledged writes (0 lost).
# Usage: bench/soak.sh [steps] [seed]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
export MOTO_SERVER=$PWD/.venv/bin/moto_server
export SOAK_STEPS=${1:-200}
[ -n "${2:-}" ] && export SOAK_SEED=$2
cargo build --release --quiet --target x86_64-unknown-linux-musl -p mesos-boot -p mesos-scale
rel=$(realpath "${CARGO_TARGET_DIR:-target}")/x86_64-unknown-linux-musl/release
export MESOS_BOOT_BIN=$rel/mesos-boot
cargo test --quiet --workspace --test soak -- --nocapture 2>&1 | grep -E '^soak|test result|panicked|failed'
