// AVX-512 kernels (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mfma -mf16c).
//
// Q8_0, Q4_0, INT8 and Q4_K weights run on 512-bit VNNI dot products in register tiles of up to
// R = 4 weight rows by N = 4 activation rows: each weight vector is unpacked once per tile and
// used for every activation row of it, each activation vector loaded once and used for every
// weight row, so a prefill reads each weight once per four tokens, and a single decode token
// keeps four rows' loads in flight. Q6_K and INT4 use the 256-bit kernels of kern_simd.h (with
// vpdpbusd), as do rows whose length is no multiple of 64.
//
// Signed codes (Q8_0, INT8, Q4_0 minus 8): vpdpbusd multiplies unsigned by signed bytes, so the
// activations enter offset to unsigned (x + 128, a xor) and each accumulator starts at minus
// 128 times the weights' four-element sums (one vpdpbusd per weight vector, shared by the
// tile): the integer sums are exact. Two 32-element blocks share a vector; the float
// conversion is scaled by both blocks' weight scale times activation scale.
//
// Q4_K: unsigned 4-bit codes times the signed activations (sums of four products are within
// int16: 4 * 15 * 127), times the sub-block scales by vpdpwssd on (scale, 0) int16 pairs, all
// exact in int32 over a 256-element super-block, then converted once and scaled by d * d_x.
// The minimums' part, dmin * d_x * sum_j min_j * (code sum of sub-block j), is taken for the
// four activation rows of a tile at once by vpmaddwd.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/kern_impl.h"

// GCC 12's AVX-512 intrinsics fill their unused "undefined" operand from a self-initialized
// variable, which -Wuninitialized reports at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace bonsai::kern {
namespace {

inline __m256i dpbusd(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); }

#include "kernels/kern_simd.h"

// [a x 8, b x 8]
inline __m512 pairPs(float a, float b) { return _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(a), _mm512_set1_ps(b)); }

inline __m512i join(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Signed codes of 32-element chunks c and c + 1 of a weight row, and their two scales.
template <int F>
inline void signedCodes(const Args& a, const uint8_t* row, int64_t r, int64_t c, __m512i& w, __m512& s)
{
    if constexpr (F == kQ8_0) {
        const uint8_t* b = row + 34 * c;
        w = join(load256(b + 2), load256(b + 36));
        s = pairPs(h2f(b), h2f(b + 34));
    } else if constexpr (F == kQ4_0) {
        const uint8_t* b = row + 18 * c;
        const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2));
        const __m128i q1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 20));
        const __m512i u = _mm512_and_si512(join(_mm256_set_m128i(_mm_srli_epi16(q0, 4), q0),
                                                _mm256_set_m128i(_mm_srli_epi16(q1, 4), q1)),
                                           _mm512_set1_epi8(0x0F));
        w = _mm512_sub_epi8(u, _mm512_set1_epi8(8));
        s = pairPs(h2f(b), h2f(b + 18));
    } else { // kInt8
        w = _mm512_loadu_si512(row + 32 * c);
        const float* sc = a.scales + r * a.groupsPerRow;
        s = pairPs(sc[(32 * c) / a.groupSize], sc[(32 * c + 32) / a.groupSize]);
    }
}

// [p[0] x 8, p[1] x 8]
inline __m512 pairAt(const float* p)
{
    const __m512i idx = _mm512_mask_blend_epi32(0xFF00, _mm512_setzero_si512(), _mm512_set1_epi32(1));
    return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(_mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(p)))));
}

