#pragma once
// Independent scalar transcription of llama.cpp's reference block quantizers, used by
// tst_ggml_quant.cpp to check bonsai's quantizers bit for bit. Test code only.
//
// The reference is plain C compiled without FMA contraction; so must the transcription be
// (this pragma applies to the rest of the including test file, which is intended).
#include "bonsai/dtype.h"
#include "bonsai/half.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

// ------------------------------------------------------------------------------------------
// Independent transcription of llama.cpp's reference K-quantizers (ggml-quants.c:
// nearest_int, make_qkx2_quants, make_qx_quants (rmse_type 1, no weights), make_q3_quants,
// get_scale_min_k4, quantize_row_q{2,3,4,5,6}_K_ref). Kept deliberately literal: same variable
// names, same statement order, same expression shapes.
// ------------------------------------------------------------------------------------------
namespace ggml_ref {

using Bytes = std::vector<uint8_t>;

inline float half_at(const uint8_t* p)
{
    uint16_t h;
    std::memcpy(&h, p, 2);
    return bonsai::fp16ToFloat(h);
}


inline int nearest_int(float fval)
{
    float val = fval + 12582912.f;
    int i;
    std::memcpy(&i, &val, sizeof(int));
    return (i & 0x007fffff) - 0x00400000;
}

inline float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad)
{
    float min = x[0];
    float max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; ++i) {
        int l = nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)std::max(0, std::min(nmax, l));
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        float w = weights[i];
        best_error += w * diff;
    }
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearest_int(iscale * (x[i] - min));
            l = std::max(0, std::min(nmax, l));
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; ++i) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = use_mad ? std::fabs(diff) : diff * diff;
                float w = weights[i];
                cur_error += w * diff;
            }
            if (cur_error < best_error) {
                for (int i = 0; i < n; ++i) L[i] = Laux[i];
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

inline float make_qx_quants_rmse1(int n, int nmax, const float* x, int8_t* L)
{
    float max = 0;
    float amax = 0;
    for (int i = 0; i < n; ++i) {
        float ax = std::fabs(x[i]);
        if (ax > amax) { amax = ax; max = x[i]; }
    }
    if (amax < 1e-15f) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0;
    float suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = nearest_int(iscale * x[i]);
        l = std::max(-nmax, std::min(nmax - 1, l));
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearest_int(iscale * x[i]);
            l = std::max(-nmax, std::min(nmax - 1, l));
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i) {
                int l = nearest_int(iscale * x[i]);
                L[i] = (int8_t)(nmax + std::max(-nmax, std::min(nmax - 1, l)));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m)
{
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
    }
}

inline void put_half(uint8_t* p, float f)
{
    uint16_t h = bonsai::floatToFp16(f);
    std::memcpy(p, &h, 2);
}

