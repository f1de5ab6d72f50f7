#!/usr/bin/env bash
# A local shoal cluster on this machine: every node is its own host, in a network namespace of its
# own with its own address on a private bridge, its own hostname, state directory and cgroup
# parent. It doubles as the example of running shoal by hand: each daemon's command line is written
# to its log at each start.
#
#   local-cluster.sh up [--managers M] [--workers W] [--name NAME] [--dir DIR] [--heartbeat-period D]
#   local-cluster.sh down [--name NAME] [--dir DIR]
#   local-cluster.sh status [--name NAME] [--dir DIR]
#   local-cluster.sh add-worker [--name NAME] [--dir DIR]         prints the new node's name
#   local-cluster.sh stop NODE [--kill] [--name NAME] [--dir DIR] SIGTERM (or SIGKILL) its daemon
#   local-cluster.sh start NODE [--name NAME] [--dir DIR]         starts a stopped node again on its state
#   local-cluster.sh env [--name NAME] [--dir DIR]                prints the SHOAL_HOST and SHOAL_REGISTRY exports
#
# Defaults: 3 managers (m1, m2, ...), 2 workers (w1, w2, ...), NAME shoal, DIR
# /var/lib/shoal-local/NAME, shoal's own heartbeat period. SHOAL_LOG_LEVEL sets the daemons' log
# level (default info). SHOAL_DNS_UPSTREAM is the workers' --dns-upstream: where containers' queries
# for names outside the cluster go (default none: they are answered REFUSED, and no DNS query leaves
# the cluster's namespaces).
#
# The network, all of it inside namespaces this script creates (nothing is added to the root
# namespace, and no packet leaves them):
#   NAME-hub   a bridge, br0, at 10.213.0.1/24, and the image registry on port 5000 (with the
#              busybox base image, pushed once): SHOAL_REGISTRY=10.213.0.1:5000
#   NAME-mN    a manager at 10.213.0.(10+N), Raft and the rest on port 4242, and the control
#              socket DIR/nodes/mN/shoal.sock, which the CLI reaches from anywhere: unix sockets
#              do not belong to network namespaces
#   NAME-wN    a worker at 10.213.0.(100+N); its containers share its network namespace
# Each node namespace has lo and an eth0, a veth whose other end is a port of the hub's bridge.
#
# On disk: DIR/cluster.env (SHOAL_HOST=..., SHOAL_REGISTRY=...), DIR/registry/, and per node
# DIR/nodes/X/ with state/, daemon.log and pid. The workers' runtime roots are
# /run/shoal-local/NAME/wN and their containers' cgroups /shoal-local/NAME/wN/<task id>.
#
# Needs root, a build (npm run build; bash src/runtime/shim/build.sh), iproute2, util-linux, jq and
# the packages deploy/images/README.md lists.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

subnet=10.213.0
hub_addr=$subnet.1
registry_port=5000
manager_port=4242
shoal_js=$repo/dist/cmd/shoal.js
runtime_bin=$repo/dist/shim/shoal-runtime
# How long a daemon may take to come up, join or stop, in seconds.
wait_s=60

usage() {
  cat <<'EOF'
usage: local-cluster.sh up [--managers M] [--workers W] [--name NAME] [--dir DIR] [--heartbeat-period D]
       local-cluster.sh down [--name NAME] [--dir DIR]
       local-cluster.sh status [--name NAME] [--dir DIR]
       local-cluster.sh add-worker [--name NAME] [--dir DIR]
       local-cluster.sh stop NODE [--kill] [--name NAME] [--dir DIR]
       local-cluster.sh start NODE [--name NAME] [--dir DIR]
       local-cluster.sh env [--name NAME] [--dir DIR]
EOF
}
bad_usage() { usage >&2; exit 2; }
say() { echo "local-cluster: $*" >&2; }
die() { say "$*"; exit 1; }

# --- The command line -------------------------------------------------------------------------

[ $# -ge 1 ] || bad_usage
verb=$1
shift
managers=3 workers=2 name=shoal dir="" heartbeat="" kill_signal=TERM target=""
while [ $# -gt 0 ]; do
  case $1 in
    --managers) managers=${2:?--managers needs a number}; shift 2 ;;
    --workers) workers=${2:?--workers needs a number}; shift 2 ;;
    --name) name=${2:?--name needs a value}; shift 2 ;;
    --dir) dir=${2:?--dir needs a value}; shift 2 ;;
    --heartbeat-period) heartbeat=${2:?--heartbeat-period needs a duration}; shift 2 ;;
    --kill) kill_signal=KILL; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) say "unknown option $1"; bad_usage ;;
    *) [ -z "$target" ] || bad_usage; target=$1; shift ;;
  esac
