#!/usr/bin/env bash
# Builds shoal's small base image from Debian's busybox-static with umoci and pushes it with skopeo
# to a registry on 127.0.0.1 (start one with registry.sh). Nothing is fetched from the network:
# the root filesystem is /bin/busybox, its applet symlinks and a few files under /etc.
#
#   build-base.sh PORT [TAG]
#
# Pushes 127.0.0.1:PORT/busybox:TAG (default TAG: latest) as an OCI image with a gzip layer, and
# 127.0.0.1:PORT/busybox:TAG-zstd with the same layer compressed with zstd. Prints the two
# manifest digests as `TAG sha256:...` lines. With OCI_LAYOUT=DIR the OCI layout is kept in DIR
# (for comparisons with umoci's own unpack) instead of a temporary directory.
#
# Needs the Debian packages busybox-static, umoci, skopeo, jq, zstd, curl.
set -euo pipefail

[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 PORT [TAG]" >&2; exit 2; }
port=$1
tag=${2:-latest}
registry="127.0.0.1:$port"
dest="$registry/busybox"

for tool in umoci skopeo jq zstd curl; do
  command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install $tool" >&2; exit 1; }
done
[ -x /bin/busybox ] && /bin/busybox --list-full >/dev/null 2>&1 ||
  { echo "/bin/busybox not found: apt-get install busybox-static" >&2; exit 1; }

work=$(mktemp -d -t shoal-base-XXXXXX)
trap 'rm -rf "$work"' EXIT
layout=${OCI_LAYOUT:-$work/layout}
bundle=$work/bundle

# skopeo reads a trust policy; this one is ours, so the host's /etc/containers does not matter.
cat >"$work/policy.json" <<'EOF'
{"default": [{"type": "insecureAcceptAnything"}]}
EOF

rm -rf "$layout"
umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci unpack --image "$layout:$tag" "$bundle"

rootfs=$bundle/rootfs
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,home,proc,sys,dev,var/log}
chmod 1777 "$rootfs/tmp"
chmod 700 "$rootfs/root"
install -m 0755 /bin/busybox "$rootfs/bin/busybox"
# Every applet as a symlink to /bin/busybox, at the path busybox itself names.
/bin/busybox --list-full | while read -r applet; do
  [ "$applet" = bin/busybox ] && continue
  ln -sf /bin/busybox "$rootfs/$applet"
done
cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
nogroup:x:65534:
EOF
echo "shoal" >"$rootfs/etc/hostname"
cat >"$rootfs/etc/hosts" <<'EOF'
127.0.0.1 localhost
EOF
: >"$rootfs/etc/resolv.conf"

umoci repack --image "$layout:$tag" "$bundle"
umoci config --image "$layout:$tag" \
  --os linux --architecture amd64 \
  --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  --config.cmd /bin/sh --config.workingdir / \
  --author shoal
umoci gc --layout "$layout"

push() { # source, destination tag, extra skopeo flags...
  local from=$1 to=$2
  shift 2
  skopeo --policy "$work/policy.json" copy --quiet --dest-tls-verify=false \
    --digestfile "$work/digest" "$@" "$from" "docker://$dest:$to"
  echo "$to $(cat "$work/digest")"
}
push "oci:$layout:$tag" "$tag" --format oci

# The zstd variant is pushed by hand: skopeo would reuse the gzip blob it already pushed for the
# same uncompressed layer. Same config, one layer recompressed with zstd.
blob() { echo "$layout/blobs/sha256/${1#sha256:}"; }
upload() { # file: monolithic blob upload (POST, then PUT with the digest)
  local digest location
  digest="sha256:$(sha256sum "$1" | cut -d' ' -f1)"
  location=$(curl -sSf -X POST -D - -o /dev/null "http://$registry/v2/busybox/blobs/uploads/" |
    tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  case $location in http*) ;; *) location="http://$registry$location" ;; esac
  case $location in *\?*) location="$location&digest=$digest" ;; *) location="$location?digest=$digest" ;; esac
  curl -sSf -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$1" "$location" >/dev/null
  echo "$digest"
}
manifest=$(blob "$(jq -r --arg t "$tag" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$layout/index.json")")
[ "$(jq '.layers | length' "$manifest")" = 1 ] || { echo "expected one layer in $manifest" >&2; exit 1; }
gzip -dc "$(blob "$(jq -r '.layers[0].digest' "$manifest")")" | zstd -q -19 -o "$work/layer.zst"
zdigest=$(upload "$work/layer.zst")
jq -c --arg d "$zdigest" --argjson s "$(stat -c %s "$work/layer.zst")" \
  '.layers[0] += {mediaType: "application/vnd.oci.image.layer.v1.tar+zstd", digest: $d, size: $s}' \
  "$manifest" >"$work/manifest-zstd.json"
curl -sSf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
  --data-binary "@$work/manifest-zstd.json" "http://$registry/v2/busybox/manifests/$tag-zstd" >/dev/null
echo "$tag-zstd sha256:$(sha256sum "$work/manifest-zstd.json" | cut -d' ' -f1)"
