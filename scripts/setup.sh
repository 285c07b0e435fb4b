#!/usr/bin/env bash
# Installs everything hiscmcl needs on a fresh Debian 12 (bookworm) or 13 (trixie) machine (as root,
# or with sudo) and builds it. The release comes from /etc/os-release.
#   scripts/setup.sh            # install packages, configure, build into ./build
#   SKIP_APT=1 scripts/setup.sh # only configure and build
#   BUILD_DIR=build-trixie JOBS=2 scripts/setup.sh  # another build folder, fewer compile jobs
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git
  libtorch-dev libopenblas0-openmp           # LibTorch; OpenBLAS instead of the 12x slower reference BLAS
  libgloo-dev                                # the Gloo headers of LibTorch's c10d (torch.distributed on CPUs)
  libopencv-dev libopenslide-dev libhdf5-dev zlib1g-dev
  libfaiss-dev                               # top-k retrieval (src/predict/key_index.h)
  liblapack-dev                              # the ridge's Cholesky solve (OpenBLAS's LAPACK at run time)
  libtomlplusplus-dev nlohmann-json3-dev libcli11-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev  # tests and benchmarks
  clang                                      # libFuzzer targets (tests/fuzz), a clang sub-build
  python3-torch python3-h5py                 # test-only: trace a TorchScript model; read our HDF5 files
  libvips-tools                              # test-only: write pyramidal TIFF fixtures from real JPEGs
  libvips-dev chromium                       # the slide viewer's DeepZoom pyramid (libvips); its browser test (headless)
)
# What differs between the releases: the libFuzzer runtime of the release's own clang, and anndata
# (test-only: open our .h5ad with anndata; Debian 13 has no python3-anndata, those tests skip).
RELEASE=$(. /etc/os-release && echo "${VERSION_CODENAME:-unknown}")
case "$RELEASE" in
  bookworm) PACKAGES+=(libclang-rt-14-dev python3-anndata) ;;  # Debian 12: clang 14
  trixie)   PACKAGES+=(libclang-rt-19-dev) ;;                  # Debian 13: clang 19
  *)
    echo "setup: untested release '$RELEASE' (Debian 12 bookworm and 13 trixie are tested);" \
         "installing the release clang's runtime (libclang-rt-dev) and no anndata" >&2
    PACKAGES+=(libclang-rt-dev) ;;
esac

if [[ -z "${SKIP_APT:-}" ]]; then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "setup ($RELEASE): installing ${#missing[@]} Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "setup ($RELEASE): all Debian packages present"
  fi
fi

# The slide viewer's JavaScript, pinned by package-lock.json: OpenSeadragon (built into the binary)
# and puppeteer-core (its browser test). Debian's node and npm where the machine has no npm.
if ! command -v npm >/dev/null; then
  if [[ -n "${SKIP_APT:-}" ]]; then
    echo "setup: npm is needed for the viewer's JavaScript (apt-get install nodejs npm)" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive ${SUDO:-} apt-get install -y -qq --no-install-recommends nodejs npm
fi
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

BUILD_DIR="${BUILD_DIR:-build}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}"
echo "setup: built $BUILD_DIR/hiscmcl"
