// Tests of the GGUF block quantizers (quantizeGgmlRow / fakeQuantGgml).
//
//  - Q8_0, Q4_0, Q4_1, Q5_0, Q5_1: blocks worked out by hand from llama.cpp's reference
//    algorithm (quantize_row_*_ref), byte for byte.
//  - All types, Q4_K, Q5_K and Q6_K in particular: bit-exact comparison with an independent
//    transcription of the reference algorithm kept in this file (namespace ref below: plain
//    scalar C-style code written line by line after ggml-quants.c, sharing nothing with the
//    kernels) on varied blocks; a Q6_K block derived by hand; structural invariants of the
//    blocks and RMSE ordering.
//  - Every type: quantize -> dequantizeBlocks reproduces the input within the block's step.
#include "bonsai/dtype.h"
#include "bonsai/error.h"
#include "bonsai/half.h"
#include "bonsai/model.h"
#include "bonsai/quantize.h"

#include <QtTest>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

// The reference is plain C compiled without FMA contraction; so must the transcription be.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

using namespace bonsai;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes quant(DType t, const std::vector<float>& x)
{
    Bytes b(*storageBytes(t, x.size()), 0xAA);
    quantizeGgmlRow(t, x.data(), x.size(), b.data());
    return b;
}

uint16_t u16(const uint8_t* p)
{
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}

float f16at(const uint8_t* p) { return fp16ToFloat(u16(p)); }

std::vector<float> gaussian(size_t n, unsigned seed, float sigma = 1.0f)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, sigma);
    std::vector<float> v(n);
    for (auto& x : v)
        x = nd(rng);
    return v;
}

double rmse(const std::vector<float>& a, const std::vector<float>& b)
{
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i)
        s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    return std::sqrt(s / double(a.size()));
}

// ------------------------------------------------------------------------------------------
// Independent transcription of llama.cpp's reference K-quantizers (ggml-quants.c:
// nearest_int, make_qkx2_quants, make_qx_quants (rmse_type 1, no weights), get_scale_min_k4,
// quantize_row_q4_K_ref, quantize_row_q5_K_ref, quantize_row_q6_K_ref). Kept deliberately
// literal: same variable names, same statement order, same expression shapes.
// ------------------------------------------------------------------------------------------
namespace ref {

int nearest_int(float fval)
{
    float val = fval + 12582912.f;
    int i;
    std::memcpy(&i, &val, sizeof(int));
    return (i & 0x007fffff) - 0x00400000;
}

float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep)
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
        diff = diff * diff;
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
                diff = diff * diff;
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

float make_qx_quants_rmse1(int n, int nmax, const float* x, int8_t* L)
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

void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m)
{
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
    }
}

void put_half(uint8_t* p, float f)
{
    uint16_t h = floatToFp16(f);
    std::memcpy(p, &h, 2);
}

// Shared by Q4_K (nmax 15, rmin -1, nstep 20) and Q5_K (nmax 31, rmin -0.5, nstep 15):
// block bytes d[2] dmin[2] scales[12] at y; returns L.
void k_scales(const float* x, uint8_t* y, uint8_t* L, int nmax, float rmin, int nstep)
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
        scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep);
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
        const float d = f16at(y) * sc;
        if (!d) continue;
        const float dm = f16at(y + 2) * m;
        for (int ii = 0; ii < 32; ++ii) {
            int l = nearest_int((x[32 * j + ii] + dm) / d);
            l = std::max(0, std::min(nmax, l));
            L[32 * j + ii] = (uint8_t)l;
        }
    }
}

void quantize_q4_K(const float* x, uint8_t* y) // one 256-value block -> 144 bytes
{
    uint8_t L[256];
    k_scales(x, y, L, 15, -1.f, 20);
    uint8_t* q = y + 16;
    for (int j = 0; j < 256; j += 64) {
        for (int l = 0; l < 32; ++l) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
        q += 32;
    }
}

