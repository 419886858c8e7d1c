#!/usr/bin/env bash
# Prints mesos-boot's figures (see bench/boot.rs) for the static release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --quiet --target x86_64-unknown-linux-musl -p mesos-boot -p mesos-scale
export MESOS_BOOT_BIN=$(realpath "${CARGO_TARGET_DIR:-target}")/x86_64-unknown-linux-musl/release/mesos-boot
export MOTO_SERVER=$PWD/.venv/bin/moto_server
# The bench drives the release binary; its own harness needs no optimisation.
cargo bench --quiet --profile dev --workspace --bench boot
