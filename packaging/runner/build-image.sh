#!/usr/bin/env bash
# Builds the Medallion runner image as an OCI layout, without Docker or a registry: a minimal
# Debian bookworm root made by mmdebstrap from Debian's archive (the essential packages plus
# ca-certificates), the stripped `medallion` binary, a non-root user, and the same ENTRYPOINT,
# CMD, USER and ENV as packaging/runner/Dockerfile — assembled with umoci.
#
# Usage (as root; needs mmdebstrap, umoci, binutils):
#   packaging/runner/build-image.sh [BINARY] [--out DIR] [--tag TAG] [--budget-mb N] [--no-cache]
#
#   BINARY       the medallion binary to ship (default: T/dist/medallion, else T/release/medallion,
#                T being $CARGO_TARGET_DIR or target); it is stripped into the image
#   --out DIR    the OCI layout to write (default: medallion-runner.oci next to the binary);
#                replaced if it exists. DIR.packages.txt lists the Debian packages inside.
#   --tag TAG    the image's tag in the layout (default: latest)
#   --budget-mb  the most the image may weigh, compressed, in MB (default 120, the budget in
#                packaging/README.md for a release binary); over it the script fails
#   --no-cache   rebuild the Debian root even if a cached one exists
#
# The Debian root is cached as a tarball under $MEDALLION_IMAGE_CACHE (default
# ~/.cache/medallion-image), keyed by the mmdebstrap options and the ISO week, so a week-old root
# (and its security updates) is rebuilt. Push with skopeo (see packaging/README.md).
set -euo pipefail

die() { echo "error: $*" >&2; exit 1; }

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
# The packaged build (`cargo build --profile dist`), else the release build.
BINARY="$TARGET/dist/medallion"
[ -f "$BINARY" ] || BINARY="$TARGET/release/medallion"
OUT=""
TAG=latest
BUDGET_MB=120
# The Debian root alone (the first layer), compressed.
BASE_BUDGET_MB=40
USE_CACHE=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || die "--out needs a directory"; OUT=$2; shift 2 ;;
    --tag) [ $# -ge 2 ] || die "--tag needs a name"; TAG=$2; shift 2 ;;
    --budget-mb) [ $# -ge 2 ] || die "--budget-mb needs a number"; BUDGET_MB=$2; shift 2 ;;
    --no-cache) USE_CACHE=0; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) BINARY=$1; shift ;;
  esac
done
[[ "$BUDGET_MB" =~ ^[0-9]+$ ]] || die "--budget-mb must be a whole number of MB, not '$BUDGET_MB'"
[ "$(id -u)" = 0 ] || die "build-image.sh must run as root (mmdebstrap and umoci keep the files' owners)"
for tool in mmdebstrap umoci strip sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install mmdebstrap umoci binutils)"
done
[ -f "$BINARY" ] || die "no medallion binary at $BINARY (build it with cargo build --profile dist, or pass its path)"
VERSION=$("$BINARY" --version 2>/dev/null) || die "$BINARY does not run (is it the medallion binary?)"
OUT=${OUT:-$(dirname "$BINARY")/medallion-runner.oci}
if [ -e "$OUT" ]; then
  [ -f "$OUT/oci-layout" ] || die "$OUT exists and is not an OCI layout; not replacing it"
  rm -rf "$OUT"
fi

