// AVX-512 kernels (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mfma -mf16c):
// u8 x s8 dot products by VNNI's vpdpbusd on 256-bit vectors (one instruction for four
// products and their sum per lane, where AVX2 needs two and a constant).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/kern_impl.h"

namespace bonsai::kern {
namespace {

inline __m256i dpbusd(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); }

#include "kernels/kern_simd.h"

} // namespace

void rowsAvx512(const Args& a, int64_t r0, int64_t r1) { rowsSimd(a, r0, r1); }

} // namespace bonsai::kern
