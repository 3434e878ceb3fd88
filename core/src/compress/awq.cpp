// AWQ (Lin et al., "AWQ: Activation-aware Weight Quantization for LLM Compression and
// Acceleration", 2023), following the reference implementation's auto_scale search:
// per input channel s_j = mean_n |x_nj|^alpha (clamped to >= 1e-4, normalised so that
// sqrt(max s * min s) = 1) for alpha on a grid in [0, 1); the alpha whose effective weights
// Q(W diag s) diag(s)^-1 give the smallest output error on the calibration inputs, summed over
// all layers that read those inputs, wins. Q is fakeQuantInt with the layer's configuration.
#include "compress/gptq.h"

#include "bonsai/error.h"
#include "quant/quant_int_impl.h"
#include "compress/awq.h"


#include "common/eigen.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace bonsai {

namespace {

// Effective weight of one layer for scales s: out = Q(w diag s) diag(s)^-1.
void effectiveWeight(const float* w, int64_t rows, int64_t cols, const std::vector<float>& s,
                     const IntQuantConfig& cfg, float* out)
{
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < cols; ++j)
            out[r * cols + j] = w[r * cols + j] * s[static_cast<size_t>(j)];
    fakeQuantInt(out, static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), cfg, out);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < cols; ++j)
            out[r * cols + j] /= s[static_cast<size_t>(j)];
}

} // namespace

AwqResult awqQuantize(const std::vector<AwqLayer>& layers, int64_t cols, const float* x, int64_t n,
                      const IntQuantConfig& cfg, const AwqOptions& options)
{
    intq::checkIntConfig(cfg);
    if (cols <= 0)
        throw Error("awq: the layers have no inputs");
    if (n <= 0 || !x)
        throw Error("awq: no calibration inputs");
    for (const auto& l : layers)
        if (!l.w || l.rows < 0)
            throw Error("awq: a layer without weights");

    // Evenly strided calibration rows.
    const int64_t m = options.maxSamples > 0 ? std::min(n, options.maxSamples) : n;
    RowMat xs(m, cols);
    for (int64_t k = 0; k < m; ++k) {
        const int64_t src = k * (n / m) + k * (n % m) / m; // floor(k n / m) without overflow (k, n % m < m)
        std::copy(x + src * cols, x + (src + 1) * cols, xs.data() + k * cols);
    }
    std::vector<double> meanAbs(static_cast<size_t>(cols), 0.0);
    for (int64_t k = 0; k < m; ++k)
        for (int64_t j = 0; j < cols; ++j)
            meanAbs[static_cast<size_t>(j)] += std::fabs(static_cast<double>(xs(k, j)));
    for (double& v : meanAbs)
        v /= static_cast<double>(m);

    // Output error ||X D^T||^2 of a weight difference D: through the Gram matrix X^T X when
    // that is cheaper (more samples than inputs).
    const bool gram = m > cols;
    Eigen::MatrixXf g;
    if (gram)
        g = xs.transpose() * xs;
    auto outputError = [&](const RowMat& d) -> double {
        if (gram) {
            const RowMat dg = d * g;
            return dg.cwiseProduct(d).cast<double>().sum();
        }
        const RowMat y = xs * d.transpose();
        return y.cast<double>().squaredNorm();
    };
    int64_t totalRows = 0;
    for (const auto& l : layers)
        totalRows += l.rows;
    const double norm = static_cast<double>(m) * static_cast<double>(std::max<int64_t>(totalRows, 1));

    const int grid = std::max(1, options.grid);
    AwqResult res;
    res.error = std::numeric_limits<double>::infinity();
    std::vector<float> s(static_cast<size_t>(cols));
    for (int a = 0; a < grid; ++a) {
        const double alpha = static_cast<double>(a) / grid;
        double lo = std::numeric_limits<double>::infinity(), hi = 0;
        std::vector<double> sd(static_cast<size_t>(cols));
        for (size_t j = 0; j < sd.size(); ++j) {
            sd[j] = std::max(std::pow(meanAbs[j], alpha), 1e-4);
            lo = std::min(lo, sd[j]);
            hi = std::max(hi, sd[j]);
        }
        const double c = std::sqrt(lo * hi);
        for (size_t j = 0; j < sd.size(); ++j)
            s[j] = static_cast<float>(sd[j] / c);
        double e = 0;
        for (const auto& l : layers) {
            RowMat q(l.rows, cols);
            effectiveWeight(l.w, l.rows, cols, s, cfg, q.data());
            const RowMat d = Eigen::Map<const RowMat>(l.w, l.rows, cols) - q;
            e += outputError(d);
        }
        e /= norm;
        if (a == 0)
            res.rtnError = e;
        if (e < res.error) {
            res.error = e;
            res.alpha = alpha;
            res.scales = s;
        }
    }
    for (const auto& l : layers)
        effectiveWeight(l.w, l.rows, cols, res.scales, cfg, l.w);
    return res;
}

} // namespace bonsai
