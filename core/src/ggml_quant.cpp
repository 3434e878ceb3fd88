// Quantization to the GGUF (ggml) block types, bit-exact with llama.cpp's reference
// quantizers (quantize_row_*_ref in ggml-quants.c; the K types as quantized without an
// importance matrix). The code is our own; what must match is the arithmetic:
//  - the same float operations in the same order (accumulations are sequential, products
//    are evaluated left to right as written in the reference, e.g. (w * x) * l);
//  - nearestInt() is ggml's nearest_int: add 1.5 * 2^23 and read the low mantissa bits,
//    i.e. round half to even, valid for |x| <= 2^22 - 1;
//  - Q8_0 rounds with roundf (half away from zero); Q4_0 / Q4_1 / Q5_0 / Q5_1 truncate
//    x + 8.5 (or + 0.5, + 16.5) towards zero as the reference's integer casts do;
//  - fp16 scales are rounded to nearest even (bonsai::floatToFp16, as ggml's conversion).
// Floating-point contraction is disabled for this file: the reference is compiled without
// FMA contraction of its scalar code (ggml-base, baseline x86-64), and a fused x * id + 8.5
// would round differently.
//
// Block layouts: see ggml_dequant.cpp.
#include "bonsai/quantize.h"

#include "bonsai/error.h"
#include "bonsai/half.h"
#include "bonsai/model.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#if defined(__AVX512F__) && defined(__F16C__)
// GCC 12 reports its own _mm512_undefined_ps() placeholders as maybe-uninitialized when the
// intrinsics are inlined (GCC bug 105593); the diagnostic state of the header lines decides.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace bonsai {

namespace {

constexpr int QK = 32;   // elements per block of the simple types
constexpr int QKK = 256; // elements per K super-block

// ggml's nearest_int: round half to even through the float addition.
inline int nearestInt(float f)
{
    const float v = f + 12582912.0f;
    int32_t i;
    std::memcpy(&i, &v, sizeof i);
    return (i & 0x007FFFFF) - 0x00400000;
}

inline void putHalf(uint8_t* p, float f)
{
    const uint16_t h = floatToFp16(f);
    std::memcpy(p, &h, 2);
}

inline float halfAt(const uint8_t* p)
{
    uint16_t h;
    std::memcpy(&h, p, 2);
    return fp16ToFloat(h);
}

// ------------------------------------------------------------------------------------------
// 32-element blocks
// ------------------------------------------------------------------------------------------

// Q8_0 (34 B): d = amax / 127 (fp16), q = roundf(x * (1/d)). roundf (half away from zero) is
// computed as t = trunc(|v|), t + (|v| - t >= 0.5) with the sign put back, which equals
// roundf exactly (|v| - t is exact). With AVX-512 a block is two registers; otherwise the
// portable loops below vectorise.
#if defined(__AVX512F__) && defined(__F16C__)
inline __m128i q8Round(__m512 v)
{
    const __m512 a = _mm512_abs_ps(v);
    __m512 t = _mm512_roundscale_ps(a, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __mmask16 up = _mm512_cmp_ps_mask(_mm512_sub_ps(a, t), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    t = _mm512_mask_add_ps(t, up, t, _mm512_set1_ps(1.0f));
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(INT32_MIN));
    const __m512 r = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(t), sign));
    return _mm512_cvtsepi32_epi8(_mm512_cvttps_epi32(r));
}

void quantQ8_0(const float* x, uint64_t nb, uint8_t* y)
{
    for (uint64_t i = 0; i < nb; ++i, x += QK, y += 34) {
        const __m512 a = _mm512_loadu_ps(x), b = _mm512_loadu_ps(x + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
        const float d = amax / 127.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        const uint16_t h = static_cast<uint16_t>(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT)); // RNE, as floatToFp16
        std::memcpy(y, &h, 2);
        const __m512 vid = _mm512_set1_ps(id);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + 2), q8Round(_mm512_mul_ps(a, vid)));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + 18), q8Round(_mm512_mul_ps(b, vid)));
    }
}
#else
void quantQ8_0(const float* x, uint64_t nb, uint8_t* y)
{
    for (uint64_t i = 0; i < nb; ++i, x += QK, y += 34) {
        float m[QK / 2]; // lane array: GCC does not vectorise float max reductions
        for (int j = 0; j < QK / 2; ++j)
            m[j] = std::fabs(x[j]) > std::fabs(x[j + QK / 2]) ? std::fabs(x[j]) : std::fabs(x[j + QK / 2]);
        float amax = 0;
        for (int j = 0; j < QK / 2; ++j)
            amax = m[j] > amax ? m[j] : amax;
        const float d = amax / 127.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        putHalf(y, d);
        auto* qs = reinterpret_cast<int8_t*>(y + 2);
#pragma omp simd
        for (int j = 0; j < QK; ++j) {
            const float v = x[j] * id;
            const float a = std::fabs(v);
            const int t = static_cast<int>(a);
            const int r = t + (a - static_cast<float>(t) >= 0.5f ? 1 : 0);
            qs[j] = static_cast<int8_t>(v < 0 ? -r : r);
        }
    }
}
#endif

