#!/usr/bin/env bash
# End-to-end training speed against the authors' released model (issue 12 item 4), one after the
# other on this machine: their model.py (read from a checkout, never stored here) timed by
# ../shared/peers/ref_train_step.py on random tensors, and `hiscmcl train` with
# configs/reference.toml at batch 16, accumulation 1, two epochs on a synthetic section (real crops
# and augmentation included), spots/s of its second epoch from its train log.
#   HISCMCL_REF=DIR bench/ref_compare.sh [BIN=build/hiscmcl] [OUT=/tmp/ref_compare]
# DIR holds their model.py (e.g. `git --git-dir=<mirror> show HEAD:model.py > DIR/model.py`).
# Needs python3-torch and python3-torchvision (Debian).
set -euo pipefail
BIN="${1:-build/hiscmcl}"
OUT="${2:-/tmp/ref_compare}"
PEER="$(dirname "$0")/../../shared/peers/ref_train_step.py"
PY="${PYTHON:-/usr/bin/python3}"
: "${HISCMCL_REF:?set HISCMCL_REF to a folder holding their model.py}"
mkdir -p "$OUT"

ours() {  # ours SCALES FUSION SPOTS_GRID
  local scales="$1" fusion="$2" grid="$3" dir="$OUT/ours_${1//,/_}"
  rm -rf "$dir" && mkdir -p "$dir"
  "$BIN" synth --sections 1 --grid "$grid" --genes 785 --um-per-px 1 --seed 3 --out "$dir/syn" > "$dir/synth.log" 2>&1
  sed -e 's/^batch_size = 128/batch_size = 16/' -e 's/^accumulation = 4/accumulation = 1/' \
      -e 's/^epochs = 100/epochs = 2/' -e "s/^upsampled_scales = .*/upsampled_scales = \"$scales\"/" \
      -e "s/^fusion = .*/fusion = \"$fusion\"/" configs/reference.toml > "$dir/config.toml"
  [ "$scales" = "224" ] && sed -i 's/^upsampled_scales = .*/upsampled_scales = ""/' "$dir/config.toml"
  "$BIN" prepare --manifest "$dir/syn/manifest.toml" --out "$dir/data" >/dev/null 2>&1
  "$BIN" train --data "$dir/data" --config "$dir/config.toml" --out "$dir/model" --quiet >/dev/null 2>&1
  # The second epoch: the first pays one-off allocation, as their untimed warm-up step does.
  local sps n
  sps=$(awk -F, 'NR==3 {print $4}' "$dir/model/train_log.csv")
  n=$(sed -n 's/.*S1: \([0-9]*\) spots.*/\1/p' "$dir/synth.log")  # the grid's spots on tissue
  echo "ours   scales $scales  fusion $fusion  $sps spots/s  (batch 16, epoch 2 of $n spots)"
}

theirs() {  # theirs SCALES STEPS
  local r; r=$(HISCMCL_REF="$HISCMCL_REF" "$PY" "$PEER" 16 "$2" "$1" 2>/dev/null | tail -1)
  echo "theirs scales $1  $(echo "$r" | cut -d' ' -f1) spots/s  (batch 16, $2 timed steps)"
}

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
theirs 224 4
ours 224 spot 6
theirs 224,672 1
ours 224,672 multiscale 4