template <int F, int R, int N>
void signedTile(const Args& a, int64_t r0, int64_t i0)
{
    const int64_t chunks = a.cols / 32, step = static_cast<int64_t>(a.rowBytes) / chunks; // bytes per chunk
    const int64_t ahead = R * static_cast<int64_t>(a.rowBytes);
    const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
    __m512 acc[R][N];
    const uint8_t* rows[R];
    for (int k = 0; k < R; ++k) {
        rows[k] = a.w + (r0 + k) * static_cast<int64_t>(a.rowBytes);
        for (int i = 0; i < N; ++i)
            acc[k][i] = _mm512_setzero_ps();
    }
    for (int64_t c = 0; c < chunks; c += 2) {
        __m512 xs[N];
        for (int i = 0; i < N; ++i)
            xs[i] = pairAt(a.ad + (i0 + i) * chunks + c);
#pragma GCC unroll 4
        for (int k = 0; k < R; ++k) {
            if (N < 4) // matrix-vector: the weights stream from memory; ask for the next tile's rows
                for (int l = 0; l < 2; ++l)
                    _mm_prefetch(reinterpret_cast<const char*>(rows[k]) + ahead + c * step + 64 * l, _MM_HINT_T0);
            __m512i w;
            __m512 ws;
            signedCodes<F>(a, rows[k], r0 + k, c, w, ws);
            const __m512i start =
                _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, w));
#pragma GCC unroll 8
            for (int i = 0; i < N; ++i) {
                const __m512i xu = _mm512_loadu_si512(a.aqx + (i0 + i) * a.cols + 32 * c); // x + 128
                const __m512i p = _mm512_dpbusd_epi32(start, xu, w);
                acc[k][i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(ws, xs[i]), acc[k][i]);
            }
        }
    }
    for (int k = 0; k < R; ++k)
        for (int i = 0; i < N; ++i)
            a.y[(i0 + i) * a.ldy + r0 + k] = _mm512_reduce_add_ps(acc[k][i]);
}

// The eight 6-bit scales and eight 6-bit minimums of a Q4_K super-block (its 12 packed bytes:
// bytes 0-3 and 4-7 hold scales and minimums 0-3 in their low six bits and the top two bits
// of 4-7; bytes 8-11 the low four bits of scales 4-7 (low nibble) and minimums 4-7) as bytes
// [scale 0..7, min 0..7].
inline __m128i q4kScaleMins(const uint8_t* p)
{
    uint32_t u[3];
    std::memcpy(u, p, 12);
    const uint32_t low6 = 0x3f3f3f3f, nib = 0x0f0f0f0f, top2 = 0x03030303;
    const uint32_t sc03 = u[0] & low6, mn03 = u[1] & low6;
    const uint32_t sc47 = (u[2] & nib) | (((u[0] >> 6) & top2) << 4);
    const uint32_t mn47 = ((u[2] >> 4) & nib) | (((u[1] >> 6) & top2) << 4);
    return _mm_set_epi32(static_cast<int>(mn47), static_cast<int>(mn03), static_cast<int>(sc47),
                         static_cast<int>(sc03));
}

// Code vector k (0..3) of a super-block holds sub-blocks kSub[k][0] (lanes 0-7) and kSub[k][1]
// (lanes 8-15): the low and high nibbles of its bytes 0-63, then of 64-127.
constexpr int kSub[4][2] = {{0, 2}, {1, 3}, {4, 6}, {5, 7}};


