#include "bonsai/model.h"
#include "bonsai/layer_role.h"

#include "bonsai/error.h"
#include "bonsai/half.h"
#include "bonsai/readers.h"
#include "bonsai/ggml_blocks.h"
#include "common/regular_file.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <unistd.h>

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace bonsai {

std::string_view formatName(Format f)
{
    switch (f) {
    case Format::Safetensors: return "safetensors";
    case Format::Onnx: return "onnx";
    case Format::Gguf: return "gguf";
    }
    return "unknown";
}

static std::string shapeString(const std::vector<int64_t>& shape)
{
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

void Model::addTensor(TensorInfo t)
{
    const std::string& file = t.file.empty() ? path : t.file;
    const auto n = checkedNumel(t.shape);
    if (!n)
        throw FileError(file, "tensor '" + t.name + "' has an invalid or overflowing shape " +
                                  shapeString(t.shape));
    const auto bytes = storageBytes(t.dtype, *n);
    if (!bytes)
        throw FileError(file, "tensor '" + t.name + "': " + std::to_string(*n) +
                                  " elements do not fit " + std::string(dtypeName(t.dtype)) +
                                  " storage");
    if (t.nbytes != *bytes)
        throw FileError(file, "tensor '" + t.name + "' of dtype " +
                                  std::string(dtypeName(t.dtype)) + " and shape " +
                                  shapeString(t.shape) + " needs " + std::to_string(*bytes) +
                                  " bytes but has " + std::to_string(t.nbytes));
    t.numel = *n;
    tensors.push_back(std::move(t));
}

int Model::findTensor(const std::string& name) const
{
    for (size_t i = 0; i < tensors.size(); ++i)
        if (tensors[i].name == name)
            return static_cast<int>(i);
    return -1;
}

uint64_t Model::totalParams() const
{
    uint64_t s = 0;
    for (const auto& t : tensors)
        s += t.numel;
    return s;
}

uint64_t Model::totalBytes() const
{
    uint64_t s = 0;
    for (const auto& t : tensors)
        s += t.storedBytes();
    return s;
}

template <typename T>
static void castCopy(const uint8_t* src, uint64_t n, float* dst)
{
    for (uint64_t i = 0; i < n; ++i) {
        T v;
        std::memcpy(&v, src + i * sizeof(T), sizeof(T));
        dst[i] = static_cast<float>(v);
    }
}

void convertToFloat(DType t, const uint8_t* src, uint64_t n, float* dst)
{
    switch (t) {
    case DType::F32: std::memcpy(dst, src, n * 4); return;
    case DType::F64: castCopy<double>(src, n, dst); return;
    case DType::F16: {
        uint64_t i = 0;
#if defined(__F16C__)
        for (; i + 8 <= n; i += 8) // hardware conversion, exact (FP16 -> FP32 never rounds)
            _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i))));
#endif
        for (; i < n; ++i) {
            uint16_t h;
            std::memcpy(&h, src + 2 * i, 2);
            dst[i] = fp16ToFloat(h);
        }
        return;
    }
    case DType::BF16:
        for (uint64_t i = 0; i < n; ++i) {
            uint16_t h;
            std::memcpy(&h, src + 2 * i, 2);
            dst[i] = bf16ToFloat(h);
        }
        return;
    case DType::I64: castCopy<int64_t>(src, n, dst); return;
    case DType::I32: castCopy<int32_t>(src, n, dst); return;
    case DType::I16: castCopy<int16_t>(src, n, dst); return;
    case DType::I8: castCopy<int8_t>(src, n, dst); return;
    case DType::U8: castCopy<uint8_t>(src, n, dst); return;
    case DType::U16: castCopy<uint16_t>(src, n, dst); return;
    case DType::U32: castCopy<uint32_t>(src, n, dst); return;
    case DType::U64: castCopy<uint64_t>(src, n, dst); return;
    case DType::Bool:
        for (uint64_t i = 0; i < n; ++i)
            dst[i] = src[i] ? 1.0f : 0.0f;
        return;
    case DType::F8_E4M3:
        for (uint64_t i = 0; i < n; ++i)
            dst[i] = fp8e4m3ToFloat(src[i]);
        return;
    case DType::F8_E5M2:
        for (uint64_t i = 0; i < n; ++i)
            dst[i] = fp8e5m2ToFloat(src[i]);
        return;
    default:
        dequantizeBlocks(t, src, n, dst);
        return;
    }
}

void Model::readFloat(int tensor, uint64_t first, uint64_t count, float* dst) const
{
    if (tensor < 0 || static_cast<size_t>(tensor) >= tensors.size())
        throw Error("tensor index out of range");
    const TensorInfo& t = tensors[static_cast<size_t>(tensor)];
    if (first > t.numel || count > t.numel - first)
        throw Error("element range out of bounds for tensor '" + t.name + "'");
    const auto& info = dtypeInfo(t.dtype);
    if (first % info.blockElems != 0 || (count % info.blockElems != 0 && first + count != t.numel))
        throw Error("element range not aligned to the " + std::to_string(info.blockElems) +
                    "-element blocks of tensor '" + t.name + "'");
    if (t.dequant) {
        for (uint64_t k = 0; k < count; ++k)
            dst[k] = t.dequant->value(t.data, first + k);
        return;
    }
    const uint64_t byteOffset = first / info.blockElems * info.blockBytes;
    convertToFloat(t.dtype, t.data + byteOffset, count, dst);
}

std::string Dequantization::describe() const
{
    const std::string type = std::string(isSigned ? "INT" : "UINT") + std::to_string(bits);
    if (axis < 0)
        return type + " per tensor";
    return type + (block > 0 ? " blocks of " + std::to_string(block) : std::string(" per axis"));
}

