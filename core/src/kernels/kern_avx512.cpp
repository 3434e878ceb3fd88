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
// Q4_K: unsigned 4-bit codes times the signed activations, times the sub-block scales, all
// exact in int32 over a 256-element super-block, then converted once and scaled by d * d_x.
// vpdpbusd sums four products per int32 lane (within int16: 4 * 15 * 127), vpackssdw packs two
// such vectors to int16 and vpmaddwd / vpdpwssd multiply them by the sub-block scales (q4kDot):
// six multiplying instructions per 256 elements. Several activation rows (prefill) read each
// weight row unpacked once per product tile. The minimums' part, dmin * d_x * sum_j min_j *
// (code sum of sub-block j), is taken for four activation rows at once by vpmaddwd, on sums and
// scales arranged per four rows once per product (arrangeAvx512) rather than per weight row.
// GCC 12's AVX-512 intrinsics fill their unused "undefined" operand from a self-initialized
// variable (GCC bug 105593), which -W(maybe-)uninitialized reports at every inlined use; the
// diagnostic state of the header's lines decides, so it is set before the include.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/kern_impl.h"


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
inline __m128i q4kScaleMins(const uint8_t* p) // reads 16 bytes: the 12, then 4 of the codes after them
{
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // [bytes 0-3, 8-11, 4-7, 8-11]: the low six bits of lanes 0 and 2, the low and high nibbles
    // of lanes 1 and 3; and the top two bits of bytes 0-3 and 4-7 under lanes 1 and 3.
    const __m128i a = _mm_shuffle_epi8(v, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
    const __m128i t = _mm_shuffle_epi8(v, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
    const __m128i top = _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(t, 6), _mm_set1_epi8(3)), 4);
    const __m128i low = _mm_and_si128(a, _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    const __m128i high = _mm_and_si128(_mm_srli_epi16(a, 4), _mm_set1_epi8(0x0f));
    const __m128i sm = _mm_or_si128(_mm_blend_epi32(low, high, 0x8), top); // [sc 0-3, sc 4-7, min 0-3, min 4-7]
    return sm;
}

// Code vector k (0..3) of a super-block holds sub-blocks kSub[k][0] (lanes 0-7) and kSub[k][1]
// (lanes 8-15): the low and high nibbles of its bytes 0-63, then of 64-127.
constexpr int kSub[4][2] = {{0, 2}, {1, 3}, {4, 6}, {5, 7}};

// vpdpbusd sums four code x activation products per int32 lane (at most 4 * 15 * 127 = 7620,
// so int16 holds it); vpackssdw of code vectors 2p and 2p + 1 interleaves their lanes by four
// within each 128-bit lane, and vpmaddwd (vpdpwssd) scales each int16 by its sub-block's scale.
// q4kScalePairs gives, for p = 0 and 1, that int16 vector of scales: element e of 128-bit lane L
// holds sub-block kSub[2p + (e >= 4)][L >= 2]'s scale.
struct Q4kPairIndex {
    alignas(64) int16_t idx[2][32];
    constexpr Q4kPairIndex() : idx{}
    {
        for (int p = 0; p < 2; ++p)
            for (int e = 0; e < 32; ++e)
                idx[p][e] = int16_t(kSub[2 * p + (e % 8 >= 4)][e / 16]);
    }
};
constexpr Q4kPairIndex kQ4kPairIndex;

inline void q4kScalePairs(__m128i sm, __m512i out[2])
{
    const __m512i sc = _mm512_castsi128_si512(_mm_cvtepu8_epi16(sm)); // words 0-7: the scales
    out[0] = _mm512_permutexvar_epi16(_mm512_load_si512(kQ4kPairIndex.idx[0]), sc);
    out[1] = _mm512_permutexvar_epi16(_mm512_load_si512(kQ4kPairIndex.idx[1]), sc);
}

// The integer dot product of a super-block's four code vectors u with the activations x
// (64 bytes per code vector, sub-block order), each sub-block's sum times its scale.
inline __m512i q4kDot(const __m512i u[4], const __m512i sc[2], const int8_t* x)
{
    const __m512i z = _mm512_setzero_si512();
    __m512i r[4];
    for (int j = 0; j < 4; ++j)
        r[j] = _mm512_dpbusd_epi32(z, u[j], _mm512_loadu_si512(x + 64 * j));
    const __m512i s = _mm512_madd_epi16(_mm512_packs_epi32(r[0], r[1]), sc[0]);
    return _mm512_dpwssd_epi32(s, _mm512_packs_epi32(r[2], r[3]), sc[1]);
}


// Q4_K's arranged codes go by groups of eight activation rows: within a group, super-block by
// super-block, each row's 256 codes in sub-block order, so that a tile of rows reads one
// super-block's codes at constant offsets: row i's super-block sb at q4kCodes(i) + sb * 256 *
// q4kRows(i).
constexpr int kQ4kRows = 8;  // the wide tile's activation rows
inline int64_t q4kRows(const Args& a, int64_t i) { return std::min<int64_t>(kQ4kRows, a.n - i / kQ4kRows * kQ4kRows); }
inline const int8_t* q4kCodes(const Args& a, const int8_t* base, int64_t i)
{
    return base + i / kQ4kRows * kQ4kRows * a.cols + (i % kQ4kRows) * 256;
}

// Q4_K, one activation row (decode).
template <int R>
void q4kTileOne(const Args& a, int64_t r0, int64_t i0)
{
    const int64_t chunks = a.cols / 32, supers = a.cols / 256;
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512 acc[R], macc[R];
    for (int k = 0; k < R; ++k) {
        macc[k] = _mm512_setzero_ps();
        acc[k] = _mm512_setzero_ps();
    }
    const int8_t* xrow = q4kCodes(a, a.aqx, i0);
    const int64_t xstep = 256 * q4kRows(a, i0);
    for (int64_t sb = 0; sb < supers; ++sb) {
        const float xd = a.ad[i0 * chunks + 8 * sb];
        // The row's 32-element code sums as int32 in lanes 8-15.
        const __m512i bs1 = _mm512_inserti64x4(
            _mm512_setzero_si512(),
            _mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.as32 + i0 * chunks + 8 * sb))), 1);