WORK=$(mktemp -d /tmp/medallion-image.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
start=$(date +%s)

# 1. The Debian root. `essential` is leaner than `apt` (no package manager in the image);
# documentation, manuals and translations are left out, copyright files kept.
SUITE=bookworm
MMDEBSTRAP_ARGS=(
  --variant=essential
  --include=ca-certificates
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  # The runner's user: uid/gid 1000, as the Dockerfile's USER.
  --customize-hook='echo "medallion:x:1000:1000:Medallion runner:/home/medallion:/usr/sbin/nologin" >> "$1/etc/passwd"'
  --customize-hook='echo "medallion:x:1000:" >> "$1/etc/group"'
  --customize-hook='echo "medallion:*:19000:0:99999:7:::" >> "$1/etc/shadow"'
  --customize-hook='mkdir -p "$1/home/medallion" && chown 1000:1000 "$1/home/medallion"'
  --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*'
)
CACHE="${MEDALLION_IMAGE_CACHE:-$HOME/.cache/medallion-image}"
KEY=$(printf '%s\n' "$SUITE" "${MMDEBSTRAP_ARGS[@]}" "$(date -u +%G-%V)" | sha256sum | cut -c1-16)
BASE="$CACHE/rootfs-$SUITE-$KEY.tar"
if [ "$USE_CACHE" = 1 ] && [ -s "$BASE" ]; then
  echo "Debian root: cached $BASE"
else
  mkdir -p "$CACHE"
  echo "Debian root: mmdebstrap ${MMDEBSTRAP_ARGS[*]:0:2} $SUITE"
  t=$(date +%s)
  mmdebstrap --quiet "${MMDEBSTRAP_ARGS[@]}" "$SUITE" "$WORK/rootfs.tar" \
    || die "mmdebstrap failed (is Debian's archive reachable?)"
  # Only the newest root is kept.
  rm -f "$CACHE"/rootfs-"$SUITE"-*.tar
  mv "$WORK/rootfs.tar" "$BASE"
  echo "Debian root: built in $(( $(date +%s) - t )) s"
fi

# 2. The binary, stripped.
strip -o "$WORK/medallion" "$BINARY"
chmod 0755 "$WORK/medallion"

# 3. The OCI layout: one layer for the Debian root, one for the binary (a new binary pushes
# only the second).
IMG="$OUT:$TAG"
BUNDLE="$WORK/bundle"
umoci init --layout "$OUT"
umoci new --image "$IMG"
umoci unpack --image "$IMG" "$BUNDLE" >/dev/null
tar -xf "$BASE" -C "$BUNDLE/rootfs" --numeric-owner
umoci repack --refresh-bundle --image "$IMG" \
  --history.created_by "mmdebstrap ${MMDEBSTRAP_ARGS[*]:0:2} $SUITE" "$BUNDLE"
install -D -m 0755 -o 0 -g 0 "$WORK/medallion" "$BUNDLE/rootfs/usr/local/bin/medallion"
umoci repack --image "$IMG" --history.created_by "install medallion ($VERSION)" "$BUNDLE"
# As the Dockerfile: `medallion runner` by default; ECS, Batch and EKS pass `runner --plan URI`.
umoci config --image "$IMG" --no-history \
  --config.entrypoint medallion \
  --config.cmd runner \
  --config.user 1000:1000 \
  --config.workingdir / \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.env TMPDIR=/tmp \
  --config.label org.opencontainers.image.title=medallion-runner \
  --config.label "org.opencontainers.image.version=${VERSION#medallion }" \
  --config.label org.opencontainers.image.base.name=debian:$SUITE \
  --config.label "org.opencontainers.image.description=Medallion runner: medallion runner --plan s3://..."
umoci gc --layout "$OUT"

# What the image holds, for the account admin.
dpkg-query --admindir="$BUNDLE/rootfs/var/lib/dpkg" -W -f '${Package} ${Version}\n' > "$OUT.packages.txt"

# 4. Sizes: the layers as pushed (compressed) and the root as unpacked.
manifest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]+"/index.json"))["manifests"][0]["digest"].split(":")[1])' "$OUT")
read -r base_bytes bin_bytes total_bytes < <(python3 - "$OUT" "$manifest" <<'EOF'
import json, sys
m = json.load(open(f"{sys.argv[1]}/blobs/sha256/{sys.argv[2]}"))
layers = [l["size"] for l in m["layers"]]
print(layers[0], sum(layers[1:]), sum(layers) + m["config"]["size"])
EOF
)
unpacked=$(du -sm "$BUNDLE/rootfs" | cut -f1)
mb() { echo $(( ($1 + 1048575) / 1048576 )); }
echo "image: $IMG ($VERSION), built in $(( $(date +%s) - start )) s"
echo "size: $(mb "$total_bytes") MB compressed (Debian root $(mb "$base_bytes") MB + medallion $(mb "$bin_bytes") MB), $unpacked MB unpacked; $(wc -l < "$OUT.packages.txt") Debian packages"
echo "budget: the Debian root at most $BASE_BUDGET_MB MB, the image at most $BUDGET_MB MB (compressed)"
if [ "$(mb "$base_bytes")" -gt "$BASE_BUDGET_MB" ]; then
  die "the Debian root layer is $(mb "$base_bytes") MB, over its budget of $BASE_BUDGET_MB MB"
fi
if [ "$(mb "$total_bytes")" -gt "$BUDGET_MB" ]; then
  die "the image is $(mb "$total_bytes") MB, over its budget of $BUDGET_MB MB"
fi
