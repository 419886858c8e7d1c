#!/bin/sh
# ZooKeeper, configured later by mesos-boot@zookeeper and started only by it (zookeeper.service).
#
# The AMI: Apache's binary release (ZOOKEEPER_RELEASE_URL, 3.9.4 by default: Debian 12's 3.8.0
# has the DIFF-sync bugs ZOOKEEPER-4646, -4785 and -4394), checked against the pinned
# ZOOKEEPER_RELEASE_SHA512 and against the SHA-512 Apache publishes beside it, unpacked under
# /opt and laid out where the unit and `mesos-boot check-image` look (Debian's paths).
# Without a release URL (packer/local-image.sh, which cannot reach Apache): Debian's package.
set -eu

if [ -z "${ZOOKEEPER_RELEASE_URL:-}" ]; then
  apt-get -y install --no-install-recommends "${ZOOKEEPER_PACKAGE}"
  # Debian's zookeeperd (if it came along) ships a SysV script that would start an unconfigured server.
  if [ -e /etc/init.d/zookeeper ]; then
    systemctl disable zookeeper.service 2>/dev/null || true
  fi
else
  if ! printf '%s' "${ZOOKEEPER_RELEASE_SHA512:-}" | grep -Eq '^[0-9a-f]{128}$'; then
    echo "zookeeper.sh: zookeeper_release_sha512 must be the 128-hex-digit SHA-512 of ${ZOOKEEPER_RELEASE_URL} (Apache publishes it at ${ZOOKEEPER_RELEASE_URL}.sha512)" >&2
    exit 1
  fi
  work=$(mktemp -d)
  trap 'rm -rf "${work}"' EXIT
  curl -fsSL --retry 5 -o "${work}/zookeeper.tar.gz" "${ZOOKEEPER_RELEASE_URL}"
  echo "${ZOOKEEPER_RELEASE_SHA512}  ${work}/zookeeper.tar.gz" | sha512sum -c -
  curl -fsSL --retry 5 -o "${work}/zookeeper.tar.gz.sha512" "${ZOOKEEPER_RELEASE_URL}.sha512"
  published=$(sed 's/^[^:]*: //; s/ .*zookeeper.*$//' "${work}/zookeeper.tar.gz.sha512" | tr -d ' \n' | tr 'A-F' 'a-f')
  if [ "${published}" != "${ZOOKEEPER_RELEASE_SHA512}" ]; then
    echo "zookeeper.sh: the pinned SHA-512 differs from Apache's ${ZOOKEEPER_RELEASE_URL}.sha512 (${published})" >&2
    exit 1
  fi
  dir=$(tar -tzf "${work}/zookeeper.tar.gz" | head -n1 | cut -d/ -f1)
  tar -xzf "${work}/zookeeper.tar.gz" -C /opt
  chown -R root:root "/opt/${dir}"
  ln -sfn "/opt/${dir}" /opt/zookeeper
  getent group zookeeper >/dev/null || addgroup --system zookeeper
  getent passwd zookeeper >/dev/null ||
    adduser --system --ingroup zookeeper --home /var/lib/zookeeper --no-create-home --shell /usr/sbin/nologin zookeeper
  # Where Debian's package puts them, which the unit and check-image use: the server jar, the
  # Netty jars TLS adds to the class path, and the environment file of the unit.
  install -d -m 0755 /usr/share/java /etc/zookeeper/conf
  ln -sfn "$(ls /opt/zookeeper/lib/zookeeper-[0-9]*.jar | head -n1)" /usr/share/java/zookeeper.jar
  for jar in netty-codec netty-resolver netty-transport-native-unix-common; do
    ln -sfn "$(ls /opt/zookeeper/lib/${jar}-[0-9]*.jar | head -n1)" "/usr/share/java/${jar}.jar"
  done
  cp /opt/zookeeper/conf/logback.xml /etc/zookeeper/conf/ 2>/dev/null || true
  cat >/etc/zookeeper/conf/environment <<ENV
ZOOMAIN=org.apache.zookeeper.server.quorum.QuorumPeerMain
ZOOCFGDIR=/etc/zookeeper/conf
ZOOCFG=/etc/zookeeper/conf/zoo.cfg
ZOO_LOG_DIR=/var/log/zookeeper
ZOO_LOG4J_PROP=INFO,ROLLINGFILE
JAVA_OPTS=""
JAVA=/usr/bin/java
CLASSPATH="/etc/zookeeper/conf:/opt/zookeeper/lib/*"
ENV
fi
install -d -o zookeeper -g zookeeper -m 0750 /var/lib/zookeeper
# ZooKeeper writes its versioned dynamic config beside zoo.cfg, so the directory zoo.cfg is in
# (ours, or Debian's behind its alternatives link) is the zookeeper user's. mesos-boot gives
# away only the directories it creates (bootstrap/src/fsutil.rs): the image does it, as root,
# before any other user exists on the machine.
chown zookeeper:zookeeper "$(readlink -f /etc/zookeeper/conf)"
apt-get -y clean
