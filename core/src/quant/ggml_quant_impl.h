#pragma once
// Internals shared by the GGUF block quantizers (ggml_quant.cpp: the 32-element types and the
// public entry points; ggml_quant_k.cpp: the K super-block types). Not a public header.
//
// Both files disable floating-point contraction (see ggml_quant.cpp): include this header
// after the pragma so that these helpers are compiled the same way.
#include "bonsai/half.h"

#include <cstdint>
#include <cstring>

namespace bonsai::ggml_detail {

inline constexpr int QK = 32;   // elements per block of the simple types
inline constexpr int QKK = 256; // elements per K super-block

// ggml's nearest_int: round half to even through the float addition.
inline int nearestInt(float f)
{
    const float v = f + 12582912.0f;
    int32_t i;
    std::memcpy(&i, &v, sizeof i);
    return (i & 0x007FFFFF) - 0x00400000;
}

inline void putHalf(uint8_t* p, float f)
{
    const uint16_t h = floatToFp16(f);
    std::memcpy(p, &h, 2);
}

inline float halfAt(const uint8_t* p)
{
    uint16_t h;
    std::memcpy(&h, p, 2);
    return fp16ToFloat(h);
}

// K super-block quantizers (ggml_quant_k.cpp): nb blocks of 256 floats from x into y.
void quantQ4_K(const float* x, uint64_t nb, uint8_t* y);
void quantQ5_K(const float* x, uint64_t nb, uint8_t* y);
void quantQ6_K(const float* x, uint64_t nb, uint8_t* y);

} // namespace bonsai::ggml_detail
