#!/usr/bin/env bash
# The AMI's root filesystem, built on this machine: a debootstrapped Debian 12 with cloud-init
# stands in for Packer's source AMI (Debian's own cloud image), then exactly what Packer does to
# it (mesos-boot.pkr.hcl): the same uploads to /tmp (the binary, ../systemd/, ../bootstrap/templates/),
# the same provisioning scripts with the same environment, and the same last provisioner
# (check-image, cloud-init clean, an empty machine-id). One difference: scripts/mesos.sh is not
# run (Mesos cannot be installed here), so check-image may report only /usr/sbin/mesos-master and
# /usr/sbin/mesos-agent missing. Nothing test-only goes in.
#
#   packer/local-image.sh --binary PATH [--cache DIR]     (as root)
#   packer/local-image.sh --prepare [--cache DIR]         (only the stages before the binary)
#
# The image is cached in DIR (default /var/cache/mesos-boot-image) under a hash of everything
# that goes into it (this script, the provisioning scripts, the units, the templates, the
# binary, the ZooKeeper package, the mirror): a changed input builds a new one; an existing one
# is reused. The last line of stdout is the image's root directory. Build log on stderr.
# MESOS_BOOT_IMAGE_KEEP=N keeps the N newest images (default 2). Two stages are cached apart:
# the source image (debootstrap, cloud-init) and the packages (base.sh, zookeeper.sh), which
# take nearly all of a cold build and need no binary: --prepare builds just them (scripts/test.sh
# runs it in the background while it compiles), and a changed binary, unit or template then
# costs only the last stage.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")

binary= prepare=
cache=${MESOS_BOOT_IMAGE_CACHE:-/var/cache/mesos-boot-image}
while [ $# -gt 0 ]; do
  case $1 in
  --binary) binary=$2; shift 2 ;;
  --cache) cache=$2; shift 2 ;;
  --prepare) prepare=1; shift ;;
  *) echo "local-image.sh: unknown argument $1 (usage: --binary PATH | --prepare [--cache DIR])" >&2; exit 2 ;;
  esac
done
[ -n "$binary$prepare" ] || { echo "local-image.sh: --binary PATH (the static mesos-boot) is required" >&2; exit 2; }
[ -n "$prepare" ] || [ -x "$binary" ] || { echo "local-image.sh: --binary $binary is not an executable file" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "local-image.sh: must run as root (debootstrap, chroot)" >&2; exit 2; }
for tool in debootstrap chroot sha256sum; do
  command -v "$tool" >/dev/null || { echo "local-image.sh: $tool not found (scripts/setup.sh installs it)" >&2; exit 2; }
done

# Packer's variables (variables.pkr.hcl defaults) that the scripts read.
zookeeper_package=$(sed -n '/variable "zookeeper_package"/,/}/s/.*default *= *"\(.*\)".*/\1/p' "$here/variables.pkr.hcl")
[ -n "$zookeeper_package" ] || { echo "local-image.sh: no zookeeper_package default in $here/variables.pkr.hcl" >&2; exit 2; }
# The mirror apt already uses on this machine.
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p;s/^deb  *\(\[[^]]*\] *\)\{0,1\}\([^ ]*\) *bookworm .*/\2/p' \
  /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
  grep -v security | head -n1 || true)
[ -n "$mirror" ] || { echo "local-image.sh: no Debian mirror found in /etc/apt/sources.list*" >&2; exit 2; }
suite=bookworm

