#!/usr/bin/env bash
# One instance of the image as a container (tests/image.rs, scripts/demo-image.sh), until it
# powers off; a `reboot` inside (systemd-nspawn exits 133) boots it again, as a VM would.
#
#   node.sh NAME LOWERDIRS STATE_DIR NETNS CGROUP
#
# LOWERDIRS: overlayfs lower dirs (test layer:image root); STATE_DIR keeps the instance's disk
# (the overlay's upper dir), so a power-off and start again keeps its data. NETNS: the network
# namespace holding its address (/run/netns/NETNS). CGROUP: the parent cgroup the container's
# own cgroup goes under (in both the systemd v1 and the unified hierarchy), so that the caller
# can kill and remove everything it ran. The mounts live in a private mount namespace and go
# with it. Exit status: nspawn's (0 after a power-off).
#
# The instance's "hardware": STATE_DIR/hw/hypervisor (if present) becomes /sys/hypervisor, which
# is how a Xen-based EC2 instance shows it is one (/sys/hypervisor/uuid "ec2..."). cloud-init's
# Ec2 datasource identifies the platform as AWS from that file, and only then uses IMDSv2
# (tokens), as it does on EC2; DMI it ignores in a container. Sysfs has no such directory here,
# so /sys is nspawn's own private-network layout: a tmpfs with fresh sysfs binds of block, bus,
# class, dev, devices and kernel (nspawn makes them), and the hypervisor directory beside them.
set -euo pipefail
name=$1 lower=$2 state=$3 netns=$4 cgroup=$5

# A cgroup of its own first (nspawn --keep-unit creates payload/supervisor under it), before
# anything remounts /sys.
for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
  [ -d "$h" ] || continue
  mkdir -p "$h/$cgroup/$name"
  echo $$ >"$h/$cgroup/$name/cgroup.procs"
done
mkdir -p "$state/upper" "$state/work" "$state/merged" /run/systemd/nspawn

exec unshare -m --propagation private bash -euo pipefail -c '
  name=$1 lower=$2 state=$3 netns=$4
  mount -t overlay overlay -o "lowerdir=$lower,upperdir=$state/upper,workdir=$state/work" "$state/merged"
  # nspawn cleans /run/systemd/nspawn/propagate, which needs a tmpfs there.
  mount -t tmpfs tmpfs /run/systemd/nspawn
  while :; do
    rc=0
    hw=()
    [ -d "$state/hw/hypervisor" ] && hw=(--tmpfs=/sys --bind-ro="$state/hw/hypervisor:/sys/hypervisor")
    systemd-nspawn --quiet --boot --register=no --keep-unit --resolv-conf=off --timezone=off \
      --link-journal=no --machine="$name" --hostname="$name" --directory="$state/merged" \
      --network-namespace-path="/run/netns/$netns" --console=read-only "${hw[@]}" || rc=$?
    [ "$rc" = 133 ] || exit "$rc"
    echo "node $name: rebooting" >&2
  done
' node "$name" "$lower" "$state" "$netns"