float Dequantization::value(const uint8_t* codes, uint64_t index) const
{
    const float q = isSigned ? static_cast<float>(static_cast<int8_t>(codes[index])) : static_cast<float>(codes[index]);
    uint64_t s = 0;
    if (axis >= 0) {
        const auto dim = static_cast<uint64_t>(codeShape[static_cast<size_t>(axis)]);
        const uint64_t along = index / inner % dim;
        if (block > 0) {
            const uint64_t blocks = (dim + static_cast<uint64_t>(block) - 1) / static_cast<uint64_t>(block);
            s = (index / (inner * dim) * blocks + along / static_cast<uint64_t>(block)) * inner + index % inner;
        } else {
            s = along;
        }
    }
    const float z = zero.empty() ? 0.0f : static_cast<float>(zero[s]);
    return (q - z) * scale[s];
}

std::string TensorInfo::storedType() const
{
    return dequant ? dequant->describe() + " + DequantizeLinear" : std::string(dtypeName(dtype));
}

std::vector<float> Model::readFloat(int tensor) const
{
    std::vector<float> out(tensors.at(static_cast<size_t>(tensor)).numel);
    readFloat(tensor, out.data());
    return out;
}

void Model::readFloat(int tensor, float* dst) const
{
    const TensorInfo& t = tensors.at(static_cast<size_t>(tensor));
    // Large tensors convert in parallel chunks aligned to the storage blocks.
    const uint64_t align = dtypeInfo(t.dtype).blockElems;
    const uint64_t chunk = std::max<uint64_t>(align, (uint64_t(1) << 18) / align * align);
    const int64_t chunks = static_cast<int64_t>((t.numel + chunk - 1) / chunk);
#pragma omp parallel for schedule(static) if (chunks > 4)
    for (int64_t c = 0; c < chunks; ++c) {
        const uint64_t b = static_cast<uint64_t>(c) * chunk;
        readFloat(tensor, b, std::min(chunk, t.numel - b), dst + b);
    }
}

static void adviseRange(const Model& m, int tensor, uint64_t first, uint64_t count, bool willNeed)
{
    if (tensor < 0 || static_cast<size_t>(tensor) >= m.tensors.size())
        return;
    const TensorInfo& t = m.tensors[static_cast<size_t>(tensor)];
    const auto& info = dtypeInfo(t.dtype);
    const uint64_t b = first / info.blockElems * info.blockBytes;
    const uint64_t e = std::min<uint64_t>(t.nbytes, (first + count + info.blockElems - 1) / info.blockElems * info.blockBytes);
    for (const auto& f : m.files) {
        if (t.data >= f->data() && t.data < f->data() + f->size()) {
            const uint64_t off = static_cast<uint64_t>(t.data - f->data()) + b;
            if (willNeed)
                f->adviseSequential(off, e - b);
            else
                f->adviseDontNeed(off, e - b);
            return;
        }
    }
}

void Model::prefetch(int tensor, uint64_t first, uint64_t count) const
{
    adviseRange(*this, tensor, first, count, true);
}

void Model::release(int tensor, uint64_t first, uint64_t count) const
{
    adviseRange(*this, tensor, first, count, false);
}

// --- layers from names (safetensors, GGUF) ---

static bool endsWith(const std::string& s, std::string_view suffix)
{
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void Model::inferLayersFromNames()
{
    layers.clear();
    for (size_t i = 0; i < tensors.size(); ++i) {
        const TensorInfo& t = tensors[i];
        if (t.shape.size() < 2 || !(dtypeInfo(t.dtype).isFloat || dtypeInfo(t.dtype).isQuantized))
            continue;
        Layer l;
        l.weight = static_cast<int>(i);
        std::string stem = t.name;
        if (endsWith(stem, ".weight"))
            stem.resize(stem.size() - 7);
        l.name = stem;
        if (isEmbeddingName(t.name))
            l.op = "Embedding";
        else if (t.shape.size() == 2)
            l.op = "Linear";
        else if (t.shape.size() >= 3 && t.shape.size() <= 5)
            l.op = "Conv";
        else
            l.op = "Tensor";
        l.outAxis = 0;
        const int b = findTensor(stem + ".bias");
        if (b >= 0 && tensors[static_cast<size_t>(b)].shape.size() == 1 &&
            tensors[static_cast<size_t>(b)].shape[0] == t.shape[0])
            l.bias = b;
        layers.push_back(std::move(l));
    }
}

// --- format detection ---

std::unique_ptr<Model> Model::open(const std::string& p)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::exists(p, ec))
        throw FileError(p, "no such file or directory");
    if (fs::is_directory(p, ec))
        return readSafetensors(p);
    if (endsWith(p, ".json"))
        return readSafetensors(p);
    char head[16] = {};
    {
        const int fd = openRegularFile(p); // a FIFO or device is refused, never read
        const ssize_t got = ::pread(fd, head, sizeof head, 0);
        ::close(fd);
        if (got < 8)
            throw FileError(p, "truncated: the file has only " + std::to_string(std::max<ssize_t>(got, 0)) +
                                   " bytes, too few for any model format");
    }
    if (std::memcmp(head, "GGUF", 4) == 0)
        return readGguf(p);
    if (endsWith(p, ".gguf"))
        throw FileError(p, "not a GGUF file (bad magic)");
    if (endsWith(p, ".onnx"))
        return readOnnx(p);
    if (endsWith(p, ".safetensors") || head[8] == '{')
        return readSafetensors(p);
    // Fall back to ONNX: a protobuf has no magic.
    return readOnnx(p);
}

} // namespace bonsai
