// ONNX reader: parses a .onnx protobuf with libonnx's generated classes and exposes its
// weights as Model tensors.
//
// Tensors are the graph initializers and the values of Constant nodes, in the main graph and
// in every subgraph (If branches, Loop/Scan bodies, ...). Their bytes come from
//   - raw_data: the tensor points into the parsed proto, which the Model keeps alive;
//   - the typed fields (float_data, int32_data, ...): converted into a Model-owned buffer;
//   - external data: a side file next to the model, memory-mapped and kept in Model::files.
// Tensors of types Bonsai cannot represent (strings, complex, ...) are skipped and listed in
// the metadata. Every count and size from the file is checked before it is used.
// Layers (weights tied to their consuming nodes) are built by tieOnnxLayers (onnx_layers.cpp).
#include "formats/onnx_model.h"
#include "formats/onnx_attrs.h"

#include "bonsai/error.h"
#include "bonsai/readers.h"
#include "common/atomic_file.h"
#include "common/regular_file.h"

#include <google/protobuf/io/coded_stream.h>
#include <onnx/onnx-ml.pb.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <map>
#include <unordered_map>
#include <unistd.h>

namespace bonsai {
namespace {

namespace fs = std::filesystem;

// TensorProto.DataType numbers of the 8-bit float types. They postdate the onnx headers of
// some distributions, so they are spelled as numbers rather than enum names.
constexpr int32_t kOnnxFloat8E4M3FN = 17;
constexpr int32_t kOnnxFloat8E5M2 = 19;
constexpr int32_t kOnnxUint4 = 21;
constexpr int32_t kOnnxInt4 = 22;

// Longest metadata value shown (doc strings and metadata_props can be large).
constexpr size_t kMaxMetadataValue = 500;
// How many skipped tensors are named in the metadata note.
constexpr size_t kMaxSkippedNamed = 10;

std::optional<DType> dtypeFromOnnx(int32_t t)
{
    using TP = onnx::TensorProto;
    switch (t) {
    case TP::FLOAT: return DType::F32;
    case TP::FLOAT16: return DType::F16;
    case TP::BFLOAT16: return DType::BF16;
    case TP::DOUBLE: return DType::F64;
    case TP::INT8: return DType::I8;
    case TP::INT16: return DType::I16;
    case TP::INT32: return DType::I32;
    case TP::INT64: return DType::I64;
    case TP::UINT8: return DType::U8;
    case TP::UINT16: return DType::U16;
    case TP::UINT32: return DType::U32;
    case TP::UINT64: return DType::U64;
    case TP::BOOL: return DType::Bool;
    case kOnnxFloat8E4M3FN: return DType::F8_E4M3;
    case kOnnxFloat8E5M2: return DType::F8_E5M2;
    default: return std::nullopt;
    }
}

std::string onnxTypeName(int32_t t)
{
    if (onnx::TensorProto::DataType_IsValid(t))
        return onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(t));
    return "data type " + std::to_string(t);
}

std::string truncated(const std::string& s)
{
    if (s.size() <= kMaxMetadataValue)
        return s;
    return s.substr(0, kMaxMetadataValue) + "...";
}

// Parses a whole decimal string as uint64; nullopt on anything else.
std::optional<uint64_t> parseU64(const std::string& s)
{
    uint64_t v = 0;
    const char* end = s.data() + s.size();
    const auto r = std::from_chars(s.data(), end, v);
    if (s.empty() || r.ec != std::errc() || r.ptr != end)
        return std::nullopt;
    return v;
}

// Copies the n elements of a typed repeated field into dst as Out, through conv.
template <typename Out, typename Field, typename Conv>
void fillTyped(uint8_t* dst, const Field& field, Conv conv)
{
    for (int i = 0; i < field.size(); ++i) {
        const Out v = conv(field.Get(i));
        std::memcpy(dst + static_cast<size_t>(i) * sizeof(Out), &v, sizeof(Out));
    }
}

class OnnxReader {
public:
    OnnxReader(Model& m, const onnx::ModelProto& proto) : m_(m), proto_(proto)
    {
        dir_ = fs::path(m.path).parent_path();
    }

    void read()
    {
        checkVersions();
        if (!proto_.has_graph())
            fail("the model has no graph");
        const auto& g = proto_.graph();
        if (g.node_size() == 0 && g.initializer_size() == 0)
            fail("the model graph is empty (no nodes and no initializers)");
        collectGraph(g, 0);
        foldOnnxDequantize(m_, g, packed4_);
        addMetadata();
    }

private:
    [[noreturn]] void fail(const std::string& fault) const { throw FileError(m_.path, fault); }

