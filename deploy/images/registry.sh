#!/usr/bin/env bash
# A local image registry for tests and the demo: Debian's docker-registry (CNCF distribution) on
# 127.0.0.1:PORT, plain HTTP, no auth, blobs stored under DIR. It never listens beyond loopback.
#
#   registry.sh start  DIR PORT   start in the background (pid in DIR/registry.pid), wait until it answers
#   registry.sh stop   DIR        stop the registry started for DIR
#   registry.sh status DIR PORT   exit 0 when it runs and answers /v2/
#
# With REGISTRY_TOKEN_REALM, REGISTRY_TOKEN_SERVICE, REGISTRY_TOKEN_ISSUER and
# REGISTRY_TOKEN_ROOTCERT set, `start` configures bearer-token auth instead (the registry trusts
# tokens signed by the key of that certificate bundle).
#
# Needs the Debian package docker-registry.
set -euo pipefail

registry_bin=/usr/bin/docker-registry

usage() { echo "usage: $0 start DIR PORT | stop DIR | status DIR PORT" >&2; exit 2; }

answers() { # port: does GET /v2/ answer at all (200, or 401 when auth is on)?
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/v2/" || true)
  [ "$code" = 200 ] || [ "$code" = 401 ]
}

running() { # dir: is the recorded pid alive and a registry?
  local pidfile=$1/registry.pid
  [ -f "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null && grep -q docker-registry "/proc/$pid/cmdline" 2>/dev/null
}

write_config() { # dir port
  local dir=$1 port=$2
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
    echo "  addr: 127.0.0.1:$port"
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
  local dir=$1 port=$2
  [ -x "$registry_bin" ] || { echo "$registry_bin not found: apt-get install docker-registry" >&2; exit 1; }
  command -v curl >/dev/null || { echo "curl not found: apt-get install curl" >&2; exit 1; }
  mkdir -p "$dir/data"
  if running "$dir"; then echo "registry for $dir already running" >&2; exit 1; fi
  if answers "$port"; then echo "port $port on 127.0.0.1 is already in use" >&2; exit 1; fi
  write_config "$dir" "$port"
  # setsid: the registry is not tied to the caller's terminal or process group.
  setsid "$registry_bin" serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
  echo $! >"$dir/registry.pid"
  for _ in $(seq 1 100); do
    if answers "$port"; then return 0; fi
    if ! running "$dir"; then
      echo "registry exited at start; its log:" >&2
      cat "$dir/registry.log" >&2
      rm -f "$dir/registry.pid"
      exit 1
    fi
    sleep 0.1
  done
  echo "registry did not answer on 127.0.0.1:$port within 10 s; its log:" >&2
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
case $1 in
  start) [ $# -eq 3 ] || usage; start "$2" "$3" ;;
  stop) stop "$2" ;;
  status) [ $# -eq 3 ] || usage; running "$2" && answers "$3" ;;
  *) usage ;;
esac
