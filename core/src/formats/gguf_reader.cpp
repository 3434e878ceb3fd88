// GGUF reader (versions 2 and 3, little-endian).
//
// Layout: magic "GGUF", version u32, tensor_count u64, kv_count u64; kv_count key/value
// pairs (key = u64 length + bytes, value type u32, value); tensor_count tensor infos (name,
// n_dims u32, ne[n_dims] u64, ggml type u32, offset u64); then the data section, which starts
// at the next multiple of general.alignment (default 32) and holds the tensors at their
// (aligned) offsets. Only the header is parsed; tensor bytes stay untouched in the mapping.
//
// Every count and length is checked against the bytes left in the file before anything is
// allocated, so a corrupt header produces a FileError rather than a huge allocation.
#include "formats/gguf.h"

#include "bonsai/error.h"
#include "bonsai/model.h"
#include "bonsai/readers.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <unordered_set>

namespace bonsai {

namespace {

constexpr uint32_t kMaxDims = 4;            // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 4;           // nesting of arrays inside arrays
constexpr uint64_t kMaxNestedArrays = 1u << 20; // total nested array values in one file
constexpr uint64_t kDefaultAlignment = 32;
// Real files have tens of keys; a parsed pair takes ~15x its minimal 13 file bytes in memory,
// so cap the count to keep memory bounded for hostile files.
constexpr uint64_t kMaxKvCount = 1u << 20;
// Reserve at most this many entries up front; vectors grow past it as entries are parsed.
constexpr uint64_t kMaxReserve = 1u << 16;

// ggml tensor type ids (ggml.h) and the storage type they map to.
struct GgmlType {
    uint32_t id;
    const char* name;
    std::optional<DType> dtype; // nullopt: known to ggml but not supported here
};
const GgmlType kGgmlTypes[] = {
    {0, "F32", DType::F32},      {1, "F16", DType::F16},       {2, "Q4_0", DType::Q4_0},
    {3, "Q4_1", DType::Q4_1},    {6, "Q5_0", DType::Q5_0},     {7, "Q5_1", DType::Q5_1},
    {8, "Q8_0", DType::Q8_0},    {9, "Q8_1", std::nullopt},    {10, "Q2_K", DType::Q2_K},
    {11, "Q3_K", DType::Q3_K},   {12, "Q4_K", DType::Q4_K},    {13, "Q5_K", DType::Q5_K},
    {14, "Q6_K", DType::Q6_K},   {15, "Q8_K", std::nullopt},   {16, "IQ2_XXS", std::nullopt},
    {17, "IQ2_XS", std::nullopt}, {18, "IQ3_XXS", std::nullopt}, {19, "IQ1_S", std::nullopt},
    {20, "IQ4_NL", std::nullopt}, {21, "IQ3_S", std::nullopt},  {22, "IQ2_S", std::nullopt},
    {23, "IQ4_XS", std::nullopt}, {24, "I8", DType::I8},        {25, "I16", DType::I16},
    {26, "I32", DType::I32},     {27, "I64", DType::I64},      {28, "F64", DType::F64},
    {29, "IQ1_M", std::nullopt}, {30, "BF16", DType::BF16},    {34, "TQ1_0", std::nullopt},
    {35, "TQ2_0", std::nullopt}, {39, "MXFP4", std::nullopt},
};

// Smallest number of file bytes one value of type t can occupy.
uint64_t minValueBytes(GgufType t)
{
    if (t == GgufType::String)
        return 8; // length
    if (t == GgufType::Array)
        return 12; // element type + count
    return ggufScalarSize(t);
}

std::string u64s(uint64_t v) { return std::to_string(v); }

// Bounds-checked little-endian reading of the mapped header.
class Cursor {
public:
    Cursor(const std::string& path, const uint8_t* data, uint64_t size)
        : path_(path), data_(data), size_(size) {}

    uint64_t pos() const { return pos_; }
    uint64_t size() const { return size_; }
    uint64_t remaining() const { return size_ - pos_; }
    const uint8_t* here() const { return data_ + pos_; }

    // What is being read, for messages ("header", "tensor info 3", ...).
    std::string context;

    [[noreturn]] void fail(const std::string& fault) const { throw FileError(path_, fault); }

