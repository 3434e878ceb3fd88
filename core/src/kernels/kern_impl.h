#pragma once
// Internals of the packed-weight kernels (kernels.cpp dispatches to one of kern_scalar.cpp,
// kern_avx2.cpp, kern_avx512.cpp). Plain data only: the ISA translation units are compiled
// with their own instruction-set flags and must share no inline code with the rest.
#include "bonsai/ggml_blocks.h" // unpackScaleMinK4 (defined out of line, in quant)

#include <cstdint>

namespace bonsai::kern {

enum Format : int { kF32 = 0, kQ8_0, kQ4_0, kQ4_K, kQ6_K, kInt8, kInt4 };

// One product y = x W^T on int8 activations: weight rows r0..r1 of every activation row.
struct Args {
    int format = kF32;
    const uint8_t* w = nullptr; // row r at w + r * rowBytes
    uint64_t rowBytes = 0;
    int64_t cols = 0;
    const float* scales = nullptr;  // Int8/Int4: groupsPerRow per row
    const float* offsets = nullptr; // Int4: s * z per group
    int64_t groupSize = 0, groupsPerRow = 0;
    // Activations (kernels.h QuantizedActivations): row i's codes at aq + i * cols, chunk
    // scales at ad + i * cols / 32, 16-group sums times scale at am16 + i * cols / 16, chunk
    // code sums at as32 + i * cols / 32.
    const int8_t* aq = nullptr;
    const float* ad = nullptr;
    const float* am16 = nullptr;
    const int16_t* as32 = nullptr;
    // The codes rearranged for the AVX-512 kernels (arrangeAvx512), when those run; for Q4_K
    // also, per four activation rows and super-block, their sub-block code sums and scales
    // (bindArrangedAvx512 sets both).
    const int8_t* aqx = nullptr;
    const uint8_t* ax4 = nullptr;
    int64_t n = 0;
    float* y = nullptr; // y[i * ldy + r]
    int64_t ldy = 0;
};

void rowsScalar(const Args& a, int64_t r0, int64_t r1);
void rowsAvx2(const Args& a, int64_t r0, int64_t r1);
void rowsAvx512(const Args& a, int64_t r0, int64_t r1);
// The bytes arrangeAvx512 writes for a: the activation codes as rowsAvx512 reads them for
// a.format (offset to unsigned for the signed formats, Q4_K's sub-block order within each 256
// block), then for Q4_K the sums and scales of every four rows; 0 when rowsAvx512 reads the
// plain codes for this format.
uint64_t arrangedBytesAvx512(const Args& a);
// Writes arrangedBytesAvx512(a) bytes at out (nothing when that is 0).
void arrangeAvx512(const Args& a, int8_t* out);
// Points a's arranged inputs (aqx, ax4) into what arrangeAvx512 wrote at `arranged`.
void bindArrangedAvx512(Args& a, const int8_t* arranged);

} // namespace bonsai::kern
