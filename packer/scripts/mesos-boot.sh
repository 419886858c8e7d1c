#!/bin/sh
# The static mesos-boot binary, its units and its default templates (the binary embeds the same
# templates; files in /etc/mesos-boot/templates override them, see --templates).
set -eu
install -o root -g root -m 0755 /tmp/mesos-boot /usr/local/bin/mesos-boot
install -o root -g root -m 0644 /tmp/systemd/*.service /etc/systemd/system/
install -d -m 0755 /etc/mesos-boot /usr/share/mesos-boot/templates
install -o root -g root -m 0644 /tmp/templates/*.tera /usr/share/mesos-boot/templates/
rm -rf /tmp/mesos-boot /tmp/systemd /tmp/templates
# Only a running systemd has units to reload (not so in a build root: packer/local-image.sh).
if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
# Nothing is enabled here: the instance's cloud-init enables mesos-boot@<role> (and serve on ZooKeeper).
/usr/local/bin/mesos-boot --version