    // The IR version and the default domain's opset must be ones the reader and the executor
    // know: a newer file may mean fields or op semantics they would misread.
    void checkVersions() const
    {
        const auto range = [](int64_t lo, int64_t hi) {
            return " (supported: " + std::to_string(lo) + " to " + std::to_string(hi) + ")";
        };
        const int64_t ir = proto_.ir_version();
        if (ir < kOnnxMinIrVersion || ir > kOnnxMaxIrVersion)
            fail("ONNX IR version " + std::to_string(ir) + " is not supported" +
                 range(kOnnxMinIrVersion, kOnnxMaxIrVersion));
        for (const auto& op : proto_.opset_import())
            if ((op.domain().empty() || op.domain() == "ai.onnx") &&
                (op.version() < 1 || op.version() > kOnnxMaxOpset))
                fail("opset " + std::to_string(op.version()) + " of the default ONNX domain is not supported" +
                     range(1, kOnnxMaxOpset));
    }

    void skip(const std::string& name, const std::string& why)
    {
        skipped_.push_back("'" + name + "' (" + why + ")");
    }

    // Initializers and Constant nodes of a graph, then of its subgraphs.
    void collectGraph(const onnx::GraphProto& g, int depth)
    {
        if (depth > kOnnxMaxSubgraphDepth)
            fail("subgraphs are nested deeper than " + std::to_string(kOnnxMaxSubgraphDepth) +
                 " levels");
        if (depth > 0)
            ++subgraphs_;
        for (int i = 0; i < g.initializer_size(); ++i) {
            const auto& t = g.initializer(i);
            if (t.name().empty())
                fail("initializer #" + std::to_string(i) + " of graph '" + g.name() +
                     "' has no name");
            ++initializers_;
            addTensorProto(t, t.name());
        }
        for (const auto& s : g.sparse_initializer())
            skip(s.values().name(), "sparse initializer");
        for (int i = 0; i < g.node_size(); ++i) {
            const auto& n = g.node(i);
            ++nodes_;
            ++opHistogram_[n.op_type()];
            if (n.op_type() == "Constant" && (n.domain().empty() || n.domain() == "ai.onnx"))
                addConstant(n);
            for (const auto& a : n.attribute()) {
                if (a.has_g())
                    collectGraph(a.g(), depth + 1);
                for (const auto& sub : a.graphs())
                    collectGraph(sub, depth + 1);
            }
        }
    }

    // A Constant node's value becomes a tensor named after the node's output.
    void addConstant(const onnx::NodeProto& n)
    {
        if (n.output_size() < 1 || n.output(0).empty())
            fail("Constant node '" + n.name() + "' has no output");
        const std::string& name = n.output(0);
        for (const auto& a : n.attribute()) {
            const std::string& an = a.name();
            if (an == "value" && a.has_t()) {
                ++constants_;
                addTensorProto(a.t(), name);
                return;
            }
            if (an == "value_float") {
                const float v = a.f();
                addSmall(name, DType::F32, {}, &v, sizeof v);
                return;
            }
            if (an == "value_floats") {
                std::vector<float> v(a.floats().begin(), a.floats().end());
                addSmall(name, DType::F32, {static_cast<int64_t>(v.size())}, v.data(),
                         v.size() * sizeof(float));
                return;
            }
            if (an == "value_int") {
                const int64_t v = a.i();
                addSmall(name, DType::I64, {}, &v, sizeof v);
                return;
            }
            if (an == "value_ints") {
                std::vector<int64_t> v(a.ints().begin(), a.ints().end());
                addSmall(name, DType::I64, {static_cast<int64_t>(v.size())}, v.data(),
                         v.size() * sizeof(int64_t));
                return;
            }
            if (an == "sparse_value") {
                skip(name, "sparse Constant");
                return;
            }
            if (an == "value_string" || an == "value_strings") {
                skip(name, "string Constant");
                return;
            }
        }
        skip(name, "Constant without a supported value attribute");
    }

    uint8_t* newBuffer(uint64_t bytes)
    {
        m_.ownedBuffers.push_back(std::make_unique<uint8_t[]>(bytes ? bytes : 1));
        return m_.ownedBuffers.back().get();
    }

    // A tensor from attribute values (value_float(s), value_int(s)), copied into a buffer.
    void addSmall(const std::string& name, DType dt, std::vector<int64_t> shape,
                  const void* bytes, size_t nbytes)
    {
        ++constants_;
        TensorInfo t;
        t.name = name;
        t.dtype = dt;
        t.shape = std::move(shape);
        uint8_t* buf = newBuffer(nbytes);
        if (nbytes)
            std::memcpy(buf, bytes, nbytes);
        t.data = buf;
        t.nbytes = nbytes;
        add(std::move(t));
    }

