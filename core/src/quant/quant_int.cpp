// Integer fake quantization (2..8 bits; per tensor, per channel or group-wise; symmetric or
// asymmetric; optional clipping search) and the error metrics.
//
// Work is split so that each OpenMP task owns whole groups (or rows): a group is read, its
// statistics and scale computed, and then written, so `out` may alias `w`. The inner loops are
// branch-free float loops (division, round-half-even via the 1.5 * 2^23 trick, min/max clamp)
// that the compiler vectorises. Min/max reductions keep partial results in lane arrays (GCC
// leaves float min/max reductions scalar without -ffast-math, even under `omp simd`); sums of
// squares accumulate in double.
#include "bonsai/quantize.h"

#include "bonsai/error.h"
#include "quant/quant_int_impl.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace bonsai {

using namespace intq;

namespace {

// Quantize-dequantize n values. Symmetric: q in [-qmax, qmax]; asymmetric: q in [0, qmax]
// (qlo is -qmax or 0).
inline void applyGroup(const float* x, float* y, uint64_t n, const Params& p, float qlo, float qmax)
{
    if (p.scale == 0) {
        std::fill(y, y + n, 0.0f);
        return;
    }
    const float s = p.scale, z = p.zero;
#pragma omp simd
    for (uint64_t i = 0; i < n; ++i) {
        float q = roundEven(x[i] / s) + z;
        q = std::min(std::max(q, qlo), qmax);
        y[i] = (q - z) * s;
    }
}

// Squared error of quantize-dequantize with parameters p (double accumulation).
inline double groupError(const float* x, uint64_t n, const Params& p, float qlo, float qmax)
{
    double e = 0;
    if (p.scale == 0) {
#pragma omp simd reduction(+ : e)
        for (uint64_t i = 0; i < n; ++i)
            e += static_cast<double>(x[i]) * x[i];
        return e;
    }
    const float s = p.scale, z = p.zero;
#pragma omp simd reduction(+ : e)
    for (uint64_t i = 0; i < n; ++i) {
        float q = roundEven(x[i] / s) + z;
        q = std::min(std::max(q, qlo), qmax);
        const float d = (q - z) * s - x[i];
        e += static_cast<double>(d) * d;
    }
    return e;
}

// Parameters for one group (or row), running the clip search when asked.
inline Params chooseParams(const float* x, uint64_t n, const IntQuantConfig& cfg, float qlo, float qmax)
{
    const Range r = rangeOf(x, n);
    Params best = paramsFor(r, 1.0f, cfg.symmetric, qmax);
    if (!cfg.clipSearch || best.scale == 0)
        return best;
    double bestErr = groupError(x, n, best, qlo, qmax);
    for (int k = 1; k < kClipRatioCount; ++k) {
        const Params p = paramsFor(r, kClipRatios[k], cfg.symmetric, qmax);
        const double e = groupError(x, n, p, qlo, qmax);
        if (e < bestErr) {
            bestErr = e;
            best = p;
        }
    }
    return best;
}

} // namespace

void intq::checkIntConfig(const IntQuantConfig& cfg)
{
    if (cfg.bits < 2 || cfg.bits > 8)
        throw Error("integer quantization: " + std::to_string(cfg.bits) + " bits is outside 2..8");
    if (cfg.granularity == Granularity::Group && cfg.groupSize == 0)
        throw Error("integer quantization: group size 0");
}

namespace {

// Per-tensor: global statistics, optional global clip search, then an element-parallel pass.
void quantPerTensor(const float* w, uint64_t n, const IntQuantConfig& cfg, float qlo, float qmax, float* out)
{
    constexpr uint64_t kChunk = 1u << 16;
    const int64_t chunks = static_cast<int64_t>((n + kChunk - 1) / kChunk);
    float lo = 0, hi = 0;
#pragma omp parallel for schedule(static) reduction(min : lo) reduction(max : hi)
    for (int64_t c = 0; c < chunks; ++c) {
        const uint64_t b = static_cast<uint64_t>(c) * kChunk;
        const Range r = rangeOf(w + b, std::min(kChunk, n - b));
        lo = std::min(lo, r.lo);
        hi = std::max(hi, r.hi);
    }
    const Range r{lo, hi, std::max(-lo, hi)};
    Params p = paramsFor(r, 1.0f, cfg.symmetric, qmax);
    if (cfg.clipSearch && p.scale > 0) {
        double bestErr = std::numeric_limits<double>::infinity();
        for (int k = 0; k < kClipRatioCount; ++k) {
            const Params pk = paramsFor(r, kClipRatios[k], cfg.symmetric, qmax);
            double e = 0;
#pragma omp parallel for schedule(static) reduction(+ : e)
            for (int64_t c = 0; c < chunks; ++c) {
                const uint64_t b = static_cast<uint64_t>(c) * kChunk;
                e += groupError(w + b, std::min(kChunk, n - b), pk, qlo, qmax);
            }
            if (e < bestErr) {
                bestErr = e;
                p = pk;
            }
        }
    }
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; ++c) {
        const uint64_t b = static_cast<uint64_t>(c) * kChunk;
        applyGroup(w + b, out + b, std::min(kChunk, n - b), p, qlo, qmax);
    }
}

} // namespace

uint64_t intGroupCount(uint64_t rows, uint64_t cols, const IntQuantConfig& cfg)
{
    switch (cfg.granularity) {
    case Granularity::PerTensor: return 1;
    case Granularity::PerChannel: return rows;
    case Granularity::Group:
        return cfg.groupSize == 0 ? 0 : rows * ((cols + cfg.groupSize - 1) / cfg.groupSize);
    }
    return 0;
}

