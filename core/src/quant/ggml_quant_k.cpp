// GGUF K super-block quantizers (Q4_K, Q5_K, Q6_K), bit-exact with llama.cpp's reference
// quantize_row_q{4,5,6}_K_ref (the path without an importance matrix): make_qkx2_quants /
// make_qx_quants searches, 6-bit / int8 sub-block scales, fp16 super-block scales, packing.
// Q2_K and Q3_K are in ggml_quant_k_low.cpp (which shares makeQkx2Lanes).
// The same arithmetic rules as ggml_quant.cpp apply (reference operation order, nearest_int,
// no FMA contraction). Block layouts: see ggml_dequant.cpp.
#include "bonsai/half.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "quant/ggml_quant_impl.h"

namespace bonsai::ggml_detail {

// ggml's make_qkx2_quants for the K sub-blocks (N values each) of a super-block at once: 8 x 32
// for Q4_K / Q5_K, 16 x 16 for Q2_K. Per sub-block: asymmetric quants L in [0, nmax] with
// per-value weights; start from the min/max grid, then try nstep + 1 alternative inverse
// scales (rmin + rdelta * is + nmax) / (max - min), fit scale and min by weighted least
// squares for each, and keep the one with the smallest weighted error (squared, or absolute
// when mad: the reference's use_mad).
//
// The reference runs the sub-blocks one after the other, each through long chains of
// dependent float additions (its sums must be accumulated in order to be bit-exact). Here the
// K sub-blocks are the K lanes of every loop ("for k < K" innermost, data transposed to
// [value][sub-block]): each lane performs exactly the reference's operations in the
// reference's order, while the K independent chains run side by side in vector registers.
// The reference's branches become per-lane selects.
// Outputs: L[N k + i], scale[k], negMin[k] (= -min >= 0).
template <int K, int N>
void makeQkx2Lanes(const float* x, const float* w, int nmax, float rmin, float rdelta, int nstep, bool mad,
                   uint8_t* L, float* scaleOut, float* negMinOut)
{
    float xT[N][K], wT[N][K];
    int LT[N][K], LauxT[N][K];
    transposeLanes<K, N>(x, xT);
    transposeLanes<K, N>(w, wT);
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
            bestErr[k] += wT[i][k] * (mad ? std::fabs(diff) : diff * diff);
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
                err[k] += wT[i][k] * (mad ? std::fabs(diff) : diff * diff);
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

template void makeQkx2Lanes<8, 32>(const float*, const float*, int, float, float, int, bool, uint8_t*, float*, float*);
template void makeQkx2Lanes<16, 16>(const float*, const float*, int, float, float, int, bool, uint8_t*, float*, float*);

namespace {

// ggml's make_qx_quants (rmse_type 1, no importance weights) for the 16 sub-blocks (16 values
// each) of a Q6_K super-block at once, the sub-blocks being the lanes of every loop as in
// makeQkx2Lanes. Per sub-block: symmetric quants L in [0, 2 nmax) (offset by nmax), weights
// x^2; start from the inverse scale -nmax / max (max = the value of largest magnitude), then
// try -(nmax + 0.1 is) / max for is = -9..9 and keep the best least-squares fit. An all-zero
// sub-block (max |x| < 1e-15) gets L = 0 and scale 0. Outputs L[16 k + i] and scale[k].
void makeQx16(const float* x, int nmax, int8_t* L, float* scaleOut)
{
    constexpr int K = 16, N = 16;
    float xT[N][K];
    int LT[N][K], LauxT[N][K];
    transposeLanes<K, N>(x, xT);
    const float fnmax = static_cast<float>(nmax);
    float mx[K];
    bool zero[K];
    symmetricStartLanes<K, N>(xT, mx, zero);
    float iscale[K], sumLX[K], sumL2[K], scale[K], best[K];
    for (int k = 0; k < K; ++k)
        iscale[k] = -fnmax / mx[k];
    symmetricQuantLanes<K, N>(xT, iscale, nmax, LT, sumLX, sumL2);
    for (int k = 0; k < K; ++k) {
        scale[k] = sumL2[k] != 0 ? sumLX[k] / sumL2[k] : 0.0f;
        best[k] = scale[k] * sumLX[k];
    }
    for (int is = -9; is <= 9; ++is) {
        if (is == 0)
            continue;
        for (int k = 0; k < K; ++k)
            iscale[k] = -(fnmax + 0.1f * static_cast<float>(is)) / mx[k];
        symmetricQuantLanes<K, N>(xT, iscale, nmax, LauxT, sumLX, sumL2);
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
            L[N * k + i] = zero[k] ? int8_t{0} : static_cast<int8_t>(LT[i][k] + nmax);
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

// The shared part of Q4_K and Q5_K: sub-block scales/mins (makeQkx2Lanes), the 6-bit packing, the
// fp16 super-scales d / dmin (written at s - 4 and s - 2), and the final quants L with the
// quantized scales (L keeps makeQkx2Lanes' values for a sub-block whose quantized scale is 0).
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
    makeQkx2Lanes<8, 32>(x, weights, nmax, rmin, rdelta, nstep, false, L, scales, mins);
    const float maxScale = largestPositive(scales, 8), maxMin = largestPositive(mins, 8);
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
        requantAsymmetric(x + 32 * j, 32, d * static_cast<float>(sc), dmin * static_cast<float>(m), nmax, L + 32 * j);
    }
}

} // namespace

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
        float maxAbsScale;
        const float maxScale = largestMagnitude(scales, 16, maxAbsScale);
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
        for (int j = 0; j < 16; ++j)
            requantSymmetric(x + 16 * j, 16, d * static_cast<float>(sc[j]), 32, L + 16 * j);
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

} // namespace bonsai::ggml_detail