// Shared by Q4_K (nmax 15, rmin -1, nstep 20) and Q5_K (nmax 31, rmin -0.5, nstep 15):
// block bytes d[2] dmin[2] scales[12] at y; returns L.
inline void k_scales(const float* x, uint8_t* y, uint8_t* L, int nmax, float rmin, int nstep)
{
    uint8_t Laux[32];
    float weights[32];
    float mins[8];
    float scales[8];
    uint8_t* sc12 = y + 4;
    float max_scale = 0;
    float max_min = 0;
    for (int j = 0; j < 8; ++j) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = std::sqrt(sum_x2 / 32);
        for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
        scales[j] =
            make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep, false);
        float scale = scales[j];
        if (scale > max_scale) max_scale = scale;
        float min = mins[j];
        if (min > max_min) max_min = min;
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    std::memset(sc12, 0, 12);
    for (int j = 0; j < 8; ++j) {
        uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)nearest_int(inv_min * mins[j]);
        ls = std::min<uint8_t>(63, ls);
        lm = std::min<uint8_t>(63, lm);
        if (j < 4) {
            sc12[j] = ls;
            sc12[j + 4] = lm;
        } else {
            sc12[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
            sc12[j - 4] |= (uint8_t)((ls >> 4) << 6);
            sc12[j - 0] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    put_half(y, max_scale / 63.f);
    put_half(y + 2, max_min / 63.f);
    uint8_t sc, m;
    for (int j = 0; j < 8; ++j) {
        get_scale_min_k4(j, sc12, &sc, &m);
        const float d = half_at(y) * sc;
        if (!d) continue;
        const float dm = half_at(y + 2) * m;
        for (int ii = 0; ii < 32; ++ii) {
            int l = nearest_int((x[32 * j + ii] + dm) / d);
            l = std::max(0, std::min(nmax, l));
            L[32 * j + ii] = (uint8_t)l;
        }
    }
}

inline void quantize_q4_K(const float* x, uint8_t* y) // one 256-value block -> 144 bytes
{
    uint8_t L[256];
    k_scales(x, y, L, 15, -1.f, 20);
    uint8_t* q = y + 16;
    for (int j = 0; j < 256; j += 64) {
        for (int l = 0; l < 32; ++l) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
        q += 32;
    }
}

inline void quantize_q5_K(const float* x, uint8_t* y) // -> 176 bytes
{
    uint8_t L[256];
    k_scales(x, y, L, 31, -0.5f, 15);
    uint8_t* qh = y + 16;
    uint8_t* ql = y + 48;
    std::memset(qh, 0, 32);
    uint8_t m1 = 1, m2 = 2;
    for (int n = 0; n < 256; n += 64) {
        for (int j = 0; j < 32; ++j) {
            int l1 = L[n + j];
            if (l1 > 15) { l1 -= 16; qh[j] |= m1; }
            int l2 = L[n + j + 32];
            if (l2 > 15) { l2 -= 16; qh[j] |= m2; }
            ql[j] = (uint8_t)(l1 | (l2 << 4));
        }
        m1 <<= 2;
        m2 <<= 2;
        ql += 32;
    }
}

inline void quantize_q6_K(const float* x, uint8_t* y) // -> 210 bytes: ql[128] qh[64] scales[16] d
{
    int8_t L[256];
    float scales[16];
    float max_scale = 0;
    float max_abs_scale = 0;
    for (int ib = 0; ib < 16; ++ib) {
        const float scale = make_qx_quants_rmse1(16, 32, x + 16 * ib, L + 16 * ib);
        scales[ib] = scale;
        const float abs_scale = std::fabs(scale);
        if (abs_scale > max_abs_scale) {
            max_abs_scale = abs_scale;
            max_scale = scale;
        }
    }
    if (max_abs_scale < 1e-15f) {
        std::memset(y, 0, 210);
        return;
    }
    int8_t* ysc = reinterpret_cast<int8_t*>(y + 192);
    float iscale = -128.f / max_scale;
    put_half(y + 208, 1 / iscale);
    for (int ib = 0; ib < 16; ++ib) ysc[ib] = (int8_t)std::min(127, nearest_int(iscale * scales[ib]));
    for (int j = 0; j < 16; ++j) {
        float d = half_at(y + 208) * ysc[j];
        if (!d) continue;
        for (int ii = 0; ii < 16; ++ii) {
            int l = nearest_int(x[16 * j + ii] / d);
            l = std::max(-32, std::min(31, l));
            L[16 * j + ii] = (int8_t)(l + 32);
        }
    }
    uint8_t* ql = y;
    uint8_t* qh = y + 128;
    for (int j = 0; j < 256; j += 128) {
        for (int l = 0; l < 32; ++l) {
            const uint8_t q1 = L[j + l + 0] & 0xF;
            const uint8_t q2 = L[j + l + 32] & 0xF;
            const uint8_t q3 = L[j + l + 64] & 0xF;
            const uint8_t q4 = L[j + l + 96] & 0xF;
            ql[l + 0] = (uint8_t)(q1 | (q3 << 4));
            ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
            qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                              ((L[j + l + 96] >> 4) << 6));
        }
        ql += 64;
        qh += 32;
    }
}

inline float make_q3_quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse)
{
    float max = 0;
    float amax = 0;
    for (int i = 0; i < n; ++i) {
        float ax = std::fabs(x[i]);
        if (ax > amax) { amax = ax; max = x[i]; }
    }
    if (amax < 1e-15f) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max;
    if (do_rmse) {
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearest_int(iscale * x[i]);
            l = std::max(-nmax, std::min(nmax - 1, l));
            L[i] = (int8_t)l;
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        for (int itry = 0; itry < 5; ++itry) {
            int n_changed = 0;
            for (int i = 0; i < n; ++i) {
                float w = x[i] * x[i];
                float slx = sumlx - w * x[i] * L[i];
                if (slx > 0) {
                    float sl2 = suml2 - w * L[i] * L[i];
                    int new_l = nearest_int(x[i] * sl2 / slx);
                    new_l = std::max(-nmax, std::min(nmax - 1, new_l));
                    if (new_l != L[i]) {
                        slx += w * x[i] * new_l;
                        sl2 += w * new_l * new_l;
                        if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                            L[i] = (int8_t)new_l;
                            sumlx = slx;
                            suml2 = sl2;
                            ++n_changed;
                        }
                    }
                }
            }
            if (!n_changed) break;
        }
        for (int i = 0; i < n; ++i) L[i] += nmax;
        return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
    }
    for (int i = 0; i < n; ++i) {
        int l = nearest_int(iscale * x[i]);
        l = std::max(-nmax, std::min(nmax - 1, l));
        L[i] = (int8_t)(l + nmax);
    }
    return 1 / iscale;
}

