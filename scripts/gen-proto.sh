#!/usr/bin/env bash
# Generates TypeScript for every proto/**/*.proto into proto/gen/ with protoc and ts-proto.
#   bash scripts/gen-proto.sh           regenerate proto/gen/
#   bash scripts/gen-proto.sh --check   fail if proto/gen/ differs from a fresh generation
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

mode=generate
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

plugin="$repo_root/node_modules/.bin/protoc-gen-ts_proto"
command -v protoc >/dev/null || { echo "gen-proto: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }
[ -x "$plugin" ] || { echo "gen-proto: $plugin not found (npm install)" >&2; exit 1; }

# A fixed locale and a sorted file list keep the output byte-for-byte reproducible.
export LC_ALL=C
mapfile -t protos < <(find proto -path proto/gen -prune -o -type f -name '*.proto' -print | sort)
[ "${#protos[@]}" -gt 0 ] || { echo "gen-proto: no .proto files under proto/" >&2; exit 1; }

# Why these options: importSuffix=.js and esModuleInterop=true make the imports resolve under
# NodeNext ESM; useOptionals=messages and oneof=unions give precise types; annotateFilesWithVersion=false
# keeps tool versions out of the files so --check compares content only.
ts_proto_opts=(
  outputServices=grpc-js
  esModuleInterop=true
  importSuffix=.js
  env=node
  forceLong=number
  useOptionals=messages
  oneof=unions
  annotateFilesWithVersion=false
)

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

protoc \
  --plugin="protoc-gen-ts_proto=$plugin" \
  --ts_proto_out="$out" \
  --ts_proto_opt="$(IFS=,; echo "${ts_proto_opts[*]}")" \
  --proto_path=proto \
  "${protos[@]}"

if [ "$mode" = check ]; then
  if ! diff -r proto/gen "$out" >/dev/null 2>&1; then
    echo "gen-proto: proto/gen is out of date with proto/**/*.proto; run 'npm run proto' and commit the result." >&2
    diff -r proto/gen "$out" >&2 || true
    exit 1
  fi
  echo "gen-proto: proto/gen is up to date (${#protos[@]} proto files)."
  exit 0
fi

rm -rf proto/gen
cp -R "$out" proto/gen
# mktemp -d makes a private (0700) directory; the copy should have ordinary permissions.
chmod -R u=rwX,go=rX proto/gen
echo "gen-proto: generated proto/gen from ${#protos[@]} proto files."
