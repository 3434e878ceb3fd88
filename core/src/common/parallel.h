#pragma once
// Loop sizes above which bonsai_core's OpenMP loops split across threads: below them, starting
// the threads costs more than the loop. Sizes count elements (or output positions); the more
// work one element takes, the lower its threshold.
#include <cstdint>

namespace bonsai {

constexpr int64_t kParallelWindows = 1 << 14; // each output position walks a pooling window
constexpr int64_t kParallelMin = 1 << 15;     // a few operations per element (executor kernels,
                                              // per-channel statistics, metrics)
constexpr int64_t kParallelLight = 1 << 16;   // one or two operations per element
constexpr int64_t kParallelCopy = 1 << 17;    // a copy or a clamp per element

} // namespace bonsai