// qs of Q2_K and Q3_K: four 2-bit quants per byte, 32 apart.
inline void pack_2bit(const uint8_t* L, uint8_t* qs)
{
    for (int j = 0; j < 256; j += 128) {
        for (int l = 0; l < 32; ++l)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
    }
}

inline void quantize_q2_K(const float* x, uint8_t* y) // -> 84 bytes: scales[16] qs[64] d dmin
{
    uint8_t L[256];
    uint8_t Laux[16];
    float weights[16];
    float mins[16];
    float scales[16];
    uint8_t* ysc = y;
    const float q4scale = 15.f;
    float max_scale = 0;
    float max_min = 0;
    for (int j = 0; j < 16; ++j) {
        for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
        scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
        float scale = scales[j];
        if (scale > max_scale) max_scale = scale;
        float min = mins[j];
        if (min > max_min) max_min = min;
    }
    if (max_scale > 0) {
        float iscale = q4scale / max_scale;
        for (int j = 0; j < 16; ++j) {
            int l = nearest_int(iscale * scales[j]);
            ysc[j] = (uint8_t)l;
        }
        put_half(y + 80, max_scale / q4scale);
    } else {
        for (int j = 0; j < 16; ++j) ysc[j] = 0;
        put_half(y + 80, 0.f);
    }
    if (max_min > 0) {
        float iscale = q4scale / max_min;
        for (int j = 0; j < 16; ++j) {
            int l = nearest_int(iscale * mins[j]);
            ysc[j] |= (uint8_t)(l << 4);
        }
        put_half(y + 82, max_min / q4scale);
    } else {
        put_half(y + 82, 0.f);
    }
    for (int j = 0; j < 16; ++j) {
        const float d = half_at(y + 80) * (ysc[j] & 0xF);
        if (!d) continue;
        const float dm = half_at(y + 82) * (ysc[j] >> 4);
        for (int ii = 0; ii < 16; ++ii) {
            int l = nearest_int((x[16 * j + ii] + dm) / d);
            l = std::max(0, std::min(3, l));
            L[16 * j + ii] = (uint8_t)l;
        }
    }
    pack_2bit(L, y + 16);
}