#pragma GCC unroll 4
        for (int k = 0; k < R; ++k) {
            const uint8_t* b = a.w + (r0 + k) * static_cast<int64_t>(a.rowBytes) + 144 * sb;
            // The weights stream from memory: ask for the next tile's rows.
            for (int l = 0; l < 3; ++l)
                _mm_prefetch(reinterpret_cast<const char*>(b) + R * static_cast<int64_t>(a.rowBytes) + 64 * l,
                             _MM_HINT_T0);
            const float d = h2f(b), dmin = h2f(b + 2);
            const __m128i sm = q4kScaleMins(b + 4);
            const __m512i sm32 = _mm512_cvtepu8_epi32(sm);
            __m512i sc[2];
            q4kScalePairs(sm, sc);
            const __m512i v0 = _mm512_loadu_si512(b + 16), v1 = _mm512_loadu_si512(b + 80);
            const __m512i u[4] = {_mm512_and_si512(v0, m4), _mm512_and_si512(_mm512_srli_epi16(v0, 4), m4),
                                  _mm512_and_si512(v1, m4), _mm512_and_si512(_mm512_srli_epi16(v1, 4), m4)};
            const __m512i s = q4kDot(u, sc, xrow + sb * xstep);
            acc[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_set1_ps(d * xd), acc[k]);
            // Lanes 8-15: min_j * sum_j ((min, 0) and (sum, sign) int16 pairs).
            macc[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_madd_epi16(sm32, bs1)), _mm512_set1_ps(dmin * xd),
                                      macc[k]);
        }
    }
    for (int k = 0; k < R; ++k)
        a.y[i0 * a.ldy + r0 + k] = _mm512_reduce_add_ps(acc[k]) - _mm512_reduce_add_ps(macc[k]);
}

// A Q4_K weight super-block unpacked for the multi-row tiles, once per weight row and product
// tile rather than once per tile of activation rows: its four code vectors, its two int16
// scale vectors (q4kScalePairs), its minimums as int16 in each 128-bit lane, d and dmin.
struct alignas(64) Q4kUnpacked {
    __m512i u[4], sc[2], mins;
    float d, dmin;
};

void q4kUnpack(const uint8_t* b, Q4kUnpacked& o)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    o.d = h2f(b);
    o.dmin = h2f(b + 2);
    const __m128i sm = q4kScaleMins(b + 4);
    q4kScalePairs(sm, o.sc);
    const __m512i v0 = _mm512_loadu_si512(b + 16), v1 = _mm512_loadu_si512(b + 80);
    o.u[0] = _mm512_and_si512(v0, m4);
    o.u[1] = _mm512_and_si512(_mm512_srli_epi16(v0, 4), m4);
    o.u[2] = _mm512_and_si512(v1, m4);
    o.u[3] = _mm512_and_si512(_mm512_srli_epi16(v1, 4), m4);
    o.mins = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(_mm_srli_si128(sm, 8)));
}

