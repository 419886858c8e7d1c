#!/bin/sh
# Base packages of every role; nothing role-specific is enabled here (the role is chosen at boot).
set -eu
apt-get update
apt-get -y upgrade
apt-get -y install --no-install-recommends ca-certificates curl default-jre-headless chrony
apt-get -y clean
