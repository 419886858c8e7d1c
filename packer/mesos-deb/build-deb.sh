#!/bin/sh
# Builds Mesos ${MESOS_VERSION} from the Apache source release into ${MESOS_DEB} (Debian 12).
# Runs in the throw-away build container of mesos-deb.pkr.hcl only.
set -eu

# The .deb is labelled amd64 and goes into the x86_64 AMI: a container of another architecture
# (an arm64 build machine without --platform emulation) must not produce it.
arch=$(dpkg --print-architecture)
if [ "${arch}" != amd64 ]; then
  echo "build-deb.sh: this container is ${arch}, the AMI needs amd64: build on an amd64 machine, or install QEMU's binfmt handlers so that docker --platform=linux/amd64 runs (mesos-deb.pkr.hcl asks for it)" >&2
  exit 1
fi

apt-get update
apt-get -y install --no-install-recommends build-essential autoconf automake libtool curl ca-certificates \
  libcurl4-openssl-dev libsasl2-dev libsasl2-modules libapr1-dev libsvn-dev zlib1g-dev libssl-dev \
  libevent-dev python3 default-jdk-headless maven dpkg-dev

curl -fsSL --retry 5 -o /tmp/mesos.tar.gz "${MESOS_SOURCE_URL}"
echo "${MESOS_SOURCE_SHA256}  /tmp/mesos.tar.gz" | sha256sum -c -
# The pin was taken from a third party: also check the tarball against the SHA-512 that Apache
# publishes beside it (`<url>.sha512`, in `sha512sum` or `gpg --print-md` layout).
curl -fsSL --retry 5 -o /tmp/mesos.tar.gz.sha512 "${MESOS_SOURCE_URL}.sha512"
published=$(sed 's/^[^:]*: //; s/ .*mesos.*$//' /tmp/mesos.tar.gz.sha512 | tr -d ' \n' | tr 'A-F' 'a-f')
actual=$(sha512sum /tmp/mesos.tar.gz | cut -d' ' -f1)
if [ "${published}" != "${actual}" ]; then
  echo "mesos source: SHA-512 ${actual} differs from Apache's ${MESOS_SOURCE_URL}.sha512 (${published})" >&2
  exit 1
fi

rm -rf /tmp/mesos-src /tmp/mesos-root
mkdir -p /tmp/mesos-src /tmp/mesos-root/DEBIAN
tar -xzf /tmp/mesos.tar.gz -C /tmp/mesos-src --strip-components=1
cd /tmp/mesos-src
# GCC 12 warns where GCC 4.8-9 (what Mesos 1.11 was released with) did not.
# With SSL (libprocess over libevent, whose OpenSSL bufferevents it uses): only then can an
# agent sign tokens for its HTTP executors (--jwt_secret_key, --authenticate_http_executors),
# which the default executor of task groups needs when the agent's API asks for credentials
# (README, Threat model). TLS between Mesos processes stays off (LIBPROCESS_SSL_ENABLED unset).
./configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var --disable-python --disable-java \
  --enable-optimize --disable-werror --enable-ssl --enable-libevent \
  CXXFLAGS="-O2 -Wno-deprecated-declarations"
make -j"$(nproc)"
make install DESTDIR=/tmp/mesos-root
/tmp/mesos-root/usr/sbin/mesos-master --version 2>/dev/null | grep -F "${MESOS_VERSION}" ||
  LD_LIBRARY_PATH=/tmp/mesos-root/usr/lib /tmp/mesos-root/usr/sbin/mesos-master --version | grep -F "${MESOS_VERSION}"
# What mesos-boot asks an agent (executor-auth=auto): an agent without it would run with an
# unauthenticated read-write API.
LD_LIBRARY_PATH=/tmp/mesos-root/usr/lib /tmp/mesos-root/usr/sbin/mesos-agent --help | grep -q -- --jwt_secret_key ||
  { echo "mesos-agent was built without SSL (no --jwt_secret_key)" >&2; exit 1; }

cat > /tmp/mesos-root/DEBIAN/control <<CONTROL
Package: mesos
Version: ${MESOS_VERSION}-1
Architecture: amd64
Maintainer: mesos-boot image build
Depends: libcurl4, libsasl2-2, libsasl2-modules, libapr1, libsvn1, zlib1g, libssl3, libevent-2.1-7, libevent-openssl-2.1-7, libevent-pthreads-2.1-7
Description: Apache Mesos ${MESOS_VERSION}, built from the Apache source release
 mesos-master, mesos-agent and libmesos; no units (mesos-boot's systemd units run them).
CONTROL
dpkg-deb --root-owner-group --build /tmp/mesos-root "${MESOS_DEB}"
(cd "$(dirname "${MESOS_DEB}")" && sha256sum "$(basename "${MESOS_DEB}")" > "${MESOS_DEB}.sha256")
cat "${MESOS_DEB}.sha256"
