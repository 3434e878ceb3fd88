// The AVX2 / AVX-512 kernel bodies, included inside an anonymous namespace by kern_avx2.cpp
// and kern_avx512.cpp after they define dpbusd(acc, u, s) (acc + the sums of four products
// of unsigned u and signed s bytes per 32-bit lane). No includes here: the including file
// provides <immintrin.h>, <cstring> and kern_impl.h (which declares unpackScaleMinK4).
//
// Every format is walked in 32-element chunks: its codes unpacked once into 32 unsigned bytes
// (or, for the signed int8 formats, kept signed and multiplied with the sign trick), then for
// each of up to four activation rows one dpbusd, a conversion and a multiply-add with the
// chunk's weight scale times the activation scale. Formats whose value is scale * (u - z)
// subtract z * scale * (activation code sum) once per chunk (or per 16-group for Q6_K).

inline float h2f(const uint8_t* p)
{
    uint16_t h;
    std::memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

template <int N>
struct Tile {
    __m256 acc[N];
    float off[N];
    const int8_t* aq[N];
    const float* ad[N];
    const float* am[N];

    Tile(const bonsai::kern::Args& a, int64_t i0)
    {
        for (int k = 0; k < N; ++k) {
            acc[k] = _mm256_setzero_ps();
            off[k] = 0;
            aq[k] = a.aq + (i0 + k) * a.cols;
            ad[k] = a.ad + (i0 + k) * (a.cols / 32);
            am[k] = a.am16 + (i0 + k) * (a.cols / 16);
        }
    }
    // Unsigned codes u of chunk c with one weight scale ws and offset wo (value ws*u - wo).
    inline void unsignedChunk(__m256i u, int64_t c, float ws, float wo)
    {
        for (int k = 0; k < N; ++k) {
            const __m256i s = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(aq[k] + 32 * c));
            const __m256i p = dpbusd(_mm256_setzero_si256(), u, s);
            acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(ws * ad[k][c]), acc[k]);
            off[k] += wo * (am[k][2 * c] + am[k][2 * c + 1]);
        }
    }
    // Unsigned codes with a scale per 16-group (lanes 0-3 and 4-7) and offsets.
    inline void unsignedChunk16(__m256i u, int64_t c, __m256 wsv, float wo0, float wo1)
    {
        for (int k = 0; k < N; ++k) {
            const __m256i s = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(aq[k] + 32 * c));
            const __m256i p = dpbusd(_mm256_setzero_si256(), u, s);
            acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(wsv, _mm256_set1_ps(ad[k][c])), acc[k]);
            off[k] += wo0 * am[k][2 * c] + wo1 * am[k][2 * c + 1];
        }
    }
    // Signed int8 codes w (sign trick: |w| times sign(w) * x).
    inline void signedChunk(__m256i w, int64_t c, float ws)
    {
        const __m256i u = _mm256_sign_epi8(w, w);
        for (int k = 0; k < N; ++k) {
            const __m256i s = _mm256_sign_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(aq[k] + 32 * c)), w);
            const __m256i p = dpbusd(_mm256_setzero_si256(), u, s);
            acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(ws * ad[k][c]), acc[k]);
        }
    }
    void store(const bonsai::kern::Args& a, int64_t i0, int64_t r)
    {
        for (int k = 0; k < N; ++k)
            a.y[(i0 + k) * a.ldy + r] = hsum(acc[k]) - off[k];
    }
};

template <int N>
inline void rowTile(const bonsai::kern::Args& a, int64_t r, int64_t i0)
{
    using namespace bonsai::kern;
    Tile<N> t(a, i0);
    const uint8_t* w = a.w + r * static_cast<int64_t>(a.rowBytes);
    const int64_t chunks = a.cols / 32;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    switch (a.format) {
    case kQ8_0:
        for (int64_t c = 0; c < chunks; ++c, w += 34)
            t.signedChunk(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 2)), c, h2f(w));
        break;
    case kQ4_0:
        for (int64_t c = 0; c < chunks; ++c, w += 18) {
            const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2));
            const __m256i u = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), m4);
            const float d = h2f(w);
            t.unsignedChunk(u, c, d, 8.0f * d);
        }
        break;
    case kInt8: {
        const float* sc = a.scales + r * a.groupsPerRow;
        for (int64_t c = 0; c < chunks; ++c)
            t.signedChunk(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 32 * c)), c,
                          sc[(32 * c) / a.groupSize]);
        break;
    }
    case kInt4: {
        const float* sc = a.scales + r * a.groupsPerRow;
        const float* of = a.offsets + r * a.groupsPerRow;
        for (int64_t c = 0; c < chunks; ++c) {
            const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 16 * c));
            const __m256i u = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), m4);
            const int64_t g = (32 * c) / a.groupSize;
            t.unsignedChunk(u, c, sc[g], of[g]);
        }
        break;
    }
    case kQ4_K:
        for (int64_t sb = 0; sb < chunks / 8; ++sb, w += 144) {
            const float d = h2f(w), dmin = h2f(w + 2);
            int sc[8], mn[8];
            unpackScaleMinK4(w + 4, sc, mn);
            for (int g = 0; g < 4; ++g) {
                const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 16 + 32 * g));
                const int64_t c = sb * 8 + 2 * g;
                t.unsignedChunk(_mm256_and_si256(v, m4), c, d * float(sc[2 * g]), dmin * float(mn[2 * g]));
                t.unsignedChunk(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), c + 1, d * float(sc[2 * g + 1]),
                                dmin * float(mn[2 * g + 1]));
            }
        }
        break;
    case kQ6_K: {
        const __m256i m3 = _mm256_set1_epi8(3);
        for (int64_t sb = 0; sb < chunks / 8; ++sb, w += 210) {
            const float d = h2f(w + 208);
            const auto* scl = reinterpret_cast<const int8_t*>(w + 192);
            for (int h = 0; h < 2; ++h) {
                const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 64 * h));
                const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 64 * h + 32));
                const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 128 + 32 * h));
                __m256i u[4];
                u[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m3), 4));
                u[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m3), 4));
                u[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m3), 4));
                u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m3), 4));
                for (int k = 0; k < 4; ++k) {
                    const float s0 = d * float(scl[8 * h + 2 * k]), s1 = d * float(scl[8 * h + 2 * k + 1]);
                    const __m256 wsv = _mm256_set_m128(_mm_set1_ps(s1), _mm_set1_ps(s0));
                    t.unsignedChunk16(u[k], sb * 8 + 4 * h + k, wsv, 32.0f * s0, 32.0f * s1);
                }
            }
        }
        break;
    }
    default: break;
    }
    t.store(a, i0, r);
}

// Weight rows r0..r1 of every activation row, activations in tiles of four (each unpacked
// weight chunk is used for up to four rows; a tile of weight rows stays in cache meanwhile).
inline void rowsSimd(const bonsai::kern::Args& a, int64_t r0, int64_t r1)
{
    int64_t i0 = 0;
    for (; i0 + 4 <= a.n; i0 += 4)
        for (int64_t r = r0; r < r1; ++r)
            rowTile<4>(a, r, i0);
    const int64_t left = a.n - i0;
    for (int64_t r = r0; r < r1; ++r) {
        if (left == 3)
            rowTile<3>(a, r, i0);
        else if (left == 2)
            rowTile<2>(a, r, i0);
        else if (left == 1)
            rowTile<1>(a, r, i0);
    }
}