done
[[ $name =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die "--name $name: letters, digits, '_', '.' and '-' only"
[[ $managers =~ ^[0-9]+$ ]] && [ "$managers" -ge 1 ] && [ "$managers" -le 89 ] || die "--managers $managers: 1 to 89"
[[ $workers =~ ^[0-9]+$ ]] && [ "$workers" -le 154 ] || die "--workers $workers: 0 to 154"

# Where this cluster lives: --dir, else where `up` recorded it, else the default.
run_dir=/run/shoal-local/$name
cgroup_parent=/shoal-local/$name
if [ -z "$dir" ]; then
  dir=$(cat "$run_dir/dir" 2>/dev/null || echo "/var/lib/shoal-local/$name")
fi
case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac

# --- Nodes --------------------------------------------------------------------------------------

netns_of() { echo "$name-$1"; }
node_dir() { echo "$dir/nodes/$1"; }
role_of() { case $1 in m*) echo manager ;; w*) echo worker ;; esac; }
addr_of() { # m3 -> 10.213.0.13, w2 -> 10.213.0.102
  case $1 in
    m*) echo "$subnet.$((10 + ${1#m}))" ;;
    w*) echo "$subnet.$((100 + ${1#w}))" ;;
  esac
}
# The nodes made so far, managers first, in order (m1 m2 ... w1 w2 ... w10).
nodes() { ls "$dir/nodes" 2>/dev/null | sort -V || true; }
manager_nodes() { nodes | grep '^m' || true; }
worker_nodes() { nodes | grep '^w' || true; }
socket_of() { echo "$(node_dir "$1")/shoal.sock"; }
shoal_host() { # unix://DIR/nodes/m1/shoal.sock,unix://...
  local m list=()
  for m in $(manager_nodes); do list+=("unix://$(socket_of "$m")"); done
  (IFS=,; echo "${list[*]}")
}

# The pid of NODE's daemon if it runs: the recorded pid, still shoal, still in the node's namespace.
daemon_pid() {
  local pid
  pid=$(cat "$(node_dir "$1")/pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && grep -qa shoal.js "/proc/$pid/cmdline" 2>/dev/null &&
    [ "$(ip netns identify "$pid" 2>/dev/null)" = "$(netns_of "$1")" ] && echo "$pid"
}

# --- The CLI ------------------------------------------------------------------------------------

shoal() { node "$shoal_js" "$@"; }
# shoal through the first manager that answers (SHOAL_HOST's list does the same for users).
shoal_any() {
  local m
  for m in $(manager_nodes); do
    [ -S "$(socket_of "$m")" ] || continue
    shoal --host "unix://$(socket_of "$m")" "$@" 2>/dev/null && return 0
  done
  return 1
}
# Does `node ls` show NODE (by hostname) as a reachable manager (the leader included)? Managers
# have no session with a dispatcher, so their node state stays unknown: this is their readiness.
# A worker's is READY, its session with the managers open.
is_reachable_manager() {
  shoal_any node ls --format json |
    jq -e --arg h "$1" 'any(.[]; .description.hostname == $h and (.managerStatus.leader == true or .managerStatus.reachability == "reachable"))' >/dev/null
}
is_ready() { # node [since]: READY, marked so at or after SINCE (ms since the epoch; a session opened then)
  shoal_any node ls --format json |
    jq -e --arg h "$1" --argjson since "${2:-0}" \
      'any(.[]; .description.hostname == $h and .status.state == "NODE_STATE_READY" and .meta.updatedAt >= $since)' >/dev/null
}

# --- Daemons ------------------------------------------------------------------------------------

# The daemon's arguments, one a line; on its first start (FIRST=1) with what creates or joins the
# cluster (a restart on existing state needs neither).
daemon_args() { # node first
  local n=$1 first=$2 d
  d=$(node_dir "$n")
  case $(role_of "$n") in
    manager)
      printf '%s\n' manager --listen-addr "$(addr_of "$n"):$manager_port" --state-dir "$d/state" --socket "$d/shoal.sock"
      if [ "$first" = 1 ] && [ "$n" = m1 ]; then
        printf '%s\n' --init
        [ -z "$heartbeat" ] || printf '%s\n' --heartbeat-period "$heartbeat"
      elif [ "$first" = 1 ]; then
        printf '%s\n' --join "$(addr_of m1):$manager_port"
      fi
      ;;
    worker)
      local m joins=()
      for m in $(manager_nodes); do joins+=("$(addr_of "$m"):$manager_port"); done
      printf '%s\n' worker --join "$(IFS=,; echo "${joins[*]}")" --state-dir "$d/state" --hostname "$n" \
        --cgroup-parent "$cgroup_parent/$n" --runtime-root "$run_dir/$n" \
        --insecure-registry "$hub_addr:$registry_port" --dns-upstream "${SHOAL_DNS_UPSTREAM:-none}"
      ;;
  esac
  printf '%s\n' --log-level "${SHOAL_LOG_LEVEL:-info}"
}