void quantize_q5_K(const float* x, uint8_t* y) // -> 176 bytes
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

void quantize_q6_K(const float* x, uint8_t* y) // -> 210 bytes: ql[128] qh[64] scales[16] d
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
        float d = f16at(y + 208) * ysc[j];
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

// The 32-element reference quantizers (quantize_row_q8_0_ref, q4_0, q4_1, q5_0, q5_1), one
// block each, transcribed the same way.
void quantize_simple(DType t, const float* x, uint8_t* y)
{
    const int qk = 32;
    if (t == DType::Q8_0) {
        float amax = 0.0f;
        for (int j = 0; j < qk; j++) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / ((1 << 7) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        put_half(y, d);
        for (int j = 0; j < qk; ++j) y[2 + j] = (uint8_t)(int8_t)std::roundf(x[j] * id);
        return;
    }
    if (t == DType::Q4_0 || t == DType::Q5_0) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < qk; j++) {
            if (amax < std::fabs(x[j])) { amax = std::fabs(x[j]); max = x[j]; }
        }
        const bool five = t == DType::Q5_0;
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
    const bool five = t == DType::Q5_1;
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

Bytes quantize(DType t, const std::vector<float>& x)
{
    const uint32_t bytes = dtypeInfo(t).blockBytes;
    Bytes out(x.size() / dtypeInfo(t).blockElems * bytes);
    if (dtypeInfo(t).blockElems == 32) {
        for (size_t b = 0; b < x.size() / 32; ++b)
            quantize_simple(t, x.data() + 32 * b, out.data() + bytes * b);
        return out;
    }
    for (size_t b = 0; b < x.size() / 256; ++b) {
        if (t == DType::Q4_K) quantize_q4_K(x.data() + 256 * b, out.data() + bytes * b);
        if (t == DType::Q5_K) quantize_q5_K(x.data() + 256 * b, out.data() + bytes * b);
        if (t == DType::Q6_K) quantize_q6_K(x.data() + 256 * b, out.data() + bytes * b);
    }
    return out;
}

} // namespace ref

// Test vectors for the K types: Gaussian, uniform, all-positive, all-negative, with an
// outlier, constant, all zero, tiny values, sparse.
std::vector<float> kInputs()
{
    std::vector<float> x;
    auto add = [&](const std::vector<float>& v) { x.insert(x.end(), v.begin(), v.end()); };
    for (unsigned s = 0; s < 12; ++s)
        add(gaussian(256, 100 + s, 0.02f + 0.3f * float(s)));
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> v(256);
    for (auto& e : v) e = u(rng);
    add(v);
    for (auto& e : v) e = std::fabs(u(rng)) + 0.5f; // all positive, away from 0
    add(v);
    for (auto& e : v) e = -std::fabs(u(rng)) * 3; // all negative
    add(v);
    auto g = gaussian(256, 77);
    g[100] = 40.0f; // outlier
    add(g);
    add(std::vector<float>(256, 0.75f)); // constant
    add(std::vector<float>(256, 0.0f));  // zero
    add(gaussian(256, 78, 1e-6f));       // tiny
    std::vector<float> sparse(256, 0.0f);
    sparse[3] = 1.0f;
    sparse[200] = -0.5f;
    add(sparse);
    // Halves with amax 127 (Q8_0: d = 1, every value a rounding tie) and integers.
    std::vector<float> ties(256);
    for (int j = 0; j < 256; ++j)
        ties[j] = j % 32 == 0 ? 127.0f : float((j * 37) % 254 - 127) + 0.5f;
    add(ties);
    for (int j = 0; j < 256; ++j)
        ties[j] = float(j % 17) - 8.0f;
    add(ties);
    return x;
}

} // namespace

