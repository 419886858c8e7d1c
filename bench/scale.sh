#!/usr/bin/env bash
# Prints the autoscaler's figures: the Lambda zip's size, parse + decide over a 1,000-agent
# /master/state (scale/benches/decide.rs), and the peak RSS of `mesos-scale --once` (the static
# release binary) against the Mesos master emulator and moto (bench/scale.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/lambda-zip.sh
# The zip's goal (Lambda takes 50 MB zipped; 15 MiB leaves room): the release profile is built
# here, not in CI (scripts/test.sh).
zip=${CARGO_TARGET_DIR:-target}/lambda/mesos-scale.zip
size=$(stat -c %s "$zip")
[ "$size" -le $((15 * 1024 * 1024)) ] || { echo "FAIL: $zip is $size bytes (goal <= 15 MiB)"; exit 1; }
export MESOS_SCALE_BIN=$(realpath "${CARGO_TARGET_DIR:-target}")/x86_64-unknown-linux-musl/release/mesos-scale
export MOTO_SERVER=${MOTO_SERVER:-$PWD/.venv/bin/moto_server}
# The zip's target and optimisation (benches are built with panic=unwind, so the first run
# builds the dependencies once more).
cargo bench --quiet -p mesos-scale --bench decide --target x86_64-unknown-linux-musl --profile release
# The bench drives the release binary; its own harness needs no optimisation.
cargo bench --quiet --profile dev --workspace --bench scale