template <int R, int N>
void q4kTile(const Args& a, int64_t r0, int64_t i0)
{
    constexpr int NB = (N + 3) / 4; // groups of four activation rows for the minimums
    const int64_t chunks = a.cols / 32, supers = a.cols / 256;
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512i idx[4];
    for (int k = 0; k < 4; ++k)
        idx[k] = _mm512_mask_blend_epi32(0xFF00, _mm512_set1_epi32(kSub[k][0]), _mm512_set1_epi32(kSub[k][1]));
    __m512 acc[R][N], macc[R][NB];
    for (int k = 0; k < R; ++k) {
        for (int g = 0; g < NB; ++g)
            macc[k][g] = _mm512_setzero_ps();
        for (int i = 0; i < N; ++i)
            acc[k][i] = _mm512_setzero_ps();
    }
    for (int64_t sb = 0; sb < supers; ++sb) {
        float xd[N];
        __m512i bs[NB];  // 128-bit lane i % 4: row i's 32-element code sums
        __m512 xd4[NB];  // lanes 4 (i % 4) .. + 3: row i's scale
        for (int g = 0; g < NB; ++g) {
            bs[g] = _mm512_setzero_si512();
            xd4[g] = _mm512_setzero_ps();
        }
        __m512i bs1 = _mm512_setzero_si512(); // one row: its code sums as int32 in lanes 8-15
        if constexpr (N == 1)
            bs1 = _mm512_inserti64x4(bs1, _mm256_cvtepi16_epi32(_mm_loadu_si128(
                                              reinterpret_cast<const __m128i*>(a.as32 + i0 * chunks + 8 * sb))), 1);
        for (int i = 0; i < N; ++i) {
            xd[i] = a.ad[(i0 + i) * chunks + 8 * sb];
            const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.as32 + (i0 + i) * chunks + 8 * sb));
            bs[i / 4] = _mm512_mask_broadcast_i32x4(bs[i / 4], __mmask16(0xF << (4 * (i % 4))), s); // lane i % 4 (clang: a constant lane only for vinserti32x4)
            xd4[i / 4] = _mm512_mask_blend_ps(__mmask16(0xF << (4 * (i % 4))), xd4[i / 4], _mm512_set1_ps(xd[i]));
        }
#pragma GCC unroll 4
        for (int k = 0; k < R; ++k) {
            const uint8_t* b = a.w + (r0 + k) * static_cast<int64_t>(a.rowBytes) + 144 * sb;
            if (N < 4) // matrix-vector: the weights stream from memory; ask for the next tile's rows
                for (int l = 0; l < 3; ++l)
                    _mm_prefetch(reinterpret_cast<const char*>(b) + R * static_cast<int64_t>(a.rowBytes) + 64 * l,
                                 _MM_HINT_T0);
            const float d = h2f(b), dmin = h2f(b + 2);
            const __m128i sm = q4kScaleMins(b + 4);
            const __m512i sm32 = _mm512_cvtepu8_epi32(sm);
            const __m512i v0 = _mm512_loadu_si512(b + 16), v1 = _mm512_loadu_si512(b + 80);
            const __m512i u[4] = {_mm512_and_si512(v0, m4), _mm512_and_si512(_mm512_srli_epi16(v0, 4), m4),
                                  _mm512_and_si512(v1, m4), _mm512_and_si512(_mm512_srli_epi16(v1, 4), m4)};
            __m512i sc[4];
            for (int j = 0; j < 4; ++j)
                sc[j] = _mm512_permutexvar_epi32(idx[j], sm32);
#pragma GCC unroll 8
            for (int i = 0; i < N; ++i) {
                const int8_t* x = a.aqx + (i0 + i) * a.cols + 256 * sb; // sub-block order
                __m512i s = _mm512_setzero_si512();
#pragma GCC unroll 4
                for (int j = 0; j < 4; ++j) {
                    const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u[j], _mm512_loadu_si512(x + 64 * j));
                    s = _mm512_dpwssd_epi32(s, p, sc[j]);
                }
                acc[k][i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_set1_ps(d * xd[i]), acc[k][i]);
            }
            if constexpr (N == 1) {
                // Lanes 8-15: min_j * sum_j ((min, 0) and (sum, sign) int16 pairs).
                macc[k][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_madd_epi16(sm32, bs1)),
                                             _mm512_set1_ps(dmin * xd[0]), macc[k][0]);
            } else {
                const __m512i mins = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(_mm_srli_si128(sm, 8)));
                for (int g = 0; g < NB; ++g)
                    macc[k][g] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_madd_epi16(mins, bs[g])),
                                                 _mm512_mul_ps(_mm512_set1_ps(dmin), xd4[g]), macc[k][g]);
            }
        }
    }
    if constexpr (N == 1) {
        for (int k = 0; k < R; ++k)
            a.y[i0 * a.ldy + r0 + k] = _mm512_reduce_add_ps(acc[k][0]) - _mm512_reduce_add_ps(macc[k][0]);
        return;
    }
    for (int k = 0; k < R; ++k) {
        alignas(64) float m[NB][16];
        for (int g = 0; g < NB; ++g)
            _mm512_store_ps(m[g], macc[k][g]);
        for (int i = 0; i < N; ++i) {
            const float* mi = m[i / 4] + 4 * (i % 4);
            a.y[(i0 + i) * a.ldy + r0 + k] = _mm512_reduce_add_ps(acc[k][i]) - ((mi[0] + mi[1]) + (mi[2] + mi[3]));
        }
    }
}

