#!/usr/bin/env bash
# The whole GPU check in one call, for whoever is lent a machine with an NVIDIA GPU:
#   1. find a CUDA LibTorch: CMAKE_PREFIX_PATH, else the installed python torch
#      (torch.utils.cmake_prefix_path), and check that it can build with Debian's libraries;
#   2. configure and build hiscmcl, its tests and benchmarks against it (into build-cuda/);
#   3. run the CUDA tests (tests/torch/test_cuda.cpp: embedding and end-to-end training against the
#      CPU), then through the built binary: embed --device cuda against --device cpu, end-to-end
#      train on the GPU, predict (retrieval) with that model;
#   4. the end-to-end training benchmark (issue 12 item 4's setting: configs/reference.toml, batch
#      16, one epoch, one synthetic section), 224 px alone and 224 + 672, spots/s on GPU and CPU;
#   5. print one summary table (also in $OUT/gpu_check_summary.txt when $OUT is set).
# Exit status: 0 when every step passed, 1 when one failed, 2 when there is no GPU or no CUDA LibTorch.
#   GPU_CHECK_BUILD_DIR=DIR  build folder (default build-cuda)
#   GPU_CHECK_DEVICE=cpu     dry run of steps 3-5 on the CPU with an existing build (no step 1-2:
#                            give GPU_CHECK_BUILD_DIR=build), to check this script itself
#   GPU_CHECK_ENCODER=NAME   the end-to-end trunk (default: configs/reference.toml's densenet121;
#                            resnet18 makes a CPU dry run quick)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD="${GPU_CHECK_BUILD_DIR:-build-cuda}"
DEVICE="${GPU_CHECK_DEVICE:-cuda}"
WORK=$(mktemp -d /tmp/gpu_check.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
SUMMARY=()
FAILED=0

say() { echo "gpu_check: $*" >&2; }
record() {  # step, status, detail
  SUMMARY+=("$(printf '%-34s %-5s %s' "$1" "$2" "$3")")
  [[ "$2" == FAIL ]] && FAILED=1
}
print_summary() {
  {
    echo "==== gpu_check summary ($(date -u +%F' '%T) UTC, device $DEVICE) ===="
    [[ -n "${GPU_NAME:-}" ]] && echo "GPU: $GPU_NAME"
    [[ -n "${TORCH_PREFIX:-}" ]] && echo "LibTorch: $TORCH_PREFIX"
    printf '%s\n' "${SUMMARY[@]}"
  } | if [[ -n "${OUT:-}" ]]; then tee "$OUT/gpu_check_summary.txt"; else cat; fi >&2
}
# Runs a step, times it, keeps its log; the log's tail is shown when it fails.
step() {  # name, command...
  local name=$1; shift
  local log="$WORK/$(echo "$name" | tr -c 'A-Za-z0-9' _).log" t0=$SECONDS
  if "$@" >"$log" 2>&1; then
    record "$name" PASS "$((SECONDS - t0)) s"
  else
    record "$name" FAIL "$((SECONDS - t0)) s, log: $log"
    tail -n 30 "$log" >&2
    cp "$log" "${OUT:-/tmp}/" 2>/dev/null || true
  fi
}

if [[ "$DEVICE" == cuda ]]; then
  if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
    say "no NVIDIA GPU here (nvidia-smi finds none): nothing to check"
    exit 2
  fi
  GPU_NAME=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -n 1)
  # 1. A CUDA LibTorch.
  TORCH_PREFIX=""  # a CMAKE_PREFIX_PATH entry under which find_package(Torch) finds TorchConfig.cmake
  for p in ${CMAKE_PREFIX_PATH//:/ }; do
    for d in "$p/share/cmake/Torch" "$p/Torch"; do
      [[ -f "$d/TorchConfig.cmake" ]] && TORCH_PREFIX=$p && TORCH_CMAKE_DIR=$d && break 2
    done
  done
  if [[ -z "$TORCH_PREFIX" ]] && python3 -c 'import torch' 2>/dev/null; then
    read -r PY_PREFIX PY_CUDA PY_ABI < <(python3 -c 'import torch; print(torch.utils.cmake_prefix_path, torch.version.cuda, int(torch._C._GLIBCXX_USE_CXX11_ABI))')
    if [[ "$PY_CUDA" == None ]]; then
      say "python3's torch is a CPU build (torch.version.cuda is None): install a CUDA one or set CMAKE_PREFIX_PATH to a CUDA LibTorch"
      exit 2
    fi
    if [[ "$PY_ABI" != 1 ]]; then
      say "python3's torch ($PY_PREFIX) uses the pre-C++11 string ABI, which cannot link with Debian's OpenCV, spdlog and faiss: use the cxx11-ABI LibTorch zip (libtorch-cxx11-abi-shared-with-deps) through CMAKE_PREFIX_PATH"
      exit 2
    fi
    TORCH_PREFIX=$PY_PREFIX  # .../site-packages/torch/share/cmake, holding Torch/
    TORCH_CMAKE_DIR=$PY_PREFIX/Torch
  fi
  if [[ -z "$TORCH_PREFIX" ]]; then
    say "no LibTorch with CUDA found: set CMAKE_PREFIX_PATH to one (pytorch.org's cxx11-ABI zip) or install a CUDA python torch"
    exit 2
  fi
  if ! grep -rqs "torch_cuda" "$TORCH_CMAKE_DIR/"; then
    say "$TORCH_CMAKE_DIR is a CPU LibTorch (its cmake config names no torch_cuda)"
    exit 2
  fi
  command -v nvcc >/dev/null || say "warning: no nvcc on PATH; LibTorch's cmake config looks for the CUDA toolkit (set CUDACXX or CUDA_HOME if configure fails)"
  say "GPU: $GPU_NAME; LibTorch: $TORCH_PREFIX"
  # 2. Configure and build (no fuzz sub-build: clang and the sanitizers are not what is checked).
  step "configure (CUDA LibTorch)" cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$TORCH_PREFIX${CMAKE_PREFIX_PATH:+;$CMAKE_PREFIX_PATH}" -DHISCMCL_BUILD_FUZZ=OFF
  step "build" cmake --build "$BUILD" -j "$(nproc)" --target hiscmcl test_torch
  if [[ $FAILED -ne 0 ]]; then print_summary; exit 1; fi
fi

BIN="$ROOT/$BUILD/hiscmcl"
PY=python3  # one that has numpy (the feature comparison)
python3 -c 'import numpy' 2>/dev/null || PY=/usr/bin/python3
[[ -x "$BIN" ]] || { say "$BIN is not built"; exit 1; }

# 3a. The CUDA unit tests; on the GPU none may skip.
cuda_tests() {
  "$ROOT/$BUILD/tests/test_torch" --gtest_filter='Cuda.*' | tee "$WORK/cuda_tests.out"
  local rc=${PIPESTATUS[0]}
  [[ $rc -ne 0 ]] && return $rc
  if [[ "$DEVICE" == cuda ]] && grep -q '\[  SKIPPED \]' "$WORK/cuda_tests.out"; then
    echo "a CUDA test skipped on a machine with a GPU"; return 1
  fi
}
step "CUDA unit tests (test_cuda.cpp)" cuda_tests

# 3b. Through the binary: a synthetic dataset, features on the device against the CPU's.
DATA="$WORK/syn"
step "synth + prepare" bash -c "'$BIN' synth --quiet --out '$DATA' --sections 3 --grid 10 --genes 60 --um-per-px 2 --seed 1 &&
  '$BIN' prepare --quiet --manifest '$DATA/manifest.toml' --out '$WORK/store'"
cat >"$WORK/embed.toml" <<EOF
[encoder]
name = "resnet18"
EOF
embed_compare() {
  "$BIN" embed --quiet --data "$WORK/store" --config "$WORK/embed.toml" --device cpu &&
    cp -r "$WORK/store/features" "$WORK/features_cpu" && rm -rf "$WORK/store/features" &&
    "$BIN" embed --data "$WORK/store" --config "$WORK/embed.toml" --device "$DEVICE" &&
    "$PY" - "$WORK/features_cpu" "$WORK/store/features" <<'PY'
import sys, pathlib, numpy as np
a, b = map(pathlib.Path, sys.argv[1:])
files = sorted(a.rglob("*.npy"))
assert files, "no feature files written"
worst = 0.0
for f in files:
    u, v = np.load(f), np.load(b / f.relative_to(a))
    assert u.shape == v.shape, f"{f.name}: shapes {u.shape} and {v.shape}"
    worst = max(worst, float(np.abs(u - v).max() / max(np.abs(u).max(), 1e-12)))
print(f"embed: {len(files)} feature files, largest relative difference device vs cpu {worst:.2e}")
sys.exit(0 if worst < 1e-3 else 1)
PY
}
step "embed --device $DEVICE = cpu" embed_compare

# 3c. End-to-end training on the device, then predict (retrieval) with that model.
ENCODER_SED=()
[[ -n "${GPU_CHECK_ENCODER:-}" ]] && ENCODER_SED=(-e "s/^name = \"densenet121\"/name = \"$GPU_CHECK_ENCODER\"/")
sed "${ENCODER_SED[@]}" -e 's/^epochs = .*/epochs = 2/' -e 's/^batch_size = 128/batch_size = 16/' configs/reference.toml >"$WORK/e2e.toml"
step "train end_to_end --device $DEVICE" "$BIN" train --data "$WORK/store" --config "$WORK/e2e.toml" \
  --train S2,S3 --device "$DEVICE" --out "$WORK/model"
first_image=$(ls "$DATA"/S1.* | grep -E '\.(jpg|png|tif)$' | head -n 1)
step "predict with that model" "$BIN" predict --quiet --model "$WORK/model" --image "$first_image" \
  --spots "$DATA/S1_spots.tsv" --out "$WORK/pred"

# 4. The end-to-end benchmark: spots/s of one epoch, batch 16, on the device and on the CPU.
e2e_bench() {  # scales ("" = 224 alone), fusion; the CPU too for 224 alone (224 + 672 runs ~0.15 spots/s there)
  local cfg="$WORK/bench_$2.toml"
  sed "${ENCODER_SED[@]}" -e 's/^epochs = .*/epochs = 1/' -e 's/^batch_size = 128/batch_size = 16/' -e 's/^accumulation = .*/accumulation = 1/' \
      -e "s/^upsampled_scales = .*/upsampled_scales = \"$1\"/" -e "s/^fusion = .*/fusion = \"$2\"/" configs/reference.toml >"$cfg"
  local devices=("$DEVICE")
  [[ -z "$1" && "$DEVICE" != cpu ]] && devices+=(cpu)
  for dev in "${devices[@]}"; do
    "$BIN" train --data "$WORK/store" --config "$cfg" --train S1 --device "$dev" --out "$WORK/bench_model_$dev" 2>&1 |
      grep -o '[0-9.]* spots/s' | tail -n 1 | sed "s/^/$2 ${1:-224} on $dev: /"
  done
}
bench_row() {
  local out
  out=$(e2e_bench "$@" | tr '\n' ';')
  record "bench end_to_end $2 ${1:-224}" "$([[ -n "$out" ]] && echo PASS || echo FAIL)" "$out"
}
bench_row "" spot
bench_row "224,672" multiscale

print_summary
exit $FAILED
