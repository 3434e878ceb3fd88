// GGUF K super-block quantizers of 2 and 3 bits (Q2_K, Q3_K), bit-exact with llama.cpp's
// reference quantize_row_q2_K_ref / quantize_row_q3_K_ref. Those are what llama.cpp writes
// without an importance matrix: its quantize_q2_K / quantize_q3_K (called by
// ggml_quantize_chunk and llama-quantize) take the _ref path when the imatrix is null.
//  - Q2_K: make_qkx2_quants (nmax 3, weights |x|, absolute error) on 16 sub-blocks of 16,
//    4-bit sub-block scales and mins against fp16 d = max_scale / 15, dmin = max_min / 15;
//  - Q3_K: make_q3_quants (nmax 4, weights x^2, iterative refinement) on 16 sub-blocks of 16,
//    signed 6-bit sub-block scales against fp16 d = max_scale / -32.
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

namespace {

// ggml's make_q3_quants with do_rmse for the 16 sub-blocks (16 values each) of a Q3_K
// super-block at once, the sub-blocks being the lanes of every loop as in makeQkx2Lanes.
// Per sub-block: symmetric quants l in [-nmax, nmax) from the inverse scale -nmax / max (max =
// the value of largest magnitude), weights x^2; then up to 5 passes that try, value by value,
// the quant that fits the least-squares scale of the other values, kept when it improves
// sumlx^2 / suml2. The reference stops a sub-block after a pass without change; a lane that
// has stopped changing repeats its pass identically (its state is unchanged), so the lanes
// run until none changes. An all-zero sub-block (max |x| < 1e-15) gets L = 0 and scale 0.
// Outputs L[16 k + i] = l + nmax and scale[k] = sumlx / suml2.
void makeQ3x16(const float* x, int nmax, uint8_t* L, float* scaleOut)
{
    constexpr int K = 16, N = 16;
    float xT[N][K];
    int LT[N][K];
    transposeLanes<K, N>(x, xT);
    float mx[K], iscale[K], sumLX[K], sumL2[K];
    bool zero[K];
    symmetricStartLanes<K, N>(xT, mx, zero);
    for (int k = 0; k < K; ++k)
        iscale[k] = -static_cast<float>(nmax) / mx[k];
    symmetricQuantLanes<K, N>(xT, iscale, nmax, LT, sumLX, sumL2);
    for (int pass = 0; pass < 5; ++pass) {
        bool changed = false;
        for (int i = 0; i < N; ++i)
            for (int k = 0; k < K; ++k) {
                const float xi = xT[i][k];
                const float w = xi * xi;
                const float old = static_cast<float>(LT[i][k]);
                const float slxOthers = sumLX[k] - w * xi * old;  // the reference's slx before the update
                const float sl2Others = sumL2[k] - w * old * old;
                const int nl = std::clamp(nearestInt(xi * sl2Others / slxOthers), -nmax, nmax - 1);
                const float fnl = static_cast<float>(nl);
                const float slx = slxOthers + w * xi * fnl;
                const float sl2 = sl2Others + w * fnl * fnl;
                const bool take = !zero[k] && slxOthers > 0 && nl != LT[i][k] && sl2 > 0 &&
                                  slx * slx * sumL2[k] > sumLX[k] * sumLX[k] * sl2;
                changed |= take;
                LT[i][k] = take ? nl : LT[i][k];
                sumLX[k] = take ? slx : sumLX[k];
                sumL2[k] = take ? sl2 : sumL2[k];
            }
        if (!changed)
            break;
    }
    for (int k = 0; k < K; ++k) {
        scaleOut[k] = zero[k] || !(sumL2[k] > 0) ? 0.0f : sumLX[k] / sumL2[k];
        for (int i = 0; i < N; ++i)
            L[N * k + i] = zero[k] ? uint8_t{0} : static_cast<uint8_t>(LT[i][k] + nmax);
    }
}

// The 2-bit quants of Q2_K and Q3_K: qs[32g + l] holds L[128g + l] in bits 0-1,
// L[128g + 32 + l] in bits 2-3, L[128g + 64 + l] in 4-5 and L[128g + 96 + l] in 6-7.
void pack2Bit(const uint8_t* L, uint8_t* qs)
{
    for (int g = 0; g < 2; ++g, L += 128, qs += 32)
        for (int l = 0; l < 32; ++l)
            qs[l] = static_cast<uint8_t>(L[l] | (L[l + 32] << 2) | (L[l + 64] << 4) | (L[l + 96] << 6));
}

} // namespace