class TestGgmlQuant : public QObject {
    Q_OBJECT

private slots:
    void q8_0Hand()
    {
        // x_j = j: amax 31, d = 31/127 -> fp16 0.244140625 (0x33D0); id = 1 / (31/127) =
        // 4.0968; q_j = roundf(j * id) = round(127 j / 31) (no value is near a .5).
        std::vector<float> x(32);
        for (int j = 0; j < 32; ++j)
            x[j] = float(j);
        const Bytes b = quant(DType::Q8_0, x);
        QCOMPARE(b.size(), size_t(34));
        QCOMPARE(u16(b.data()), uint16_t(0x33D0));
        const int want[32] = {0, 4, 8, 12, 16, 20, 25, 29, 33, 37, 41, 45, 49, 53, 57, 61,
                              66, 70, 74, 78, 82, 86, 90, 94, 98, 102, 107, 111, 115, 119, 123, 127};
        for (int j = 0; j < 32; ++j)
            QCOMPARE(int(int8_t(b[2 + j])), want[j]);
        // Ties: amax 127 -> d = 1, id = 1; roundf rounds halves away from zero (2.5 -> 3,
        // -2.5 -> -3, 0.5 -> 1), unlike nearest_int.
        std::vector<float> t(32, 0.0f);
        t[0] = 127;
        t[1] = 2.5f;
        t[2] = -2.5f;
        t[3] = 0.5f;
        t[4] = -0.5f;
        t[5] = 3.49f;
        const Bytes bt = quant(DType::Q8_0, t);
        QCOMPARE(u16(bt.data()), uint16_t(0x3C00));
        const int wantT[6] = {127, 3, -3, 1, -1, 3};
        for (int j = 0; j < 6; ++j)
            QCOMPARE(int(int8_t(bt[2 + j])), wantT[j]);
        // All zero: d = 0, id = 0, q = 0.
        const Bytes z = quant(DType::Q8_0, std::vector<float>(32, 0.0f));
        for (uint8_t v : z)
            QCOMPARE(int(v), 0);
        QCOMPARE(ggmlStorageBits(DType::Q8_0, 64), uint64_t(2 * 34 * 8));
    }

    void q4_0Hand()
    {
        // x_j = (j % 16) - 8: the first largest magnitude is -8 -> d = -8 / -8 = 1, id = 1,
        // q = trunc(x + 8.5) = j % 16: byte j = q_j | q_{j+16} << 4 = 0x11 * j.
        std::vector<float> x(32);
        for (int j = 0; j < 32; ++j)
            x[j] = float(j % 16 - 8);
        Bytes b = quant(DType::Q4_0, x);
        QCOMPARE(b.size(), size_t(18));
        QCOMPARE(u16(b.data()), uint16_t(0x3C00));
        for (int j = 0; j < 16; ++j)
            QCOMPARE(int(b[2 + j]), 0x11 * j);
        // Positive max 8 -> d = -1, id = -1: q = trunc(8.5 - x): 8 -> 0, -7 -> 15, -8 -> 16
        // clamped to 15; halves round up: x*id = 0.5 -> 9, -0.5 -> 8, 1.5 -> 10, -1.5 -> 7.
        std::vector<float> y(32, 0.0f);
        y[0] = 8;
        y[1] = -7;
        y[2] = -8;
        y[3] = -0.5f; // * id = 0.5
        y[4] = 0.5f;  // -0.5
        y[5] = -1.5f; // 1.5
        y[16] = 1.5f; // -1.5 (high nibble of byte 0)
        b = quant(DType::Q4_0, y);
        QCOMPARE(u16(b.data()), uint16_t(0xBC00)); // -1
        QCOMPARE(int(b[2 + 0]), 0 | (7 << 4));
        QCOMPARE(int(b[2 + 1]), 15 | (8 << 4));
        QCOMPARE(int(b[2 + 2]), 15 | (8 << 4));
        QCOMPARE(int(b[2 + 3]), 9 | (8 << 4));
        QCOMPARE(int(b[2 + 4]), 8 | (8 << 4));
        QCOMPARE(int(b[2 + 5]), 10 | (8 << 4));
        QCOMPARE(ggmlStorageBits(DType::Q4_0, 32), uint64_t(18 * 8));
    }