// The value with the largest magnitude (the first one on ties), as Q4_0 / Q5_0 pick it.
inline float signedAbsMax(const float* x)
{
    float amax = 0, max = 0;
    for (int j = 0; j < QK; ++j) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    return max;
}

inline void minMax(const float* x, float& mn, float& mx)
{
    mn = FLT_MAX;
    mx = -FLT_MAX;
    for (int j = 0; j < QK; ++j) {
        mn = x[j] < mn ? x[j] : mn;
        mx = x[j] > mx ? x[j] : mx;
    }
}

// Q4_0 (18 B): d = max / -8, q = min(15, trunc(x / d + 8.5)); element j in the low nibble of
// qs[j], element j + 16 in its high nibble.
void quantQ4_0(const float* x, uint64_t nb, uint8_t* y)
{
    for (uint64_t i = 0; i < nb; ++i, x += QK, y += 18) {
        const float d = signedAbsMax(x) / -8.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        putHalf(y, d);
        for (int j = 0; j < QK / 2; ++j) {
            const int q0 = std::min(15, static_cast<int>(x[j] * id + 8.5f));
            const int q1 = std::min(15, static_cast<int>(x[j + QK / 2] * id + 8.5f));
            y[2 + j] = static_cast<uint8_t>(q0 | (q1 << 4));
        }
    }
}

// Q4_1 (20 B): d = (max - min) / 15, m = min, q = min(15, trunc((x - min) / d + 0.5)).
void quantQ4_1(const float* x, uint64_t nb, uint8_t* y)
{
    for (uint64_t i = 0; i < nb; ++i, x += QK, y += 20) {
        float mn, mx;
        minMax(x, mn, mx);
        const float d = (mx - mn) / 15.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        putHalf(y, d);
        putHalf(y + 2, mn);
        for (int j = 0; j < QK / 2; ++j) {
            const int q0 = std::min(15, static_cast<int>((x[j] - mn) * id + 0.5f));
            const int q1 = std::min(15, static_cast<int>((x[j + QK / 2] - mn) * id + 0.5f));
            y[4 + j] = static_cast<uint8_t>(q0 | (q1 << 4));
        }
    }
}

