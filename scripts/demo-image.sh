#!/usr/bin/env bash
# The booted-image demo (as root, Debian 12): builds the image with packer/local-image.sh
# (cached in /var/cache/mesos-boot-image), applies terraform/sample to moto, and boots one
# systemd-nspawn container per instance the groups launched (3 ZooKeeper, 3 masters, 2 agents),
# each with its own network namespace and the IMDS emulator at 169.254.169.254, exactly as
# tests/image.rs does; then it leaves the cluster running until Ctrl-C (or `kill` of this
# script), which removes every container, namespace and cgroup it made. It prints how to open a
# shell in a node.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export MOTO_SERVER=${MOTO_SERVER:-$PWD/.venv/bin/moto_server}
# The static binaries (what the AMI gets), unless MESOS_BOOT_BIN and MESOS_SCALE_BIN name
# binaries already built.
if [ ! -x "${MESOS_BOOT_BIN:-}" ] || [ ! -x "${MESOS_SCALE_BIN:-}" ]; then
  echo "demo-image: building the static binaries"
  cargo build --release --quiet --target x86_64-unknown-linux-musl -p mesos-boot -p mesos-scale
  rel=$(realpath "${CARGO_TARGET_DIR:-target}")/x86_64-unknown-linux-musl/release
  export MESOS_BOOT_BIN=$rel/mesos-boot MESOS_SCALE_BIN=$rel/mesos-scale
fi
echo "demo-image: building the image test"
# --workspace: the same feature resolution as scripts/test.sh (no second build of the AWS SDK).
test_bin=$(cargo test --workspace --test image --no-run --message-format=json 2>/dev/null |
  grep -o '"executable":"[^"]*/image-[^"]*"' | tail -n1 | cut -d'"' -f4)
[ -x "$test_bin" ] || { echo "demo-image: no image test binary built" >&2; exit 1; }
# The test's scenario up to a formed, running cluster, then it waits for SIGINT or SIGTERM and
# removes everything; this script passes either on to it and waits for that cleanup.
export MESOS_BOOT_IMAGE_DEMO=1
(cd tests && exec "$test_bin" --nocapture --test-threads 1 the_image_boots) &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM
while kill -0 "$pid" 2>/dev/null; do wait "$pid" || true; done
trap - INT TERM
wait "$pid" 2>/dev/null || true
echo "demo-image: stopped"