    void q4_1Hand()
    {
        // x_j = (j % 16) * 0.5 - 2: min -2, max 5.5 -> d = 7.5 / 15 = 0.5 (0x3800), m = -2
        // (0xC000), id = 2, q = trunc((x + 2) * 2 + 0.5) = j % 16.
        std::vector<float> x(32);
        for (int j = 0; j < 32; ++j)
            x[j] = float(j % 16) * 0.5f - 2.0f;
        const Bytes b = quant(DType::Q4_1, x);
        QCOMPARE(b.size(), size_t(20));
        QCOMPARE(u16(b.data()), uint16_t(0x3800));
        QCOMPARE(u16(b.data() + 2), uint16_t(0xC000));
        for (int j = 0; j < 16; ++j)
            QCOMPARE(int(b[4 + j]), 0x11 * j);
    }

    void q5_0Hand()
    {
        // x_j = j - 16: first largest magnitude -16 -> d = 1, q = trunc(x + 16.5) = j.
        // Low nibbles: byte j = (j & 15) | ((j + 16) & 15) << 4 = 0x11 * j; fifth bits set for
        // j >= 16 -> qh = 0xFFFF0000.
        std::vector<float> x(32);
        for (int j = 0; j < 32; ++j)
            x[j] = float(j - 16);
        const Bytes b = quant(DType::Q5_0, x);
        QCOMPARE(b.size(), size_t(22));
        QCOMPARE(u16(b.data()), uint16_t(0x3C00));
        uint32_t qh;
        std::memcpy(&qh, b.data() + 2, 4);
        QCOMPARE(qh, 0xFFFF0000u);
        for (int j = 0; j < 16; ++j)
            QCOMPARE(int(b[6 + j]), 0x11 * j);
    }

    void q5_1Hand()
    {
        // x_j = j / 4: min 0, max 7.75 -> d = 7.75 / 31 = 0.25 (0x3400), m = 0, id = 4,
        // q = trunc(4 x + 0.5) = j.
        std::vector<float> x(32);
        for (int j = 0; j < 32; ++j)
            x[j] = float(j) * 0.25f;
        const Bytes b = quant(DType::Q5_1, x);
        QCOMPARE(b.size(), size_t(24));
        QCOMPARE(u16(b.data()), uint16_t(0x3400));
        QCOMPARE(u16(b.data() + 2), uint16_t(0x0000));
        uint32_t qh;
        std::memcpy(&qh, b.data() + 4, 4);
        QCOMPARE(qh, 0xFFFF0000u);
        for (int j = 0; j < 16; ++j)
            QCOMPARE(int(b[8 + j]), 0x11 * j);
    }

    void againstTranscription_data()
    {
        QTest::addColumn<int>("type");
        QTest::newRow("Q8_0") << int(DType::Q8_0);
        QTest::newRow("Q4_0") << int(DType::Q4_0);
        QTest::newRow("Q4_1") << int(DType::Q4_1);
        QTest::newRow("Q5_0") << int(DType::Q5_0);
        QTest::newRow("Q5_1") << int(DType::Q5_1);
        QTest::newRow("Q4_K") << int(DType::Q4_K);
        QTest::newRow("Q5_K") << int(DType::Q5_K);
        QTest::newRow("Q6_K") << int(DType::Q6_K);
    }

