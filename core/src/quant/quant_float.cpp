// Fake quantization to FP16, BF16 and FP8 (E4M3fn, E5M2), and the float -> FP8 conversions.
//
// All formats are rounded in the float domain with the same branch-free scheme, which the
// compiler vectorises:
//  - in the target's normal range, round the float's mantissa to the target's M bits with
//    round-to-nearest-even on the bit pattern (a carry into the exponent is correct);
//  - in the target's subnormal range, the values are multiples of q = 2^(emin - M), so round
//    x / q to an integer (exact scaling by a power of two, then round-half-even);
//  - then saturate (FP8) or overflow to infinity (FP16), as the format requires.
#include "bonsai/quantize.h"

#include "bonsai/error.h"
#include "bonsai/half.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace bonsai {

namespace {

// Rounds |x| (given as its bit pattern, sign clear) to M mantissa bits, ties to even.
template <int M>
inline float roundMantissaBits(uint32_t ax)
{
    constexpr int shift = 23 - M;
    constexpr uint32_t half = (1u << (shift - 1)) - 1u;
    const uint32_t r = (ax + half + ((ax >> shift) & 1u)) & ~((1u << shift) - 1u);
    return std::bit_cast<float>(r);
}

// Round half to even for |x| < 2^22 (see quant_int.cpp).
inline float roundEven(float x)
{
    constexpr float kMagic = 12582912.0f;
    return (x + kMagic) - kMagic;
}

// Nearest value (ties to even) of a binary float format with M mantissa bits whose smallest
// normal value is minNormal, for finite x; no overflow handling (callers clamp or map to inf).
template <int M>
inline float roundToFormat(float x, float minNormal)
{
    const uint32_t bits = std::bit_cast<uint32_t>(x);
    const uint32_t sign = bits & 0x80000000u;
    const uint32_t ax = bits & 0x7FFFFFFFu;
    const float a = std::bit_cast<float>(ax);
    const float quantum = minNormal / static_cast<float>(1 << M); // subnormal spacing
    const float sub = roundEven(a / quantum) * quantum;
    const float norm = roundMantissaBits<M>(ax);
    const float r = a < minNormal ? sub : norm;
    return std::bit_cast<float>(std::bit_cast<uint32_t>(r) | sign);
}

constexpr float kE4M3MinNormal = 0.015625f;        // 2^-6
constexpr float kE5M2MinNormal = 6.103515625e-05f; // 2^-14

// FP8 values with saturation to +-max (for finite or infinite x).
inline float roundE4M3(float x)
{
    const float r = roundToFormat<3>(x, kE4M3MinNormal);
    return std::clamp(r, -kFp8E4M3Max, kFp8E4M3Max);
}

inline float roundE5M2(float x)
{
    const float r = roundToFormat<2>(x, kE5M2MinNormal);
    return std::clamp(r, -kFp8E5M2Max, kFp8E5M2Max);
}

// FP16 value of x as a cast would give it: RNE, overflow (|x| >= 65520) to infinity.
inline float roundFp16(float x)
{
    const float r = roundToFormat<10>(x, 6.103515625e-05f);
    const float inf = std::copysign(INFINITY, x);
    return std::fabs(r) > 65504.0f ? inf : r;
}

// BF16 value of x: RNE on the upper 16 bits (the exponent range is float's, so float
// subnormals round the same way and overflow carries into infinity).
inline float roundBf16(float x)
{
    const uint32_t bits = std::bit_cast<uint32_t>(x);
    const uint32_t r = (bits + 0x7FFFu + ((bits >> 16) & 1u)) & 0xFFFF0000u;
    return std::bit_cast<float>(r);
}

inline float fp16Scale(float s)
{
    const float r = fp16ToFloat(floatToFp16(s));
    return std::isinf(r) ? 65504.0f : r;
}

// out[i] = round(x[i] / scale) * scale for one FP8 format; scale 0 gives zeros.
template <bool E4M3>
void fp8Run(const float* x, float* y, uint64_t n, float scale)
{
    if (scale == 0) {
        std::fill(y, y + n, 0.0f);
        return;
    }
    for (uint64_t i = 0; i < n; ++i) {
        const float v = x[i] / scale;
        y[i] = (E4M3 ? roundE4M3(v) : roundE5M2(v)) * scale;
    }
}

// max |x| with lane arrays and constant-width folds (GCC does not vectorise float max
// reductions; see rangeOf in quant_int.cpp).
float absMax(const float* x, uint64_t n)
{
    float m[64] = {};
    uint64_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int k = 0; k < 64; ++k) {
            const float a = std::fabs(x[i + k]);
            m[k] = a > m[k] ? a : m[k];
        }
    for (int k = 0; k < 32; ++k)
        m[k] = m[k + 32] > m[k] ? m[k + 32] : m[k];
    for (int k = 0; k < 16; ++k)
        m[k] = m[k + 16] > m[k] ? m[k + 16] : m[k];
    for (; i < n; ++i)
        m[0] = std::fabs(x[i]) > m[0] ? std::fabs(x[i]) : m[0];
    for (int k = 0; k < 8; ++k)
        m[k] = m[k + 8] > m[k] ? m[k + 8] : m[k];
    for (int k = 0; k < 4; ++k)
        m[k] = m[k + 4] > m[k] ? m[k + 4] : m[k];
    return std::max(std::max(m[0], m[1]), std::max(m[2], m[3]));
}

} // namespace

