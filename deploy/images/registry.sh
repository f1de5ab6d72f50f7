#!/usr/bin/env bash
# A local image registry for tests and the demo: Debian's docker-registry (CNCF distribution) on
# 127.0.0.1:PORT, plain HTTP, no auth, blobs stored under DIR. It listens on loopback only unless
# told another address.
#
#   registry.sh start  DIR PORT [ADDR]  start in the background (pid in DIR/registry.pid), wait until it answers
#   registry.sh stop   DIR              stop the registry started for DIR
#   registry.sh status DIR PORT [ADDR]  exit 0 when it runs and answers /v2/
#
# ADDR is the IPv4 address to listen on, 127.0.0.1 by default. 0.0.0.0 is every address of the
# network namespace it runs in: deploy/local-cluster.sh runs it so inside its hub namespace, whose
# only addresses are loopback and the hub's bridge, so that build-base.sh pushes to 127.0.0.1 and
# the cluster's nodes pull from the bridge address.
#
# With REGISTRY_TOKEN_REALM, REGISTRY_TOKEN_SERVICE, REGISTRY_TOKEN_ISSUER and
# REGISTRY_TOKEN_ROOTCERT set, `start` configures bearer-token auth instead (the registry trusts
# tokens signed by the key of that certificate bundle).
#
# SHOAL_REGISTRY_BIN runs another program in its place (it must end up exec'ing docker-registry:
# `stop` and `status` recognise the registry by its command line); tests use it to start slowly.
#
# Needs the Debian package docker-registry.
set -euo pipefail

registry_bin=${SHOAL_REGISTRY_BIN:-/usr/bin/docker-registry}

usage() { echo "usage: $0 start DIR PORT [ADDR] | stop DIR | status DIR PORT [ADDR]" >&2; exit 2; }

answers() { # addr port: does GET /v2/ answer at all (200, or 401 when auth is on)?
  local host=$1 code
  # Listening on every address includes loopback.
  [ "$host" = 0.0.0.0 ] && host=127.0.0.1
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$host:$2/v2/" || true)
  [ "$code" = 200 ] || [ "$code" = 401 ]
}

running() { # dir: is the recorded pid alive and a registry?
  local pidfile=$1/registry.pid
  [ -f "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null && grep -q docker-registry "/proc/$pid/cmdline" 2>/dev/null
}

write_config() { # dir addr port
  local dir=$1 addr=$2 port=$3
  {
    echo "version: 0.1"
    echo "log:"
    echo "  level: warn"
    echo "storage:"
    echo "  filesystem:"
    echo "    rootdirectory: $dir/data"
    echo "  delete:"
    echo "    enabled: true"
    echo "http:"
    echo "  addr: $addr:$port"
    if [ -n "${REGISTRY_TOKEN_REALM:-}" ]; then
      echo "auth:"
      echo "  token:"
      echo "    realm: $REGISTRY_TOKEN_REALM"
      echo "    service: ${REGISTRY_TOKEN_SERVICE:?}"
      echo "    issuer: ${REGISTRY_TOKEN_ISSUER:?}"
      echo "    rootcertbundle: ${REGISTRY_TOKEN_ROOTCERT:?}"
    fi
  } >"$dir/config.yml"
}

start() {
  local dir=$1 port=$2 addr=$3
  [ -x "$registry_bin" ] || { echo "$registry_bin not found: apt-get install docker-registry" >&2; exit 1; }
  command -v curl >/dev/null || { echo "curl not found: apt-get install curl" >&2; exit 1; }
  mkdir -p "$dir/data"
  if running "$dir"; then echo "registry for $dir already running" >&2; exit 1; fi
  if answers "$addr" "$port"; then echo "port $port on $addr is already in use" >&2; exit 1; fi
  write_config "$dir" "$addr" "$port"
  # setsid: the registry is not tied to the caller's terminal or process group.
  setsid "$registry_bin" serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$dir/registry.pid"
  for _ in $(seq 1 100); do
    if answers "$addr" "$port"; then return 0; fi
    # Our own child (bash reaps it when it exits), so whether it lives is enough: `running` would
    # also want its command line to name the registry, which a loaded machine may not have exec'd yet.
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "registry exited at start; its log:" >&2
      cat "$dir/registry.log" >&2
      rm -f "$dir/registry.pid"
      exit 1
    fi
    sleep 0.1
  done
  echo "registry did not answer on $addr:$port within 10 s; its log:" >&2
  cat "$dir/registry.log" >&2
  stop "$dir"
  exit 1
}

stop() {
  local dir=$1
  if ! running "$dir"; then rm -f "$dir/registry.pid"; return 0; fi
  local pid
  pid=$(cat "$dir/registry.pid")
  kill -TERM "$pid"
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$dir/registry.pid"; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$dir/registry.pid"
}

[ $# -ge 2 ] || usage
addr=${4:-127.0.0.1}
[[ $addr =~ ^[0-9]+(\.[0-9]+){3}$ ]] || { echo "listen address $addr: expected an IPv4 address" >&2; exit 2; }
case $1 in
  start) [ $# -eq 3 ] || [ $# -eq 4 ] || usage; start "$2" "$3" "$addr" ;;
  stop) stop "$2" ;;
  status) [ $# -eq 3 ] || [ $# -eq 4 ] || usage; running "$2" && answers "$addr" "$3" ;;
  *) usage ;;
esac
