#!/usr/bin/env bash
# Split-brain trials: 100 concurrent first boots of real ZooKeeper ensembles from an empty
# shared config in S3 (moto), 50 of 3 nodes and 50 of 5, each node after a random delay.
# Every run asserts exactly one ensemble with every member, one leader, nobody standalone,
# and every registration present (tests/ensemble.rs); the first failure stops the script.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export MOTO_SERVER=$PWD/.venv/bin/moto_server
runs3=${RUNS_3:-50} runs5=${RUNS_5:-50}
# A private copy of the binary: a build elsewhere in the tree must not swap it mid-trial.
cargo build --quiet --workspace --bins
bin_dir=$(mktemp -d)
trap 'rm -rf "$bin_dir"' EXIT
cp "${CARGO_TARGET_DIR:-target}/debug/mesos-boot" "$bin_dir/"
export MESOS_BOOT_BIN=$bin_dir/mesos-boot
started=$(date +%s)
FORMATION_RUNS_3=$runs3 FORMATION_RUNS_5=$runs5 \
  cargo test --quiet --workspace --test ensemble concurrent_first_boot -- --test-threads 1 --nocapture
echo "split-brain trials: $((runs3 + runs5)) runs ($runs3 of 3 nodes, $runs5 of 5), 0 failures, $(( $(date +%s) - started )) s"
