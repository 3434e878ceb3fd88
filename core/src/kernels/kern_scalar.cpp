// Scalar kernels: the same integer arithmetic as the SIMD versions, one element at a time.
#include "kernels/kern_impl.h"

#include "bonsai/half.h"

#include <cstring>

namespace bonsai::kern {
namespace {

inline float h2f(const uint8_t* p)
{
    uint16_t h;
    std::memcpy(&h, p, 2);
    return fp16ToFloat(h);
}

// Chunk c of one activation row: sum over its two 16-groups of ws[h] * d * (codes . x) - wo[h]
// * m16 (u holds unsigned or signed codes).
inline float chunkDot(const int* u, const int8_t* x, float d, const float* m16, const float ws[2], const float wo[2])
{
    float r = 0;
    for (int h = 0; h < 2; ++h) {
        int s = 0;
        for (int l = 0; l < 16; ++l)
            s += u[16 * h + l] * x[16 * h + l];
        r += ws[h] * d * float(s) - wo[h] * m16[h];
    }
    return r;
}

// Codes of chunk c of a row (value ws[l / 16] * u[l] - wo[l / 16]).
void unpackChunk(const Args& a, int64_t r, int64_t c, int u[32], float ws[2], float wo[2])
{
    const uint8_t* row = a.w + r * static_cast<int64_t>(a.rowBytes);
    ws[0] = ws[1] = wo[0] = wo[1] = 0;
    switch (a.format) {
    case kQ8_0: {
        const uint8_t* b = row + 34 * c;
        ws[0] = ws[1] = h2f(b);
        for (int l = 0; l < 32; ++l)
            u[l] = static_cast<int8_t>(b[2 + l]);
        return;
    }
    case kQ4_0: {
        const uint8_t* b = row + 18 * c;
        ws[0] = ws[1] = h2f(b);
        wo[0] = wo[1] = 8.0f * ws[0];
        for (int l = 0; l < 16; ++l) {
            u[l] = b[2 + l] & 0x0F;
            u[l + 16] = b[2 + l] >> 4;
        }
        return;
    }
    case kInt8: {
        ws[0] = ws[1] = a.scales[r * a.groupsPerRow + (32 * c) / a.groupSize];
        for (int l = 0; l < 32; ++l)
            u[l] = static_cast<int8_t>(row[32 * c + l]);
        return;
    }
    case kInt4: {
        const int64_t g = r * a.groupsPerRow + (32 * c) / a.groupSize;
        ws[0] = ws[1] = a.scales[g];
        wo[0] = wo[1] = a.offsets[g];
        for (int l = 0; l < 16; ++l) {
            u[l] = row[16 * c + l] & 0x0F;
            u[l + 16] = row[16 * c + l] >> 4;
        }
        return;
    }
    case kQ4_K: {
        const uint8_t* b = row + 144 * (c / 8);
        const int j = static_cast<int>(c % 8); // sub-block
        int scs[8], mns[8];
        unpackScaleMinK4(b + 4, scs, mns);
        const int sc = scs[j], mn = mns[j];
        ws[0] = ws[1] = h2f(b) * float(sc);
        wo[0] = wo[1] = h2f(b + 2) * float(mn);
        const uint8_t* q = b + 16 + 32 * (j / 2);
        for (int l = 0; l < 32; ++l)
            u[l] = (j % 2) ? (q[l] >> 4) : (q[l] & 0x0F);
        return;
    }
    case kQ6_K: {
        const uint8_t* b = row + 210 * (c / 8);
        const int j = static_cast<int>(c % 8), h = j / 4, k = j % 4;
        const float d = h2f(b + 208);
        const auto* scl = reinterpret_cast<const int8_t*>(b + 192) + 8 * h;
        const uint8_t* ql = b + 64 * h;
        const uint8_t* qh = b + 128 + 32 * h;
        for (int e = 0; e < 2; ++e) {
            ws[e] = d * float(scl[2 * k + e]);
            wo[e] = 32.0f * ws[e];
        }
        for (int l = 0; l < 32; ++l) {
            const int lo = (k % 2 ? ql[l + 32] : ql[l]);
            const int nib = k < 2 ? (lo & 0x0F) : (lo >> 4);
            u[l] = nib | (((qh[l] >> (2 * k)) & 3) << 4);
        }
        return;
    }
    default: return;
    }
}

} // namespace

void rowsScalar(const Args& a, int64_t r0, int64_t r1)
{
    const int64_t chunks = a.cols / 32;
    int u[32] = {};
    float ws[2] = {0, 0}, wo[2] = {0, 0};
    for (int64_t r = r0; r < r1; ++r)
        for (int64_t i = 0; i < a.n; ++i) {
            const int8_t* x = a.aq + i * a.cols;
            const float* d = a.ad + i * chunks;
            const float* m16 = a.am16 + i * (a.cols / 16);
            float sum = 0;
            for (int64_t c = 0; c < chunks; ++c) {
                unpackChunk(a, r, c, u, ws, wo);
                sum += chunkDot(u, x + 32 * c, d[c], m16 + 2 * c, ws, wo);
            }
            a.y[i * a.ldy + r] = sum;
        }
}

} // namespace bonsai::kern
