// AVX2 kernels (compiled with -mavx2 -mfma -mf16c): u8 x s8 dot products by vpmaddubsw +
// vpmaddwd. The sums of two products stay within int16: codes are at most 63 (Q6_K) or
// |w| <= 128 with the sign trick, activations within +-127.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/kern_impl.h"

namespace bonsai::kern {
namespace {

inline __m256i dpbusd(__m256i acc, __m256i u, __m256i s)
{
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}

#include "kernels/kern_simd.h"

} // namespace

void rowsAvx2(const Args& a, int64_t r0, int64_t r1) { rowsSimd(a, r0, r1); }

} // namespace bonsai::kern
