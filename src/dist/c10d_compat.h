// LibTorch c10d version differences, in one place (src/dist only; no version test elsewhere).
// Contract: C10dGroup is what a Gloo/NCCL group is built as and driven through (1.x ProcessGroup, 2.x
// Backend); tcp_store_options() is TCPStore's classic server; chosen by TORCH_VERSION_* only.
#pragma once
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#endif

namespace hiscmcl::dist {

#if TORCH_VERSION_MAJOR >= 2
// LibTorch 2.x (Debian 13: 2.6): ProcessGroupGloo and ProcessGroupNCCL are Backends; a ProcessGroup
// only dispatches to them. Holding the Backend runs the same collectives with no dispatcher between.
using C10dGroup = c10d::Backend;
#else
// LibTorch 1.x (Debian 12: 1.13): ProcessGroupGloo and ProcessGroupNCCL are ProcessGroups.
using C10dGroup = c10d::ProcessGroup;
#endif

// TCPStore options with the classic (non-libuv) server: LibTorch 2.4+ defaults to libuv, and
// Debian 13's 2.6 refuses it ("PyTorch was build without libuv support").
inline c10d::TCPStoreOptions tcp_store_options() {
  c10d::TCPStoreOptions o;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 2)
  o.useLibUV = false;
#endif
  return o;
}

}  // namespace hiscmcl::dist
