#pragma once
// Scalar conversions between float and the 16- and 8-bit float formats.
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace bonsai {

inline float fp16ToFloat(uint16_t h)
{
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t mant = h & 0x3FFu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { // subnormal: mant * 2^-24
            float f = static_cast<float>(mant) * 5.9604644775390625e-8f;
            bits = std::bit_cast<uint32_t>(f) | sign;
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    }
    return std::bit_cast<float>(bits);
}

// Round to nearest, ties to even; overflow goes to infinity; NaN stays NaN.
inline uint16_t floatToFp16(float f)
{
    const uint32_t x = std::bit_cast<uint32_t>(f);
    const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
    const uint32_t ax = x & 0x7FFFFFFFu;
    if (ax >= 0x7F800000u) // inf or nan
        return sign | 0x7C00u | (ax > 0x7F800000u ? 0x200u : 0u);
    if (ax >= 0x477FF000u) // >= 65520 rounds to inf
        return sign | 0x7C00u;
    if (ax < 0x38800000u) { // below the smallest normal half (2^-14): subnormal or zero
        // value = ax as float; half subnormal unit is 2^-24
        const float v = std::bit_cast<float>(ax) * 16777216.0f; // scale by 2^24
        // round half to even via nearbyint in the default rounding mode
        const float r = std::nearbyint(v);
        return sign | static_cast<uint16_t>(r);
    }
    uint32_t mant = ax & 0x7FFFFFu;
    uint32_t exp = (ax >> 23) - 112u;
    uint32_t h = (exp << 10) | (mant >> 13);
    const uint32_t rest = mant & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
        ++h; // may carry into the exponent, which is correct
    return sign | static_cast<uint16_t>(h);
}

inline float bf16ToFloat(uint16_t b)
{
    return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

inline uint16_t floatToBf16(float f)
{
    uint32_t x = std::bit_cast<uint32_t>(f);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u)
        return static_cast<uint16_t>((x >> 16) | 0x40u); // quiet NaN
    const uint32_t lsb = (x >> 16) & 1u;
    x += 0x7FFFu + lsb;
    return static_cast<uint16_t>(x >> 16);
}

// FP8 E4M3 "fn" variant (as in safetensors / PyTorch float8_e4m3fn): bias 7, no infinities,
// S.1111.111 is NaN, max 448.
inline float fp8e4m3ToFloat(uint8_t v)
{
    const float sign = (v & 0x80u) ? -1.0f : 1.0f;
    const uint32_t exp = (v >> 3) & 0xFu;
    const uint32_t mant = v & 0x7u;
    if (exp == 0xFu && mant == 0x7u)
        return std::nanf("");
    if (exp == 0)
        return sign * std::ldexp(static_cast<float>(mant), -9); // mant/8 * 2^-6
    return sign * std::ldexp(1.0f + static_cast<float>(mant) / 8.0f, static_cast<int>(exp) - 7);
}

// FP8 E5M2: bias 15, IEEE-like with infinities and NaNs (the top byte of an FP16).
inline float fp8e5m2ToFloat(uint8_t v)
{
    return fp16ToFloat(static_cast<uint16_t>(v) << 8);
}

} // namespace bonsai
