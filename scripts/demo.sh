#!/usr/bin/env bash
# The local demo, no AWS account: a 3-node ZooKeeper ensemble booted by
# `mesos-boot --role zookeeper` from a file shared config (Exhibitor format) on loopback
# addresses, then a Mesos master and agent rendered against it, then `mesos-boot status`.
# Ctrl-C stops everything it started. DEMO_EXIT=1 stops right after the tour.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

scripts/setup.sh demo
echo "demo: building mesos-boot"
cargo build --quiet -p mesos-boot
bin=$repo/target/debug/mesos-boot

demo=${DEMO_DIR:-$(mktemp -d /tmp/mesos-boot-demo.XXXXXX)}
ips=(127.0.10.1 127.0.10.2 127.0.10.3)
master_ip=127.0.10.21
agent_ip=127.0.10.31
config=$demo/shared/exhibitor.properties

serve_pids=()
roots=("$demo/zk1" "$demo/zk2" "$demo/zk3")
stop_serve() {
  for p in "${serve_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  serve_pids=()
}
stop_zookeeper() {
  for r in "${roots[@]}"; do
    pidfile=$r/run/zookeeper.pid
    [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
}
stopped=0
stop() {
  [ "$stopped" = 1 ] && return
  stopped=1
  echo
  stop_serve
  echo "demo: stopping ZooKeeper"
  stop_zookeeper
  echo "demo: files left in $demo"
}
# A four-letter word to one server, with bash's /dev/tcp (no client needed).
four() {
  local out
  exec 3<>"/dev/tcp/${1%:*}/${1#*:}" || return 1
  printf '%s' "$2" >&3
  out=$(cat <&3 2>/dev/null)
  exec 3<&- 3>&-
  [ -n "$out" ] && printf '%s\n' "$out"
}
zkcli() { /usr/share/zookeeper/bin/zkCli.sh -server "$1" "${@:2}" 2>/dev/null | grep -v '^\(WATCHER\|WatchedEvent\|Connecting\)' | tail -n +1; }
# Polls `$1` (a shell test) every 0.2 s for up to $2 seconds.
wait_for() {
  local i
  for i in $(seq 1 $(( $2 * 5 ))); do eval "$1" && return 0; sleep 0.2; done
  echo "demo: timed out waiting for: $1"; return 1
}
trap stop EXIT
trap 'exit 130' INT TERM

mkdir -p "$demo/shared"
if [ ! -f "$config" ]; then
  # The Exhibitor shared config: an operator (or Exhibitor itself) wrote it.
  cat >"$config" <<PROPS
com.netflix.exhibitor.servers-spec=1:${ips[0]},2:${ips[1]},3:${ips[2]}
com.netflix.exhibitor.zoo-cfg-extra=tickTime\=500&initLimit\=10&syncLimit\=5
com.netflix.exhibitor.client-port=2181
PROPS
fi

common=(--no-imds --cluster demo --shared-config "file://$config" --timeout 120s)
echo "demo: booting 3 ZooKeeper nodes at once, with quorum TLS and a TLS client port (--zk-tls; logs: $demo/zk*/boot.log)"
# Boots the 3 ZooKeeper nodes at once: instance ids zk<n><$1>, logs in zk<n>.<$2>.log.
boot_zookeepers() {
  local n i pids=()
  for n in 1 2 3; do
    "$bin" --role zookeeper --ip "${ips[$((n - 1))]}" --instance-id "zk$n$1" --root "$demo/zk$n" \
      "${common[@]}" --zk-tls true --start-command "$repo/tests/harness/zk-start.sh \"\$MESOS_BOOT_ROOT\"" \
      2>"$demo/zk$n.$2.log" &
    pids+=($!)
  done
  for i in 0 1 2; do
    if ! wait "${pids[$i]}"; then
      echo "demo: zookeeper node $((i + 1)) failed:"; cat "$demo/zk$((i + 1)).$2.log"; exit 1
    fi
  done
}
boot_zookeepers "" boot
echo "demo: the ensemble has quorum"

echo "demo: rendering a Mesos master (3 masters, so quorum 2) once ZooKeeper has quorum; its first"
echo "demo: boot creates the cluster's ZooKeeper and Mesos credentials (see README, Threat model)"
"$bin" --role master --masters 3 --ip "$master_ip" --root "$demo/master" "${common[@]}" --no-start
echo "demo: rendering a Mesos agent (--no-wait: no Mesos master runs here to lead)"
# No Mesos is installed here to ask which authentication its executors can use
# (executor-auth=auto): the image's agent is built with SSL, so say `token`.
"$bin" --role agent --ip "$agent_ip" --zone local-a --attributes "rack:demo" --root "$demo/agent" \
  "${common[@]}" --executor-auth token --no-start --no-wait

for f in zk1/etc/zookeeper/conf/zoo.cfg zk1/etc/zookeeper/conf/zoo.cfg.dynamic \
         master/etc/mesos-boot/mesos-master.env agent/etc/mesos-boot/mesos-agent.env; do
  # The secrets in the ZooKeeper URLs are shown as <secret>.
  echo; echo "=== $demo/$f"; sed -E 's#(zk://[^:/@]+:)[^@]+@#\1<secret>@#' "$demo/$f"
done
echo; echo "=== the credentials the master created beside the shared config (principals only)"
"$bin" credentials list "file://$config"
echo; echo "=== the ZooKeeper TLS CA the first ZooKeeper boot created beside the shared config (never its key)"
"$bin" zk-tls list "file://$config"
"$bin" zk-tls trust "file://$config" >"$demo/zk-ca.pem"
echo; echo "=== a TLS client on ${ips[0]}:2281, checking the server against the cluster CA ($demo/zk-ca.pem)"
printf srvr | openssl s_client -quiet -verify_return_error -CAfile "$demo/zk-ca.pem" \
  -verify_ip "${ips[0]}" -connect "${ips[0]}:2281" 2>&1 | grep -E '^(verify|Mode|Zxid)' | sed 's/^/  /'
echo; echo "=== mesos-boot status (zookeeper node 2)"
"$bin" status --root "$demo/zk2"

echo; echo "demo: starting mesos-boot serve on every ZooKeeper node (Exhibitor's API, /metrics, the status page)"
start_serve() {
  local n
  for n in 1 2 3; do
    "$bin" serve --root "${roots[$((n - 1))]}" --reconcile-interval 2s --backup-period 2s \
      --stop-command "kill \$(cat \"\$MESOS_BOOT_ROOT/run/zookeeper.pid\")" \
      --start-command "$repo/tests/harness/zk-start.sh \"\$MESOS_BOOT_ROOT\"" 2>>"$demo/zk$n.serve.log" &
    serve_pids+=($!)
  done
}
start_serve
api=http://${ips[0]}:8080
wait_for 'curl -fsS "$api/health" >/dev/null 2>&1' 20
echo; echo "=== GET $api/exhibitor/v1/cluster/list"
curl -fsS "$api/exhibitor/v1/cluster/list"; echo
echo; echo "=== GET $api/exhibitor/v1/cluster/status"
curl -fsS "$api/exhibitor/v1/cluster/status"; echo
echo; echo "=== GET $api/metrics (the ensemble's lines)"
curl -fsS "$api/metrics" | grep -E '^mesos_boot_(servers|server_serving|ensemble_quorum)' || true
echo; echo "demo: the status page: $api/ (also http://${ips[1]}:8080/ and http://${ips[2]}:8080/)"

echo; echo "demo: a client writes /demo"
zkcli "${ips[0]}:2181" create /demo "written before the backup" >/dev/null

echo; echo "demo: a rolling change: maxClientCnxns=77 added to zoo-cfg-extra in the shared config;"
echo "      every member's serve restarts its ZooKeeper, one at a time, the leader last"
sed -i 's/^\(com\.netflix\.exhibitor\.zoo-cfg-extra=.*\)$/\1\&maxClientCnxns\\=77/' "$config"
applied() {
  local ip
  for ip in "${ips[@]}"; do four "$ip:2181" conf 2>/dev/null | grep -q '^maxClientCnxns=77' || return 1; done
  [ "$(cat "$demo"/zk*.serve.log | grep -c 'rolling change: applied here')" -ge 3 ]
}
wait_for applied 180
grep -h "rolling change: applied here" "$demo"/zk*.serve.log | sed 's/^/  /'
echo "demo: every member runs with maxClientCnxns=77; the ensemble kept its quorum"

echo; echo "demo: backups (serve's lease holder, every 2 s here) beside the shared config:"
backed_up() { "$bin" restore "file://$config" --list 2>/dev/null | grep -q .; }
wait_for backed_up 60
"$bin" restore "file://$config" --list | tail -3 | sed 's/^/  /'

echo; echo "demo: every ZooKeeper member is lost (processes and data); restore from the newest backup"
stop_serve
stop_zookeeper
down() { local ip; for ip in "${ips[@]}"; do four "$ip:2181" srvr >/dev/null 2>&1 && return 1; done; return 0; }
wait_for down 30
mkdir -p "$demo/lost"
for n in 1 2 3; do mv "$demo/zk$n" "$demo/lost/zk$n"; done
"$bin" restore "file://$config"
boot_zookeepers -new restore
grep -h "restore: data seeded" "$demo"/zk*.restore.log | sed 's/^/  /'
echo "demo: the new ensemble formed from the backup; /demo reads:"
zkcli "${ips[1]}:2181" get /demo | grep "written before" | sed 's/^/  /'
start_serve

if [ "${DEMO_EXIT:-0}" = 1 ]; then exit 0; fi
echo; echo "demo: running; press Ctrl-C to stop"
sleep infinity &
wait $!
