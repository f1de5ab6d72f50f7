#!/bin/bash
# Runs every test suite in turn and ends with one line totalling them: `N passed, N failed`.
# Stages: static checks (types, lint, generated code up to date), unit and integration tests
# (vitest), the Raft simulator over 200 seeds, and the planted-bug hunt that proves the simulator
# catches each known consensus bug. Every stage runs even when an earlier one failed.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
failed_stages=()
report_dir=$(mktemp -d)
trap 'rm -rf "$report_dir"' EXIT

stage() {
  local name=$1; shift
  echo "==> $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failed_stages+=("$name")
  fi
}

# Adds the counts of a `N passed, N failed` line from a log to the totals (minus the stage itself).
count_from_log() {
  local log=$1 line
  line=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  [ -z "$line" ] && return
  passed=$((passed + $(cut -d' ' -f1 <<<"$line")))
  failed=$((failed + $(cut -d' ' -f3 <<<"$line")))
}

stage typecheck npm run --silent typecheck
stage lint npm run --silent lint
stage proto-check npm run --silent proto:check

echo "==> vitest"
if npx vitest run --reporter=default --reporter=json --outputFile="$report_dir/vitest.json"; then :; else
  failed_stages+=(vitest)
fi
if [ -f "$report_dir/vitest.json" ]; then
  read -r vp vf < <(node -e 'const r=require(process.argv[1]);console.log(r.numPassedTests, r.numFailedTests)' "$report_dir/vitest.json")
  passed=$((passed + vp)); failed=$((failed + vf))
else
  failed=$((failed + 1))
fi

echo "==> raft simulator, 200 seeds"
node dist/src/raft/sim/cli.js --seeds 200 --from 1 | tee "$report_dir/sim.log" | tail -20
[ "${PIPESTATUS[0]}" -eq 0 ] || failed_stages+=(sim)
count_from_log "$report_dir/sim.log"

echo "==> planted bugs must be caught"
bash scripts/check-planted-bugs.sh | tee "$report_dir/bugs.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || failed_stages+=(planted-bugs)
count_from_log "$report_dir/bugs.log"

echo
if [ -f "$report_dir/vitest.json" ] && [[ " ${failed_stages[*]} " == *" vitest "* ]]; then
  echo "==> what failed in vitest"
  node scripts/vitest-failures.js "$report_dir/vitest.json"
fi
if [ ${#failed_stages[@]} -gt 0 ]; then
  echo "failed stages: ${failed_stages[*]}"
  [ "$failed" -eq 0 ] && failed=${#failed_stages[@]}
fi
echo "$passed passed, $failed failed"
[ ${#failed_stages[@]} -eq 0 ]