uint8_t floatToFp8E4M3(float f)
{
    const uint8_t sign = std::signbit(f) ? 0x80u : 0x00u;
    if (std::isnan(f))
        return sign | 0x7Fu;
    const float r = std::fabs(roundE4M3(f));
    if (r < kE4M3MinNormal) // subnormal (or zero): r = m * 2^-9, m in 0..7
        return sign | static_cast<uint8_t>(r * 512.0f);
    const uint32_t b = std::bit_cast<uint32_t>(r);
    const uint32_t exp = ((b >> 23) & 0xFFu) - 127u + 7u; // 1..15
    const uint32_t mant = (b >> 20) & 0x7u;
    return sign | static_cast<uint8_t>((exp << 3) | mant);
}

uint8_t floatToFp8E5M2(float f)
{
    if (std::isnan(f))
        return static_cast<uint8_t>((std::signbit(f) ? 0x80u : 0x00u) | 0x7Eu);
    // The rounded value is exactly representable in FP16, whose top byte is the E5M2 code.
    return static_cast<uint8_t>(floatToFp16(roundE5M2(f)) >> 8);
}

void fakeQuantFloat(const float* w, uint64_t rows, uint64_t cols, FloatFormat fmt,
                    Granularity granularity, float* out)
{
    const uint64_t n = rows * cols;
    constexpr uint64_t kChunk = 1u << 16;
    const int64_t chunks = static_cast<int64_t>((n + kChunk - 1) / kChunk);
    if (fmt == FloatFormat::FP16 || fmt == FloatFormat::BF16) {
        const bool half = fmt == FloatFormat::FP16;
#pragma omp parallel for schedule(static)
        for (int64_t c = 0; c < chunks; ++c) {
            const uint64_t b = static_cast<uint64_t>(c) * kChunk, e = std::min(n, b + kChunk);
            if (half) {
                for (uint64_t i = b; i < e; ++i)
                    out[i] = roundFp16(w[i]);
            } else {
                for (uint64_t i = b; i < e; ++i)
                    out[i] = roundBf16(w[i]);
            }
        }
        return;
    }
    if (granularity == Granularity::Group)
        throw Error("FP8 quantization: only per-tensor and per-channel scales are supported");
    const bool e4m3 = fmt == FloatFormat::FP8_E4M3;
    const float fmax = e4m3 ? kFp8E4M3Max : kFp8E5M2Max;
    if (granularity == Granularity::PerTensor) {
        float m = 0;
#pragma omp parallel for schedule(static) reduction(max : m)
        for (int64_t c = 0; c < chunks; ++c) {
            const uint64_t b = static_cast<uint64_t>(c) * kChunk;
            m = std::max(m, absMax(w + b, std::min(kChunk, n - b)));
        }
        const float scale = fp16Scale(m / fmax);
#pragma omp parallel for schedule(static)
        for (int64_t c = 0; c < chunks; ++c) {
            const uint64_t b = static_cast<uint64_t>(c) * kChunk, len = std::min(kChunk, n - b);
            if (e4m3)
                fp8Run<true>(w + b, out + b, len, scale);
            else
                fp8Run<false>(w + b, out + b, len, scale);
        }
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < static_cast<int64_t>(rows); ++r) {
        const float* x = w + static_cast<uint64_t>(r) * cols;
        float* y = out + static_cast<uint64_t>(r) * cols;
        const float scale = fp16Scale(absMax(x, cols) / fmax);
        if (e4m3)
            fp8Run<true>(x, y, cols, scale);
        else
            fp8Run<false>(x, y, cols, scale);
    }
}

uint64_t floatStorageBits(uint64_t rows, uint64_t cols, FloatFormat fmt, Granularity granularity)
{
    const uint64_t n = rows * cols;
    switch (fmt) {
    case FloatFormat::FP16:
    case FloatFormat::BF16: return n * 16;
    case FloatFormat::FP8_E4M3:
    case FloatFormat::FP8_E5M2: return n * 8 + 16 * (granularity == Granularity::PerChannel ? rows : 1);
    }
    return 0;
}

} // namespace bonsai
