#!/usr/bin/env bash
# Builds the container shim with the system compiler: dist/shim/shoal-shim (or the path given).
# Plain libc, no other dependencies; warnings are errors so a sloppy change does not slip through.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/../../../dist/shim/shoal-shim}"
mkdir -p "$(dirname "$out")"
${CC:-gcc} -std=gnu11 -Wall -Wextra -Werror -O2 -o "$out.tmp" "$here/shoal-shim.c"
mv "$out.tmp" "$out"
