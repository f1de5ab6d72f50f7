#!/usr/bin/env bash
# The demo (`make demo`): a local shoal cluster of 3 managers and 2 workers, each node its own host
# in a network namespace (deploy/local-cluster.sh), running the demo stack (deploy/demo/stack.yml:
# a web service of 4 replicas with a healthcheck) as real containers. It shows the service spread
# over the workers, its published port answering on every node, service discovery and the VIP from
# inside a replica, runs a rolling update with live progress, and leaves the cluster running with
# a list of commands to try next. `deploy/local-cluster.sh down` removes it all.
#
# A demo cluster left by an earlier run is removed first.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
shoal() { node dist/cmd/shoal.js "$@"; }

[ "$(id -u)" = 0 ] || { echo "the demo needs root: network namespaces, mounts and cgroups" >&2; exit 1; }
[ -f dist/cmd/shoal.js ] && [ -x dist/shim/shoal-runtime ] || { echo "build first: make build" >&2; exit 1; }

if deploy/local-cluster.sh status >/dev/null 2>&1; then
  say "Removing the demo cluster of an earlier run"
  deploy/local-cluster.sh down
fi

say "Starting a local cluster: 3 managers and 2 workers, each in its own network namespace"
deploy/local-cluster.sh up --managers 3 --workers 2
eval "$(deploy/local-cluster.sh env)"
run shoal node ls

say "Deploying the demo stack: a web service of 4 replicas with a healthcheck"
run cat deploy/demo/stack.yml
run shoal stack deploy -c deploy/demo/stack.yml demo
# The stack deploy returns once the service is stored; a replica counts as running once healthy.
printf 'waiting for 4 healthy replicas '
for _ in $(seq 1 240); do
  replicas=$(shoal service ls | awk '$2 == "demo_web" { print $4 }')
  [ "$replicas" = 4/4 ] && break
  printf '.'
  sleep 0.5
done
echo " $replicas"
run shoal service ps demo_web

say "Where the replicas run: spread over the workers"
shoal service ps demo_web --filter desired-state=running | awk 'NR > 1 { n[$4]++ } END { for (node in n) printf "  %s: %d replicas\n", node, n[node] }'

say "Port 8080 is published on every node, and balanced over the replicas wherever they run"
for node in w1 w2 w1 w2; do
  addr=$(deploy/local-cluster.sh status | awk -v n="$node" '$1 == n { print $3 }')
  printf '$ curl http://%s:8080/    ' "$addr"
  # From the first manager's namespace: the request crosses the cluster's own bridge, nothing else.
  ip netns exec shoal-m1 curl -s -m 5 "http://$addr:8080/" || echo "(no answer)"
done

say "Service discovery on the stack's network (demo_default), from inside a replica"
# A running replica, its node's hostname, and shoal-runtime's state directory on that worker.
read -r task node_id < <(shoal service ps demo_web --filter desired-state=running --format json | jq -r '.[0] | "\(.meta.id) \(.nodeId)"')
host=$(shoal node ls --format json | jq -r --arg id "$node_id" '.[] | select(.meta.id == $id) | .description.hostname')
# busybox nslookup through the replica's resolver (127.0.0.11), the answers only.
lookup_in_replica() {
  printf '$ (in replica %s on %s) nslookup %s\n' "${task:0:12}" "$host" "$1"
  dist/shim/shoal-runtime --root "/run/shoal-local/shoal/$host" exec "$task" nslookup "$1" 127.0.0.11 | sed -n '/^Name/,${/^$/!p}'
}
echo "web is the service's virtual IP, balanced over the replicas; tasks.web is every replica:"
lookup_in_replica web
lookup_in_replica tasks.web
echo "Requests to http://web:8080/ from the replica go through the VIP to every replica in turn:"
for _ in 1 2 3 4; do
  printf '$ (in replica %s on %s) wget -q -O- http://web:8080/    ' "${task:0:12}" "$host"
  dist/shim/shoal-runtime --root "/run/shoal-local/shoal/$host" exec "$task" wget -q -O- http://web:8080/ || echo "(no answer)"
done

say "Rolling update to VERSION=2: 2 at a time, start-first, each new replica must turn healthy"
run shoal service update --env-add VERSION=2 demo_web
run shoal service ps demo_web

say "The containers' logs, read on the workers and streamed through the managers"
run shoal service logs --tail 1 demo_web

cat <<EOT

$(printf '\033[1m== The cluster is running. Try:\033[0m')
  eval "\$(deploy/local-cluster.sh env)"       # point the CLI at it (SHOAL_HOST)
  shoal() { node $(pwd)/dist/cmd/shoal.js "\$@"; }
  shoal service ls
  shoal service ps demo_web
  shoal service logs -f demo_web                # ^C to stop
  ip netns exec shoal-m1 curl http://10.213.0.102:8080/   # the published port, from a node
  shoal service scale demo_web=8
  shoal node update --availability drain w1    # and watch the tasks move to w2
  shoal service rollback demo_web
  deploy/local-cluster.sh status
Stop it and remove everything it made with:
  deploy/local-cluster.sh down
EOT
