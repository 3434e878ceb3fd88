#pragma once
// Internals shared by the GGUF block quantizers (ggml_quant.cpp: the 32-element types and the
// public entry points; ggml_quant_k.cpp and ggml_quant_k_low.cpp: the K super-block types).
// Not a public header.
//
// Both files disable floating-point contraction (see ggml_quant.cpp): include this header
// after the pragma so that these helpers are compiled the same way.
#include "bonsai/half.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace bonsai::ggml_detail {

inline constexpr int QK = 32;   // elements per block of the simple types
inline constexpr int QKK = 256; // elements per K super-block

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

// The value of largest magnitude of v[0..n) (the first of equal magnitudes) and that
// magnitude, found as the reference's "if (ax > amax) { amax = ax; max = x[i]; }" loops do.
inline float largestMagnitude(const float* v, int n, float& amax)
{
    float mx = 0;
    amax = 0;
    for (int i = 0; i < n; ++i) {
        const float a = std::fabs(v[i]);
        if (a > amax) {
            amax = a;
            mx = v[i];
        }
    }
    return mx;
}

// The largest of 0 and v[0..n): the reference's max_scale / max_min of the asymmetric K types.
inline float largestPositive(const float* v, int n)
{
    float m = 0;
    for (int i = 0; i < n; ++i)
        if (v[i] > m)
            m = v[i];
    return m;
}

// The final asymmetric quants of a sub-block with its quantized scale d and min dm:
// L = nearest((x + dm) / d) clamped to [0, nmax]. A sub-block whose d is 0 keeps its L.
inline void requantAsymmetric(const float* x, int n, float d, float dm, int nmax, uint8_t* L)
{
    if (d == 0)
        return;
    for (int i = 0; i < n; ++i)
        L[i] = static_cast<uint8_t>(std::clamp(nearestInt((x[i] + dm) / d), 0, nmax));
}

// The final symmetric quants of a sub-block with its quantized scale d: L = nearest(x / d)
// clamped to [-nmax, nmax), stored + nmax. A sub-block whose d is 0 keeps its L.
template <typename T>
void requantSymmetric(const float* x, int n, float d, int nmax, T* L)
{
    if (d == 0)
        return;
    for (int i = 0; i < n; ++i)
        L[i] = static_cast<T>(std::clamp(nearestInt(x[i] / d), -nmax, nmax - 1) + nmax);
}

// Lane-wise searches run the K sub-blocks (N values each) of a super-block side by side, the
// data transposed to xT[value][sub-block] so that "for k < K" is the innermost loop.
template <int K, int N>
void transposeLanes(const float* x, float (&xT)[N][K])
{
    for (int k = 0; k < K; ++k)
        for (int i = 0; i < N; ++i)
            xT[i][k] = x[N * k + i];
}

// The start of ggml's symmetric searches (make_qx_quants, make_q3_quants) per lane: mx = the
// value of largest magnitude (the first of equal magnitudes, as the reference's
// "if (ax > amax) { amax = ax; max = x[i]; }" finds it) and zero = max |x| < 1e-15, the
// reference's all-zero case. A zero lane gets mx = 1 to keep its masked arithmetic finite.
template <int K, int N>
void symmetricStartLanes(const float (&xT)[N][K], float* mx, bool* zero)
{
    float amax[K];
    for (int k = 0; k < K; ++k)
        mx[k] = amax[k] = 0;
    for (int i = 0; i < N; ++i)
        for (int k = 0; k < K; ++k) {
            const float ax = std::fabs(xT[i][k]);
            const bool more = ax > amax[k];
            amax[k] = more ? ax : amax[k];
            mx[k] = more ? xT[i][k] : mx[k];
        }
    for (int k = 0; k < K; ++k) {
        zero[k] = amax[k] < 1e-15f;
        mx[k] = zero[k] ? 1.0f : mx[k];
    }
}

// Symmetric quants at the inverse scales iscale[k]: l = nearest(iscale x) clamped to
// [-nmax, nmax) into LT, with the sums of the weights x^2 in the reference's order:
// sumLX = sum (w x) l, sumL2 = sum (w l) l.
template <int K, int N>
void symmetricQuantLanes(const float (&xT)[N][K], const float* iscale, int nmax, int (&LT)[N][K], float* sumLX,
                         float* sumL2)
{
    for (int k = 0; k < K; ++k)
        sumLX[k] = sumL2[k] = 0;
    for (int i = 0; i < N; ++i)
        for (int k = 0; k < K; ++k) {
            const int l = std::clamp(nearestInt(iscale[k] * xT[i][k]), -nmax, nmax - 1);
            LT[i][k] = l;
            const float w = xT[i][k] * xT[i][k];
            const float fl = static_cast<float>(l);
            sumLX[k] += w * xT[i][k] * fl;
            sumL2[k] += w * fl * fl;
        }
}

// ggml's make_qkx2_quants on the K sub-blocks of N values of one super-block, the sub-blocks
// computed side by side (ggml_quant_k.cpp, instantiated for 8 x 32 and 16 x 16). w: the
// per-value weights; mad: absolute instead of squared error. Outputs L[N k + i] in [0, nmax],
// scale[k] and negMin[k] (= -min >= 0).
template <int K, int N>
void makeQkx2Lanes(const float* x, const float* w, int nmax, float rmin, float rdelta, int nstep, bool mad,
                   uint8_t* L, float* scale, float* negMin);

// K super-block quantizers: nb blocks of 256 floats from x into y (ggml_quant_k.cpp; Q2_K and
// Q3_K in ggml_quant_k_low.cpp).
void quantQ2_K(const float* x, uint64_t nb, uint8_t* y);
void quantQ3_K(const float* x, uint64_t nb, uint8_t* y);
void quantQ4_K(const float* x, uint64_t nb, uint8_t* y);
void quantQ5_K(const float* x, uint64_t nb, uint8_t* y);
void quantQ6_K(const float* x, uint64_t nb, uint8_t* y);

} // namespace bonsai::ggml_detail
