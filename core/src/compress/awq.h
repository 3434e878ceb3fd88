#pragma once
// AWQ (Lin et al., 2023): activation-aware scales searched on calibration inputs, on exactly
// the integer grid of fakeQuantInt (see gptq.h for the shared conventions).
#include "bonsai/quantize.h"

#include <cstdint>
#include <vector>

namespace bonsai {

struct AwqOptions {
    int grid = 20;             // alpha = 0, 1/grid, ..., (grid-1)/grid
    int64_t maxSamples = 4096; // calibration rows used for the search (evenly strided)
};

struct AwqResult {
    std::vector<float> scales; // per input channel s_j (mean|x_j|^alpha, normalised so that
                               // sqrt(max s * min s) = 1); all 1 when alpha = 0 wins
    double alpha = 0;
    double error = 0;          // mean squared output error ||X W^T - X W'^T||^2 / (n * rows)
    double rtnError = 0;       // the same for plain round-to-nearest (alpha = 0)
};

// AWQ for one or more layers that read the same input x (n rows x cols), e.g. q/k/v or
// gate/up: one scale vector is searched for all of them together (minimising the sum of their
// output errors). Each weight is replaced in place by its effective weight
// Q(W diag(s)) diag(s)^-1, which is what the model computes after the scale is folded into the
// preceding operation (an RMSNorm's weight, or the rows of the previous linear layer).
struct AwqLayer {
    float* w = nullptr;
    int64_t rows = 0;
};
AwqResult awqQuantize(const std::vector<AwqLayer>& layers, int64_t cols, const float* x, int64_t n,
                      const IntQuantConfig& cfg, const AwqOptions& options = {});

} // namespace bonsai