# Starts NODE's daemon in its network namespace, with its own UTS namespace for its hostname
# (so a manager's node shows as m1, not as this machine). nsenter --net only: `ip netns exec`
# would also give it a private mount namespace, hiding the containers' mounts from the next
# worker started on this state. The join token, if any, goes in the environment, out of `ps`.
start_daemon() { # node first [token]
  local n=$1 first=$2 token=${3:-} d args env=()
  d=$(node_dir "$n")
  mkdir -p "$d"
  mapfile -t args < <(daemon_args "$n" "$first")
  [ -z "$token" ] || env=(SHOAL_JOIN_TOKEN="$token")
  echo "--- $(date -Is) shoal ${args[*]}" >>"$d/daemon.log"
  env "${env[@]}" setsid nsenter --net="/run/netns/$(netns_of "$n")" -- \
    unshare --uts -- sh -c 'hostname "$0" && exec "$@"' "$n" node "$shoal_js" "${args[@]}" \
    </dev/null >>"$d/daemon.log" 2>&1 &
  echo $! >"$d/pid"
}

# Polls CHECK until it succeeds; fails with NODE's log tail if its daemon exits or time runs out.
wait_until() { # node what check...
  local n=$1 what=$2
  shift 2
  local deadline=$((SECONDS + wait_s))
  until "$@" 2>/dev/null; do
    # The recorded pid, not daemon_pid: it may still be on its way (env, setsid, nsenter, ...) to node.
    if ! kill -0 "$(cat "$(node_dir "$n")/pid")" 2>/dev/null; then
      say "$n exited before it was $what; the end of $(node_dir "$n")/daemon.log:"
      tail -n 20 "$(node_dir "$n")/daemon.log" >&2
      return 1
    fi
    if [ $SECONDS -ge "$deadline" ]; then
      say "$n was not $what after ${wait_s}s; the end of $(node_dir "$n")/daemon.log:"
      tail -n 20 "$(node_dir "$n")/daemon.log" >&2
      return 1
    fi
    sleep 0.3
  done
}

# Signals NODE's daemon and waits until it has gone.
stop_daemon() { # node signal
  local pid
  pid=$(daemon_pid "$1") || return 0
  kill "-$2" "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((wait_s * 10))); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

# --- The network --------------------------------------------------------------------------------

make_hub() {
  local hub
  hub=$(netns_of hub)
  ip netns add "$hub"
  ip -n "$hub" link set lo up
  ip -n "$hub" link add br0 type bridge
  ip -n "$hub" addr add "$hub_addr/24" dev br0
  ip -n "$hub" link set br0 up
}

# NODE's namespace: lo, and eth0 at its address, a veth whose hub end (named NODE) is on the bridge.
make_node_net() { # node
  local n=$1 hub ns
  hub=$(netns_of hub) ns=$(netns_of "$1")
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$hub" link add "$n" type veth peer name eth0 netns "$ns"
  ip -n "$hub" link set "$n" master br0 up
  ip -n "$ns" addr add "$(addr_of "$n")/24" dev eth0
  ip -n "$ns" link set eth0 up
}

# --- Commands -----------------------------------------------------------------------------------

write_env() {
  printf 'SHOAL_HOST=%s\nSHOAL_REGISTRY=%s\n' "$(shoal_host)" "$hub_addr:$registry_port" >"$dir/cluster.env"
}
print_env() {
  [ -f "$dir/cluster.env" ] || die "no local cluster $name in $dir"
  sed 's/^/export /' "$dir/cluster.env"
}

exists() { [ -e "/run/netns/$(netns_of hub)" ] || [ -e "$dir/nodes" ] || [ -e "$run_dir" ]; }

check_prerequisites() {
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces, containers)"
  [ -f "$shoal_js" ] || die "$shoal_js not found: npm run build"
  [ -x "$runtime_bin" ] || die "$runtime_bin not found: bash src/runtime/shim/build.sh"
  local tool
  for tool in ip nsenter unshare setsid jq curl openssl; do
    command -v "$tool" >/dev/null || die "$tool not found"
  done
}