inline void quantize_q3_K(const float* x, uint8_t* y) // -> 110 bytes: hmask[32] qs[64] scales[12] d
{
    int8_t L[256];
    float scales[16];
    uint8_t* hmask = y;
    uint8_t* ysc = y + 96;
    float max_scale = 0;
    float amax = 0;
    for (int j = 0; j < 16; ++j) {
        scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j, true);
        float scale = std::fabs(scales[j]);
        if (scale > amax) {
            amax = scale;
            max_scale = scales[j];
        }
    }
    std::memset(ysc, 0, 12);
    if (max_scale) {
        float iscale = -32.f / max_scale;
        for (int j = 0; j < 16; ++j) {
            int8_t l = (int8_t)nearest_int(iscale * scales[j]);
            l = (int8_t)(std::max<int>(-32, std::min<int>(31, l)) + 32);
            if (j < 8) {
                ysc[j] = (uint8_t)(l & 0xF);
            } else {
                ysc[j - 8] |= (uint8_t)((l & 0xF) << 4);
            }
            l >>= 4;
            ysc[j % 4 + 8] |= (uint8_t)(l << (2 * (j / 4)));
        }
        put_half(y + 108, 1 / iscale);
    } else {
        put_half(y + 108, 0.f);
    }
    int8_t sc;
    for (int j = 0; j < 16; ++j) {
        sc = (int8_t)(j < 8 ? ysc[j] & 0xF : ysc[j - 8] >> 4);
        sc = (int8_t)((sc | (((ysc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32);
        float d = half_at(y + 108) * sc;
        if (!d) continue;
        for (int ii = 0; ii < 16; ++ii) {
            int l = nearest_int(x[16 * j + ii] / d);
            l = std::max(-4, std::min(3, l));
            L[16 * j + ii] = (int8_t)(l + 4);
        }
    }
    std::memset(hmask, 0, 32);
    int m = 0;
    uint8_t hm = 1;
    for (int j = 0; j < 256; ++j) {
        if (L[j] > 3) {
            hmask[m] |= hm;
            L[j] -= 4;
        }
        if (++m == 32) {
            m = 0;
            hm <<= 1;
        }
    }
    uint8_t Lu[256];
    for (int j = 0; j < 256; ++j) Lu[j] = (uint8_t)L[j];
    pack_2bit(Lu, y + 32);
}

// The 32-element reference quantizers (quantize_row_q8_0_ref, q4_0, q4_1, q5_0, q5_1), one
// block each, transcribed the same way.
inline void quantize_simple(bonsai::DType t, const float* x, uint8_t* y)
{
    const int qk = 32;
    if (t == bonsai::DType::Q8_0) {
        float amax = 0.0f;
        for (int j = 0; j < qk; j++) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / ((1 << 7) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        put_half(y, d);
        for (int j = 0; j < qk; ++j) y[2 + j] = (uint8_t)(int8_t)std::roundf(x[j] * id);
        return;
    }
    if (t == bonsai::DType::Q4_0 || t == bonsai::DType::Q5_0) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < qk; j++) {
            if (amax < std::fabs(x[j])) { amax = std::fabs(x[j]); max = x[j]; }
        }
        const bool five = t == bonsai::DType::Q5_0;
        const float d = max / (five ? -16 : -8);
        const float id = d ? 1.0f / d : 0.0f;
        put_half(y, d);
        uint32_t qh = 0;
        for (int j = 0; j < qk / 2; ++j) {
            const float x0 = x[j] * id;
            const float x1 = x[qk / 2 + j] * id;
            if (!five) {
                const uint8_t xi0 = (uint8_t)std::min(15, (int)(int8_t)(x0 + 8.5f));
                const uint8_t xi1 = (uint8_t)std::min(15, (int)(int8_t)(x1 + 8.5f));
                y[2 + j] = (uint8_t)(xi0 | (xi1 << 4));
            } else {
                const uint8_t xi0 = (uint8_t)std::min(31, (int)(int8_t)(x0 + 16.5f));
                const uint8_t xi1 = (uint8_t)std::min(31, (int)(int8_t)(x1 + 16.5f));
                y[6 + j] = (uint8_t)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
                qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
                qh |= ((xi1 & 0x10u) >> 4) << (j + qk / 2);
            }
        }
        if (five) std::memcpy(y + 2, &qh, 4);
        return;
    }
    // Q4_1, Q5_1
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < qk; j++) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
    }
    const bool five = t == bonsai::DType::Q5_1;
    const float d = (max - min) / ((1 << (five ? 5 : 4)) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    put_half(y, d);
    put_half(y + 2, min);
    uint32_t qh = 0;
    for (int j = 0; j < qk / 2; ++j) {
        const float x0 = (x[j] - min) * id;
        const float x1 = (x[qk / 2 + j] - min) * id;
        if (!five) {
            const uint8_t xi0 = (uint8_t)std::min(15, (int)(int8_t)(x0 + 0.5f));
            const uint8_t xi1 = (uint8_t)std::min(15, (int)(int8_t)(x1 + 0.5f));
            y[4 + j] = (uint8_t)(xi0 | (xi1 << 4));
        } else {
            const uint8_t xi0 = (uint8_t)(x0 + 0.5f);
            const uint8_t xi1 = (uint8_t)(x1 + 0.5f);
            y[8 + j] = (uint8_t)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
            qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
            qh |= ((xi1 & 0x10u) >> 4) << (j + qk / 2);
        }
    }
    if (five) std::memcpy(y + 4, &qh, 4);
}

inline Bytes quantize(bonsai::DType t, const std::vector<float>& x)
{
    const uint32_t bytes = bonsai::dtypeInfo(t).blockBytes;
    Bytes out(x.size() / bonsai::dtypeInfo(t).blockElems * bytes);
    if (bonsai::dtypeInfo(t).blockElems == 32) {
        for (size_t b = 0; b < x.size() / 32; ++b)
            quantize_simple(t, x.data() + 32 * b, out.data() + bytes * b);
        return out;
    }
    for (size_t b = 0; b < x.size() / 256; ++b) {
        if (t == bonsai::DType::Q2_K) quantize_q2_K(x.data() + 256 * b, out.data() + bytes * b);
        if (t == bonsai::DType::Q3_K) quantize_q3_K(x.data() + 256 * b, out.data() + bytes * b);
        if (t == bonsai::DType::Q4_K) quantize_q4_K(x.data() + 256 * b, out.data() + bytes * b);
        if (t == bonsai::DType::Q5_K) quantize_q5_K(x.data() + 256 * b, out.data() + bytes * b);
        if (t == bonsai::DType::Q6_K) quantize_q6_K(x.data() + 256 * b, out.data() + bytes * b);
    }
    return out;
}

} // namespace ggml_ref
