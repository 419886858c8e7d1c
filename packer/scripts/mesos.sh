#!/bin/sh
# Mesos from a .deb (MESOS_INSTALL=package) or built from source (MESOS_INSTALL=source).
# Binaries end up as /usr/sbin/mesos-master and /usr/sbin/mesos-agent (what the units run).
set -eu

fetch() { # url sha256 destination
  [ -n "$1" ] || { echo "mesos.sh: no URL given for MESOS_INSTALL=${MESOS_INSTALL}" >&2; exit 1; }
  [ -n "$2" ] || { echo "mesos.sh: no SHA-256 given for $1" >&2; exit 1; }
  curl -fsSL --retry 5 -o "$3" "$1"
  echo "$2  $3" | sha256sum -c -
}

case "${MESOS_INSTALL}" in
package)
  fetch "${MESOS_PACKAGE_URL}" "${MESOS_PACKAGE_SHA256}" /tmp/mesos.deb
  apt-get -y install /tmp/mesos.deb
  rm -f /tmp/mesos.deb
  ;;
source)
  apt-get -y install --no-install-recommends build-essential autoconf libtool libcurl4-openssl-dev \
    libsasl2-dev libsasl2-modules libapr1-dev libsvn-dev zlib1g-dev libssl-dev default-jdk-headless \
    python3 maven libevent-dev
  fetch "${MESOS_SOURCE_URL}" "${MESOS_SOURCE_SHA256}" /tmp/mesos.tar.gz
  mkdir -p /tmp/mesos-src
  tar -xzf /tmp/mesos.tar.gz -C /tmp/mesos-src --strip-components=1
  cd /tmp/mesos-src
  ./configure --prefix=/usr --disable-python --disable-java --enable-optimize
  make -j"$(nproc)"
  make install
  cd /
  rm -rf /tmp/mesos-src /tmp/mesos.tar.gz
  ;;
*)
  echo "mesos.sh: MESOS_INSTALL must be package or source, not ${MESOS_INSTALL}" >&2
  exit 1
  ;;
esac

for b in mesos-master mesos-agent; do
  if [ ! -x "/usr/sbin/$b" ]; then
    found="$(command -v "$b" || true)"
    [ -n "$found" ] || { echo "mesos.sh: $b not installed" >&2; exit 1; }
    ln -sf "$found" "/usr/sbin/$b"
  fi
done
/usr/sbin/mesos-master --version | grep -F "${MESOS_VERSION}"

# Packaged units and wrapper config would start Mesos with the package's defaults
# (e.g. /etc/mesos-master/quorum = 1): mesos-boot's units and env files replace them.
for u in mesos-master.service mesos-slave.service; do
  systemctl disable "$u" 2>/dev/null || true
done
systemctl mask mesos-slave.service
rm -f /etc/mesos-master/quorum /etc/mesos/zk
apt-get -y clean