    void add(TensorInfo t)
    {
        if (!byName_.emplace(t.name, static_cast<int>(m_.tensors.size())).second)
            fail("duplicate tensor name '" + t.name + "'");
        m_.addTensor(std::move(t));
    }

    // INT4 / UINT4 (packed two per byte, low nibble first), unpacked into I8 / U8 codes: only
    // DequantizeLinear reads them (foldDequantize).
    void addPacked4(const onnx::TensorProto& tp, const std::string& name, bool isSigned)
    {
        TensorInfo t;
        t.name = name;
        t.dtype = isSigned ? DType::I8 : DType::U8;
        t.shape.assign(tp.dims().begin(), tp.dims().end());
        t.file = m_.path;
        const auto numel = checkedNumel(t.shape);
        if (!numel)
            fail("tensor '" + name + "' has negative or overflowing dims");
        if (!tp.has_raw_data() || tp.raw_data().size() != (*numel + 1) / 2)
            fail("tensor '" + name + "' of type " + (isSigned ? "INT4" : "UINT4") + " needs " +
                 std::to_string((*numel + 1) / 2) + " bytes of raw_data");
        uint8_t* buf = newBuffer(*numel);
        const auto* raw = reinterpret_cast<const uint8_t*>(tp.raw_data().data());
        for (uint64_t i = 0; i < *numel; ++i) {
            const uint8_t v = (raw[i / 2] >> (i % 2 ? 4 : 0)) & 15u;
            buf[i] = isSigned && v >= 8 ? static_cast<uint8_t>(v - 16) : v;
        }
        t.data = buf;
        t.nbytes = *numel;
        packed4_.insert(name);
        add(std::move(t));
    }

    void addTensorProto(const onnx::TensorProto& tp, const std::string& name)
    {
        if (tp.data_type() == kOnnxInt4 || tp.data_type() == kOnnxUint4) {
            addPacked4(tp, name, tp.data_type() == kOnnxInt4);
            return;
        }
        const auto dt = dtypeFromOnnx(tp.data_type());
        if (!dt) {
            skip(name, onnxTypeName(tp.data_type()));
            return;
        }
        TensorInfo t;
        t.name = name;
        t.dtype = *dt;
        t.shape.assign(tp.dims().begin(), tp.dims().end());
        t.file = m_.path;
        const auto numel = checkedNumel(t.shape);
        if (!numel)
            fail("tensor '" + name + "' has negative or overflowing dims");
        const auto expected = storageBytes(*dt, *numel);
        if (!expected)
            fail("tensor '" + name + "' is too large for " + std::string(dtypeName(*dt)) +
                 " storage");

        if (tp.data_location() == onnx::TensorProto::EXTERNAL) {
            readExternal(tp, t, *expected);
        } else if (tp.has_raw_data()) {
            // Points into the kept proto; the offset within the .onnx file is not known.
            t.data = reinterpret_cast<const uint8_t*>(tp.raw_data().data());
            t.nbytes = tp.raw_data().size();
            if (t.nbytes != *expected)
                fail("tensor '" + name + "' has " + std::to_string(t.nbytes) +
                     " bytes of raw_data but its " + std::string(dtypeName(*dt)) + " shape needs " +
                     std::to_string(*expected));
        } else {
            readTyped(tp, t, *numel, *expected);
        }
        add(std::move(t));
    }

