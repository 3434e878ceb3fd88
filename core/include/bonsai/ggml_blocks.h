#pragma once
// GGUF (ggml) block types: llama.cpp's block quantizers and dequantizers, bit-exact with its
// reference code (quantize_row_*_ref, dequantize_row_*).
#include "bonsai/dtype.h"

#include <cstdint>

namespace bonsai {


// True for the types quantizeGgmlRow supports: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K,
// Q5_K, Q6_K.
bool ggmlQuantSupported(DType t);

// Quantizes n floats (a multiple of the type's block size: 32, or 256 for the K types) into
// the type's real block bytes, storageBytes(t, n) of them, bit-exact with llama.cpp's
// reference quantizers quantize_row_*_ref (the K types follow the path without an importance
// matrix). Single-threaded; callers parallelise over rows. Throws bonsai::Error for an
// unsupported type or a bad length.
void quantizeGgmlRow(DType t, const float* src, uint64_t n, uint8_t* dst);

// Fake quantization with a GGUF type: quantizeGgmlRow, then dequantizeBlocks, parallel over
// blocks. n must be a multiple of the block size.
void fakeQuantGgml(DType t, const float* w, uint64_t n, float* out);

// Storage bits: blocks * block bytes * 8.
uint64_t ggmlStorageBits(DType t, uint64_t n);

// GGUF block dequantization (llama.cpp reference semantics). n must be a multiple of the
// block size of t.
void dequantizeBlocks(DType t, const uint8_t* src, uint64_t n, float* dst);

// The eight 6-bit scales and mins of the 12-byte scale block of a Q4_K / Q5_K super-block.
void unpackScaleMinK4(const uint8_t* scales, int sc[8], int mn[8]);

} // namespace bonsai
