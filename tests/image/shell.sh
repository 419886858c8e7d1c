#!/bin/sh
# A shell (or COMMAND) inside a running image container of tests/image.rs or
# scripts/demo-image.sh: tests/image/shell.sh zookeeper0 [COMMAND...]
# (machinectl cannot reach these containers: they are not registered with a host systemd.)
set -eu
name=${1:?usage: shell.sh NAME [COMMAND...]  (names: ls /sys/fs/cgroup/systemd/mesos-boot-image-test)}
shift
procs=/sys/fs/cgroup/systemd/mesos-boot-image-test/$name/payload/init.scope/cgroup.procs
pid=$(head -n1 "$procs" 2>/dev/null) || { echo "shell.sh: no running container $name" >&2; exit 1; }
[ $# -gt 0 ] || set -- /bin/bash -l
exec nsenter -t "$pid" -a "$@"
