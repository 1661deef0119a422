#!/usr/bin/env bash
# Installs the Medallion .deb into a clean Debian bookworm root (mmdebstrap, with apt resolving
# the package's Depends and Recommends from Debian's archive), starts the studio there as an
# ordinary user under Xvfb, takes a screenshot, then checks the CLI on the installed example
# project. Nothing of the host's build tree is visible inside the root.
#
# Usage (as root; needs mmdebstrap, imagemagick's `import`, x11-utils' `xwininfo`):
#   packaging/deb/test-install.sh [DEB] [--shot PNG] [--keep]
#
#   DEB      the package (default: the newest $CARGO_TARGET_DIR/debian/medallion_*.deb)
#   --shot   where to write the screenshot (default: test-install.png beside the .deb)
#   --keep   keep the root (printed) instead of deleting it
#
# Exit 0 when the package installs, the studio shows a window with the example project, and
# `medallion list` / `medallion materialize` work on it; 1 otherwise, saying which step failed.
set -euo pipefail

die() { echo "error: $*" >&2; exit 1; }

ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
TARGET="${CARGO_TARGET_DIR:-$ROOT_DIR/target}"
DEB=""
SHOT=""
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --shot) [ $# -ge 2 ] || die "--shot needs a file name"; SHOT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) DEB=$1; shift ;;
  esac
done
[ "$(id -u)" = 0 ] || die "test-install.sh must run as root (mmdebstrap, chroot)"
for tool in mmdebstrap import xwininfo unshare; do
  command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install mmdebstrap imagemagick x11-utils)"
done
if [ -z "$DEB" ]; then
  DEB=$(ls -t "$TARGET"/debian/medallion_*.deb 2>/dev/null | head -n 1 || true)
  [ -n "$DEB" ] || die "no .deb under $TARGET/debian: build one first (packaging/README.md)"
fi
[ -f "$DEB" ] || die "no package at $DEB"
DEB=$(cd "$(dirname "$DEB")" && pwd)/$(basename "$DEB")
SHOT=${SHOT:-$(dirname "$DEB")/test-install.png}

ROOT=$(mktemp -d /tmp/medallion-deb-root.XXXXXX)
# Every process running inside the root (the studio and its Xvfb). They run as the root's
# user, which clears unshare's --kill-child signal, so they are found by their root directory
# and killed; otherwise they outlive the script (and any lock its caller holds).
kill_root_processes() {
  local p
  for p in /proc/[0-9]*; do
    # A process may end between the look and the kill: that is not a failure (under `set -e`
    # a failed kill ended the script, silently, exit 1 — seen once in CI).
    if [ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ]; then
      kill -9 "${p#/proc/}" 2>/dev/null || true
    fi
  done
  return 0
}
cleanup() {
  kill_root_processes
  if [ -n "${XPID:-}" ]; then kill "$XPID" 2>/dev/null || true; wait "$XPID" 2>/dev/null || true; fi
  if [ "$KEEP" = 1 ]; then echo "root kept: $ROOT"; else rm -rf "$ROOT"; fi
}
trap cleanup EXIT

# 1. A clean root with the package installed by apt, as a user would (Recommends included), and
# Xvfb to show the window on; a user of its own.
start=$(date +%s)
echo "== mmdebstrap bookworm + apt-get install $(basename "$DEB")"
mmdebstrap --quiet --variant=apt --include=xvfb,xauth bookworm "$ROOT" \
  --customize-hook="copy-in $DEB /tmp" \
  --customize-hook='chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/'"$(basename "$DEB")"' >"$1/tmp/apt.log" 2>&1 || { tail -n 30 "$1/tmp/apt.log"; exit 1; }' \
  --customize-hook='chroot "$1" useradd --create-home --uid 1000 tester' \
  || die "the package did not install into a clean bookworm root"
echo "installed in $(( $(date +%s) - start )) s; root: $(du -sm "$ROOT" | cut -f1) MB"
chroot "$ROOT" dpkg -s medallion | grep -E '^(Version|Depends|Recommends):'
for f in /usr/bin/medallion /usr/share/applications/medallion.desktop /usr/share/metainfo/medallion.metainfo.xml \
  /usr/share/icons/hicolor/256x256/apps/medallion.png /usr/share/medallion/projects/customer_analytics/medallion.toml; do
  [ -e "$ROOT$f" ] || die "the package did not install $f"
done

# Runs a command inside the root as the user, with its own /proc, /dev, /tmp.
in_root() {
  unshare --mount --pid --fork --kill-child bash -c '
    root=$1; shift
    mount --rbind /dev "$root/dev"
    mount -t proc proc "$root/proc"
    mount --bind /tmp/medallion-deb-x11 "$root/tmp/.X11-unix"
    exec chroot --userspec=1000:1000 "$root" env -i HOME=/home/tester USER=tester \
      PATH=/usr/local/bin:/usr/bin:/bin DISPLAY=:187 XDG_RUNTIME_DIR=/tmp/tester-run "$@"
  ' in-root "$ROOT" "$@"
}
# The X socket directory is shared with the host, so the screenshot can be taken from outside.
rm -rf /tmp/medallion-deb-x11 && mkdir -p -m 1777 /tmp/medallion-deb-x11 "$ROOT/tmp/.X11-unix"
mkdir -p -m 700 "$ROOT/tmp/tester-run" && chown 1000:1000 "$ROOT/tmp/tester-run"

# 2. The studio under Xvfb, inside the root.
echo "== the studio under Xvfb (display :187)"
in_root sh -c 'Xvfb :187 -screen 0 1600x1000x24 -nolisten tcp >/tmp/xvfb.log 2>&1 & sleep 2; exec medallion' \
  >"$ROOT/tmp/studio.log" 2>&1 &
XPID=$!
window=""
for _ in $(seq 1 90); do
  window=$(DISPLAY=:187 xwininfo -root -tree 2>/dev/null | grep -i '"medallion' | head -n 1 || true)
  [ -n "$window" ] && break
  kill -0 "$XPID" 2>/dev/null || { cat "$ROOT/tmp/studio.log"; die "the studio exited before showing a window"; }
  sleep 1
done
[ -n "$window" ] || { cat "$ROOT/tmp/studio.log"; die "no studio window within 90 s"; }
echo "window: $window"
# Let it import the example and lay out the canvas.
sleep 8
DISPLAY=:187 import -window root "$SHOT"
echo "screenshot: $SHOT"
kill_root_processes
kill "$XPID" 2>/dev/null || true
wait "$XPID" 2>/dev/null || true
XPID=""
sleep 1
for p in /proc/[0-9]*; do
  [ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ] && die "process ${p#/proc/} still runs in the root after the studio was stopped"
done

# 3. The CLI on the workspace the studio made: the example project was imported from
# /usr/share/medallion and materializes.
echo "== the CLI inside the root"
in_root medallion list | tee "$ROOT/tmp/list.txt"
grep -q customer_analytics "$ROOT/tmp/list.txt" || die "the studio did not import the example project"
in_root medallion materialize customer_analytics >"$ROOT/tmp/materialize.log" 2>&1 \
  || { tail -n 20 "$ROOT/tmp/materialize.log"; die "medallion materialize failed on the installed example"; }
tail -n 3 "$ROOT/tmp/materialize.log"
echo "test-install passed in $(( $(date +%s) - start )) s"