join_token() { # worker|manager
  shoal --host "unix://$(socket_of m1)" cluster join-token -q "$1"
}

cmd_up() {
  check_prerequisites
  if exists; then
    die "local cluster $name already exists ($dir); 'deploy/local-cluster.sh down --name $name' removes it"
  fi
  # Anything failing from here on removes what was made.
  trap 'rc=$?; if [ $rc -ne 0 ]; then say "removing what was made"; cmd_down >/dev/null 2>&1 || true; fi' EXIT
  mkdir -p "$dir/nodes" "$run_dir"
  echo "$dir" >"$run_dir/dir"

  say "network: namespace $(netns_of hub), bridge at $hub_addr/24"
  make_hub
  say "registry at $hub_addr:$registry_port, with the busybox base image"
  ip netns exec "$(netns_of hub)" deploy/images/registry.sh start "$dir/registry" "$registry_port" 0.0.0.0
  ip netns exec "$(netns_of hub)" deploy/images/build-base.sh "$registry_port" >/dev/null

  local i n token
  say "m1 at $(addr_of m1): a new cluster"
  make_node_net m1
  start_daemon m1 1
  wait_until m1 "leading" is_reachable_manager m1
  token=$(join_token manager)
  # Raft takes in one new member at a time: each joins once the one before is a reachable manager.
  for i in $(seq 2 "$managers"); do
    n=m$i
    say "$n at $(addr_of "$n"): joins through m1"
    make_node_net "$n"
    start_daemon "$n" 1 "$token"
    wait_until "$n" "a reachable manager" is_reachable_manager "$n"
  done
  token=$(join_token worker)
  for i in $(seq 1 "$workers"); do
    n=w$i
    say "$n at $(addr_of "$n"): joins as a worker"
    make_node_net "$n"
    start_daemon "$n" 1 "$token"
  done
  for n in $(worker_nodes); do wait_until "$n" "ready" is_ready "$n"; done

  write_env
  trap - EXIT
  say "up: $managers managers, $workers workers; 'deploy/local-cluster.sh down --name $name' removes it all"
  print_env
}

