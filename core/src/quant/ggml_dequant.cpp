// Dequantization of the GGUF (ggml) block-quantized storage types.
//
// The arithmetic follows llama.cpp's reference dequantize_row_* functions value for value:
// the same block layouts, the same element order and the same float operation order
// (fp16 scales widened with bonsai::fp16ToFloat). The code is our own: every type has one
// function that walks whole blocks, reads the block header once and then runs short
// fixed-length inner loops without calls, which compilers vectorise.
//
// Block layouts (bytes, little-endian; "half" is an IEEE fp16 scale):
//   Q4_0  (32 elems, 18 B):  d:half, qs[16]            4-bit, x = (q - 8) * d
//   Q4_1  (32 elems, 20 B):  d:half, m:half, qs[16]    4-bit, x = q * d + m
//   Q5_0  (32 elems, 22 B):  d:half, qh[4], qs[16]     5-bit, x = (q - 16) * d
//   Q5_1  (32 elems, 24 B):  d:half, m:half, qh[4], qs[16]   x = q * d + m
//   Q8_0  (32 elems, 34 B):  d:half, qs[32] int8       x = q * d
//   Q2_K  (256, 84 B):  scales[16], qs[64], d:half, dmin:half
//   Q3_K  (256, 110 B): hmask[32], qs[64], scales[12], d:half
//   Q4_K  (256, 144 B): d:half, dmin:half, scales[12], qs[128]
//   Q5_K  (256, 176 B): d:half, dmin:half, scales[12], qh[32], qs[128]
//   Q6_K  (256, 210 B): ql[128], qh[64], scales[16] int8, d:half
#include "bonsai/dtype.h"
#include "bonsai/error.h"
#include "bonsai/half.h"
#include "bonsai/ggml_blocks.h"

#include <cstring>
#include <string>

// Keep every multiply and add separately rounded, exactly as the C reference is written:
// without this, -march=native builds fuse "d * q - m" into FMAs and results would differ in
// the last bit between machines (and from llama.cpp's reference and gguf-py's numpy code).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace bonsai {

// The 12-byte scale/min block of Q4_K and Q5_K: eight 6-bit scales and eight 6-bit mins.
// For sub-block k < 4: scale = s[k] & 63, min = s[k + 4] & 63. For k >= 4 the low four bits
// come from s[k + 4] (scale: low nibble, min: high nibble) and the top two bits from the
// top two bits of s[k - 4] (scale) and s[k] (min).
void unpackScaleMinK4(const uint8_t* s, int sc[8], int mn[8])
{
    for (int k = 0; k < 4; ++k) {
        sc[k] = s[k] & 63;
        mn[k] = s[k + 4] & 63;
    }
    for (int k = 4; k < 8; ++k) {
        sc[k] = (s[k + 4] & 0x0F) | ((s[k - 4] >> 6) << 4);
        mn[k] = (s[k + 4] >> 4) | ((s[k] >> 6) << 4);
    }
}