scripts=(base.sh zookeeper.sh ssm-agent.sh mesos-boot.sh) # mesos.sh: skipped, see above
# The scripts that install packages (most of the build's time) come before mesos-boot.sh, which
# installs the binary, the units and the templates (what changes with every commit): the root
# after them is cached apart, keyed by the source image, the ZooKeeper package and these scripts.
package_scripts=(base.sh zookeeper.sh)
base_key=$( { echo "$suite $mirror"; sed -n '/^# --- source image/,/^# --- end source image/p' "$0"; } | sha256sum | cut -c1-16)
packages_key=$( {
  echo "$base_key $zookeeper_package"
  sed -n '/^# --- packages/,/^# --- end packages/p' "$0"
  (cd "$here/scripts" && sha256sum "${package_scripts[@]}")
} | sha256sum | cut -c1-16)
# Contents only (paths relative to the checkout, the binary's by content), so that every
# checkout of the same sources shares one cached image.
key=$( {
  echo "$base_key $zookeeper_package"
  [ -n "$prepare" ] || echo "binary $(sha256sum <"$binary" | cut -d' ' -f1)"
  (cd "$repo" && sha256sum packer/local-image.sh "${scripts[@]/#/packer/scripts/}" systemd/*.service bootstrap/templates/*.tera)
} | sha256sum | cut -c1-16)
image=$cache/$key
if [ -z "$prepare" ] && [ -f "$image/.complete" ]; then
  echo "local-image: cached $image" >&2
  echo "$image/root"
  exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -z "$prepare" ] && [ -f "$image/.complete" ]; then echo "$image/root"; exit 0; fi
work=$(mktemp -d "$cache/.build.XXXXXX")
root=$work/root
cleanup() {
  for m in dev/pts dev proc sys; do mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"; done
  rm -rf "$work"
}
trap cleanup EXIT
start=$(date +%s)

in_root() { # command..., with the mounts a provisioning script on an instance has
  chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}
mount_api() {
  mount -t proc proc "$root/proc"
  mount -t sysfs -o ro sysfs "$root/sys"
  mount --bind /dev "$root/dev"
  mount --bind /dev/pts "$root/dev/pts"
}
umount_api() { for m in dev/pts dev sys proc; do umount "$root/$m"; done; }

# --- source image: what Debian's cloud image (Packer's source AMI) brings ---
base=$cache/base-$base_key.tar
if [ ! -f "$base" ]; then
  echo "local-image: debootstrap $suite from $mirror" >&2
  mkdir -p "$root"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,iproute2,ca-certificates \
    "$suite" "$root" "$mirror" >&2
  mount_api
  # No service may start inside the build root (as on a Packer instance before its first boot).
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"; chmod 0755 "$root/usr/sbin/policy-rc.d"
  in_root apt-get -y -q install --no-install-recommends cloud-init >&2
  rm -f "$root/usr/sbin/policy-rc.d"
  in_root apt-get -y clean >&2
  umount_api
  # Debian's cloud image: the Ec2 datasource. Network: the instance's address is configured
  # by its host (EC2's DHCP there, the namespace's owner here), not by cloud-init.
  cat >"$root/etc/cloud/cloud.cfg.d/90-mesos-boot-local.cfg" <<'CFG'
datasource_list: [Ec2, None]
datasource:
  Ec2:
    strict_id: false
    timeout: 5
    max_wait: 30
network:
  config: disabled
locale: C.UTF-8
CFG
  tar -C "$root" -cf "$base.tmp" . && mv "$base.tmp" "$base"
  rm -rf "$root"
fi
# --- end source image ---

# --- packages: the source image after the package scripts (cached apart) ---
# Packer's shell provisioner: `sudo -E sh -eu <script>` with its environment_vars.
provision() { # script...
  mount_api
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"; chmod 0755 "$root/usr/sbin/policy-rc.d"
  for s in "$@"; do
    echo "local-image: running packer/scripts/$s" >&2
    cp "$here/scripts/$s" "$root/tmp/$s"
    # No ZOOKEEPER_RELEASE_URL: Apache cannot be reached from here, so this image keeps
    # Debian's ZooKeeper 3.8.0 where the AMI has Apache's release (terraform/README.md,
    # "Verified only on paper").
    in_root env ZOOKEEPER_PACKAGE="$zookeeper_package" ZOOKEEPER_RELEASE_URL= sh -eu "/tmp/$s" >&2
    rm -f "$root/tmp/$s"
  done
  rm -f "$root/usr/sbin/policy-rc.d"
  umount_api
}
packages=$cache/packages-$packages_key.tar
if [ ! -f "$packages" ]; then
  mkdir -p "$root"
  tar -C "$root" -xf "$base"
  echo "local-image: source image ready ($(($(date +%s) - start)) s)" >&2
  provision "${package_scripts[@]}"
  tar -C "$root" -cf "$packages.tmp" . && mv "$packages.tmp" "$packages"
fi
# --- end packages ---
if [ -n "$prepare" ]; then
  echo "local-image: prepared $packages ($(($(date +%s) - start)) s)" >&2
  echo "$packages"
  exit 0
fi
if [ ! -d "$root" ]; then
  mkdir -p "$root"
  tar -C "$root" -xf "$packages"
fi
echo "local-image: packages ready ($(($(date +%s) - start)) s)" >&2

# Packer's file provisioners (before its shell provisioner; the package scripts use none of
# these files).
install -m 0755 "$binary" "$root/tmp/mesos-boot"
mkdir -p "$root/tmp/systemd" "$root/tmp/templates"
cp "$repo"/systemd/*.service "$root/tmp/systemd/"
cp "$repo"/bootstrap/templates/*.tera "$root/tmp/templates/"
provision "${scripts[@]:${#package_scripts[@]}}"
mount_api

# Packer's last provisioner.
set +e
check=$(in_root /usr/local/bin/mesos-boot check-image 2>&1)
rc=$?
set -e
echo "$check" >&2
if [ "$rc" != 0 ]; then
  # Only the Mesos binaries (scripts/mesos.sh is not run here) may be missing.
  others=$(echo "$check" | grep -E '^(FAIL|MISSING|fail)|: No such file|not an executable' |
    grep -vE '/usr/sbin/mesos-(master|agent)' || true)
  if [ -n "$others" ] || ! echo "$check" | grep -q '/usr/sbin/mesos-master'; then
    echo "local-image.sh: mesos-boot check-image failed (exit $rc)" >&2
    exit 1
  fi
  echo "local-image: check-image: only Mesos missing (scripts/mesos.sh is not run locally)" >&2
fi
in_root cloud-init clean --logs --seed >&2
rm -f "$root/etc/machine-id" "$root/var/lib/dbus/machine-id" && touch "$root/etc/machine-id"
umount_api

rm -rf "$image"
mv "$work" "$image"
touch "$image/.complete"
trap - EXIT
echo "local-image: built $image in $(($(date +%s) - start)) s" >&2
# Old images: keep the newest few. Moved aside at once (under the lock), deleted in the
# background: removing a gigabyte takes long on a busy disk, and the caller need not wait.
trash=$(mktemp -d "$cache/.trash.XXXXXX")
ls -1dt "$cache"/*/ 2>/dev/null | tail -n +"$((${MESOS_BOOT_IMAGE_KEEP:-2} + 1))" | xargs -r mv -t "$trash"
ls -1t "$cache"/packages-*.tar 2>/dev/null | tail -n +2 | xargs -r mv -t "$trash"
(rm -rf "$cache"/.trash.*) </dev/null >/dev/null 2>&1 &
echo "$image/root"