// Tiles of R weight rows (then single rows) by N activation rows: wide ones (RW x NW) while at
// least NW activation rows are left, then four, then the rest.
template <template <int, int> class T, int RW, int NW>
void tiles(const Args& a, int64_t r0, int64_t r1)
{
    auto run = [&](auto rTag, auto nTag, int64_t i0) {
        constexpr int R = decltype(rTag)::value, N = decltype(nTag)::value;
        int64_t r = r0;
        for (; r + R <= r1; r += R)
            T<R, N>::run(a, r, i0);
        for (; r < r1; ++r)
            T<1, N>::run(a, r, i0);
    };
    using I1 = std::integral_constant<int, 1>;
    using I4 = std::integral_constant<int, 4>;
    using IR = std::integral_constant<int, RW>;
    int64_t i0 = 0;
    for (; i0 + NW <= a.n; i0 += NW)
        run(IR{}, std::integral_constant<int, NW>{}, i0);
    for (; i0 + 4 <= a.n; i0 += 4)
        run(I4{}, I4{}, i0);
    switch (a.n - i0) {
    case 3: run(I4{}, std::integral_constant<int, 3>{}, i0); break;
    case 2: run(I4{}, std::integral_constant<int, 2>{}, i0); break;
    case 1: run(I1{}, I1{}, i0); break;
    default: break;
    }
}

template <int F>
struct Signed {
    template <int R, int N>
    struct T {
        static void run(const Args& a, int64_t r, int64_t i0) { signedTile<F, R, N>(a, r, i0); }
    };
};
template <int R, int N>
struct Q4K {
    static void run(const Args& a, int64_t r, int64_t i0) { q4kTile<R, N>(a, r, i0); }
};

} // namespace

bool arrangeAvx512(const Args& a, int8_t* out)
{
    const int64_t total = a.n * a.cols;
    switch (a.format) {
    case kQ8_0:
    case kQ4_0:
    case kInt8: {
        if (a.cols % 64 != 0)
            return false;
        const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
        for (int64_t e = 0; e < total; e += 64)
            _mm512_storeu_si512(out + e, _mm512_xor_si512(_mm512_loadu_si512(a.aq + e), bias));
        return true;
    }
    case kQ4_K:
        // Code vector k of a super-block: sub-blocks kSub[k][0] and kSub[k][1].
        for (int64_t e = 0; e < total; e += 256)
            for (int k = 0; k < 4; ++k) {
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + e + 64 * k), load256(a.aq + e + 32 * kSub[k][0]));
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + e + 64 * k + 32),
                                    load256(a.aq + e + 32 * kSub[k][1]));
            }
        return true;
    default: return false;
    }
}

void rowsAvx512(const Args& a, int64_t r0, int64_t r1)
{
    if (a.aqx) {
        switch (a.format) {
        case kQ8_0: return tiles<Signed<kQ8_0>::T, 4, 4>(a, r0, r1);
        case kQ4_0: return tiles<Signed<kQ4_0>::T, 2, 8>(a, r0, r1);
        case kInt8: return tiles<Signed<kInt8>::T, 2, 8>(a, r0, r1);
        case kQ4_K: return tiles<Q4K, 1, 8>(a, r0, r1);
        default: break;
        }
    }
    rowsSimd(a, r0, r1);
}

} // namespace bonsai::kern