    void againstTranscription()
    {
        QFETCH(int, type);
        const DType t = static_cast<DType>(type);
        // The varied blocks of kInputs, then 256 blocks of heavy-tailed data (a Gaussian
        // scaled per 64 values and cubed, so that sub-blocks differ widely).
        auto x = kInputs();
        auto g = gaussian(256 * 256, 1234);
        for (size_t i = 0; i < g.size(); ++i)
            x.push_back(g[i] * g[i] * g[i] * float(1 + (i / 64) % 7) * 0.1f);
        const Bytes got = quant(t, x), want = ref::quantize(t, x);
        QCOMPARE(got.size(), want.size());
        const uint32_t bb = dtypeInfo(t).blockBytes;
        for (size_t i = 0; i < got.size(); ++i)
            if (got[i] != want[i])
                QFAIL(qPrintable(QString("block %1 byte %2: %3 vs reference %4")
                                     .arg(i / bb).arg(i % bb).arg(got[i]).arg(want[i])));
    }

    void kHandBlock()
    {
        // A Q6_K block small enough to follow by hand: all values 0 except x[0] = 1.
        // Sub-block 0: max = 1, iscale = -32; l = nearest(-32 * 1) = -32 -> L = 0, the other 15
        // values give l = 0 -> L = 32. Weights x^2 are 0 except 1 for x[0]: sumlx = 1*1*(-32)
        // = -32, suml2 = 1024 -> scale = -1/32, best = 1. No other is (-9..9) does better
        // (each gives sumlx^2/suml2 = 1 at best). Sub-blocks 1..15 are all zero: scale 0,
        // L = 0. So max_scale = -1/32, iscale = -128 / (-1/32) = 4096, d = fp16(1/4096) =
        // 0x0C00, scales[0] = min(127, nearest(4096 * -1/32)) = -128, others 0.
        // Requantize sub-block 0: d0 = 2^-12 * -128 = -1/32; x[0] / d0 = -32 -> l = -32 ->
        // L = 0; zeros -> L = 32. Sub-blocks 1..15 have d = 0 and keep L = 0.
        // Packing, half 0 (values 0..127): ql[l] = L[l] & 15 | (L[l+64] & 15) << 4 = 0 for
        // all l (32 & 15 = 0); qh[l] = L[l]>>4 | L[l+32]>>4 << 2 | ...: for l in 1..15:
        // L[l] = 32 -> bits 0-1 = 2; all other L are 0 -> qh[1..15] = 2, the rest 0.
        std::vector<float> x(256, 0.0f);
        x[0] = 1.0f;
        const Bytes b = quant(DType::Q6_K, x);
        Bytes want(210, 0);
        for (int l = 1; l < 16; ++l)
            want[128 + l] = 2;
        want[192] = uint8_t(int8_t(-128));
        want[208] = 0x00;
        want[209] = 0x0C;
        QCOMPARE(b, want);
        QCOMPARE(b, ref::quantize(DType::Q6_K, x));
        // Dequantized: x[0] = d * -128 * (0 - 32) = 1, the rest 0.
        std::vector<float> y(256);
        dequantizeBlocks(DType::Q6_K, b.data(), 256, y.data());
        QCOMPARE(y, x);
    }

    void kStructure()
    {
        const auto x = kInputs();
        for (DType t : {DType::Q4_K, DType::Q5_K}) {
            const Bytes b = quant(t, x);
            const uint32_t bb = dtypeInfo(t).blockBytes;
            for (size_t k = 0; k < x.size() / 256; ++k) {
                const uint8_t* blk = b.data() + k * bb;
                const float d = f16at(blk), dmin = f16at(blk + 2);
                QVERIFY(std::isfinite(d) && d >= 0);
                QVERIFY(std::isfinite(dmin) && dmin >= 0);
                // The largest scale quantizes to 63 (when any scale is positive).
                int maxSc = 0;
                for (int j = 0; j < 8; ++j) {
                    const int sc = j < 4 ? (blk[4 + j] & 63) : ((blk[4 + j + 4] & 0xF) | ((blk[4 + j - 4] >> 6) << 4));
                    maxSc = std::max(maxSc, sc);
                }
                QVERIFY(d == 0 || maxSc == 63);
            }
        }
        const Bytes b6 = quant(DType::Q6_K, x);
        for (size_t k = 0; k < x.size() / 256; ++k) {
            const uint8_t* blk = b6.data() + k * 210;
            const float d = f16at(blk + 208);
            QVERIFY(std::isfinite(d));
            bool hasExtreme = false; // the largest-magnitude scale quantizes to -128
            for (int j = 0; j < 16; ++j)
                hasExtreme |= int8_t(blk[192 + j]) == -128;
            QVERIFY(d == 0 || hasExtreme);
        }
    }

