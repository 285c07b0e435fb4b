#!/usr/bin/env bash
# One process x 2 threads against 2 processes x 1 thread (docs/BENCHMARKS.md, "2026-12-03 — several
# processes through torch.distributed"):
#   STORE=her2st_data [BIN=build/hiscmcl] [CFG=configs/default.toml] bench/dist_bench.sh one|two embed|train
# Works on a copy of STORE (a prepared, embedded store); embed starts from an empty feature cache.
# Timed from outside: farm-bench --vs "bench/dist_bench.sh one train" -- bench/dist_bench.sh two train
set -euo pipefail
mode=$1 what=$2
here=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$here/build/hiscmcl}
CFG=${CFG:-$here/configs/default.toml}
: "${STORE:?set STORE to a prepared, embedded dataset store}"
D=${TMPDIR:-/tmp}/hiscmcl_dist_bench_$mode
rm -rf "$D"; mkdir -p "$D"
cp -r "$STORE" "$D/data"
if [[ $what == embed ]]; then
  rm -rf "$D/data/features"; args=(embed --data "$D/data")
else
  args=(train --data "$D/data" --config "$CFG" --out "$D/model")
fi
if [[ $mode == one ]]; then
  "$BIN" "${args[@]}" --threads 2 --quiet
else
  port=$((20000 + RANDOM % 20000))
  for r in 0 1; do
    "$BIN" "${args[@]}" --threads 1 --quiet --dist-url "tcp://127.0.0.1:$port" --rank "$r" --world-size 2 &
  done
  wait -n; wait -n
fi
