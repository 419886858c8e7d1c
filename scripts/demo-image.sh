#!/usr/bin/env bash
# The booted-image demo (as root, Debian 12): builds the image with packer/local-image.sh
# (cached in /var/cache/mesos-boot-image), applies terraform/sample to moto, and boots one
# systemd-nspawn container per instance the groups launched (3 ZooKeeper, 3 masters, 2 agents),
# each with its own network namespace and the IMDS emulator at 169.254.169.254, exactly as
# tests/image.rs does; then it leaves the cluster running until Ctrl-C, which removes every
# container, namespace and cgroup it made. It prints how to open a shell in a node.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export MOTO_SERVER=${MOTO_SERVER:-$PWD/.venv/bin/moto_server}
echo "demo-image: building the static binaries"
cargo build --release --quiet --target x86_64-unknown-linux-musl -p mesos-boot -p mesos-scale
rel=$(realpath "${CARGO_TARGET_DIR:-target}")/x86_64-unknown-linux-musl/release
export MESOS_BOOT_BIN=$rel/mesos-boot MESOS_SCALE_BIN=$rel/mesos-scale
# The test's scenario up to a formed, running cluster, then it waits for Ctrl-C.
export MESOS_BOOT_IMAGE_DEMO=1
exec cargo test --quiet -p mesos-boot-tests --test image -- --nocapture
