#!/usr/bin/env bash
# For each planted bug, runs simulator seeds (with the fault schedule that favours it) until one
# fails, and prints which seed and checker caught it. Ends with `N passed, N failed` (bugs caught,
# bugs missed) and exits 1 if any bug survives its seed budget. Runs the built simulator in dist/
# (`npm run sim:bugs` builds first).
# Usage: scripts/check-planted-bugs.sh [max-seeds-per-bug]   (default 600)
set -euo pipefail
cd "$(dirname "$0")/.."

max_seeds="${1:-600}"
# bug:scenario — crashes right after a server promised durable state expose lost fsyncs; leaders
# dying with half-replicated entries expose Figure 8; membership changes racing new leaders expose
# the missing own-term gate.
plan=(
  "voteNotFsynced:crash-after-promise"
  "ackBeforeFsync:crash-after-promise"
  "noDirectoryFsync:crash-after-promise"
  "commitWithoutOwnTerm:leader-churn"
  "configChangeWithoutOwnTermGate:membership-race"
)


caught_count=0
missed=0
for item in "${plan[@]}"; do
  bug="${item%%:*}"
  scenario="${item##*:}"
  output="$(node dist/src/raft/sim/cli.js --seeds "$max_seeds" --from 1 --bug "$bug" --scenario "$scenario" \
    --stop-at-first-failure 2>/dev/null || true)"
  caught="$(grep -m1 ' FAILED ' <<<"$output" || true)"
  if [[ -n "$caught" ]]; then
    echo "caught $bug: $caught"
    caught_count=$((caught_count + 1))
  else
    echo "MISSED $bug: no failure in $max_seeds seeds ($scenario)"
    missed=$((missed + 1))
  fi
done
echo "$caught_count passed, $missed failed"
[ "$missed" -eq 0 ]