    // Converts the typed repeated field that carries this data type into an owned buffer.
    void readTyped(const onnx::TensorProto& tp, TensorInfo& t, uint64_t numel, uint64_t bytes)
    {
        const char* field = nullptr;
        int count = 0;
        switch (t.dtype) {
        case DType::F32: field = "float_data"; count = tp.float_data_size(); break;
        case DType::F64: field = "double_data"; count = tp.double_data_size(); break;
        case DType::I64: field = "int64_data"; count = tp.int64_data_size(); break;
        case DType::U32:
        case DType::U64: field = "uint64_data"; count = tp.uint64_data_size(); break;
        default: field = "int32_data"; count = tp.int32_data_size(); break;
        }
        if (static_cast<uint64_t>(count) != numel)
            fail("tensor '" + t.name + "' has " + std::to_string(count) + " values in " + field +
                 " but its shape needs " + std::to_string(numel));
        // numel now equals a count of values actually present in the file, so the
        // allocation is bounded by the file size (times at most 8).
        uint8_t* buf = newBuffer(bytes);
        const auto low16 = [](int32_t v) { return static_cast<uint16_t>(v); };
        const auto low8 = [](int32_t v) { return static_cast<uint8_t>(v); };
        switch (t.dtype) {
        case DType::F32: fillTyped<float>(buf, tp.float_data(), [](float v) { return v; }); break;
        case DType::F64: fillTyped<double>(buf, tp.double_data(), [](double v) { return v; }); break;
        case DType::I64: fillTyped<int64_t>(buf, tp.int64_data(), [](int64_t v) { return v; }); break;
        case DType::U64: fillTyped<uint64_t>(buf, tp.uint64_data(), [](uint64_t v) { return v; }); break;
        case DType::U32:
            fillTyped<uint32_t>(buf, tp.uint64_data(), [](uint64_t v) { return static_cast<uint32_t>(v); });
            break;
        case DType::I32: fillTyped<int32_t>(buf, tp.int32_data(), [](int32_t v) { return v; }); break;
        // 16-bit types travel as their bit patterns (FP16, BF16) or values in int32_data.
        case DType::F16:
        case DType::BF16:
        case DType::I16:
        case DType::U16: fillTyped<uint16_t>(buf, tp.int32_data(), low16); break;
        case DType::Bool:
            fillTyped<uint8_t>(buf, tp.int32_data(), [](int32_t v) { return uint8_t(v != 0); });
            break;
        default: fillTyped<uint8_t>(buf, tp.int32_data(), low8); break; // I8, U8, FP8
        }
        t.data = buf;
        t.nbytes = bytes;
    }

    // Rejects locations that could leave the model's directory.
    void checkLocation(const std::string& tensor, const std::string& loc) const
    {
        const auto bad = [&](const std::string& why) {
            fail("tensor '" + tensor + "': external data location '" + loc + "' " + why);
        };
        if (loc.empty())
            bad("is empty");
        if (loc.find('\0') != std::string::npos)
            bad("contains a NUL byte");
        if (loc[0] == '/' || loc[0] == '\\' || (loc.size() > 1 && loc[1] == ':'))
            bad("is absolute");
        size_t start = 0;
        while (start <= loc.size()) {
            size_t end = loc.find_first_of("/\\", start);
            if (end == std::string::npos)
                end = loc.size();
            if (loc.compare(start, end - start, "..") == 0 && end - start == 2)
                bad("leaves the model's directory");
            start = end + 1;
        }
    }

    void readExternal(const onnx::TensorProto& tp, TensorInfo& t, uint64_t expected)
    {
        std::string location;
        uint64_t offset = 0;
        std::optional<uint64_t> length;
        for (const auto& kv : tp.external_data()) {
            if (kv.key() == "location") {
                location = kv.value();
            } else if (kv.key() == "offset" || kv.key() == "length") {
                const auto v = parseU64(kv.value());
                if (!v)
                    fail("tensor '" + t.name + "': external data " + kv.key() + " '" +
                         truncated(kv.value()) + "' is not a number");
                if (kv.key() == "offset")
                    offset = *v;
                else
                    length = *v;
            }
        }
        checkLocation(t.name, location);
        const std::string full = (dir_ / location).string();
        std::shared_ptr<MappedFile> file;
        if (auto it = external_.find(full); it != external_.end()) {
            file = it->second;
        } else {
            try {
                requireInsideFolder(full, dir_.string());
                file = MappedFile::open(full);
            } catch (const FileError& e) {
                fail("tensor '" + t.name + "': external data file '" + location + "' (" + full +
                     "): " + e.fault());
            }
            external_.emplace(full, file);
            m_.files.push_back(file);
        }
        if (offset > file->size())
            fail("tensor '" + t.name + "': external data offset " + std::to_string(offset) +
                 " is beyond the end of '" + location + "' (" + std::to_string(file->size()) +
                 " bytes)");
        const uint64_t len = length ? *length : file->size() - offset;
        if (len > file->size() - offset)
            fail("tensor '" + t.name + "': external data [" + std::to_string(offset) + ", +" +
                 std::to_string(len) + ") runs past the end of '" + location + "' (" +
                 std::to_string(file->size()) + " bytes)");
        if (len != expected)
            fail("tensor '" + t.name + "' has " + std::to_string(len) + " bytes of external data but its " +
                 std::string(dtypeName(t.dtype)) + " shape needs " + std::to_string(expected));
        t.data = file->data() + offset;
        t.nbytes = len;
        t.file = full;
        t.fileOffset = offset;
    }

