#pragma once
// Calibrated integer quantization: GPTQ (Frantar et al., 2022); AWQ is in awq.h.
//
// Both work on one linear layer seen as W (rows = output channels, cols = inputs, row-major)
// and produce the values the compressed layer computes with, on exactly the integer grid of
// fakeQuantInt (same bits, granularity, group size, symmetry and FP16 scales), so that the
// storage size is that of round-to-nearest and only the chosen codes differ.
//
// Calibration data are the layer's inputs x (one row of `cols` values per token or sample).
#include "bonsai/quantize.h"

#include "common/eigen.h"

#include <cstdint>
#include <vector>

namespace bonsai {

// H = (2 / n) * sum over calibration rows of x x^T, accumulated in double (GPTQ's Hessian of
// the layer-wise squared error ||W X - W' X||^2).
class HessianAccumulator {
public:
    explicit HessianAccumulator(int64_t cols);
    // Adds n rows of `cols` inputs each (row-major).
    void add(const float* x, int64_t n);
    int64_t samples() const { return n_; }
    int64_t cols() const { return cols_; }
    // The averaged Hessian (cols x cols); zero when nothing was added.
    Eigen::MatrixXd hessian() const;

private:
    int64_t cols_ = 0, n_ = 0;
    Eigen::MatrixXd sum_; // sum of x x^T
};

struct GptqOptions {
    double damping = 0.01;  // lambda = damping * mean(diag H), added to the diagonal
    bool actOrder = false;  // process columns in decreasing diag(H) order (static groups:
                            // group scales come from the original weights, so groups stay
                            // the contiguous column groups of fakeQuantInt)
    int64_t blockSize = 128; // lazy-batch block width
};

struct GptqStats {
    double error = 0;      // sum over rows of (w - q)^T H (w - q) / 2 after GPTQ (proxy loss)
    double rtnError = 0;   // the same for round-to-nearest of the original weights
    double damping = 0;    // the lambda finally used (raised when H was not positive definite)
    int dampingRaises = 0; // how often lambda was raised x10 because a Cholesky failed
    // The grid used, one entry per scale group in fakeQuantInt's order (1 per tensor, `rows`
    // per channel, rows x ceil(cols / groupSize) by group): every output value of a group is
    // (q - zero) * scale with q an integer code of the configuration.
    std::vector<float> scales, zeros;
};

// Quantizes w (rows x cols, row-major) in place. Columns whose inputs were always zero
// (H_ii = 0) are quantized as they are. clipSearch in cfg is ignored. Throws bonsai::Error
// on a configuration fakeQuantInt rejects or a Hessian of the wrong size.
GptqStats gptqQuantize(float* w, int64_t rows, int64_t cols, const Eigen::MatrixXd& hessian,
                       const IntQuantConfig& cfg, const GptqOptions& options = {});

} // namespace bonsai
