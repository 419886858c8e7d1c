#!/bin/sh
# Mesos from the .deb of step 1 (packer/mesos-deb: built from the Apache source release),
# uploaded to /tmp/mesos.deb; apt installs its runtime libraries. No build tool enters the image.
# Binaries end up as /usr/sbin/mesos-master and /usr/sbin/mesos-agent (what the units run).
set -eu

[ -s /tmp/mesos.deb ] || { echo "mesos.sh: /tmp/mesos.deb is missing: give -var mesos_deb=<the .deb of packer/mesos-deb>" >&2; exit 1; }
sum="$(cut -d' ' -f1 /tmp/mesos.deb.sha256)"
echo "${sum}  /tmp/mesos.deb" | sha256sum -c - || {
  echo "mesos.sh: /tmp/mesos.deb does not match its .sha256 (${sum})" >&2
  exit 1
}
apt-get -y install --no-install-recommends /tmp/mesos.deb
rm -f /tmp/mesos.deb /tmp/mesos.deb.sha256

for b in mesos-master mesos-agent; do
  if [ ! -x "/usr/sbin/$b" ]; then
    found="$(command -v "$b" || true)"
    [ -n "$found" ] || { echo "mesos.sh: $b not installed" >&2; exit 1; }
    ln -sf "$found" "/usr/sbin/$b"
  fi
done
ldconfig
/usr/sbin/mesos-master --version | grep -F "${MESOS_VERSION}"
for tool in gcc g++ make mvn; do
  if command -v "$tool" >/dev/null; then
    echo "mesos.sh: build tool $tool is in the image" >&2
    exit 1
  fi
done

# Packaged units and wrapper config would start Mesos with the package's defaults
# (e.g. /etc/mesos-master/quorum = 1): mesos-boot's units and env files replace them.
for u in mesos-master.service mesos-slave.service; do
  systemctl disable "$u" 2>/dev/null || true
done
systemctl mask mesos-slave.service
rm -f /etc/mesos-master/quorum /etc/mesos/zk

# Mesos 1.11 enforces resource limits only through cgroup v1 (its cgroups2 isolators came
# later): the image boots the legacy hierarchy, and an agent that finds it renders the linux
# launcher with the cgroups isolators (README, "Resource limits"). Debian's grub-mkconfig reads
# /etc/default/grub.d/*.cfg after /etc/default/grub.
install -d /etc/default/grub.d
cat > /etc/default/grub.d/90-mesos-cgroup-v1.cfg <<'GRUB'
GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX} systemd.unified_cgroup_hierarchy=0"
GRUB
update-grub
apt-get -y clean
