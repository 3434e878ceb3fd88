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
// The K super-block types are in ggml_quant_k.cpp and ggml_quant_k_low.cpp. Block layouts: see
// ggml_dequant.cpp.
#include "bonsai/quantize.h"

#include "bonsai/error.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#if defined(__AVX512F__) && defined(__F16C__)
// GCC 12 reports its own _mm512_undefined_ps() placeholders as maybe-uninitialized when the
// intrinsics are inlined (GCC bug 105593); the diagnostic state of the header lines decides.
// Clang has no such warning (nor that bug).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "quant/ggml_quant_impl.h"
#include "bonsai/ggml_blocks.h"

namespace bonsai {

namespace {

using namespace ggml_detail;

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
        // RNE, as floatToFp16 (_cvtss_sh's, without the compound literal of clang's macro)
        const auto h = static_cast<uint16_t>(_mm_cvtsi128_si32(_mm_cvtps_ph(_mm_set_ss(d), _MM_FROUND_TO_NEAREST_INT)));
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

} // namespace

using ggml_detail::quantQ2_K;
using ggml_detail::quantQ3_K;
using ggml_detail::quantQ4_K;
using ggml_detail::quantQ5_K;
using ggml_detail::quantQ6_K;

bool ggmlQuantSupported(DType t)
{
    switch (t) {
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::Q4_1:
    case DType::Q5_0:
    case DType::Q5_1:
    case DType::Q2_K:
    case DType::Q3_K:
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
    case DType::Q2_K: quantQ2_K(src, nb, dst); return;
    case DType::Q3_K: quantQ3_K(src, nb, dst); return;
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
