#!/usr/bin/env bash
# A foundation-sized encoder through the whole pipeline on this CPU (issue 12 item 3): a ViT of
# UNI's or Phikon's shape, random weights, traced by python3-torch (bench/vit_trace.py), then
#   embed (crops/s from the log), train on TRAIN, predict TEST at its spots.
#   STORE=her2st_data SHAPE=b16|l16 [TRAIN=C2,C3,C4,C5] [TEST=C6] [BIN=build/hiscmcl] bench/vit_bench.sh
# STORE: a prepared dataset store (`hiscmcl prepare`); works on a copy, so its cache is untouched.
# With TRAIN empty only TEST is embedded (the crops/s figure alone).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$here/build/hiscmcl}
SHAPE=${SHAPE:-b16}
TRAIN=${TRAIN-C2,C3,C4,C5}
TEST=${TEST:-C6}
: "${STORE:?set STORE to a prepared dataset store}"
D=${TMPDIR:-/tmp}/hiscmcl_vit_bench_$SHAPE
rm -rf "$D"; mkdir -p "$D"
cp -r "$STORE" "$D/data"; rm -rf "$D/data/features"
OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SKYLAKEX} /usr/bin/python3 "$here/bench/vit_trace.py" "$SHAPE" "$D/vit.pt"
cat >"$D/config.toml" <<TOML
[encoder]
name = "torchscript:$D/vit.pt"
batch_size = 16
TOML
sections=${TRAIN:+$TRAIN,}$TEST
t0=$(date +%s.%N)
"$BIN" embed --data "$D/data" --config "$D/config.toml" --sections "$sections" 2>&1 | tr '\r' '\n' | grep -E 'crops/s in|error' || true
t1=$(date +%s.%N)
echo "embed: $(echo "$t1 - $t0" | bc) s for sections $sections"
[[ -z "$TRAIN" ]] && exit 0
"$BIN" train --data "$D/data" --config "$D/config.toml" --train "$TRAIN" --out "$D/model" 2>&1 | grep -E 'train:|error'
spots="$here/../shared/data/her2st/data/ST-spotfiles/${TEST}_selection.tsv"
img=$(ls "$here"/../shared/data/her2st/data/ST-imgs/${TEST:0:1}/$TEST/*.jpg | head -n 1)
t2=$(date +%s.%N)
"$BIN" predict --model "$D/model" --image "$img" --spots "$spots" --out "$D/pred" 2>&1 | grep -E 'predict:|error'
echo "predict: $(echo "$(date +%s.%N) - $t2" | bc) s"