cmd_add_worker() {
  [ -e "$dir/nodes/m1" ] || die "no local cluster $name in $dir"
  local last n token
  last=$(worker_nodes | tail -n 1)
  n=w$((${last#w} + 1))
  [ "${n#w}" -le 154 ] || die "no address left for $n"
  token=$(shoal_any cluster join-token -q worker) || die "no manager answers"
  say "$n at $(addr_of "$n"): joins as a worker"
  make_node_net "$n"
  start_daemon "$n" 1 "$token"
  wait_until "$n" "ready" is_ready "$n"
  echo "$n"
}

known_node() {
  [ -n "$target" ] || bad_usage
  [ -d "$dir/nodes/$target" ] || die "no node $target in local cluster $name ($dir)"
}

cmd_stop() {
  known_node
  daemon_pid "$target" >/dev/null || die "$target is not running"
  stop_daemon "$target" "$kill_signal" || die "$target did not stop within ${wait_s}s"
}

cmd_start() {
  known_node
  ! daemon_pid "$target" >/dev/null || die "$target is already running"
  local since
  since=$(date +%s%3N)
  start_daemon "$target" 0
  case $(role_of "$target") in
    # Answering on its own socket: back in Raft, and knowing the leader.
    manager) wait_until "$target" "answering" shoal --host "unix://$(socket_of "$target")" node ls >/dev/null ;;
    # Ready since now: the node was perhaps still READY from before it stopped.
    worker) wait_until "$target" "ready" is_ready "$target" "$since" ;;
  esac
}

cmd_status() {
  [ -d "$dir/nodes" ] || die "no local cluster $name in $dir"
  local n pid
  printf '%-6s %-8s %-18s %-8s %s\n' NODE ROLE ADDRESS PID STATE
  for n in $(nodes); do
    if pid=$(daemon_pid "$n"); then
      printf '%-6s %-8s %-18s %-8s %s\n' "$n" "$(role_of "$n")" "$(addr_of "$n")" "$pid" running
    else
      printf '%-6s %-8s %-18s %-8s %s\n' "$n" "$(role_of "$n")" "$(addr_of "$n")" - stopped
    fi
  done
  if ip netns exec "$(netns_of hub)" deploy/images/registry.sh status "$dir/registry" "$registry_port" 2>/dev/null; then
    echo "registry at $hub_addr:$registry_port: running"
  else
    echo "registry at $hub_addr:$registry_port: not running"
  fi
  echo
  shoal_any node ls || echo "no manager answers"
}

# Removes everything `up` and `add-worker` made, in an order that works on a half-made cluster too.
cmd_down() {
  local n ns root id mnt
  # The workers, then the managers, each set at once; TERM, then KILL if still there after 5 s.
  for n in $(worker_nodes); do stop_daemon_quickly "$n" & done
  wait
  for n in $(manager_nodes); do stop_daemon_quickly "$n" & done
  wait
  # Workers leave their tasks running on purpose: remove those containers with the runtime.
  for root in "$run_dir"/w*; do
    [ -d "$root" ] || continue
    for id in $(ls "$root"); do
      "$runtime_bin" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
    done
  done
  # The workers' overlay network sandboxes outlive them, as their containers do.
  for n in $(worker_nodes); do
    for ns in $(worker_sandboxes "$n"); do ip netns delete "$ns" 2>/dev/null || true; done
  done
  # Whatever still runs in the namespaces (nothing should).
  for ns in $(cluster_netns); do
    ip netns pids "$ns" | xargs -r kill -KILL 2>/dev/null || true
  done
  # The containers' cgroups, deepest first, in every hierarchy.
  for mnt in $(cgroup_mounts); do
    [ -d "$mnt$cgroup_parent" ] && find "$mnt$cgroup_parent" -depth -type d -exec rmdir {} + 2>/dev/null || true
    rmdir "$mnt/shoal-local" 2>/dev/null || true
  done
  [ ! -d "$dir/registry" ] || deploy/images/registry.sh stop "$dir/registry"
  for ns in $(cluster_netns | grep -v -- '-hub$'); do
    ip netns delete "$ns"
  done
  [ ! -e "/run/netns/$(netns_of hub)" ] || ip netns delete "$(netns_of hub)"
  rm -rf "$run_dir" "$dir/nodes" "$dir/registry" "$dir/cluster.env"
  rmdir /run/shoal-local 2>/dev/null || true
  [ ! -d "$dir" ] || rmdir "$dir" 2>/dev/null || say "left $dir: it holds files the cluster did not make"
  [ "$dir" != "/var/lib/shoal-local/$name" ] || rmdir /var/lib/shoal-local 2>/dev/null || true
  say "down: local cluster $name removed"
}

stop_daemon_quickly() { # node: TERM, then KILL after 5 s
  local pid
  pid=$(daemon_pid "$1") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

# The network namespaces a worker's agent made for overlay networks (src/agent/network names them
# shoal-<first 8 characters of its node id>-...); the node id is its certificate's common name.
worker_sandboxes() { # node
  local cert id
  cert=$(node_dir "$1")/state/node-credentials.pem
  [ -f "$cert" ] || return 0
  id=$(openssl x509 -in "$cert" -noout -subject -nameopt multiline 2>/dev/null | awk '$1 == "commonName" { print $3 }')
  [ -n "$id" ] || return 0
  ip netns list | awk '{ print $1 }' | grep -E "^shoal-${id:0:8}-" || true
}

# This cluster's network namespaces (not those of another cluster whose name starts like this one's).
cluster_netns() {
  ip netns list | awk '{ print $1 }' | grep -E "^${name//./\\.}-(hub|m[0-9]+|w[0-9]+)$" || true
}

# Every cgroup hierarchy's mount point (the field after mountinfo's "-" is the file system type).
cgroup_mounts() {
  awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) ~ /^cgroup2?$/) print $5; break } }' /proc/self/mountinfo
}

case $verb in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  add-worker) cmd_add_worker ;;
  stop) cmd_stop ;;
  start) cmd_start ;;
  env) print_env ;;
  -h | --help) usage ;;
  *) bad_usage ;;
esac
