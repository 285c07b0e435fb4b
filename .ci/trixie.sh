#!/usr/bin/env bash
# CI's Debian 13 (trixie) run, called by .ci/run: a debootstrap chroot kept at $TRIXIE_ROOT (outside
# the clone, reused once its stamp file says it finished), the clone bind-mounted at /ci/<clone>
# with ../shared beside it; the README's setup (BUILD_DIR=build-trixie), then ctest, whose output
# goes to $1 too. Exit: ctest's (124 past TRIXIE_BUDGET_S seconds). Mounts are undone on any exit.
set -euo pipefail
cd "$(dirname "$0")/.."
CLONE=$(pwd -P)
LOG="$1"
TRIXIE_ROOT="${TRIXIE_ROOT:-/var/cache/hiscmcl/trixie-root}"
STAMP="$TRIXIE_ROOT/.hiscmcl-debootstrap-finished"
LOGS=$(mktemp -d)
rc13=0
t0=$(date +%s)
TRIXIE_BUDGET_S="${TRIXIE_BUDGET_S:-1800}"
left() { echo $((TRIXIE_BUDGET_S - ($(date +%s) - t0))); }
mkdir -p "$(dirname "$TRIXIE_ROOT")"
exec 9>"$TRIXIE_ROOT.lock"
flock 9  # one CI at a time uses (or makes) the chroot

MOUNTED=()  # in mount order; unmounted in reverse by the trap
unmount_all() {
  local i
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" || true
  done
  MOUNTED=()
}
trap 'unmount_all; rm -rf "$LOGS"' EXIT
trap 'exit 130' INT TERM
bind() {  # bind SRC DST [ro]
  mkdir -p "$2"
  mount --bind "$1" "$2"
  MOUNTED+=("$2")
  [[ "${3:-}" == ro ]] && { mount -o remount,bind,ro "$2" 2>/dev/null || true; }
  return 0
}
mounted_under() { awk -v r="$TRIXIE_ROOT/" 'index($2, r) == 1 { print $2 }' /proc/mounts; }

if [[ ! -f "$STAMP" ]]; then
  if [[ -e "$TRIXIE_ROOT" ]]; then
    # An unfinished debootstrap: start again, but never delete through a mount still inside it.
    if [[ -n "$(mounted_under)" ]]; then
      echo "ci: $TRIXIE_ROOT is unfinished and still has mounts inside it:" >&2
      mounted_under >&2
      exit 1
    fi
    echo "ci: $TRIXIE_ROOT has no stamp (an interrupted debootstrap): making it again"
    rm -rf --one-file-system "$TRIXIE_ROOT"
  fi
  command -v debootstrap >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
  }
  echo "ci: debootstrap --variant=minbase trixie $TRIXIE_ROOT"
  debootstrap --variant=minbase trixie "$TRIXIE_ROOT" http://deb.debian.org/debian > "$LOGS/debootstrap.log" 2>&1 || {
    tail -n 30 "$LOGS/debootstrap.log" >&2
    exit 1
  }
  # The c10d tests rendezvous on localhost: minbase writes no /etc/hosts.
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$TRIXIE_ROOT/etc/hosts"
  date -u +%FT%TZ > "$STAMP"
  echo "ci: trixie chroot made in $(($(date +%s) - t0)) s"
else
  echo "ci: reusing the trixie chroot made $(cat "$STAMP")"
fi
# Mounts a killed CI left behind (we hold the lock: nobody else uses them), innermost first.
mounted_under | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
cp -L /etc/resolv.conf "$TRIXIE_ROOT/etc/resolv.conf" 2>/dev/null || true  # apt inside needs the host's DNS

bind /proc "$TRIXIE_ROOT/proc"
bind /sys "$TRIXIE_ROOT/sys" ro
bind /dev "$TRIXIE_ROOT/dev"
mountpoint -q /dev/pts && bind /dev/pts "$TRIXIE_ROOT/dev/pts"
mountpoint -q /dev/shm && bind /dev/shm "$TRIXIE_ROOT/dev/shm"
# The clone at /ci/<its name>, and the shared data beside it as ../shared, as on this machine.
NAME=$(basename "$CLONE")
bind "$CLONE" "$TRIXIE_ROOT/ci/$NAME"
if [[ -d "$CLONE/../shared" ]]; then
  bind "$CLONE/../shared" "$TRIXIE_ROOT/ci/shared" ro
else
  echo "ci: no ../shared beside the clone: the tests on real data skip"
fi

# The README's setup inside, with its own build folder; ccache's folder persists in the chroot.
chroot "$TRIXIE_ROOT" /usr/bin/env -i \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
  CCACHE_DIR=/var/cache/ccache BUILD_DIR=build-trixie JOBS="${JOBS:-2}" DEBIAN_FRONTEND=noninteractive \
  timeout "$(left)" bash -c "cd '/ci/$NAME' && bash scripts/setup.sh" || rc13=$?
if ((rc13 == 0)); then
  chroot "$TRIXIE_ROOT" /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    timeout "$(left)" bash -c "cd '/ci/$NAME' && ctest --test-dir build-trixie --output-on-failure -j 2" 2>&1 |
    tee "$LOG" || rc13=$?
else
  echo "ci: scripts/setup.sh failed in the trixie chroot (exit $rc13)" | tee "$LOG"
fi
unmount_all
echo "ci: Debian 13 (trixie) run took $(($(date +%s) - t0)) s"

exit "$rc13"