uint64_t intStorageBits(uint64_t rows, uint64_t cols, const IntQuantConfig& cfg)
{
    const uint64_t b = static_cast<uint64_t>(cfg.bits);
    const uint64_t groups = intGroupCount(rows, cols, cfg);
    return rows * cols * b + groups * 16 + (cfg.symmetric ? 0 : groups * b);
}

void fakeQuantInt(const float* w, uint64_t rows, uint64_t cols, const IntQuantConfig& cfg, float* out)
{
    checkIntConfig(cfg);
    const uint64_t n = rows * cols;
    if (n == 0)
        return;
    const float qmax = cfg.symmetric ? static_cast<float>((1 << (cfg.bits - 1)) - 1)
                                     : static_cast<float>((1 << cfg.bits) - 1);
    const float qlo = cfg.symmetric ? -qmax : 0.0f;

    switch (cfg.granularity) {
    case Granularity::PerTensor:
        quantPerTensor(w, n, cfg, qlo, qmax, out);
        return;
    case Granularity::PerChannel: {
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < static_cast<int64_t>(rows); ++r) {
            const float* x = w + static_cast<uint64_t>(r) * cols;
            const Params p = chooseParams(x, cols, cfg, qlo, qmax);
            applyGroup(x, out + static_cast<uint64_t>(r) * cols, cols, p, qlo, qmax);
        }
        return;
    }
    case Granularity::Group: {
        const uint64_t g = cfg.groupSize;
        const uint64_t perRow = (cols + g - 1) / g;
        if (rows >= 64 || perRow == 1) { // enough rows to split by row: no index arithmetic
#pragma omp parallel for schedule(static)
            for (int64_t r = 0; r < static_cast<int64_t>(rows); ++r) {
                const uint64_t base = static_cast<uint64_t>(r) * cols;
                for (uint64_t j = 0; j < cols; j += g) {
                    const uint64_t len = std::min(g, cols - j);
                    const Params p = chooseParams(w + base + j, len, cfg, qlo, qmax);
                    applyGroup(w + base + j, out + base + j, len, p, qlo, qmax);
                }
            }
            return;
        }
        const int64_t total = static_cast<int64_t>(rows * perRow); // few long rows: split by group
#pragma omp parallel for schedule(static)
        for (int64_t k = 0; k < total; ++k) {
            const uint64_t r = static_cast<uint64_t>(k) / perRow, j = static_cast<uint64_t>(k) % perRow;
            const uint64_t first = r * cols + j * g;
            const uint64_t len = std::min(g, cols - j * g);
            const Params p = chooseParams(w + first, len, cfg, qlo, qmax);
            applyGroup(w + first, out + first, len, p, qlo, qmax);
        }
        return;
    }
    }
}

// ------------------------------------------------------------------------------------------
// Error metrics
// ------------------------------------------------------------------------------------------

ErrorMetrics errorMetrics(const float* ref, const float* approx, uint64_t n)
{
    // Chunks in parallel; within a chunk 8 double lanes per sum (and for the max, see
    // rangeOf) so that the loop vectorises.
    constexpr uint64_t kChunk = 1u << 16;
    constexpr int L = 8;
    const int64_t chunks = static_cast<int64_t>((n + kChunk - 1) / kChunk);
    double sww = 0, sqq = 0, swq = 0, see = 0, emax = 0;
#pragma omp parallel for schedule(static) reduction(+ : sww, sqq, swq, see) reduction(max : emax)
    for (int64_t c = 0; c < chunks; ++c) {
        const uint64_t b = static_cast<uint64_t>(c) * kChunk, e = std::min(n, b + kChunk);
        double aa[L] = {}, bb[L] = {}, ab[L] = {}, ee[L] = {}, mx[L] = {};
        const uint64_t ev = b + (e - b) / L * L;
        for (uint64_t i = b; i < ev; i += L)
            for (int k = 0; k < L; ++k) {
                const double x = ref[i + k], y = approx[i + k], d = x - y;
                aa[k] += x * x;
                bb[k] += y * y;
                ab[k] += x * y;
                ee[k] += d * d;
                const double ad = std::fabs(d);
                mx[k] = ad > mx[k] ? ad : mx[k];
            }
        for (uint64_t i = ev; i < e; ++i) {
            const double x = ref[i], y = approx[i], d = x - y;
            aa[0] += x * x;
            bb[0] += y * y;
            ab[0] += x * y;
            ee[0] += d * d;
            mx[0] = std::fabs(d) > mx[0] ? std::fabs(d) : mx[0];
        }
        for (int k = 0; k < L; ++k) {
            sww += aa[k];
            sqq += bb[k];
            swq += ab[k];
            see += ee[k];
            emax = std::max(emax, mx[k]);
        }
    }
    constexpr double inf = std::numeric_limits<double>::infinity();
    ErrorMetrics m;
    m.maxAbsError = emax;
    if (sww > 0)
        m.relFrobenius = std::sqrt(see / sww);
    else
        m.relFrobenius = see > 0 ? inf : 0.0;
    if (see == 0)
        m.sqnrDb = inf;
    else
        m.sqnrDb = sww > 0 ? 10.0 * std::log10(sww / see) : -inf;
    if (sww > 0 && sqq > 0)
        m.cosine = swq / (std::sqrt(sww) * std::sqrt(sqq));
    else
        m.cosine = (sww == 0 && sqq == 0) ? 1.0 : 0.0;
    return m;
}

} // namespace bonsai
