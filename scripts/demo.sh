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
stop() {
  echo
  for p in "${serve_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  echo "demo: stopping ZooKeeper"
  for n in 1 2 3; do
    pidfile=$demo/zk$n/run/zookeeper.pid
    [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  echo "demo: files left in $demo"
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
echo "demo: booting 3 ZooKeeper nodes at once (logs: $demo/zk*/boot.log)"
pids=()
for n in 1 2 3; do
  ip=${ips[$((n - 1))]}
  "$bin" --role zookeeper --ip "$ip" --instance-id "zk$n" --root "$demo/zk$n" "${common[@]}" \
    --start-command "$repo/tests/harness/zk-start.sh \"\$MESOS_BOOT_ROOT\"" 2>"$demo/zk$n.boot.log" &
  pids+=($!)
done
for i in 0 1 2; do
  if ! wait "${pids[$i]}"; then
    echo "demo: zookeeper node $((i + 1)) failed:"; cat "$demo/zk$((i + 1)).boot.log"; exit 1
  fi
done
echo "demo: the ensemble has quorum"

echo "demo: rendering a Mesos master (3 masters, so quorum 2) once ZooKeeper has quorum"
"$bin" --role master --masters 3 --ip "$master_ip" --root "$demo/master" "${common[@]}" --no-start
echo "demo: rendering a Mesos agent (--no-wait: no Mesos master runs here to lead)"
"$bin" --role agent --ip "$agent_ip" --zone local-a --attributes "rack:demo" --root "$demo/agent" \
  "${common[@]}" --no-start --no-wait

for f in zk1/etc/zookeeper/conf/zoo.cfg zk1/etc/zookeeper/conf/zoo.cfg.dynamic \
         master/etc/mesos-boot/mesos-master.env agent/etc/mesos-boot/mesos-agent.env; do
  echo; echo "=== $demo/$f"; cat "$demo/$f"
done
echo; echo "=== mesos-boot status (zookeeper node 2)"
"$bin" status --root "$demo/zk2"

echo; echo "demo: starting mesos-boot serve on every ZooKeeper node (Exhibitor's API, /metrics, the status page)"
for n in 1 2 3; do
  "$bin" serve --root "$demo/zk$n" --reconcile-interval 10s \
    --stop-command "kill \$(cat \"\$MESOS_BOOT_ROOT/run/zookeeper.pid\")" \
    --start-command "$repo/tests/harness/zk-start.sh \"\$MESOS_BOOT_ROOT\"" 2>"$demo/zk$n.serve.log" &
  serve_pids+=($!)
done
api=http://${ips[0]}:8080
for _ in $(seq 1 100); do
  curl -fsS "$api/health" >/dev/null 2>&1 && break
  sleep 0.1 # polling serve's start, up to 10 s
done
echo; echo "=== GET $api/exhibitor/v1/cluster/list"
curl -fsS "$api/exhibitor/v1/cluster/list"; echo
echo; echo "=== GET $api/exhibitor/v1/cluster/status"
curl -fsS "$api/exhibitor/v1/cluster/status"; echo
echo; echo "=== GET $api/metrics (the ensemble's lines)"
curl -fsS "$api/metrics" | grep -E '^mesos_boot_(servers|server_serving|ensemble_quorum)' || true
echo; echo "demo: the status page: $api/ (also http://${ips[1]}:8080/ and http://${ips[2]}:8080/)"

if [ "${DEMO_EXIT:-0}" = 1 ]; then exit 0; fi
echo; echo "demo: running; press Ctrl-C to stop"
sleep infinity &
wait $!
