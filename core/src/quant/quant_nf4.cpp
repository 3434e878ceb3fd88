// NF4 (NormalFloat4) fake quantization as bitsandbytes defines it (QLoRA): blocks of 64
// consecutive values of the flattened tensor, one absmax per block, each value multiplied by
// 1 / absmax and mapped to one of 16 fixed code values.
//
// bitsandbytes maps a normalised value with a binary decision tree (dQuantizeNF4) whose 15
// thresholds are the midpoints of adjacent code values, taking the upper code only when the
// value is strictly greater than the threshold. Since the thresholds ascend, the tree's
// result equals the number of thresholds the value exceeds. The kernel walks the 15
// thresholds with compare-and-select (no branches, no table lookup), which vectorises over a
// block instead of branching per value.
#include "bonsai/quantize.h"

#include "bonsai/half.h"

#include <algorithm>
#include <cmath>

namespace bonsai {

// bitsandbytes' NF4 table (nf4_dequantization_lut / the NF4 code in functional.py).
const float kNf4Code[16] = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

// The thresholds of bitsandbytes' decision tree, ascending: (kNf4Code[i] + kNf4Code[i+1]) / 2
// as the decimal constants it uses.
const float kNf4Threshold[15] = {
    -0.8480964004993439f,
    -0.6106329262256622f,
    -0.4599952697753906f,
    -0.33967943489551544f,
    -0.23460740596055984f,
    -0.13791173323988914f,
    -0.045525018125772476f,
    0.03979014977812767f,
    0.1202552504837513f,
    0.2035212516784668f,
    0.2920137718319893f,
    0.3893125355243683f,
    0.5016634166240692f,
    0.6427869200706482f,
    0.8614784181118011f,
};

uint8_t nf4Index(float normalized)
{
    int idx = 0;
    for (int k = 0; k < 15; ++k)
        idx += normalized > kNf4Threshold[k] ? 1 : 0;
    return static_cast<uint8_t>(idx);
}

namespace {

// One block: absmax (FP16-rounded), codes, dequantized values.
void nf4Block(const float* x, float* y, uint32_t len)
{
    // max |x| with a lane array and constant-width folds (GCC does not vectorise float max
    // reductions): a full block is one pass over 64 lanes.
    float m[kNf4BlockSize] = {};
    if (len == kNf4BlockSize) {
        for (uint32_t k = 0; k < kNf4BlockSize; ++k)
            m[k] = std::fabs(x[k]);
    } else {
        for (uint32_t k = 0; k < len; ++k)
            m[k] = std::fabs(x[k]);
    }
    for (int k = 0; k < 32; ++k)
        m[k] = m[k + 32] > m[k] ? m[k + 32] : m[k];
    for (int k = 0; k < 16; ++k)
        m[k] = m[k + 16] > m[k] ? m[k + 16] : m[k];
    for (int k = 0; k < 8; ++k)
        m[k] = m[k + 8] > m[k] ? m[k + 8] : m[k];
    for (int k = 0; k < 4; ++k)
        m[k] = m[k + 4] > m[k] ? m[k + 4] : m[k];
    const float amax = std::max(std::max(m[0], m[1]), std::max(m[2], m[3]));
    float a = fp16ToFloat(floatToFp16(amax));
    if (std::isinf(a))
        a = 65504.0f;
    if (a == 0) {
        std::fill(y, y + len, 0.0f);
        return;
    }
    const float inv = 1.0f / a; // bitsandbytes multiplies by the reciprocal of absmax
    // Walk up the ascending thresholds selecting the next code each time the value exceeds
    // one: the code of the nearest-code index, with no table lookup (vectorises).
#pragma omp simd
    for (uint32_t i = 0; i < len; ++i) {
        const float v = x[i] * inv;
        float c = kNf4Code[0];
        for (int k = 0; k < 15; ++k)
            c = v > kNf4Threshold[k] ? kNf4Code[k + 1] : c;
        y[i] = c * a;
    }
}

} // namespace

void fakeQuantNf4(const float* w, uint64_t n, float* out)
{
    const int64_t blocks = static_cast<int64_t>((n + kNf4BlockSize - 1) / kNf4BlockSize);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
        const uint64_t first = static_cast<uint64_t>(b) * kNf4BlockSize;
        nf4Block(w + first, out + first, static_cast<uint32_t>(std::min<uint64_t>(kNf4BlockSize, n - first)));
    }
}

uint64_t nf4StorageBits(uint64_t n)
{
    return n * 4 + (n + kNf4BlockSize - 1) / kNf4BlockSize * 16;
}

} // namespace bonsai
