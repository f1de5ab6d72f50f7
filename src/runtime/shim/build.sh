#!/usr/bin/env bash
# Builds the runtime with the system compiler: dist/shim/shoal-runtime (or the path given).
# Plain libc, no other dependencies; warnings are errors so a sloppy change does not slip through.
# Every .c file here is part of the program; test drivers live in testing/ and are built by tests.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/../../../dist/shim/shoal-runtime}"
mkdir -p "$(dirname "$out")"
gen="$(mktemp -d)"
trap 'rm -rf "$gen"' EXIT
# The syscall names seccomp rules use, from this machine's kernel headers.
bash "$here/syscall-table.sh" > "$gen/syscall-table.h"
${CC:-gcc} -std=gnu11 -Wall -Wextra -Werror -O2 -I"$here" -I"$gen" -o "$out.tmp" "$here"/*.c
mv "$out.tmp" "$out"