// Q2_K (84 B): scales[16] (scale in the low nibble, min in the high one), qs[64], d, dmin.
void quantQ2_K(const float* x, uint64_t nb, uint8_t* y)
{
    uint8_t L[QKK];
    float w[QKK], scales[16], mins[16];
    for (uint64_t b = 0; b < nb; ++b, x += QKK, y += 84) {
        for (int i = 0; i < QKK; ++i)
            w[i] = std::fabs(x[i]);
        makeQkx2Lanes<16, 16>(x, w, 3, -0.5f, 0.1f, 15, true, L, scales, mins);
        const float maxScale = largestPositive(scales, 16), maxMin = largestPositive(mins, 16);
        uint8_t* s = y;
        // The reference stores nearest_int into the uint8_t scale byte, then ORs the min's
        // nearest_int shifted by 4 into it.
        if (maxScale > 0) {
            const float iscale = 15.0f / maxScale;
            for (int j = 0; j < 16; ++j)
                s[j] = static_cast<uint8_t>(nearestInt(iscale * scales[j]));
            putHalf(y + 80, maxScale / 15.0f);
        } else {
            std::memset(s, 0, 16);
            putHalf(y + 80, 0.0f);
        }
        if (maxMin > 0) {
            const float iscale = 15.0f / maxMin;
            for (int j = 0; j < 16; ++j)
                s[j] = static_cast<uint8_t>(s[j] | (nearestInt(iscale * mins[j]) << 4));
            putHalf(y + 82, maxMin / 15.0f);
        } else {
            putHalf(y + 82, 0.0f);
        }
        const float d = halfAt(y + 80), dmin = halfAt(y + 82);
        for (int j = 0; j < 16; ++j)
            requantAsymmetric(x + 16 * j, 16, d * static_cast<float>(s[j] & 0x0F), dmin * static_cast<float>(s[j] >> 4),
                              3, L + 16 * j);
        pack2Bit(L, y + 16);
    }
}

// Q3_K (110 B): hmask[32], qs[64], scales[12], d. The 6-bit scale of sub-block j (stored + 32)
// has its low nibble in scales[j] (j < 8) or in the high nibble of scales[j - 8], and its top
// two bits at bit 2 (j / 4) of scales[8 + j % 4]. The third bit of quant j is bit j / 32 of
// hmask[j % 32].
void quantQ3_K(const float* x, uint64_t nb, uint8_t* y)
{
    uint8_t L[QKK];
    float scales[16];
    for (uint64_t b = 0; b < nb; ++b, x += QKK, y += 110) {
        makeQ3x16(x, 4, L, scales);
        float amax;
        const float maxScale = largestMagnitude(scales, 16, amax);
        uint8_t* s = y + 96;
        std::memset(s, 0, 12);
        if (maxScale != 0) {
            const float iscale = -32.0f / maxScale;
            for (int j = 0; j < 16; ++j) {
                // The reference keeps nearest_int in an int8_t before clamping.
                const int l = std::clamp<int>(static_cast<int8_t>(nearestInt(iscale * scales[j])), -32, 31) + 32;
                if (j < 8)
                    s[j] = static_cast<uint8_t>(l & 0x0F);
                else
                    s[j - 8] = static_cast<uint8_t>(s[j - 8] | ((l & 0x0F) << 4));
                s[8 + j % 4] = static_cast<uint8_t>(s[8 + j % 4] | ((l >> 4) << (2 * (j / 4))));
            }
            putHalf(y + 108, 1.0f / iscale);
        } else {
            putHalf(y + 108, 0.0f);
        }
        const float d = halfAt(y + 108);
        for (int j = 0; j < 16; ++j) {
            const int lo = j < 8 ? s[j] & 0x0F : s[j - 8] >> 4;
            const int sc = (lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
            requantSymmetric(x + 16 * j, 16, d * static_cast<float>(sc), 4, L + 16 * j);
        }
        uint8_t* hmask = y;
        std::memset(hmask, 0, 32);
        for (int j = 0; j < QKK; ++j)
            if (L[j] > 3) {
                hmask[j % 32] = static_cast<uint8_t>(hmask[j % 32] | (1u << (j / 32)));
                L[j] = static_cast<uint8_t>(L[j] - 4);
            }
        pack2Bit(L, y + 32);
    }
}

} // namespace bonsai::ggml_detail
