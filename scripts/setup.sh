#!/usr/bin/env bash
# Installs everything mesos-boot's demo, tests and benchmarks need on a fresh Debian 12
# machine (run as root): Debian packages, the musl target, and a Python venv with moto.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

# The venvs of the tests: moto and pytest (.venv), checkov (.venv-checkov).
make_venvs() {
  if [ ! -x .venv/bin/moto_server ] || ! .venv/bin/python -c 'import pytest, boto3, kazoo' 2>/dev/null; then
    echo "setup: creating .venv with moto[server] and pytest"
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -r scripts/requirements.txt
  fi
  if [ ! -x .venv-checkov/bin/checkov ]; then
    # checkov pins its own boto3: a venv of its own.
    echo "setup: creating .venv-checkov with checkov"
    python3 -m venv .venv-checkov
    .venv-checkov/bin/pip install -q checkov==3.3.30
  fi
}

# `setup.sh demo` installs only what the demo needs; `setup.sh system` all but the two Python
# venvs, which `setup.sh venvs` makes (scripts/test.sh makes them while the code compiles).
mode=${1:-all}
if [ "$mode" = venvs ]; then
  make_venvs
  exit 0
fi
# openssl: the demo's TLS client (ZooKeeper's secure port).
pkgs=(zookeeper curl openssl)
# binutils: readelf, which checks that the release binaries are static; python3-venv: the venvs
# below; nftables: the booted-image test enforces the security groups as packet filters.
[ "$mode" = demo ] || pkgs+=(musl-tools packer systemd iproute2 binutils python3-venv nftables)
# The booted-image test and demo (tests/image.rs, scripts/demo-image.sh): debootstrap builds the
# image, systemd-nspawn (systemd-container) boots it. --no-install-recommends keeps
# libnss-mymachines (a recommendation) out of the host's /etc/nsswitch.conf.
[ "$mode" = demo ] || pkgs+=(debootstrap systemd-container)
# serve's status page is checked in headless Chromium (tests/core.rs).
[ "$mode" = demo ] || pkgs+=(chromium)
need_apt=()
for pkg in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ "$mode" = demo ]; then echo "setup: ready (demo)"; exit 0; fi

# What this script does not install: checked first, one clear message each.
missing=0
need() { # need COMMAND MESSAGE
  command -v "$1" >/dev/null 2>&1 || { echo "setup: MISSING $1: $2" >&2; missing=1; }
}
need readelf "Debian's binutils (the static-link check of the release binaries needs readelf)"
need rustup "Rust through rustup (https://rustup.rs), with the stable toolchain"
need terraform "Terraform >= 1.9 (the tests use 1.11): install it from HashiCorp's Debian repository as HashiCorp's install guide says, or put the binary on PATH (or set TERRAFORM)"
[ "$missing" = 0 ] || { echo "setup: install the above, then run setup.sh again" >&2; exit 1; }
for component in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$component"; then
    echo "setup: adding the $component component"
    rustup component add "$component"
  fi
done

# The hashicorp/aws provider, from the filesystem mirror terraform/ci.tfrc names (the tests never
# download): when the mirror lacks it, fill it once from the provider registry with the version
# sample/.terraform.lock.hcl pins.
mirror=/opt/tf-plugins
if ! ls "$mirror"/registry.terraform.io/hashicorp/aws/*/linux_amd64 >/dev/null 2>&1 &&
  ! ls "$mirror"/registry.terraform.io/hashicorp/aws/*.zip >/dev/null 2>&1; then
  echo "setup: filling the provider mirror $mirror (hashicorp/aws, as terraform/sample/.terraform.lock.hcl pins it)"
  mkdir -p "$mirror"
  terraform -chdir=terraform/sample providers mirror -platform=linux_amd64 "$mirror"
fi

if ! rustup target list --installed | grep -qx x86_64-unknown-linux-musl; then
  echo "setup: adding the x86_64-unknown-linux-musl target"
  rustup target add x86_64-unknown-linux-musl
fi

# cargo-fuzz for bench/fuzz.sh and test.sh's short fuzz run (stable toolchain +
# RUSTC_BOOTSTRAP=1). Built from source: about 2.5 min on a busy 2-core machine, once.
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "setup: installing cargo-fuzz"
  cargo install --locked --quiet cargo-fuzz --version 0.13.2
fi

if [ "$mode" = system ]; then echo "setup: ready (but the venvs: setup.sh venvs)"; exit 0; fi
make_venvs
echo "setup: ready"
