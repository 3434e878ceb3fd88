#pragma once
// Weight statistics of one tensor: moments, outliers, a linear histogram and per-channel
// ranges. Streams the tensor in chunks (never a whole float copy), OpenMP-parallel.
#include "bonsai/model.h"
#include "bonsai/progress.h"

#include <cstdint>
#include <vector>

namespace bonsai {

struct StatsOptions {
    int bins = 256;
    int channelAxis = -1; // compute per-channel min/max along this axis (-1: none)
};

struct TensorStats {
    uint64_t count = 0;     // finite values counted
    uint64_t nonFinite = 0; // NaN or infinity, excluded from everything else
    double min = 0, max = 0, mean = 0, std = 0;
    double kurtosis = 0;    // excess kurtosis (0 for a Gaussian)
    uint64_t outliers = 0;  // values with |x - mean| > 6 std
    uint64_t zeros = 0;
    // Histogram with `bins` equal-width bins spanning [min, max].
    std::vector<uint64_t> histogram;
    // Per output channel (when asked for): min and max of each channel.
    std::vector<float> channelMin, channelMax;
};

TensorStats computeStats(const Model& model, int tensor, const StatsOptions& opt = {},
                         const ProgressFn& progress = {});

} // namespace bonsai