namespace {

inline float halfAt(const uint8_t* p)
{
    uint16_t h;
    std::memcpy(&h, p, 2);
    return fp16ToFloat(h);
}

// --- 32-element blocks ---

// Element j < 16 is the low nibble of qs[j]; element j + 16 is its high nibble.
void dequantQ4_0(const uint8_t* b, uint64_t nb, float* y)
{
    for (uint64_t i = 0; i < nb; ++i, b += 18, y += 32) {
        const float d = halfAt(b);
        const uint8_t* qs = b + 2;
        for (int j = 0; j < 16; ++j) {
            y[j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
            y[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
        }
    }
}

void dequantQ4_1(const uint8_t* b, uint64_t nb, float* y)
{
    for (uint64_t i = 0; i < nb; ++i, b += 20, y += 32) {
        const float d = halfAt(b);
        const float m = halfAt(b + 2);
        const uint8_t* qs = b + 4;
        for (int j = 0; j < 16; ++j) {
            y[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
            y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
        }
    }
}

// qh is a little-endian 32-bit mask: bit j is the fifth bit of element j.
void dequantQ5_0(const uint8_t* b, uint64_t nb, float* y)
{
    for (uint64_t i = 0; i < nb; ++i, b += 22, y += 32) {
        const float d = halfAt(b);
        uint32_t qh;
        std::memcpy(&qh, b + 2, 4);
        const uint8_t* qs = b + 6;
        for (int j = 0; j < 16; ++j) {
            const int hi0 = static_cast<int>((qh >> j) & 1u) << 4;
            const int hi1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
            y[j] = static_cast<float>(((qs[j] & 0x0F) | hi0) - 16) * d;
            y[j + 16] = static_cast<float>(((qs[j] >> 4) | hi1) - 16) * d;
        }
    }
}

void dequantQ5_1(const uint8_t* b, uint64_t nb, float* y)
{
    for (uint64_t i = 0; i < nb; ++i, b += 24, y += 32) {
        const float d = halfAt(b);
        const float m = halfAt(b + 2);
        uint32_t qh;
        std::memcpy(&qh, b + 4, 4);
        const uint8_t* qs = b + 8;
        for (int j = 0; j < 16; ++j) {
            const int hi0 = static_cast<int>((qh >> j) & 1u) << 4;
            const int hi1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
            y[j] = static_cast<float>((qs[j] & 0x0F) | hi0) * d + m;
            y[j + 16] = static_cast<float>((qs[j] >> 4) | hi1) * d + m;
        }
    }
}

void dequantQ8_0(const uint8_t* b, uint64_t nb, float* y)
{
    for (uint64_t i = 0; i < nb; ++i, b += 34, y += 32) {
        const float d = halfAt(b);
        const auto* qs = reinterpret_cast<const int8_t*>(b + 2);
        for (int j = 0; j < 32; ++j)
            y[j] = static_cast<float>(qs[j]) * d;
    }
}

// --- 256-element super-blocks ---

// Q2_K: 16 sub-blocks of 16 elements. scales[k] holds the 4-bit scale (low nibble) and
// 4-bit min (high nibble) of sub-block k. The 2-bit quants are packed four to a byte: in
// each 128-element half h, byte qs[32h + l] holds elements 128h + l + 32s (s = 0..3) in
// bits 2s..2s+1. x = d * scale * q - dmin * min.
void dequantQ2_K(const uint8_t* b, uint64_t nb, float* y)
{
    for (uint64_t i = 0; i < nb; ++i, b += 84, y += 256) {
        const uint8_t* scales = b;
        const float d = halfAt(b + 80);
        const float dmin = halfAt(b + 82);
        for (int h = 0; h < 2; ++h) {
            const uint8_t* q = b + 16 + 32 * h;
            for (int s = 0; s < 4; ++s) {
                const int shift = 2 * s;
                float* out = y + 128 * h + 32 * s;
                for (int part = 0; part < 2; ++part) { // two 16-element sub-blocks
                    const uint8_t sc = scales[8 * h + 2 * s + part];
                    const float dl = d * static_cast<float>(sc & 0x0F);
                    const float ml = dmin * static_cast<float>(sc >> 4);
                    const uint8_t* qp = q + 16 * part;
                    for (int l = 0; l < 16; ++l)
                        out[16 * part + l] = dl * static_cast<float>((qp[l] >> shift) & 3) - ml;
                }
            }
        }
    }
}

// Q3_K: 16 sub-blocks of 16 elements with signed 6-bit scales (stored + 32). Scale k has its
// low four bits in scales[k] (k < 8, low nibble) or scales[k - 8] (high nibble), and its two
// high bits in scales[8 + k % 4] at bit 2 * (k / 4). The low two bits of the quants are
// packed like Q2_K; the third bit of element 128h + 32s + l (l < 32) is bit 4h + s of
// hmask[l]. A clear bit subtracts 4: x = d * (scale - 32) * (q2 - (bit ? 0 : 4)).
void dequantQ3_K(const uint8_t* b, uint64_t nb, float* y)
{
    for (uint64_t i = 0; i < nb; ++i, b += 110, y += 256) {
        const uint8_t* hmask = b;
        const uint8_t* sp = b + 96;
        const float dAll = halfAt(b + 108);
        int scale[16];
        for (int k = 0; k < 16; ++k) {
            const int low = k < 8 ? (sp[k] & 0x0F) : (sp[k - 8] >> 4);
            const int high = (sp[8 + k % 4] >> (2 * (k / 4))) & 3;
            scale[k] = (low | (high << 4)) - 32;
        }
        for (int h = 0; h < 2; ++h) {
            const uint8_t* q = b + 32 + 32 * h;
            for (int s = 0; s < 4; ++s) {
                const int shift = 2 * s;
                const uint8_t bit = static_cast<uint8_t>(1u << (4 * h + s));
                float* out = y + 128 * h + 32 * s;
                for (int part = 0; part < 2; ++part) {
                    const float dl = dAll * static_cast<float>(scale[8 * h + 2 * s + part]);
                    const uint8_t* qp = q + 16 * part;
                    const uint8_t* hp = hmask + 16 * part;
                    for (int l = 0; l < 16; ++l) {
                        const int v = ((qp[l] >> shift) & 3) - ((hp[l] & bit) ? 0 : 4);
                        out[16 * part + l] = dl * static_cast<float>(v);
                    }
                }
            }
        }
    }
}

// Q4_K: 8 sub-blocks of 32. In 64-element group g, qs[32g + l] holds element 64g + l in its
// low nibble (sub-block 2g) and element 64g + 32 + l in its high nibble (sub-block 2g + 1).
// x = d * scale * q - dmin * min.
void dequantQ4_K(const uint8_t* b, uint64_t nb, float* y)
{
    for (uint64_t i = 0; i < nb; ++i, b += 144, y += 256) {
        const float d = halfAt(b);
        const float dmin = halfAt(b + 2);
        int sc[8], mn[8];
        unpackScaleMinK4(b + 4, sc, mn);
        for (int g = 0; g < 4; ++g) {
            const uint8_t* q = b + 16 + 32 * g;
            const float d1 = d * static_cast<float>(sc[2 * g]);
            const float m1 = dmin * static_cast<float>(mn[2 * g]);
            const float d2 = d * static_cast<float>(sc[2 * g + 1]);
            const float m2 = dmin * static_cast<float>(mn[2 * g + 1]);
            float* out = y + 64 * g;
            for (int l = 0; l < 32; ++l)
                out[l] = d1 * static_cast<float>(q[l] & 0x0F) - m1;
            for (int l = 0; l < 32; ++l)
                out[32 + l] = d2 * static_cast<float>(q[l] >> 4) - m2;
        }
    }
}

// Q5_K: as Q4_K plus a fifth bit: for group g, bit 2g of qh[l] belongs to element 64g + l and
// bit 2g + 1 to element 64g + 32 + l (adds 16 to the quant).
void dequantQ5_K(const uint8_t* b, uint64_t nb, float* y)
{
    for (uint64_t i = 0; i < nb; ++i, b += 176, y += 256) {
        const float d = halfAt(b);
        const float dmin = halfAt(b + 2);
        int sc[8], mn[8];
        unpackScaleMinK4(b + 4, sc, mn);
        const uint8_t* qh = b + 16;
        for (int g = 0; g < 4; ++g) {
            const uint8_t* ql = b + 48 + 32 * g;
            const uint8_t u1 = static_cast<uint8_t>(1u << (2 * g));
            const uint8_t u2 = static_cast<uint8_t>(2u << (2 * g));
            const float d1 = d * static_cast<float>(sc[2 * g]);
            const float m1 = dmin * static_cast<float>(mn[2 * g]);
            const float d2 = d * static_cast<float>(sc[2 * g + 1]);
            const float m2 = dmin * static_cast<float>(mn[2 * g + 1]);
            float* out = y + 64 * g;
            for (int l = 0; l < 32; ++l)
                out[l] = d1 * static_cast<float>((ql[l] & 0x0F) + ((qh[l] & u1) ? 16 : 0)) - m1;
            for (int l = 0; l < 32; ++l)
                out[32 + l] = d2 * static_cast<float>((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
        }
    }
}

// Q6_K: 16 sub-blocks of 16 with int8 scales. In 128-element half h (ql += 64h, qh += 32h,
// scales += 8h), for l < 32 the four elements l, l+32, l+64, l+96 take their low four bits
// from ql[l] low, ql[l+32] low, ql[l] high, ql[l+32] high nibble and their top two bits from
// bits 0-1, 2-3, 4-5, 6-7 of qh[l]. Element e of the half uses scale e / 16.
// x = d * scale * (q - 32).
void dequantQ6_K(const uint8_t* b, uint64_t nb, float* y)
{
    for (uint64_t i = 0; i < nb; ++i, b += 210, y += 256) {
        const float d = halfAt(b + 208);
        const auto* scales = reinterpret_cast<const int8_t*>(b + 192);
        for (int h = 0; h < 2; ++h) {
            const uint8_t* ql = b + 64 * h;
            const uint8_t* qh = b + 128 + 32 * h;
            const int8_t* sc = scales + 8 * h;
            float* out = y + 128 * h;
            for (int part = 0; part < 2; ++part) { // l in [16 part, 16 part + 16)
                const float ds0 = d * static_cast<float>(sc[part + 0]);
                const float ds1 = d * static_cast<float>(sc[part + 2]);
                const float ds2 = d * static_cast<float>(sc[part + 4]);
                const float ds3 = d * static_cast<float>(sc[part + 6]);
                for (int l = 16 * part; l < 16 * part + 16; ++l) {
                    const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
                    const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
                    const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                    const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                    out[l] = ds0 * static_cast<float>(q1);
                    out[l + 32] = ds1 * static_cast<float>(q2);
                    out[l + 64] = ds2 * static_cast<float>(q3);
                    out[l + 96] = ds3 * static_cast<float>(q4);
                }
            }
        }
    }
}

} // namespace

void dequantizeBlocks(DType t, const uint8_t* src, uint64_t n, float* dst)
{
    const DTypeInfo& info = dtypeInfo(t);
    if (!info.isQuantized)
        throw Error("dequantizeBlocks: " + std::string(info.name) + " is not a block-quantized type");
    if (n % info.blockElems != 0)
        throw Error("dequantizeBlocks: " + std::to_string(n) + " elements are not a multiple of the " +
                    std::to_string(info.blockElems) + "-element " + std::string(info.name) + " block");
    const uint64_t nb = n / info.blockElems;
    switch (t) {
    case DType::Q4_0: dequantQ4_0(src, nb, dst); return;
    case DType::Q4_1: dequantQ4_1(src, nb, dst); return;
    case DType::Q5_0: dequantQ5_0(src, nb, dst); return;
    case DType::Q5_1: dequantQ5_1(src, nb, dst); return;
    case DType::Q8_0: dequantQ8_0(src, nb, dst); return;
    case DType::Q2_K: dequantQ2_K(src, nb, dst); return;
    case DType::Q3_K: dequantQ3_K(src, nb, dst); return;
    case DType::Q4_K: dequantQ4_K(src, nb, dst); return;
    case DType::Q5_K: dequantQ5_K(src, nb, dst); return;
    case DType::Q6_K: dequantQ6_K(src, nb, dst); return;
    default: break;
    }
    throw Error("dequantizeBlocks: no dequantizer for " + std::string(info.name));
}

} // namespace bonsai