    void roundTripWithinStep_data()
    {
        QTest::addColumn<int>("type");
        for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q4_K,
                        DType::Q5_K, DType::Q6_K})
            QTest::newRow(std::string(dtypeName(t)).c_str()) << int(t);
    }

    void roundTripWithinStep()
    {
        QFETCH(int, type);
        const DType t = static_cast<DType>(type);
        const auto x = gaussian(256 * 64, 42);
        const Bytes b = quant(t, x);
        std::vector<float> y(x.size()), f(x.size());
        dequantizeBlocks(t, b.data(), x.size(), y.data());
        fakeQuantGgml(t, x.data(), x.size(), f.data());
        QCOMPARE(f, y); // the wrapper is quantize + dequantizeBlocks
        // In place.
        std::vector<float> inplace = x;
        fakeQuantGgml(t, inplace.data(), inplace.size(), inplace.data());
        QCOMPARE(inplace, y);

        // Per-value bound in units of the value's (sub-)block step. A value rounded to the grid
        // is within step / 2 of it, up to the FP16 rounding of the stored scale (the quants are
        // computed with the unrounded scale: q * |d - fp16(d)| <= qmax * step * 2^-11) and of
        // the stored minimum (|m| * 2^-11). Q4_0 / Q5_0 grids are one-sided (q - 8 reaches -8
        // but only +7), so the largest positive value may clamp: one step. The K types fit
        // scale and min by weighted least squares, which may shrink the range and clip the
        // extremes, and quantize the sub-block mins to 6 bits: we allow 1.5 steps for every
        // value but require 98% of values within half a step (+ the fp16 slack).
        const uint32_t be = dtypeInfo(t).blockElems, bb = dtypeInfo(t).blockBytes;
        const float r16 = 1.0f / 2048.0f;
        size_t withinHalf = 0;
        for (size_t i = 0; i < x.size(); ++i) {
            const uint8_t* blk = b.data() + (i / be) * bb;
            const size_t e = i % be;
            float step = 0, qmax = 0, m = 0, allow = 0.5f;
            switch (t) {
            case DType::Q8_0: step = std::fabs(f16at(blk)); qmax = 127; break;
            case DType::Q4_0: step = std::fabs(f16at(blk)); qmax = 8; allow = 1.0f; break;
            case DType::Q5_0: step = std::fabs(f16at(blk)); qmax = 16; allow = 1.0f; break;
            case DType::Q4_1: step = f16at(blk); m = f16at(blk + 2); qmax = 15; break;
            case DType::Q5_1: step = f16at(blk); m = f16at(blk + 2); qmax = 31; break;
            case DType::Q4_K:
            case DType::Q5_K: {
                const int j = int(e / 32);
                const int sc = j < 4 ? (blk[4 + j] & 63) : ((blk[4 + j + 4] & 0xF) | ((blk[4 + j - 4] >> 6) << 4));
                step = f16at(blk) * float(sc);
                allow = 1.5f;
                break;
            }
            case DType::Q6_K:
                step = std::fabs(f16at(blk + 208) * float(int8_t(blk[192 + e / 16])));
                allow = 1.5f;
                break;
            default: break;
            }
            const float slack = qmax * step * r16 + std::fabs(m) * r16 + 1e-6f;
            const float err = std::fabs(x[i] - y[i]);
            if (!(err <= allow * step + slack))
                QFAIL(qPrintable(QString("value %1: |%2 - %3| = %4 > %5 * step %6 + %7")
                                     .arg(i).arg(x[i]).arg(y[i]).arg(err).arg(allow).arg(step).arg(slack)));
            withinHalf += err <= 0.5f * step + slack + 1e-3f * step ? 1 : 0;
        }
        const double frac = double(withinHalf) / double(x.size());
        qInfo("%s: %.4f of values within half a step", dtypeName(t).data(), frac);
        QVERIFY(frac >= 0.98);
    }

    void rmseOrdering()
    {
        // RMSE on N(0, 1) relative to Q8_0: more bits, less error; K types beat their
        // 32-block counterparts of the same width. Observed ratios are noted; bounds are loose.
        const auto x = gaussian(256 * 256, 9);
        auto err = [&](DType t) {
            std::vector<float> y(x.size());
            fakeQuantGgml(t, x.data(), x.size(), y.data());
            return rmse(x, y);
        };
        const double q8 = err(DType::Q8_0), q6k = err(DType::Q6_K), q5k = err(DType::Q5_K), q4k = err(DType::Q4_K);
        const double q50 = err(DType::Q5_0), q40 = err(DType::Q4_0), q41 = err(DType::Q4_1), q51 = err(DType::Q5_1);
        qInfo("RMSE: Q8_0 %.5f Q6_K %.5f Q5_K %.5f Q5_1 %.5f Q5_0 %.5f Q4_K %.5f Q4_1 %.5f Q4_0 %.5f", q8, q6k, q5k,
              q51, q50, q4k, q41, q40);
        QVERIFY(q8 > 0 && q8 < 0.01);
        QVERIFY(q6k > q8 && q6k < 4 * q8);
        QVERIFY(q5k > q6k && q5k < 2.5 * q6k);
        QVERIFY(q4k > q5k && q4k < 2.5 * q5k);
        QVERIFY(q4k < q40 && q4k < q41);
        QVERIFY(q5k < q50 && q5k < q51);
        QVERIFY(q4k < 0.12); // about 8-9% of sigma
    }

    void errors()
    {
        std::vector<float> x(256, 1.0f);
        std::vector<uint8_t> b(1024);
        QVERIFY(!ggmlQuantSupported(DType::Q2_K));
        QVERIFY(!ggmlQuantSupported(DType::F16));
        QVERIFY(ggmlQuantSupported(DType::Q6_K));
        QVERIFY_THROWS_EXCEPTION(Error, quantizeGgmlRow(DType::Q2_K, x.data(), 256, b.data()));
        QVERIFY_THROWS_EXCEPTION(Error, quantizeGgmlRow(DType::F32, x.data(), 256, b.data()));
        QVERIFY_THROWS_EXCEPTION(Error, quantizeGgmlRow(DType::Q8_0, x.data(), 33, b.data()));
        QVERIFY_THROWS_EXCEPTION(Error, quantizeGgmlRow(DType::Q4_K, x.data(), 128, b.data()));
        QVERIFY_THROWS_EXCEPTION(Error, fakeQuantGgml(DType::Q5_K, x.data(), 100, x.data()));
        QCOMPARE(ggmlStorageBits(DType::Q4_K, 512), uint64_t(2 * 144 * 8));
        QCOMPARE(ggmlStorageBits(DType::Q5_K, 256), uint64_t(176 * 8));
        QCOMPARE(ggmlStorageBits(DType::Q6_K, 256), uint64_t(210 * 8));
        QCOMPARE(ggmlStorageBits(DType::Q4_1, 64), uint64_t(2 * 20 * 8));
        QCOMPARE(ggmlStorageBits(DType::Q5_0, 32), uint64_t(22 * 8));
        QCOMPARE(ggmlStorageBits(DType::Q5_1, 32), uint64_t(24 * 8));
    }
};

QTEST_APPLESS_MAIN(TestGgmlQuant)
#include "tst_ggml_quant.moc"
