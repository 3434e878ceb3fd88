#pragma once
// One model abstraction over safetensors, ONNX and GGUF files.
//
// A Model holds tensor descriptions and keeps the mapped files (or owned buffers) alive;
// tensor bytes are only touched when values are read. Layers are the compressible weights
// (a weight tensor, its optional bias, the op that consumes it and its output-channel axis).
#include "bonsai/dtype.h"
#include "bonsai/mapped_file.h"
#include "bonsai/shape.h" // checkedNumel, for building TensorInfo

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bonsai {

enum class Format { Safetensors, Onnx, Gguf };
std::string_view formatName(Format f); // "safetensors", "onnx", "gguf"

// Integer codes that an ONNX DequantizeLinear turns into a float weight (QDQ):
// value = (code - zero) * scale, with one scale per tensor (axis < 0), per entry of `axis`, or
// per `block` consecutive entries along it, over codeShape (the shape DequantizeLinear sees; a
// Reshape after it gives the weight its own shape, the same values in the same order).
struct Dequantization {
    int axis = -1;
    int64_t block = 0;
    std::vector<int64_t> codeShape;
    uint64_t inner = 1;          // product of codeShape after axis
    std::vector<float> scale;
    std::vector<int32_t> zero;   // empty: all zero
    uint32_t bits = 8;           // stored bits per code (4 for INT4/UINT4, unpacked in memory)
    bool isSigned = true;
    uint64_t storedBytes = 0;    // the codes as stored, the scales and the zero points
    std::string describe() const; // "INT4 blocks of 32", "INT8 per axis", "UINT8 per tensor"
    float value(const uint8_t* codes, uint64_t index) const;
};

struct TensorInfo {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape; // row-major, outermost first (as PyTorch shows it)
    uint64_t numel = 0;
    uint64_t nbytes = 0;          // storage bytes
    const uint8_t* data = nullptr; // storage; valid while the Model lives
    std::string file;             // file the bytes live in (for messages)
    uint64_t fileOffset = 0;      // offset of the bytes in that file
    // Set for a weight stored as QDQ codes: dtype is the codes' (I8/U8), data holds them.
    std::shared_ptr<const Dequantization> dequant;
    // Bytes the tensor takes in its file (nbytes, or the QDQ codes, scales and zero points).
    uint64_t storedBytes() const { return dequant ? dequant->storedBytes : nbytes; }
    // "F16", "Q4_K", "INT4 blocks of 32 + DequantizeLinear", ...
    std::string storedType() const;
};

struct Layer {
    std::string name;  // display name (weight name without a trailing ".weight")
    std::string op;    // "Conv", "Gemm", "MatMul", "Linear", "Embedding", "Gather", ...
    int weight = -1;   // index into Model::tensors
    int bias = -1;     // index into Model::tensors, or -1
    int outAxis = 0;   // output-channel axis of the weight
    std::string node;  // name of the consuming graph node (ONNX), if any
};

class Model {
public:
    // Opens any supported file or directory, detecting the format. Throws FileError.
    static std::unique_ptr<Model> open(const std::string& path);

    Format format = Format::Safetensors;
    std::string path;
    std::vector<TensorInfo> tensors;
    std::vector<Layer> layers;
    std::vector<std::pair<std::string, std::string>> metadata; // key, display value

    int findTensor(const std::string& name) const; // -1 when absent
    uint64_t totalParams() const;
    uint64_t totalBytes() const;

    // Converts elements [first, first+count) of a tensor to float. For block-quantized
    // types first and count must be multiples of the block size (count may end at numel).
    void readFloat(int tensor, uint64_t first, uint64_t count, float* dst) const;
    std::vector<float> readFloat(int tensor) const;
    void readFloat(int tensor, float* dst) const; // the whole tensor, converted in parallel

    // Paging hints for streaming a tensor's elements [first, first+count): prefetch soon-needed
    // bytes, and drop this process's mapping of bytes already consumed (keeps RSS flat while
    // multi-gigabyte models stream; the data stays in the page cache).
    void prefetch(int tensor, uint64_t first, uint64_t count) const;
    void release(int tensor, uint64_t first, uint64_t count) const;

    // Storage kept alive for the tensors' data pointers.
    std::vector<std::shared_ptr<MappedFile>> files;
    std::vector<std::unique_ptr<uint8_t[]>> ownedBuffers;
    std::shared_ptr<void> native; // reader-specific object (e.g. the parsed ONNX graph)

    // Adds a tensor after validating dtype x shape against the byte length and overflow.
    // Throws FileError naming `file` on inconsistency.
    void addTensor(TensorInfo t);
    // Builds layers for formats without a graph (safetensors, GGUF) from names and shapes.
    void inferLayersFromNames();
};


// Converts count elements of the given storage to float. `src` points at the first element
// (or the first block for block-quantized types; count must then be a multiple of the block).
void convertToFloat(DType t, const uint8_t* src, uint64_t count, float* dst);

} // namespace bonsai
