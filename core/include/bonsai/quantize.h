#pragma once
// Quantization kernels of the compression engine ("fake quantization").
//
// Every kernel takes float32 weights and writes the values the compressed model would compute
// with (quantize, then dequantize) into `out`. Matrices are row-major views of `rows` x `cols`
// floats where rows are output channels and cols is everything else (the caller moves the
// output-channel axis first and flattens the rest).
//
// Aliasing: `out` may be the same pointer as `w` (in-place), but the two ranges must not
// otherwise overlap. Inputs must be finite (no NaN / infinity).
//
// Threading: the kernels are OpenMP-parallel over rows, groups or blocks and use the calling
// thread's OpenMP team size (omp_set_num_threads / OMP_NUM_THREADS).
//
// Storage sizes are given in bits and count everything the format must store: the codes plus
// scales (FP16, 16 bits each) and zero points.
#include "bonsai/dtype.h"

#include <cstdint>

namespace bonsai {

// ------------------------------------------------------------------------------------------
// Integer quantization (2..8 bits)
// ------------------------------------------------------------------------------------------

// Which weights share one scale (and zero point).
enum class Granularity : uint8_t {
    PerTensor,  // one scale for the whole matrix
    PerChannel, // one scale per row (output channel)
    Group,      // one scale per group of `groupSize` consecutive weights along a row; each row
                // has ceil(cols / groupSize) groups and its last group may be shorter
};

struct IntQuantConfig {
    int bits = 8;          // 2..8
    Granularity granularity = Granularity::PerChannel;
    uint32_t groupSize = 128; // used for Granularity::Group (any value >= 1; usually 32..256)
    bool symmetric = true;
    // Clipping search: for each group (or channel, or the tensor) try the clip ratios of
    // kClipRatios, shrinking the quantization range to ratio * range, and keep the ratio with
    // the smallest squared error of that group (the first one on ties, so 1.0 wins a draw).
    bool clipSearch = false;
};

// The clip-ratio grid of IntQuantConfig::clipSearch: 1.00, 0.95, 0.90, ..., 0.50 (11 ratios).
inline constexpr int kClipRatioCount = 11;
inline constexpr float kClipRatios[kClipRatioCount] = {1.00f, 0.95f, 0.90f, 0.85f, 0.80f, 0.75f,
                                                       0.70f, 0.65f, 0.60f, 0.55f, 0.50f};

// Fake-quantizes the rows x cols matrix `w` into `out`.
//
// Symmetric (qmax = 2^(b-1) - 1):
//   scale = fp16(max|w| / qmax)                    (max over the group, times the clip ratio)
//   q     = clamp(round(w / scale), -qmax, qmax)   out = q * scale
// Asymmetric (qmax = 2^b - 1); the range always contains 0 (lo = min(min w, 0),
// hi = max(max w, 0), as GPTQ does), so that 0 is exactly representable:
//   scale = fp16((hi - lo) / qmax)
//   zero  = clamp(round(-lo / scale), 0, qmax)
//   q     = clamp(round(w / scale) + zero, 0, qmax)  out = (q - zero) * scale
// round() is round-half-to-even. fp16() rounds to the nearest FP16 value (ties to even) and
// the rounded scale is used for both quantization and dequantization; a scale above the
// largest FP16 value saturates to 65504. A group whose scale is 0 (all zero, or so small that
// the FP16 scale underflows) dequantizes to 0.
// Throws bonsai::Error on an invalid configuration (bits outside 2..8, groupSize 0).
void fakeQuantInt(const float* w, uint64_t rows, uint64_t cols, const IntQuantConfig& cfg, float* out);

// Number of scale groups: 1 (per tensor), rows (per channel) or rows * ceil(cols / groupSize).
uint64_t intGroupCount(uint64_t rows, uint64_t cols, const IntQuantConfig& cfg);

// Storage bits: n * b + groups * 16, plus groups * b for the zero points when asymmetric.
uint64_t intStorageBits(uint64_t rows, uint64_t cols, const IntQuantConfig& cfg);

// ------------------------------------------------------------------------------------------
// Floating-point formats
// ------------------------------------------------------------------------------------------

enum class FloatFormat : uint8_t { FP16, BF16, FP8_E4M3, FP8_E5M2 };

// Largest finite values of the FP8 formats (E4M3 "fn": 448, E5M2: 57344).
inline constexpr float kFp8E4M3Max = 448.0f;
inline constexpr float kFp8E5M2Max = 57344.0f;

// Float -> FP8 E4M3fn code: round to nearest, ties to even, saturating to +-448 (the format
// has no infinity; infinities also saturate). NaN gives 0x7F (with the sign of the input).
uint8_t floatToFp8E4M3(float f);
// Float -> FP8 E5M2 code: round to nearest, ties to even, saturating to +-57344 (finite
// overflow and infinities give the largest finite value, not infinity). NaN gives 0x7E.
uint8_t floatToFp8E5M2(float f);

// Fake-quantizes to a float format.
//  - FP16 and BF16: a plain cast with round to nearest even (no scale; `granularity` is
//    ignored; FP16 overflow gives +-infinity exactly like a cast would).
//  - FP8: scale = fp16(absmax / fp8max) per tensor or per row (Granularity::Group is not
//    allowed), out = fp8(w / scale) * scale with fp8() the saturating RNE conversion above.
//    A scale of 0 (all-zero rows, or an FP16 underflow) gives 0.
void fakeQuantFloat(const float* w, uint64_t rows, uint64_t cols, FloatFormat fmt,
                    Granularity granularity, float* out);

// Storage bits: n * 16 (FP16, BF16); n * 8 + 16 per scale (FP8: 1 or `rows` scales).
uint64_t floatStorageBits(uint64_t rows, uint64_t cols, FloatFormat fmt, Granularity granularity);

// ------------------------------------------------------------------------------------------
// NF4 (bitsandbytes NormalFloat4)
// ------------------------------------------------------------------------------------------

inline constexpr uint32_t kNf4BlockSize = 64;

// The 16 NF4 code values (bitsandbytes' table), ascending; code 7 is exactly 0.
extern const float kNf4Code[16];
// The 15 decision thresholds of bitsandbytes' dQuantizeNF4: midpoints of adjacent codes.
extern const float kNf4Threshold[15];

// Index (0..15) of the NF4 code for a value normalised to [-1, 1]: the number of thresholds it
// is strictly greater than (a value exactly on a threshold takes the lower code, as in
// bitsandbytes' decision tree).
uint8_t nf4Index(float normalized);

// Fake-quantizes n values of the flattened tensor to NF4: blocks of 64 consecutive values
// (the last may be shorter), absmax = fp16(max |x|) per block, code = nf4Index(x * (1 /
// absmax)), out = kNf4Code[code] * absmax. An all-zero block gives 0.
void fakeQuantNf4(const float* w, uint64_t n, float* out);

// Storage bits: n * 4 + ceil(n / 64) * 16.
uint64_t nf4StorageBits(uint64_t n);

// ------------------------------------------------------------------------------------------
// Error metrics
// ------------------------------------------------------------------------------------------

struct ErrorMetrics {
    double relFrobenius = 0; // ||W - Wq|| / ||W||  (0 when both are 0; +inf if only W is 0)
    double sqnrDb = 0;       // 10 log10(sum w^2 / sum (w - wq)^2); +inf when exact
    double cosine = 0;       // <W, Wq> / (||W|| ||Wq||); 1 when both are 0, 0 if only one is
    double maxAbsError = 0;  // max |w - wq|
};

// Compares original `ref` with dequantized `approx` (n values each), accumulating in double.
ErrorMetrics errorMetrics(const float* ref, const float* approx, uint64_t n);

} // namespace bonsai