// Q4_K, N >= 2 activation rows (i0 a multiple of four: the arranged sums and scales are per
// four rows), from the weight rows unpacked at wu (row r0's super-blocks first), over
// super-blocks sb0..sb1: the first block of a row sets y, the later ones add to it.
template <int R, int N>
void q4kTileRows(const Args& a, const Q4kUnpacked* wu, int64_t r0, int64_t i0, int64_t sb0, int64_t sb1)
{
    constexpr int NB = (N + 3) / 4; // groups of four activation rows for the minimums
    const int64_t supers = a.cols / 256;
    __m512 acc[R][N], macc[R][NB];
    for (int k = 0; k < R; ++k) {
        for (int g = 0; g < NB; ++g)
            macc[k][g] = _mm512_setzero_ps();
        for (int i = 0; i < N; ++i)
            acc[k][i] = _mm512_setzero_ps();
    }
    const uint8_t* ax = a.ax4 + (i0 / 4) * supers * 128; // group g, super-block sb: + (g * supers + sb) * 128
    const int8_t* xrow = q4kCodes(a, a.aqx, i0);
    const int64_t xstep = 256 * q4kRows(a, i0);
    for (int64_t sb = sb0; sb < sb1; ++sb) {
        const int8_t* xs = xrow + sb * xstep;
        const uint8_t* as = ax + sb * 128;
#pragma GCC unroll 4
        for (int k = 0; k < R; ++k) {
            const Q4kUnpacked& w = wu[k * supers + sb];
            const __m512 d = _mm512_set1_ps(w.d);
#pragma GCC unroll 16
            for (int i = 0; i < N; ++i) {
                const __m512i s = q4kDot(w.u, w.sc, xs + 256 * i); // sub-block order
                const float* xd = reinterpret_cast<const float*>(as + (i / 4) * supers * 128 + 64 + 16 * (i % 4));
                const __m512 dx = _mm512_mul_ps(d, _mm512_set1_ps(*xd));
                acc[k][i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), dx, acc[k][i]);
            }
            const __m512 dmin = _mm512_set1_ps(w.dmin);
            for (int g = 0; g < NB; ++g) {
                const uint8_t* p = as + g * supers * 128;
                const __m512i bs = _mm512_loadu_si512(p);                  // lane t: row t's code sums
                const __m512 xd4 = _mm512_loadu_ps(reinterpret_cast<const float*>(p + 64)); // lanes 4t..: its scale
                macc[k][g] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_madd_epi16(w.mins, bs)), _mm512_mul_ps(dmin, xd4),
                                             macc[k][g]);
            }
        }
    }
    for (int k = 0; k < R; ++k) {
        alignas(64) float m[NB][16];
        for (int g = 0; g < NB; ++g)
            _mm512_store_ps(m[g], macc[k][g]);
        for (int i = 0; i < N; ++i) {
            const float* mi = m[i / 4] + 4 * (i % 4);
            float& y = a.y[(i0 + i) * a.ldy + r0 + k];
            y = (sb0 > 0 ? y : 0.0f) + (_mm512_reduce_add_ps(acc[k][i]) - ((mi[0] + mi[1]) + (mi[2] + mi[3])));
        }
    }
}

// Super-blocks per pass of a tile: a group of eight activation rows' codes over them (16 KiB)
// and a weight row's unpacked super-blocks (4.6 KiB) stay within a 32 KiB L1 while the tile
// goes down the weight rows. Whole rows of 4096 (32 KiB of codes per group) had run 8-10% slower
// than rows of 1536.
constexpr int64_t kQ4kPassSupers = 8;