    void need(uint64_t n) const
    {
        if (n <= remaining())
            return;
        if (n <= std::numeric_limits<uint64_t>::max() - pos_)
            fail("truncated: " + context + " ends at byte " + u64s(pos_ + n) + " but the file has " +
                 u64s(size_) + " bytes");
        fail("truncated: " + context + " needs " + u64s(n) + " bytes at byte " + u64s(pos_) +
             " but the file has " + u64s(size_) + " bytes");
    }
    void skip(uint64_t n)
    {
        need(n);
        pos_ += n;
    }
    template <typename T>
    T read()
    {
        need(sizeof(T));
        T v;
        std::memcpy(&v, data_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }
    std::string readString()
    {
        const uint64_t len = read<uint64_t>();
        need(len);
        std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
        pos_ += len;
        return s;
    }

private:
    const std::string& path_;
    const uint8_t* data_;
    uint64_t size_;
    uint64_t pos_ = 0;
};

GgufType readValueType(Cursor& c, const char* what)
{
    const uint32_t t = c.read<uint32_t>();
    if (t > static_cast<uint32_t>(GgufType::F64))
        c.fail("unknown " + std::string(what) + " " + std::to_string(t) + " in " + c.context);
    return static_cast<GgufType>(t);
}

// Parses one value of type t at the cursor.
GgufValue parseValue(Cursor& c, GgufType t, int depth, uint64_t& nestedBudget)
{
    GgufValue v;
    v.type = t;
    switch (t) {
    case GgufType::U8: v.u = c.read<uint8_t>(); return v;
    case GgufType::I8: v.i = c.read<int8_t>(); return v;
    case GgufType::U16: v.u = c.read<uint16_t>(); return v;
    case GgufType::I16: v.i = c.read<int16_t>(); return v;
    case GgufType::U32: v.u = c.read<uint32_t>(); return v;
    case GgufType::I32: v.i = c.read<int32_t>(); return v;
    case GgufType::U64: v.u = c.read<uint64_t>(); return v;
    case GgufType::I64: v.i = c.read<int64_t>(); return v;
    case GgufType::F32: v.f = c.read<float>(); return v;
    case GgufType::F64: v.f = c.read<double>(); return v;
    case GgufType::Bool: v.u = c.read<uint8_t>() != 0 ? 1 : 0; return v;
    case GgufType::String: v.str = c.readString(); return v;
    case GgufType::Array: break;
    }
    // Array: element type, count, elements.
    v.elemType = readValueType(c, "array element type");
    v.count = c.read<uint64_t>();
    const uint64_t minBytes = minValueBytes(v.elemType);
    if (v.count > c.remaining() / minBytes)
        c.fail("array of " + u64s(v.count) + " " + std::string(ggufTypeName(v.elemType)) +
               " elements at byte " + u64s(c.pos()) + " cannot fit in the " + u64s(c.remaining()) +
               " bytes left in the file (" + c.context + ")");
    if (v.elemType == GgufType::String) {
        v.strings.reserve(static_cast<size_t>(std::min(v.count, kMaxReserve)));
        for (uint64_t k = 0; k < v.count; ++k)
            v.strings.push_back(c.readString());
    } else if (v.elemType == GgufType::Array) {
        if (depth + 1 > kMaxArrayDepth)
            c.fail("arrays nested more than " + std::to_string(kMaxArrayDepth) + " levels deep in " +
                   c.context);
        if (v.count > nestedBudget)
            c.fail("too many nested array values in " + c.context);
        nestedBudget -= v.count;
        v.arrays.reserve(static_cast<size_t>(v.count));
        for (uint64_t k = 0; k < v.count; ++k)
            v.arrays.push_back(parseValue(c, GgufType::Array, depth + 1, nestedBudget));
    } else {
        const uint64_t bytes = v.count * minBytes; // cannot overflow: bounded by remaining()
        v.raw.assign(c.here(), c.here() + bytes);
        c.skip(bytes);
    }
    return v;
}

std::string shapeText(const std::vector<int64_t>& shape)
{
    std::string s = "[";
    for (size_t k = 0; k < shape.size(); ++k)
        s += (k ? ", " : "") + std::to_string(shape[k]);
    return s + "]";
}

} // namespace

// --- reader ---

std::unique_ptr<Model> readGguf(const std::string& path)
{
    auto file = MappedFile::open(path);
    Cursor c(path, file->data(), file->size());
    auto meta = std::make_shared<GgufMetadata>();

    // Header.
    c.context = "header";
    if (file->size() < 4 || std::memcmp(file->data(), "GGUF", 4) != 0)
        c.fail("not a GGUF file (bad magic)");
    c.skip(4);
    const uint32_t version = c.read<uint32_t>();
    if ((version & 0xFFFFu) == 0 && version != 0)
        c.fail("big-endian GGUF files are not supported (version field reads " +
               std::to_string(version) + ")");
    if (version == 1)
        c.fail("GGUF version 1 is not supported (only versions 2 and 3)");
    if (version != 2 && version != 3)
        c.fail("unsupported GGUF version " + std::to_string(version) + " (only versions 2 and 3)");
    meta->version = version;
    const uint64_t tensorCount = c.read<uint64_t>();
    const uint64_t kvCount = c.read<uint64_t>();
    // Each key/value pair takes at least 13 bytes, each tensor info at least 24.
    if (kvCount > c.remaining() / 13)
        c.fail("kv_count " + u64s(kvCount) + " cannot fit in the " + u64s(c.remaining()) +
               " bytes after the header");
    if (tensorCount > c.remaining() / 24)
        c.fail("tensor_count " + u64s(tensorCount) + " cannot fit in the " + u64s(c.remaining()) +
               " bytes after the header");
    if (kvCount > kMaxKvCount)
        c.fail("kv_count " + u64s(kvCount) + " exceeds the limit of " + u64s(kMaxKvCount) + " keys");
    meta->tensorCount = tensorCount;

    // Key/value pairs.
    uint64_t nestedBudget = kMaxNestedArrays;
    std::unordered_set<std::string> keys;
    meta->kv.reserve(static_cast<size_t>(std::min(kvCount, kMaxReserve)));
    for (uint64_t k = 0; k < kvCount; ++k) {
        c.context = "metadata key " + u64s(k);
        std::string key = c.readString();
        c.context = "metadata value " + u64s(k) + " ('" + key + "')";
        const GgufType t = readValueType(c, "metadata value type");
        GgufValue v = parseValue(c, t, 0, nestedBudget);
        if (!keys.insert(key).second)
            c.fail("duplicate metadata key '" + key + "'");
        meta->kv.emplace_back(std::move(key), std::move(v));
    }
    if (const GgufValue* a = meta->find("general.alignment")) {
        const auto value = a->isInteger() ? a->asUInt() : std::nullopt;
        if (!value || *value == 0 || (*value & (*value - 1)) != 0)
            c.fail("general.alignment must be a non-zero power of two, got " + a->display() + " (" +
                   std::string(ggufTypeName(a->type)) + ")");
        meta->alignment = *value;
    } else {
        meta->alignment = kDefaultAlignment;
    }

    // Tensor infos.
    struct RawInfo {
        std::string name;
        std::vector<int64_t> shape; // reversed ne: row-major, outermost first
        DType dtype;
        uint64_t offset;
    };
    std::vector<RawInfo> infos;
    infos.reserve(static_cast<size_t>(std::min(tensorCount, kMaxReserve)));
    std::unordered_set<std::string> names;
    for (uint64_t k = 0; k < tensorCount; ++k) {
        RawInfo info;
        c.context = "tensor info " + u64s(k);
        info.name = c.readString();
        if (info.name.empty())
            c.fail("tensor info " + u64s(k) + " has an empty name");
        if (!names.insert(info.name).second)
            c.fail("duplicate tensor name '" + info.name + "'");
        c.context = "tensor info " + u64s(k) + " ('" + info.name + "')";
        const uint32_t nDims = c.read<uint32_t>();
        if (nDims > kMaxDims)
            c.fail("tensor '" + info.name + "' has " + std::to_string(nDims) +
                   " dimensions (GGUF allows at most " + std::to_string(kMaxDims) + ")");
        uint64_t ne[kMaxDims] = {};
        for (uint32_t d = 0; d < nDims; ++d) {
            ne[d] = c.read<uint64_t>();
            if (ne[d] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                c.fail("tensor '" + info.name + "' dimension " + std::to_string(d) + " (" + u64s(ne[d]) +
                       ") is out of range");
        }
        for (uint32_t d = nDims; d-- > 0;)
            info.shape.push_back(static_cast<int64_t>(ne[d]));
        const uint32_t typeId = c.read<uint32_t>();
        const GgmlType* gt = nullptr;
        for (const auto& g : kGgmlTypes)
            if (g.id == typeId)
                gt = &g;
        if (!gt)
            c.fail("tensor '" + info.name + "' has unknown ggml type " + std::to_string(typeId));
        if (!gt->dtype)
            c.fail("tensor '" + info.name + "' has unsupported ggml type " + std::to_string(typeId) +
                   " (" + gt->name + ")");
        info.dtype = *gt->dtype;
        info.offset = c.read<uint64_t>();
        infos.push_back(std::move(info));
    }

    // Data section: aligned start after the infos.
    const uint64_t align = meta->alignment;
    const uint64_t pad = (align - c.pos() % align) % align;
    if (pad > std::numeric_limits<uint64_t>::max() - c.pos())
        c.fail("data section offset overflows");
    meta->dataOffset = c.pos() + pad;

    auto model = std::make_unique<Model>();
    model->format = Format::Gguf;
    model->path = path;
    struct Span {
        uint64_t start, end;
        size_t index;
    };
    std::vector<Span> spans;
    spans.reserve(infos.size());
    model->tensors.reserve(infos.size());
    for (size_t k = 0; k < infos.size(); ++k) {
        RawInfo& info = infos[k];
        const std::string tname = "tensor '" + info.name + "'";
        const DTypeInfo& di = dtypeInfo(info.dtype);
        const auto numel = checkedNumel(info.shape);
        if (!numel)
            c.fail(tname + " has an overflowing shape " + shapeText(info.shape));
        const uint64_t ne0 = info.shape.empty() ? 1 : static_cast<uint64_t>(info.shape.back());
        if (ne0 % di.blockElems != 0)
            c.fail(tname + " of type " + std::string(di.name) + " has a row length of " + u64s(ne0) +
                   ", not a multiple of the " + std::to_string(di.blockElems) + "-element block");
        const auto nbytes = storageBytes(info.dtype, *numel);
        if (!nbytes)
            c.fail(tname + " of shape " + shapeText(info.shape) + " has a byte size that overflows");
        if (info.offset % align != 0)
            c.fail(tname + " has offset " + u64s(info.offset) + ", not a multiple of the alignment " +
                   u64s(align));
        const uint64_t maxU = std::numeric_limits<uint64_t>::max();
        if (info.offset > maxU - meta->dataOffset || *nbytes > maxU - meta->dataOffset - info.offset)
            c.fail(tname + " data range overflows (offset " + u64s(info.offset) + ", " + u64s(*nbytes) +
                   " bytes)");
        const uint64_t start = meta->dataOffset + info.offset;
        const uint64_t end = start + *nbytes;
        if (end > file->size())
            c.fail(tname + " data (bytes " + u64s(start) + " to " + u64s(end) +
                   ") extends past the end of the file (" + u64s(file->size()) + " bytes)");
        if (*nbytes > 0)
            spans.push_back({start, end, k});

        TensorInfo t;
        t.name = std::move(info.name);
        t.dtype = info.dtype;
        t.shape = std::move(info.shape);
        t.nbytes = *nbytes;
        t.data = file->data() + start;
        t.file = path;
        t.fileOffset = start;
        model->addTensor(std::move(t));
    }

    // No two tensors may share bytes.
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.start < b.start; });
    for (size_t k = 1; k < spans.size(); ++k) {
        const Span& p = spans[k - 1];
        const Span& q = spans[k];
        if (q.start < p.end)
            c.fail("tensors '" + model->tensors[p.index].name + "' (bytes " + u64s(p.start) + " to " +
                   u64s(p.end) + ") and '" + model->tensors[q.index].name + "' (bytes " + u64s(q.start) +
                   " to " + u64s(q.end) + ") overlap");
    }

    // Display metadata.
    model->metadata.emplace_back("gguf.version", std::to_string(meta->version));
    model->metadata.emplace_back("gguf.alignment", u64s(meta->alignment));
    for (const auto& [key, value] : meta->kv)
        model->metadata.emplace_back(key, value.display());

    model->files.push_back(std::move(file));
    model->native = std::move(meta);
    model->inferLayersFromNames();
    return model;
}

std::optional<uint32_t> ggmlTypeId(DType t)
{
    for (const auto& g : kGgmlTypes)
        if (g.dtype == t)
            return g.id;
    return std::nullopt;
}

} // namespace bonsai
