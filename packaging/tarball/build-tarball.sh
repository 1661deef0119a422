#!/usr/bin/env bash
# Builds the tarball for distributions other than Debian's family:
#   medallion-VERSION-x86_64-linux.tar.gz
#     medallion-VERSION-x86_64-linux/
#       bin/medallion                      (stripped)
#       share/applications/medallion.desktop
#       share/metainfo/medallion.metainfo.xml
#       share/icons/hicolor/{48x48,128x128,256x256,scalable}/apps/medallion.*
#       share/medallion/projects/customer_analytics/   (the example project)
#       install.sh  README.md  LICENSE-NOTE
# The binary finds the example beside it (../share/medallion/projects), so the unpacked
# directory runs in place; install.sh copies it under a prefix (default ~/.local).
#
# Usage: packaging/tarball/build-tarball.sh [BINARY] [--out DIR]
#   BINARY  default: T/dist/medallion, else T/release/medallion (T: $CARGO_TARGET_DIR or target)
#   --out   where to write the tarball (default: the binary's directory)
set -euo pipefail

die() { echo "error: $*" >&2; exit 1; }

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
# The packaged build (`cargo build --profile dist`), else the release build.
BINARY="$TARGET/dist/medallion"
[ -f "$BINARY" ] || BINARY="$TARGET/release/medallion"
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || die "--out needs a directory"; OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) BINARY=$1; shift ;;
  esac
done
command -v strip >/dev/null || die "strip is not installed (apt-get install binutils)"
[ -f "$BINARY" ] || die "no medallion binary at $BINARY (build it with cargo build --profile dist, or pass its path)"
VERSION=$("$BINARY" --version 2>/dev/null) || die "$BINARY does not run (is it the medallion binary?)"
VERSION=${VERSION#medallion }
OUT=${OUT:-$(dirname "$BINARY")}
mkdir -p "$OUT"
NAME="medallion-$VERSION-$(uname -m)-linux"

WORK=$(mktemp -d /tmp/medallion-tarball.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
D="$WORK/$NAME"
install -d "$D/bin" "$D/share/applications" "$D/share/metainfo" "$D/share/medallion/projects"
strip -o "$D/bin/medallion" "$BINARY"
chmod 0755 "$D/bin/medallion"
install -m 0644 "$ROOT/packaging/medallion.desktop" "$D/share/applications/"
install -m 0644 "$ROOT/packaging/medallion.metainfo.xml" "$D/share/metainfo/"
for size in 48 128 256; do
  install -D -m 0644 "$ROOT/assets/icons/medallion-$size.png" \
    "$D/share/icons/hicolor/${size}x$size/apps/medallion.png"
done
install -D -m 0644 "$ROOT/assets/icons/medallion.svg" "$D/share/icons/hicolor/scalable/apps/medallion.svg"
# The example as the repository tracks it (no outputs of local runs).
(cd "$ROOT" && git ls-files -z projects/customer_analytics) \
  | (cd "$ROOT" && xargs -0 -I{} install -D -m 0644 {} "$D/share/medallion/{}")
install -m 0644 "$ROOT/README.md" "$D/"
printf 'Medallion is licensed under the Apache License 2.0 (see Cargo.toml).\n' > "$D/LICENSE-NOTE"
cat > "$D/install.sh" <<'EOF'
#!/bin/sh
# Installs Medallion under PREFIX (default ~/.local): bin/medallion, the desktop entry, icons,
# AppStream metadata and the example project. Run ./install.sh, or PREFIX=/usr/local ./install.sh.
set -eu
PREFIX=${PREFIX:-$HOME/.local}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$PREFIX"
cp -R "$HERE/bin" "$HERE/share" "$PREFIX/"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$PREFIX/share/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$PREFIX/share/icons/hicolor" || true
echo "installed $PREFIX/bin/medallion (make sure $PREFIX/bin is on PATH)"
EOF
chmod 0755 "$D/install.sh"
TARBALL="$OUT/$NAME.tar.gz"
tar -C "$WORK" --owner=0 --group=0 --numeric-owner -czf "$TARBALL" "$NAME"
glibc=$(objdump -T "$D/bin/medallion" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1 || true)
echo "tarball: $TARBALL ($(( $(stat -c %s "$TARBALL") / 1048576 )) MB; needs glibc ${glibc#GLIBC_} or newer)"