// Q4_K weight rows r0..r1 of several activation rows: the rows unpacked once (per thread, into
// scratch reused between products), then tiles of kQ4kRows activation rows, four, and the rest.
void q4kRowsMany(const Args& a, int64_t r0, int64_t r1)
{
    const int64_t supers = a.cols / 256;
    thread_local std::vector<Q4kUnpacked> scratch;
    if (scratch.size() < size_t((r1 - r0) * supers))
        scratch.resize(size_t((r1 - r0) * supers));
    for (int64_t r = r0; r < r1; ++r)
        for (int64_t sb = 0; sb < supers; ++sb)
            q4kUnpack(a.w + r * static_cast<int64_t>(a.rowBytes) + 144 * sb, scratch[size_t((r - r0) * supers + sb)]);
    auto run = [&](auto rTag, auto nTag, int64_t i0) {
        constexpr int R = decltype(rTag)::value, N = decltype(nTag)::value;
        for (int64_t sb0 = 0; sb0 < supers; sb0 += kQ4kPassSupers) {
            const int64_t sb1 = std::min(supers, sb0 + kQ4kPassSupers);
            int64_t r = r0;
            for (; r + R <= r1; r += R)
                q4kTileRows<R, N>(a, scratch.data() + (r - r0) * supers, r, i0, sb0, sb1);
            for (; r < r1; ++r)
                q4kTileRows<1, N>(a, scratch.data() + (r - r0) * supers, r, i0, sb0, sb1);
        }
    };
    using I1 = std::integral_constant<int, 1>;
    using I2 = std::integral_constant<int, 2>;
    int64_t i0 = 0;
    for (; i0 + kQ4kRows <= a.n; i0 += kQ4kRows)
        run(I1{}, std::integral_constant<int, kQ4kRows>{}, i0);
    for (; i0 + 4 <= a.n; i0 += 4)
        run(I2{}, std::integral_constant<int, 4>{}, i0);
    switch (a.n - i0) {
    case 3: run(I2{}, std::integral_constant<int, 3>{}, i0); break;
    case 2: run(I2{}, I2{}, i0); break;
    case 1:
        for (int64_t r = r0; r < r1; ++r)
            q4kTileOne<1>(a, r, i0);
        break;
    default: break;
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
} // namespace

uint64_t arrangedBytesAvx512(const Args& a)
{
    switch (a.format) {
    case kQ8_0:
    case kQ4_0:
    case kInt8: return a.cols % 64 == 0 ? uint64_t(a.n * a.cols) : 0;
    case kQ4_K: return uint64_t(a.n * a.cols) + uint64_t((a.n + 3) / 4) * uint64_t(a.cols / 256) * 128;
    default: return 0;
    }
}

void arrangeAvx512(const Args& a, int8_t* out)
{
    const int64_t total = a.n * a.cols;
    if (arrangedBytesAvx512(a) == 0)
        return;
    switch (a.format) {
    case kQ8_0:
    case kQ4_0:
    case kInt8: {
        const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
        for (int64_t e = 0; e < total; e += 64)
            _mm512_storeu_si512(out + e, _mm512_xor_si512(_mm512_loadu_si512(a.aq + e), bias));
        return;
    }
    case kQ4_K: {
        // Code vector k of a super-block: sub-blocks kSub[k][0] and kSub[k][1]; rows by groups
        // of eight (q4kCodes).
        const int64_t chunks = a.cols / 32, supers = a.cols / 256;
        for (int64_t i = 0; i < a.n; ++i) {
            int8_t* row = const_cast<int8_t*>(q4kCodes(a, out, i));
            const int64_t step = 256 * q4kRows(a, i);
            for (int64_t sb = 0; sb < supers; ++sb) {
                const int8_t* src = a.aq + i * a.cols + 256 * sb;
                int8_t* dst = row + sb * step;
                for (int k = 0; k < 4; ++k) {
                    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 64 * k), load256(src + 32 * kSub[k][0]));
                    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 64 * k + 32), load256(src + 32 * kSub[k][1]));
                }
            }
        }
        // Per four rows t and super-block: 16 bytes per row of its eight sub-block code sums
        // (int16), then four copies per row of its scale (float); rows past n are zero.
        const int64_t groups = (a.n + 3) / 4;
        uint8_t* ax = reinterpret_cast<uint8_t*>(out + total);
        for (int64_t g = 0; g < groups; ++g)
            for (int64_t sb = 0; sb < supers; ++sb) {
                uint8_t* p = ax + (g * supers + sb) * 128;
                std::memset(p, 0, 128);
                for (int64_t t = 0; t < 4 && 4 * g + t < a.n; ++t) {
                    const int64_t i = 4 * g + t;
                    std::memcpy(p + 16 * t, a.as32 + i * chunks + 8 * sb, 16);
                    const float d = a.ad[i * chunks + 8 * sb];
                    for (int l = 0; l < 4; ++l)
                        std::memcpy(p + 64 + 16 * t + 4 * l, &d, 4);
                }
            }
        return;
    }
    default: return;
    }
}

void bindArrangedAvx512(Args& a, const int8_t* arranged)
{
    a.aqx = arranged;
    if (a.format == kQ4_K)
        a.ax4 = reinterpret_cast<const uint8_t*>(arranged + a.n * a.cols);
}

void rowsAvx512(const Args& a, int64_t r0, int64_t r1)
{
    if (a.aqx) {
        switch (a.format) {
        case kQ8_0: return tiles<Signed<kQ8_0>::T, 4, 4>(a, r0, r1);
        case kQ4_0: return tiles<Signed<kQ4_0>::T, 2, 8>(a, r0, r1);
        case kInt8: return tiles<Signed<kInt8>::T, 2, 8>(a, r0, r1);
        case kQ4_K:
            if (a.n > 1)
                return q4kRowsMany(a, r0, r1);
            for (int64_t r = r0; r < r1; ++r) // matrix-vector: one row at a time, the next prefetched
                q4kTileOne<1>(a, r, 0);
            return;
        default: break;
        }
    }
    rowsSimd(a, r0, r1);
}

} // namespace bonsai::kern
