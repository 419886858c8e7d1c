#!/bin/sh
# ZooKeeper from Debian: configured later by mesos-boot@zookeeper, started only by it.
set -eu
apt-get -y install --no-install-recommends "${ZOOKEEPER_PACKAGE}"
# Debian's zookeeperd (if it came along) ships a SysV script that would start an unconfigured server.
if [ -e /etc/init.d/zookeeper ]; then
  systemctl disable zookeeper.service 2>/dev/null || true
fi
install -d -o zookeeper -g zookeeper -m 0750 /var/lib/zookeeper
apt-get -y clean
