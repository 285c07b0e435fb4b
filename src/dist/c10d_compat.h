// LibTorch c10d version differences, in one place (src/dist only; no version test elsewhere).
// Contract: hiscmcl::dist::C10dGroup is what a Gloo/NCCL group is built as and driven through (1.x
// c10d::ProcessGroup, 2.x c10d::Backend), chosen by TORCH_VERSION_MAJOR of <torch/version.h>.
#pragma once
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
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

}  // namespace hiscmcl::dist
