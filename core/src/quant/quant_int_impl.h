#pragma once
// The integer grid of fakeQuantInt (quant_int.cpp), shared with the calibrated quantizers
// (GPTQ, AWQ in gptq.cpp / awq.cpp) so that they write exactly the same values: one rounding,
// one FP16 scale rounding, one range rule. Internal to bonsai_core.
#include "bonsai/half.h"
#include "bonsai/quantize.h"

#include <algorithm>
#include <cstdint>

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace bonsai::intq {

// Round half to even for |x| < 2^22: adding 1.5 * 2^23 leaves no fraction bits, so the float
// addition itself rounds (in the default round-to-nearest-even mode); subtracting gives the
// rounded value back exactly. Compiles to two vector adds.
inline float roundEven(float x)
{
    constexpr float kMagic = 12582912.0f; // 1.5 * 2^23
    return (x + kMagic) - kMagic;
}

// The value of the FP16 nearest to s (ties to even), saturated to the largest finite FP16
// (65504) instead of becoming infinity. s >= 0.
inline float fp16Scale(float s)
{
#if defined(__F16C__)
    // The hardware conversion rounds to nearest even like floatToFp16, in a few cycles (not
    // through _cvtss_sh, whose clang macro is a compound literal, a C99 extension).
    const float r = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtps_ph(_mm_set_ss(s), _MM_FROUND_TO_NEAREST_INT)));
#else
    const float r = fp16ToFloat(floatToFp16(s));
#endif
    return r > 65504.0f ? 65504.0f : r;
}

// Range statistics of a run of floats.
struct Range {
    float lo = 0;  // min(min x, 0)
    float hi = 0;  // max(max x, 0)
    float amax = 0; // max |x|
};

// GCC does not vectorise float min/max reductions without -ffast-math, even under
// `omp simd`. Instead the partial results live in lane arrays: 64 lanes (four vector
// registers, four independent dependency chains) for the bulk, folded to 16 for the rest, and
// the final folds use constant-width halving steps. Every loop is element-wise, which GCC
// vectorises. (Min and max are exact, so the order does not matter.)
inline Range rangeOf(const float* x, uint64_t n)
{
    float l[64] = {}, h[64] = {};
    uint64_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int k = 0; k < 64; ++k) {
            l[k] = x[i + k] < l[k] ? x[i + k] : l[k];
            h[k] = x[i + k] > h[k] ? x[i + k] : h[k];
        }
    for (int k = 0; k < 32; ++k) {
        l[k] = l[k + 32] < l[k] ? l[k + 32] : l[k];
        h[k] = h[k + 32] > h[k] ? h[k + 32] : h[k];
    }
    for (int k = 0; k < 16; ++k) {
        l[k] = l[k + 16] < l[k] ? l[k + 16] : l[k];
        h[k] = h[k + 16] > h[k] ? h[k + 16] : h[k];
    }
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; ++k) {
            l[k] = x[i + k] < l[k] ? x[i + k] : l[k];
            h[k] = x[i + k] > h[k] ? x[i + k] : h[k];
        }
    for (; i < n; ++i) {
        l[0] = x[i] < l[0] ? x[i] : l[0];
        h[0] = x[i] > h[0] ? x[i] : h[0];
    }
    for (int k = 0; k < 8; ++k) {
        l[k] = l[k + 8] < l[k] ? l[k + 8] : l[k];
        h[k] = h[k + 8] > h[k] ? h[k + 8] : h[k];
    }
    for (int k = 0; k < 4; ++k) {
        l[k] = l[k + 4] < l[k] ? l[k + 4] : l[k];
        h[k] = h[k + 4] > h[k] ? h[k + 4] : h[k];
    }
    const float lo = std::min(std::min(l[0], l[1]), std::min(l[2], l[3]));
    const float hi = std::max(std::max(h[0], h[1]), std::max(h[2], h[3]));
    return {lo, hi, std::max(-lo, hi)};
}

// Quantization parameters of one group: dequant = (q - zero) * scale.
struct Params {
    float scale = 0; // FP16-rounded; 0 means "everything dequantizes to 0"
    float zero = 0;  // 0 for symmetric
};

inline Params paramsFor(const Range& r, float ratio, bool symmetric, float qmax)
{
    Params p;
    if (symmetric) {
        p.scale = fp16Scale((r.amax * ratio) / qmax);
    } else {
        const float lo = r.lo * ratio, hi = r.hi * ratio;
        p.scale = fp16Scale((hi - lo) / qmax);
        if (p.scale > 0)
            p.zero = std::clamp(roundEven(-lo / p.scale), 0.0f, qmax);
    }
    return p;
}

// The code range of a configuration: symmetric q in [-qmax, qmax], asymmetric q in [0, qmax].
inline float qmaxOf(const IntQuantConfig& cfg)
{
    return cfg.symmetric ? static_cast<float>((1 << (cfg.bits - 1)) - 1) : static_cast<float>((1 << cfg.bits) - 1);
}
inline float qloOf(const IntQuantConfig& cfg) { return cfg.symmetric ? -qmaxOf(cfg) : 0.0f; }

// Quantize-dequantize one value: exactly the arithmetic of fakeQuantInt's inner loop.
inline float quantValue(float x, const Params& p, float qlo, float qmax)
{
    if (p.scale == 0)
        return 0.0f;
    float q = roundEven(x / p.scale) + p.zero;
    q = std::min(std::max(q, qlo), qmax);
    return (q - p.zero) * p.scale;
}

// Throws bonsai::Error on a configuration fakeQuantInt rejects.
void checkIntConfig(const IntQuantConfig& cfg);

} // namespace bonsai::intq