// Q5_0 (22 B): d = max / -16, q = min(31, trunc(x / d + 16.5)); the fifth bit of element j
// is bit j of the little-endian 32-bit qh.
void quantQ5_0(const float* x, uint64_t nb, uint8_t* y)
{
    for (uint64_t i = 0; i < nb; ++i, x += QK, y += 22) {
        const float d = signedAbsMax(x) / -16.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        putHalf(y, d);
        uint32_t qh = 0;
        for (int j = 0; j < QK / 2; ++j) {
            const int q0 = std::min(31, static_cast<int>(x[j] * id + 16.5f));
            const int q1 = std::min(31, static_cast<int>(x[j + QK / 2] * id + 16.5f));
            y[6 + j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= static_cast<uint32_t>((q0 >> 4) & 1) << j;
            qh |= static_cast<uint32_t>((q1 >> 4) & 1) << (j + QK / 2);
        }
        std::memcpy(y + 2, &qh, 4);
    }
}

// Q5_1 (24 B): d = (max - min) / 31, m = min, q = trunc((x - min) / d + 0.5) (no clamp in the
// reference: the value cannot exceed 31.5).
void quantQ5_1(const float* x, uint64_t nb, uint8_t* y)
{
    for (uint64_t i = 0; i < nb; ++i, x += QK, y += 24) {
        float mn, mx;
        minMax(x, mn, mx);
        const float d = (mx - mn) / 31.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        putHalf(y, d);
        putHalf(y + 2, mn);
        uint32_t qh = 0;
        for (int j = 0; j < QK / 2; ++j) {
            const int q0 = static_cast<uint8_t>(static_cast<int>((x[j] - mn) * id + 0.5f));
            const int q1 = static_cast<uint8_t>(static_cast<int>((x[j + QK / 2] - mn) * id + 0.5f));
            y[8 + j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= static_cast<uint32_t>((q0 >> 4) & 1) << j;
            qh |= static_cast<uint32_t>((q1 >> 4) & 1) << (j + QK / 2);
        }
        std::memcpy(y + 4, &qh, 4);
    }
}

// ------------------------------------------------------------------------------------------
// K super-blocks: helpers (ggml's make_qkx2_quants and make_qx_quants, reference paths)
// ------------------------------------------------------------------------------------------

// ggml's make_qkx2_quants for the 8 sub-blocks (32 values each) of a K super-block at once.
// Per sub-block: asymmetric quants L in [0, nmax] with per-value weights; start from the
// min/max grid, then try nstep + 1 alternative inverse scales (rmin + rdelta * is + nmax) /
// (max - min), fit scale and min by weighted least squares for each, and keep the one with
// the smallest weighted squared error.
//
// The reference runs the sub-blocks one after the other, each through long chains of
// dependent float additions (its sums must be accumulated in order to be bit-exact). Here the
// 8 sub-blocks are the 8 lanes of every loop ("for k < 8" innermost, data transposed to
// [value][sub-block]): each lane performs exactly the reference's operations in the
// reference's order, while the 8 independent chains run side by side in vector registers.
// The reference's branches become per-lane selects.
// Outputs: L[32 k + i], scale[k], negMin[k] (= -min >= 0).
void makeQkx2x8(const float* x, const float* w, int nmax, float rmin, float rdelta, int nstep, uint8_t* L,
                float* scaleOut, float* negMinOut)
{
    constexpr int K = 8, N = 32;
    float xT[N][K], wT[N][K];
    int LT[N][K], LauxT[N][K];
    for (int k = 0; k < K; ++k)
        for (int i = 0; i < N; ++i) {
            xT[i][k] = x[N * k + i];
            wT[i][k] = w[N * k + i];
        }
    const float fnmax = static_cast<float>(nmax);
    float mn[K], mx[K], sumW[K], sumX[K];
    bool flat[K];
    for (int k = 0; k < K; ++k) {
        mn[k] = mx[k] = xT[0][k];
        sumW[k] = wT[0][k];
        sumX[k] = sumW[k] * xT[0][k];
    }
    for (int i = 1; i < N; ++i)
        for (int k = 0; k < K; ++k) {
            mn[k] = xT[i][k] < mn[k] ? xT[i][k] : mn[k];
            mx[k] = xT[i][k] > mx[k] ? xT[i][k] : mx[k];
            sumW[k] += wT[i][k];
            sumX[k] += wT[i][k] * xT[i][k];
        }
    float iscale[K], scale[K], bestErr[K];
    for (int k = 0; k < K; ++k) {
        mn[k] = mn[k] > 0 ? 0.0f : mn[k];
        flat[k] = mx[k] == mn[k]; // the reference returns scale 0, L = 0 for these
        iscale[k] = fnmax / (flat[k] ? 1.0f : mx[k] - mn[k]);
        scale[k] = 1.0f / iscale[k];
        bestErr[k] = 0;
    }
    for (int i = 0; i < N; ++i)
        for (int k = 0; k < K; ++k) {
            const int l = std::clamp(nearestInt(iscale[k] * (xT[i][k] - mn[k])), 0, nmax);
            LT[i][k] = l;
            const float diff = scale[k] * static_cast<float>(l) + mn[k] - xT[i][k];
            bestErr[k] += wT[i][k] * (diff * diff);
        }
    for (int is = 0; is <= nstep; ++is) {
        float sumL[K], sumL2[K], sumXL[K];
        for (int k = 0; k < K; ++k) {
            // min may have been replaced by an earlier fit: the range uses the current one.
            iscale[k] = (rmin + rdelta * static_cast<float>(is) + fnmax) / (flat[k] ? 1.0f : mx[k] - mn[k]);
            sumL[k] = sumL2[k] = sumXL[k] = 0;
        }
        for (int i = 0; i < N; ++i)
            for (int k = 0; k < K; ++k) {
                const int l = std::clamp(nearestInt(iscale[k] * (xT[i][k] - mn[k])), 0, nmax);
                LauxT[i][k] = l;
                const float fl = static_cast<float>(l);
                sumL[k] += wT[i][k] * fl;
                sumL2[k] += wT[i][k] * fl * fl;
                sumXL[k] += wT[i][k] * fl * xT[i][k];
            }
        float D[K], thisScale[K], thisMin[K], err[K];
        for (int k = 0; k < K; ++k) {
            D[k] = sumW[k] * sumL2[k] - sumL[k] * sumL[k];
            const float s = (sumW[k] * sumXL[k] - sumX[k] * sumL[k]) / D[k];
            const float m = (sumL2[k] * sumX[k] - sumL[k] * sumXL[k]) / D[k];
            const bool pos = m > 0;
            thisMin[k] = pos ? 0.0f : m;
            thisScale[k] = pos ? sumXL[k] / sumL2[k] : s;
            err[k] = 0;
        }
        for (int i = 0; i < N; ++i)
            for (int k = 0; k < K; ++k) {
                const float diff = thisScale[k] * static_cast<float>(LauxT[i][k]) + thisMin[k] - xT[i][k];
                err[k] += wT[i][k] * (diff * diff);
            }
        bool upd[K];
        bool any = false;
        for (int k = 0; k < K; ++k) {
            upd[k] = !flat[k] && D[k] > 0 && err[k] < bestErr[k];
            any |= upd[k];
            bestErr[k] = upd[k] ? err[k] : bestErr[k];
            scale[k] = upd[k] ? thisScale[k] : scale[k];
            mn[k] = upd[k] ? thisMin[k] : mn[k];
        }
        if (any)
            for (int i = 0; i < N; ++i)
                for (int k = 0; k < K; ++k)
                    LT[i][k] = upd[k] ? LauxT[i][k] : LT[i][k];
    }
    for (int k = 0; k < K; ++k) {
        scaleOut[k] = flat[k] ? 0.0f : scale[k];
        negMinOut[k] = -mn[k];
        for (int i = 0; i < N; ++i)
            L[N * k + i] = flat[k] ? uint8_t{0} : static_cast<uint8_t>(LT[i][k]);
    }
}

// ggml's make_qx_quants (rmse_type 1, no importance weights) for the 16 sub-blocks (16 values
// each) of a Q6_K super-block at once, the sub-blocks being the lanes of every loop as in
// makeQkx2x8. Per sub-block: symmetric quants L in [0, 2 nmax) (offset by nmax), weights
// x^2; start from the inverse scale -nmax / max (max = the value of largest magnitude), then
// try -(nmax + 0.1 is) / max for is = -9..9 and keep the best least-squares fit. An all-zero
// sub-block (max |x| < 1e-15) gets L = 0 and scale 0. Outputs L[16 k + i] and scale[k].
void makeQx16(const float* x, int nmax, int8_t* L, float* scaleOut)
{
    constexpr int K = 16, N = 16;
    float xT[N][K];
    int LT[N][K], LauxT[N][K];
    for (int k = 0; k < K; ++k)
        for (int i = 0; i < N; ++i)
            xT[i][k] = x[N * k + i];
    const float fnmax = static_cast<float>(nmax);
    float mx[K], amax[K];
    for (int k = 0; k < K; ++k)
        mx[k] = amax[k] = 0;
    for (int i = 0; i < N; ++i)
        for (int k = 0; k < K; ++k) {
            const float ax = std::fabs(xT[i][k]);
            const bool more = ax > amax[k];
            amax[k] = more ? ax : amax[k];
            mx[k] = more ? xT[i][k] : mx[k];
        }
    bool zero[K];
    float iscale[K], sumLX[K], sumL2[K], scale[K], best[K];
    for (int k = 0; k < K; ++k) {
        zero[k] = amax[k] < 1e-15f;
        mx[k] = zero[k] ? 1.0f : mx[k]; // keep the masked lanes finite
        iscale[k] = -fnmax / mx[k];
        sumLX[k] = sumL2[k] = 0;
    }
    for (int i = 0; i < N; ++i)
        for (int k = 0; k < K; ++k) {
            const int l = std::clamp(nearestInt(iscale[k] * xT[i][k]), -nmax, nmax - 1);
            LT[i][k] = l + nmax;
            const float w = xT[i][k] * xT[i][k];
            const float fl = static_cast<float>(l);
            sumLX[k] += w * xT[i][k] * fl;
            sumL2[k] += w * fl * fl;
        }
    for (int k = 0; k < K; ++k) {
        scale[k] = sumL2[k] != 0 ? sumLX[k] / sumL2[k] : 0.0f;
        best[k] = scale[k] * sumLX[k];
    }
    for (int is = -9; is <= 9; ++is) {
        if (is == 0)
            continue;
        for (int k = 0; k < K; ++k) {
            iscale[k] = -(fnmax + 0.1f * static_cast<float>(is)) / mx[k];
            sumLX[k] = sumL2[k] = 0;
        }
        for (int i = 0; i < N; ++i)
            for (int k = 0; k < K; ++k) {
                const int l = std::clamp(nearestInt(iscale[k] * xT[i][k]), -nmax, nmax - 1);
                LauxT[i][k] = l + nmax;
                const float w = xT[i][k] * xT[i][k];
                const float fl = static_cast<float>(l);
                sumLX[k] += w * xT[i][k] * fl;
                sumL2[k] += w * fl * fl;
            }
        bool upd[K];
        bool any = false;
        for (int k = 0; k < K; ++k) {
            upd[k] = sumL2[k] > 0 && sumLX[k] * sumLX[k] > best[k] * sumL2[k];
            any |= upd[k];
            scale[k] = upd[k] ? sumLX[k] / sumL2[k] : scale[k];
            best[k] = upd[k] ? scale[k] * sumLX[k] : best[k];
        }
        if (any)
            for (int i = 0; i < N; ++i)
                for (int k = 0; k < K; ++k)
                    LT[i][k] = upd[k] ? LauxT[i][k] : LT[i][k];
    }
    for (int k = 0; k < K; ++k) {
        scaleOut[k] = zero[k] ? 0.0f : scale[k];
        for (int i = 0; i < N; ++i)
            L[N * k + i] = zero[k] ? int8_t{0} : static_cast<int8_t>(LT[i][k]);
    }
}

// Packs 6-bit sub-block scales and mins (8 of each) into the 12-byte K-quant layout:
// j < 4: scales[j] and scales[j + 4] hold them directly (low 6 bits); j >= 4: the low
// nibbles go to scales[j + 4] and the top two bits to bits 6-7 of scales[j - 4] / scales[j].
void packScaleMinK4(const uint8_t* ls, const uint8_t* lm, uint8_t* s)
{
    for (int j = 0; j < 8; ++j) {
        if (j < 4) {
            s[j] = ls[j];
            s[j + 4] = lm[j];
        } else {
            s[j + 4] = static_cast<uint8_t>((ls[j] & 0x0F) | ((lm[j] & 0x0F) << 4));
            s[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
            s[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
        }
    }
}

inline void scaleMinK4(int j, const uint8_t* s, int& sc, int& m)
{
    if (j < 4) {
        sc = s[j] & 63;
        m = s[j + 4] & 63;
    } else {
        sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
        m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// The shared part of Q4_K and Q5_K: sub-block scales/mins (makeQkx2x8), the 6-bit packing, the
// fp16 super-scales d / dmin (written at s - 4 and s - 2), and the final quants L with the
// quantized scales (L keeps makeQkx2x8's values for a sub-block whose quantized scale is 0).
void quantKScalesMins(const float* x, int nmax, float rmin, float rdelta, int nstep, uint8_t* dHalf,
                      uint8_t* s, uint8_t* L)
{
    // Weights av_x + |x| per sub-block (av_x = rms of the sub-block), sums in reference order.
    float scales[8], mins[8], weights[256], sumX2[8] = {};
    for (int l = 0; l < 32; ++l)
        for (int j = 0; j < 8; ++j)
            sumX2[j] += x[32 * j + l] * x[32 * j + l];
    for (int j = 0; j < 8; ++j) {
        const float avX = std::sqrt(sumX2[j] / 32.0f);
        for (int l = 0; l < 32; ++l)
            weights[32 * j + l] = avX + std::fabs(x[32 * j + l]);
    }
    makeQkx2x8(x, weights, nmax, rmin, rdelta, nstep, L, scales, mins);
    float maxScale = 0, maxMin = 0;
    for (int j = 0; j < 8; ++j) {
        if (scales[j] > maxScale)
            maxScale = scales[j];
        if (mins[j] > maxMin)
            maxMin = mins[j];
    }
    const float invScale = maxScale > 0 ? 63.0f / maxScale : 0.0f;
    const float invMin = maxMin > 0 ? 63.0f / maxMin : 0.0f;
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; ++j) {
        // The reference stores nearest_int into a uint8_t, then takes MIN(63, .).
        ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearestInt(invScale * scales[j])));
        lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearestInt(invMin * mins[j])));
    }
    std::memset(s, 0, 12);
    packScaleMinK4(ls, lm, s);
    putHalf(dHalf, maxScale / 63.0f);
    putHalf(dHalf + 2, maxMin / 63.0f);
    const float d = halfAt(dHalf), dmin = halfAt(dHalf + 2);
    for (int j = 0; j < 8; ++j) {
        int sc, m;
        scaleMinK4(j, s, sc, m);
        const float dj = d * static_cast<float>(sc);
        if (dj == 0)
            continue;
        const float dm = dmin * static_cast<float>(m);
        for (int i = 0; i < 32; ++i)
            L[32 * j + i] = static_cast<uint8_t>(std::clamp(nearestInt((x[32 * j + i] + dm) / dj), 0, nmax));
    }
}

// Q4_K (144 B): d, dmin, scales[12], qs[128]; qs[32g + l] = L[64g + l] | L[64g + 32 + l] << 4.
void quantQ4_K(const float* x, uint64_t nb, uint8_t* y)
{
    uint8_t L[QKK];
    for (uint64_t i = 0; i < nb; ++i, x += QKK, y += 144) {
        quantKScalesMins(x, 15, -1.0f, 0.1f, 20, y, y + 4, L);
        uint8_t* q = y + 16;
        for (int g = 0; g < 4; ++g, q += 32)
            for (int l = 0; l < 32; ++l)
                q[l] = static_cast<uint8_t>(L[64 * g + l] | (L[64 * g + 32 + l] << 4));
    }
}

// Q5_K (176 B): d, dmin, scales[12], qh[32], qs[128]; as Q4_K with the fifth bit of
// L[64g + l] in bit 2g of qh[l] and that of L[64g + 32 + l] in bit 2g + 1.
void quantQ5_K(const float* x, uint64_t nb, uint8_t* y)
{
    uint8_t L[QKK];
    for (uint64_t i = 0; i < nb; ++i, x += QKK, y += 176) {
        quantKScalesMins(x, 31, -0.5f, 0.1f, 15, y, y + 4, L);
        uint8_t* qh = y + 16;
        uint8_t* ql = y + 48;
        std::memset(qh, 0, 32);
        for (int g = 0; g < 4; ++g, ql += 32) {
            const uint8_t m1 = static_cast<uint8_t>(1u << (2 * g)), m2 = static_cast<uint8_t>(2u << (2 * g));
            for (int l = 0; l < 32; ++l) {
                int l1 = L[64 * g + l], l2 = L[64 * g + 32 + l];
                if (l1 > 15) {
                    l1 -= 16;
                    qh[l] |= m1;
                }
                if (l2 > 15) {
                    l2 -= 16;
                    qh[l] |= m2;
                }
                ql[l] = static_cast<uint8_t>(l1 | (l2 << 4));
            }
        }
    }
}

// Q6_K (210 B): ql[128], qh[64], scales[16] (int8), d. 16 sub-blocks of 16 with makeQx16
// scales, re-quantized to int8 against d = max_scale / -128.
void quantQ6_K(const float* x, uint64_t nb, uint8_t* y)
{
    int8_t L[QKK];
    float scales[16];
    for (uint64_t i = 0; i < nb; ++i, x += QKK, y += 210) {
        makeQx16(x, 32, L, scales);
        float maxScale = 0, maxAbsScale = 0;
        for (int ib = 0; ib < 16; ++ib) {
            const float a = std::fabs(scales[ib]);
            if (a > maxAbsScale) {
                maxAbsScale = a;
                maxScale = scales[ib];
            }
        }
        if (maxAbsScale < 1e-15f) {
            std::memset(y, 0, 210);
            continue;
        }
        const float iscale = -128.0f / maxScale;
        putHalf(y + 208, 1.0f / iscale);
        auto* sc = reinterpret_cast<int8_t*>(y + 192);
        for (int ib = 0; ib < 16; ++ib)
            sc[ib] = static_cast<int8_t>(std::min(127, nearestInt(iscale * scales[ib])));
        const float d = halfAt(y + 208);
        for (int j = 0; j < 16; ++j) {
            const float dj = d * static_cast<float>(sc[j]);
            if (dj == 0)
                continue;
            for (int k = 0; k < 16; ++k)
                L[16 * j + k] = static_cast<int8_t>(std::clamp(nearestInt(x[16 * j + k] / dj), -32, 31) + 32);
        }
        uint8_t* ql = y;
        uint8_t* qh = y + 128;
        for (int h = 0; h < 2; ++h, ql += 64, qh += 32) {
            const int8_t* Lh = L + 128 * h;
            for (int l = 0; l < 32; ++l) {
                const int q1 = Lh[l], q2 = Lh[l + 32], q3 = Lh[l + 64], q4 = Lh[l + 96];
                ql[l] = static_cast<uint8_t>((q1 & 0x0F) | ((q3 & 0x0F) << 4));
                ql[l + 32] = static_cast<uint8_t>((q2 & 0x0F) | ((q4 & 0x0F) << 4));
                qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
        }
    }
}

} // namespace

bool ggmlQuantSupported(DType t)
{
    switch (t) {
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::Q4_1:
    case DType::Q5_0:
    case DType::Q5_1:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K: return true;
    default: return false;
    }
}

void quantizeGgmlRow(DType t, const float* src, uint64_t n, uint8_t* dst)
{
    const DTypeInfo& info = dtypeInfo(t);
    if (!ggmlQuantSupported(t))
        throw Error("quantizeGgmlRow: no quantizer for " + std::string(info.name));
    if (n % info.blockElems != 0)
        throw Error("quantizeGgmlRow: " + std::to_string(n) + " elements are not a multiple of the " +
                    std::string(info.name) + " block size " + std::to_string(info.blockElems));
    const uint64_t nb = n / info.blockElems;
    switch (t) {
    case DType::Q8_0: quantQ8_0(src, nb, dst); return;
    case DType::Q4_0: quantQ4_0(src, nb, dst); return;
    case DType::Q4_1: quantQ4_1(src, nb, dst); return;
    case DType::Q5_0: quantQ5_0(src, nb, dst); return;
    case DType::Q5_1: quantQ5_1(src, nb, dst); return;
    case DType::Q4_K: quantQ4_K(src, nb, dst); return;
    case DType::Q5_K: quantQ5_K(src, nb, dst); return;
    case DType::Q6_K: quantQ6_K(src, nb, dst); return;
    default: return;
    }
}

void fakeQuantGgml(DType t, const float* w, uint64_t n, float* out)
{
    const DTypeInfo& info = dtypeInfo(t);
    if (!ggmlQuantSupported(t))
        throw Error("fakeQuantGgml: no quantizer for " + std::string(info.name));
    if (n % info.blockElems != 0)
        throw Error("fakeQuantGgml: " + std::to_string(n) + " elements are not a multiple of the " +
                    std::string(info.name) + " block size " + std::to_string(info.blockElems));
    // Each task quantizes a chunk of blocks into a small buffer and dequantizes it into out.
    const uint64_t blocksPerChunk = info.blockElems == QKK ? 16 : 128;
    const uint64_t chunkElems = blocksPerChunk * info.blockElems;
    const int64_t chunks = static_cast<int64_t>((n + chunkElems - 1) / chunkElems);
#pragma omp parallel
    {
        std::unique_ptr<uint8_t[]> buf(new uint8_t[blocksPerChunk * info.blockBytes]);
#pragma omp for schedule(static)
        for (int64_t c = 0; c < chunks; ++c) {
            const uint64_t first = static_cast<uint64_t>(c) * chunkElems;
            const uint64_t len = std::min(chunkElems, n - first);
            quantizeGgmlRow(t, w + first, len, buf.get());
            dequantizeBlocks(t, buf.get(), len, out + first);
        }
    }
}

uint64_t ggmlStorageBits(DType t, uint64_t n)
{
    const DTypeInfo& info = dtypeInfo(t);
    if (info.blockElems == 0)
        return 0;
    return (n + info.blockElems - 1) / info.blockElems * info.blockBytes * 8;
}

} // namespace bonsai
