#pragma once
// Weight-only low-bit matrix kernels for inference: y = x W^T with W kept packed (GGUF blocks
// read straight from a mapped file, or integer codes packed once from a recipe), x a few float
// rows (decode: 1..8 rows; prefill: many rows).
//
// Quantized formats run on int8 activations, quantized per block as llama.cpp does: 32-element
// blocks with one scale (Q8_0-style) for Q8_0, Q4_0 and the integer formats; 256-element
// blocks with one scale (Q8_K-style) for the K types. Each output is then the exact integer
// dot product of the codes, scaled: the only error against dequantize-then-dot is the
// activations' rounding, at most sum_i |w_i| * d_x(i) / 2 (d_x(i): the scale of x_i's block).
// The float-activation path (packedMatmulFloat) dequantizes weight rows and dots in float.
//
// Every kernel has a scalar version, an AVX2 version and an AVX-512 version (VNNI dot
// products, 256-bit vectors); the best one the CPU supports is chosen at run time, so the code
// runs on any x86-64. Work is split over OpenMP threads by output rows.
#include "bonsai/dtype.h"

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace bonsai {

enum class KernelIsa : uint8_t { Scalar, Avx2, Avx512 };
std::string_view kernelIsaName(KernelIsa isa); // "scalar", "avx2", "avx512-vnni"
bool kernelIsaAvailable(KernelIsa isa);       // the CPU (and OS) support it
KernelIsa bestKernelIsa();
// The level the kernels use (the best available by default). setKernelIsa forces one (tests,
// benchmarks); throws bonsai::Error when the CPU lacks it. Not thread-safe against running
// kernels.
KernelIsa kernelIsa();
void setKernelIsa(KernelIsa isa);

enum class PackedFormat : uint8_t {
    F32,   // float rows
    Q8_0,  // GGUF blocks (bonsai/ggml_blocks.h layouts)
    Q4_0,
    Q4_K,
    Q6_K,
    Int8,  // int8 codes e, x = s_g * e, one float scale per group of each row (per channel: one group)
    Int4,  // 4-bit codes u, x = s_g * (u - z_g), 16 bytes per 32 values (low nibbles first)
};
std::string_view packedFormatName(PackedFormat f);

// A rows x cols weight matrix (rows = output channels) in a packed format. Either a view of
// memory owned elsewhere (a mapped GGUF tensor, float weights) or owning its packed codes.
class PackedMatrix {
public:
    PackedMatrix() = default;

    // The GGUF types with kernels: F32, Q8_0, Q4_0, Q4_K, Q6_K.
    static bool viewable(DType t);
    // A view of row-major storage of type t (cols a multiple of the block size). Throws
    // bonsai::Error for other types or a bad shape.
    static PackedMatrix view(DType t, const uint8_t* data, int64_t rows, int64_t cols);
    // Owned float rows (copied).
    static PackedMatrix fromFloat(std::vector<float> w, int64_t rows, int64_t cols);
    // Owned GGUF blocks of type t, quantized from float rows by the bit-exact quantizers.
    static PackedMatrix quantizeGgml(DType t, const float* w, int64_t rows, int64_t cols);
    // Integer codes recovered from fake-quantized weights `wq` (integer precision, `bits`,
    // symmetric or not, one scale per `groupSize` values of a row; groupSize = cols per
    // channel): every value must be exactly s_g * (q - z_g) with an FP16 scale, an integer
    // code in the precision's range and an integer zero point. Int8 for 5..8 bits (codes
    // stored minus their zero point), Int4 for 2..4 bits. Returns an empty matrix
    // (format F32, rows 0) when the values are not such a grid or groups are not whole
    // 32-element blocks.
    static PackedMatrix packInt(const float* wq, int64_t rows, int64_t cols, int bits, bool symmetric,
                                int64_t groupSize);

    PackedFormat format() const { return format_; }
    int64_t rows() const { return rows_; }
    int64_t cols() const { return cols_; }
    bool empty() const { return rows_ == 0; }
    uint64_t bytes() const; // codes and scales (the resident weight memory)
    bool owning() const { return !owned_.empty() || !scales_.empty(); }
    // Dequantized row r (cols floats).
    void dequantizeRow(int64_t r, float* dst) const;

    // Internals for the kernels.
    const uint8_t* data() const { return data_; }
    uint64_t rowBytes() const { return rowBytes_; }
    const float* scales() const { return scales_.data(); } // Int8/Int4: rows x groups
    const float* offsets() const { return offsets_.data(); } // Int4: s_g * z_g
    int64_t groupSize() const { return groupSize_; }

private:
    PackedFormat format_ = PackedFormat::F32;
    int64_t rows_ = 0, cols_ = 0, groupSize_ = 0;
    const uint8_t* data_ = nullptr;
    uint64_t rowBytes_ = 0;
    std::vector<uint8_t> owned_;
    std::vector<float> scales_, offsets_;
};

// y (n x rows, row-major) = x (n x cols, row-major) W^T. Quantized formats use int8
// activations (see above); F32 is an FP32 product.
void packedMatmul(const PackedMatrix& w, const float* x, int64_t n, float* y);
// Several products of the same input x (every ws[k] with the same cols), in one parallel pass
// over all their weight-row tiles, the activations quantized once per block size: ys[k]
// (n x ws[k]->rows()) = x ws[k]^T. With `seconds`, seconds[k] receives product k's share of
// the wall time (the pass's time split as the threads' time in each product's tiles).
void packedMatmulMany(const PackedMatrix* const* ws, int count, const float* x, int64_t n, float* const* ys,
                      double* seconds = nullptr);
// The same with float activations: weight rows dequantized and dotted in float.
void packedMatmulFloat(const PackedMatrix& w, const float* x, int64_t n, float* y);

// Activations quantized to int8 per block (the kernels' input). Exposed for tests.
struct QuantizedActivations {
    int64_t n = 0, cols = 0;
    std::vector<int8_t> q;   // n x cols
    std::vector<float> d;    // scale of each 32-element chunk: n x cols/32
    std::vector<float> m16;  // d times the sum of the codes of each 16-element group: n x cols/16
    std::vector<int16_t> s32; // sum of the codes of each 32-element chunk: n x cols/32
};
// block: 32 (Q8_0-style) or 256 (Q8_K-style; cols a multiple of 256).
void quantizeActivations(const float* x, int64_t n, int64_t cols, int block, QuantizedActivations& out);
// The activation block size the kernels use for a format (32 or 256; 0 for F32).
int activationBlock(PackedFormat f);

} // namespace bonsai