    void addMetadata()
    {
        auto& md = m_.metadata;
        md.emplace_back("ir_version", std::to_string(proto_.ir_version()));
        if (!proto_.producer_name().empty() || !proto_.producer_version().empty())
            md.emplace_back("producer", truncated(proto_.producer_name() +
                                                  (proto_.producer_version().empty() ? "" : " ") +
                                                  proto_.producer_version()));
        if (!proto_.domain().empty())
            md.emplace_back("domain", truncated(proto_.domain()));
        if (proto_.has_model_version())
            md.emplace_back("model_version", std::to_string(proto_.model_version()));
        if (!proto_.doc_string().empty())
            md.emplace_back("doc_string", truncated(proto_.doc_string()));
        md.emplace_back("graph", truncated(proto_.graph().name()));
        for (const auto& op : proto_.opset_import()) {
            const bool def = op.domain().empty() || op.domain() == "ai.onnx";
            md.emplace_back(def ? "opset" : "opset " + truncated(op.domain()),
                            std::to_string(op.version()));
        }
        md.emplace_back("nodes", std::to_string(nodes_));
        if (subgraphs_)
            md.emplace_back("subgraphs", std::to_string(subgraphs_));
        // Op histogram, most frequent first.
        std::vector<std::pair<std::string, int>> ops(opHistogram_.begin(), opHistogram_.end());
        std::stable_sort(ops.begin(), ops.end(),
                         [](const auto& a, const auto& b) { return a.second > b.second; });
        std::string hist;
        for (const auto& [op, count] : ops)
            hist += (hist.empty() ? "" : ", ") + op + " x" + std::to_string(count);
        if (!hist.empty())
            md.emplace_back("ops", truncated(hist));
        md.emplace_back("initializers", std::to_string(initializers_));
        if (constants_)
            md.emplace_back("constants", std::to_string(constants_));
        if (!external_.empty())
            md.emplace_back("external data files", std::to_string(external_.size()));
        if (!skipped_.empty()) {
            std::string s = std::to_string(skipped_.size()) + ": ";
            for (size_t i = 0; i < skipped_.size() && i < kMaxSkippedNamed; ++i)
                s += (i ? ", " : "") + skipped_[i];
            if (skipped_.size() > kMaxSkippedNamed)
                s += ", ...";
            md.emplace_back("skipped tensors", truncated(s));
        }
        for (const auto& kv : proto_.metadata_props())
            md.emplace_back(truncated(kv.key()), truncated(kv.value()));
    }

    Model& m_;
    const onnx::ModelProto& proto_;
    fs::path dir_;
    std::unordered_map<std::string, int> byName_;
    std::set<std::string> packed4_; // INT4/UINT4 initializers, unpacked
    std::map<std::string, std::shared_ptr<MappedFile>> external_; // full path -> mapping
    std::map<std::string, int> opHistogram_;
    std::vector<std::string> skipped_;
    int nodes_ = 0;
    int subgraphs_ = 0;
    int initializers_ = 0;
    int constants_ = 0;
};

} // namespace

std::unique_ptr<Model> readOnnx(const std::string& path)
{
    auto model = std::make_unique<Model>();
    model->format = Format::Onnx;
    model->path = path;

    auto proto = std::make_shared<onnx::ModelProto>();
    {
        // The mapping is only needed while parsing: the proto copies what it keeps.
        const auto file = MappedFile::open(path);
        if (file->size() == 0)
            throw FileError(path, "empty file");
        if (file->size() > static_cast<uint64_t>(INT_MAX))
            throw FileError(path, "larger than the 2 GB protobuf limit (large ONNX models keep "
                                  "their weights in external data files)");
        google::protobuf::io::CodedInputStream in(file->data(), static_cast<int>(file->size()));
        in.SetTotalBytesLimit(INT_MAX);
        if (!proto->ParseFromCodedStream(&in) || !in.ConsumedEntireMessage())
            throw FileError(path, "not a valid ONNX model (protobuf does not parse)");
    }
    model->native = proto;

    OnnxReader(*model, *proto).read();
    tieOnnxLayers(*model);
    return model;
}

std::unique_ptr<Model> readOnnxBytes(const std::string& bytes)
{
    std::string path = (std::filesystem::temp_directory_path() / "bonsai-model-XXXXXX").string();
    const int fd = mkstemp(path.data());
    if (fd < 0)
        throw FileError(path, "cannot create a temporary file");
    ::close(fd);
    try {
        writeFileAtomically(path, bytes);
        auto model = readOnnx(path);
        std::filesystem::remove(path);
        return model;
    } catch (...) {
        std::error_code ec;
        std::filesystem::remove(path, ec);
        throw;
    }
}

} // namespace bonsai
