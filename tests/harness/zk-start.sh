#!/bin/sh
# zk-start.sh ROOT — start ZooKeeper for the node rooted at ROOT, detached.
#
# Used by the integration tests as mesos-boot's --start-command. Reads
# ROOT/etc/zookeeper/conf/zoo.cfg, logs to ROOT/var/log/zookeeper/zookeeper.out
# and writes the JVM's pid to ROOT/run/zookeeper.pid. Idempotent: if that pid
# is a live java running this zoo.cfg (or nohup/setsid about to exec it),
# it does nothing and exits 0.
#
# Environment: JAVA (default /usr/bin/java), ZK_CLASSPATH (default Debian's
# /etc/zookeeper/conf:/usr/share/java/zookeeper.jar, plus log4j bindings when
# installed; MESOS_BOOT_ZK_CLASSPATH from zookeeper.env appended), JVMFLAGS (extra JVM flags), ZK_USER (run the JVM as this user,
# as zookeeper.service does with User=zookeeper; default: the caller). Like
# zookeeper.service, it adds MESOS_BOOT_ZK_OPTS from
# ROOT/etc/mesos-boot/zookeeper.env when mesos-boot rendered it, and starts the
# JVM with umask 077 (the unit's UMask=0077), so that ZooKeeper's own rewrites of
# zoo.cfg, which carries the superuser digest, stay 0600.
set -eu

ROOT=${1:?usage: zk-start.sh ROOT}
CFG=$ROOT/etc/zookeeper/conf/zoo.cfg
LOG_DIR=$ROOT/var/log/zookeeper
RUN_DIR=$ROOT/run
PIDFILE=$RUN_DIR/zookeeper.pid
JAVA=${JAVA:-/usr/bin/java}

if [ -z "${ZK_CLASSPATH:-}" ]; then
    ZK_CLASSPATH=/etc/zookeeper/conf:/usr/share/java/zookeeper.jar
    # zookeeper.jar's manifest brings slf4j-api only; add a binding so the
    # log ends up in zookeeper.out instead of nowhere.
    for jar in /usr/share/java/slf4j-log4j12.jar /usr/share/java/log4j-1.2.jar; do
        [ -f "$jar" ] && ZK_CLASSPATH=$ZK_CLASSPATH:$jar
    done
fi

[ -f "$CFG" ] || { echo "zk-start.sh: $CFG does not exist" >&2; exit 2; }
MESOS_BOOT_ZK_OPTS=
MESOS_BOOT_ZK_CLASSPATH=
if [ -f "$ROOT/etc/mesos-boot/zookeeper.env" ]; then
    . "$ROOT/etc/mesos-boot/zookeeper.env"
fi
# What TLS needs beyond the jars zookeeper.jar names (mesos:zk-tls), as zookeeper.service adds.
ZK_CLASSPATH=$ZK_CLASSPATH$MESOS_BOOT_ZK_CLASSPATH
mkdir -p "$LOG_DIR" "$RUN_DIR"

if [ -s "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE")
    case $pid in
        ''|*[!0-9]*) ;;
        *)
            # Right after a start the pid may still be nohup or setsid on
            # their way to exec java; their command line is already the JVM's.
            case $(cat "/proc/$pid/comm" 2>/dev/null) in
                java|nohup|setsid|setpriv)
                    if kill -0 "$pid" 2>/dev/null \
                        && tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -Fqx -- "$CFG"; then
                        exit 0
                    fi
                    ;;
            esac
            ;;
    esac
fi

AS_USER=
if [ -n "${ZK_USER:-}" ]; then
    # setpriv execs (no fork), so $! stays the JVM.
    AS_USER="setpriv --reuid=$ZK_USER --regid=$ZK_USER --init-groups"
fi
umask 077

# No job control in a non-interactive sh, so the background job is not a
# process-group leader: setsid does not fork and $! is the JVM itself.
nohup setsid $AS_USER "$JAVA" \
    -cp "$ZK_CLASSPATH" \
    "-Dzookeeper.log.dir=$LOG_DIR" \
    -Dzookeeper.root.logger=INFO,CONSOLE \
    -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
    ${JVMFLAGS:-} $MESOS_BOOT_ZK_OPTS \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$CFG" \
    >>"$LOG_DIR/zookeeper.out" 2>&1 </dev/null &
pid=$!
# Return only once the pid is the JVM (nohup and setsid exec into it), so the
# pid file never names a process that is still this script's forked shell.
tries=0
while [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != java ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "zk-start.sh: java exited at once, see $LOG_DIR/zookeeper.out" >&2
        exit 1
    fi
    tries=$((tries + 1))
    if [ "$tries" -gt 200 ]; then
        echo "zk-start.sh: pid $pid did not become java within 10s" >&2
        exit 1
    fi
    sleep 0.05
done
echo "$pid" >"$PIDFILE.tmp"
mv "$PIDFILE.tmp" "$PIDFILE"
exit 0
