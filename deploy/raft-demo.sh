#!/usr/bin/env bash
# The Raft demo (`make demo`): a three-member raft-kv cluster (shoal's Raft library behind an
# etcd-compatible API) on 127.0.0.1, driven with the stock etcdctl. It writes and reads keys, shows
# the leader, kills it with SIGKILL, shows that a new leader takes over with every key intact and
# writes still work, brings the killed member back, then stops everything it started.
#
# Ports: 127.0.0.1:BASE..BASE+8, BASE from RAFT_DEMO_BASE_PORT (default 23790).
set -euo pipefail
cd "$(dirname "$0")/.."

base=${RAFT_DEMO_BASE_PORT:-23790}
server=dist/bench/raft-kv/main.js
ids=(n1 n2 n3)
declare -A raft_addr client_addr pid
for i in 0 1 2; do
  raft_addr[${ids[$i]}]="127.0.0.1:$((base + i))"
  client_addr[${ids[$i]}]="127.0.0.1:$((base + 3 + i))"
done
peers="n1=${raft_addr[n1]},n2=${raft_addr[n2]},n3=${raft_addr[n3]}"
all_endpoints="${client_addr[n1]},${client_addr[n2]},${client_addr[n3]}"

export ETCDCTL_API=3
export ETCDCTL_DIAL_TIMEOUT=3s
export ETCDCTL_COMMAND_TIMEOUT=10s

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

[ -f "$server" ] || { echo "building first (npm run build)"; npm run --silent build; }
command -v etcdctl >/dev/null || { echo "etcdctl not found: apt-get install etcd-client" >&2; exit 1; }
for port in $(seq "$base" $((base + 5))); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port on 127.0.0.1 is in use; set RAFT_DEMO_BASE_PORT to a free range" >&2
    exit 1
  fi
done

workdir=$(mktemp -d -t raft-demo-XXXXXX)
cleanup() {
  for id in "${ids[@]}"; do
    if [ -n "${pid[$id]:-}" ]; then kill -9 "${pid[$id]}" 2>/dev/null || true; fi
  done
  wait 2>/dev/null || true
  rm -rf "$workdir"
}
trap cleanup EXIT

start_member() {
  local id=$1
  SHOAL_LOG_LEVEL=${SHOAL_LOG_LEVEL:-warn} node "$server" --id "$id" --raft-addr "${raft_addr[$id]}" \
    --client-addr "${client_addr[$id]}" --peers "$peers" --data-dir "$workdir/$id" --bootstrap \
    >>"$workdir/$id.log" 2>&1 &
  pid[$id]=$!
}

# Prints the client address of the member that reports itself leader, among the given endpoints.
leader_endpoint() {
  etcdctl --endpoints="$1" endpoint status -w simple 2>/dev/null | awk -F', ' '$5 == "true" { print $1; exit }'
}

wait_for_leader() {
  local endpoints=$1 leader=""
  for _ in $(seq 1 150); do
    leader=$(leader_endpoint "$endpoints")
    [ -n "$leader" ] && { echo "$leader"; return 0; }
    sleep 0.1
  done
  echo "no leader after 15 s; member logs are in $workdir" >&2
  return 1
}

id_of_endpoint() {
  for id in "${ids[@]}"; do
    if [ "${client_addr[$id]}" = "$1" ]; then echo "$id"; fi
  done
}

say "Starting three raft-kv members (data in $workdir)"
for id in "${ids[@]}"; do
  start_member "$id"
  echo "$id: pid ${pid[$id]}, raft ${raft_addr[$id]}, clients ${client_addr[$id]}"
done
leader=$(wait_for_leader "$all_endpoints")
echo "elected: $(id_of_endpoint "$leader") ($leader)"

say "Writing and reading with etcdctl (any member: followers forward to the leader)"
run etcdctl --endpoints="$all_endpoints" put greeting "hello from raft"
run etcdctl --endpoints="${client_addr[n2]}" put fruit/apple red
run etcdctl --endpoints="${client_addr[n3]}" put fruit/banana yellow
run etcdctl --endpoints="$all_endpoints" get greeting
run etcdctl --endpoints="$all_endpoints" get --prefix fruit/

say "Cluster status"
run etcdctl --endpoints="$all_endpoints" endpoint status -w table

old_id=$(id_of_endpoint "$leader")
say "kill -9 the leader, $old_id (pid ${pid[$old_id]})"
kill -9 "${pid[$old_id]}"
wait "${pid[$old_id]}" 2>/dev/null || true
pid[$old_id]=""
survivors=$(for id in "${ids[@]}"; do if [ "$id" != "$old_id" ]; then printf '%s,' "${client_addr[$id]}"; fi; done)
survivors=${survivors%,}
started=$(date +%s%N)
new_leader=$(wait_for_leader "$survivors")
echo "new leader: $(id_of_endpoint "$new_leader") ($new_leader), seen after $(( ($(date +%s%N) - started) / 1000000 )) ms"
run etcdctl --endpoints="$survivors" endpoint status -w table

say "The data survived, and writes still work"
run etcdctl --endpoints="$survivors" get greeting
run etcdctl --endpoints="$survivors" get --prefix fruit/
run etcdctl --endpoints="$survivors" put after-failover "written with one member down"
run etcdctl --endpoints="$survivors" get after-failover

say "Restarting $old_id: it rejoins as a follower and catches up from its WAL and the leader"
start_member "$old_id"
for _ in $(seq 1 100); do
  etcdctl --endpoints="${client_addr[$old_id]}" get after-failover --consistency=s 2>/dev/null | grep -q written && break
  sleep 0.1
done
run etcdctl --endpoints="${client_addr[$old_id]}" get after-failover --consistency=s
run etcdctl --endpoints="$all_endpoints" endpoint status -w table

say "Stopping the cluster"
for id in "${ids[@]}"; do kill -TERM "${pid[$id]}" 2>/dev/null || true; done
wait 2>/dev/null || true
for id in "${ids[@]}"; do pid[$id]=""; done
echo "done"
