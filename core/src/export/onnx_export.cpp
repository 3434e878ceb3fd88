// ONNX export of classifiers (see bonsai/export.h): the source graph with each compressed
// weight stored as the format allows, all of it computing exactly the values Bonsai evaluated.
#include "bonsai/compress.h"
#include "bonsai/describe.h"
#include "bonsai/error.h"
#include "bonsai/half.h"
#include "bonsai/layout.h"
#include "export/export_impl.h"
#include "formats/onnx_model.h"

#include <onnx/onnx-ml.pb.h>

#include <climits>
#include <cmath>
#include <cstring>

namespace bonsai::detail {

namespace {

int64_t opsetOf(const onnx::ModelProto& m)
{
    for (const auto& o : m.opset_import())
        if (o.domain().empty() || o.domain() == "ai.onnx")
            return o.version();
    return 0;
}

onnx::TensorProto* findInitializer(onnx::GraphProto& g, const std::string& name)
{
    for (auto& t : *g.mutable_initializer())
        if (t.name() == name)
            return &t;
    return nullptr;
}

void setRaw(onnx::TensorProto& t, const std::string& name, int type, const std::vector<int64_t>& dims,
            const void* data, size_t bytes)
{
    t.Clear();
    t.set_name(name);
    t.set_data_type(type);
    for (int64_t d : dims)
        t.add_dims(d);
    t.set_raw_data(std::string(static_cast<const char*>(data), bytes));
}

// Two 4-bit values per byte, the first in the low nibble (ONNX INT4/UINT4 raw data).
std::string packNibbles(const std::vector<int8_t>& v)
{
    std::string out((v.size() + 1) / 2, '\0');
    for (size_t i = 0; i < v.size(); ++i)
        out[i / 2] = static_cast<char>(static_cast<uint8_t>(out[i / 2]) | ((static_cast<uint8_t>(v[i]) & 15u) << (i % 2 ? 4 : 0)));
    return out;
}

template <typename T>
std::vector<T> transposed(const std::vector<T>& m, uint64_t rows, uint64_t cols)
{
    std::vector<T> t(m.size());
    for (uint64_t r = 0; r < rows; ++r)
        for (uint64_t c = 0; c < cols; ++c)
            t[c * rows + r] = m[r * cols + c];
    return t;
}

onnx::AttributeProto* intAttribute(onnx::NodeProto& n, const char* name, int64_t v)
{
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
    return a;
}

} // namespace

ExportPlan buildOnnx(const Model& model, const std::vector<LayerConfig>& configs, const ExportOptions& options,
                     std::string& bytes, const Provenance* provenance)
{
    const onnx::ModelProto* src = onnxProto(model);
    if (!src)
        throw FileError(model.path, "ONNX export takes a model read from an ONNX file");
    onnx::ModelProto out = *src;
    onnx::GraphProto& g = *out.mutable_graph();
    const int64_t opset = opsetOf(out);
    ExportPlan plan;
    plan.format = ExportFormat::Onnx;
    plan.configs.assign(model.layers.size(), LayerConfig{});
    std::vector<onnx::NodeProto> added;
    bool needsOpset21 = false; // blocked DequantizeLinear (block_size) and INT4 need opset 21, IR 10

    for (size_t li = 0; li < model.layers.size(); ++li) {
        const Layer& l = model.layers[li];
        const TensorInfo& t = model.tensors[static_cast<size_t>(l.weight)];
        const LayerConfig c = li < configs.size() ? configs[li] : LayerConfig{};
        ExportTensorPlan tp;
        tp.source = t.name;
        tp.target = t.name;
        tp.layer = static_cast<int>(li);
        tp.configured = describe(c);
        tp.stored = "FLOAT";
        auto impossible = [&](const std::string& why) {
            tp.status = StoreStatus::Impossible;
            tp.reason = why;
        };
        onnx::TensorProto* init = findInitializer(g, t.name);
        if (c.isIdentity()) {
            tp.stored = std::string(dtypeName(t.dtype));
            tp.bytes = t.nbytes;
        } else if (!init || init->data_type() != onnx::TensorProto::FLOAT) {
            impossible("the weight is no FLOAT initializer of the main graph");
        } else if (c.hasRank()) {
            impossible("low rank: the two-factor export (two MatMul/Gemm, or a k x k and a 1 x 1 Conv) is not "
                       "written yet");
        } else if (c.hasSparsity() && c.pattern == SparsityPattern::Channels) {
            impossible("channel pruning: removing the channels from the graph is not written yet");
        } else if (c.precision.kind == PrecisionKind::FP32 || c.precision.kind == PrecisionKind::FP16 ||
                   c.precision.kind == PrecisionKind::Int) {
            const std::vector<float> values = reconstructLayer(model, static_cast<int>(li), c);
            const std::string name = t.name;
            if (c.precision.kind == PrecisionKind::FP32) {
                setRaw(*init, name, onnx::TensorProto::FLOAT, t.shape, values.data(), values.size() * 4);
                tp.bytes = values.size() * 4;
            } else if (c.precision.kind == PrecisionKind::FP16) {
                std::vector<uint16_t> h(values.size());
                for (size_t i = 0; i < h.size(); ++i)
                    h[i] = floatToFp16(values[i]);
                setRaw(*init, name + "_fp16", onnx::TensorProto::FLOAT16, t.shape, h.data(), h.size() * 2);
                onnx::NodeProto cast;
                cast.set_op_type("Cast");
                cast.set_name(name + "_cast");
                cast.add_input(name + "_fp16");
                cast.add_output(name);
                auto* to = cast.add_attribute();
                to->set_name("to");
                to->set_type(onnx::AttributeProto::INT);
                to->set_i(onnx::TensorProto::FLOAT);
                added.push_back(std::move(cast));
                tp.stored = "FLOAT16 + Cast";
                tp.bytes = h.size() * 2;
            } else {
                IntCodes codes;
                std::string why = intCodes(model, static_cast<int>(li), c, values, codes);
                if (!why.empty())
                    why += ": not exported to ONNX yet";
                const bool grouped = c.granularity == Granularity::Group && codes.groups > 1;
                const bool conv = t.shape.size() > 2;
                if (!why.empty()) {
                    impossible(why);
                } else if (!grouped && opset < 13) {
                    impossible("per-axis DequantizeLinear needs opset 13; the model has opset " + std::to_string(opset));
                } else if (grouped && conv && l.outAxis != 0) {
                    impossible("group-wise integers on a weight whose output channels are not its first axis "
                               "(ConvTranspose): not exported yet");
                } else {
                    const bool sym = c.symmetric, nibbles = c.precision.bits <= 4 && grouped;
                    const bool perTensor = c.granularity == Granularity::PerTensor;
                    // Stored types: INT4/UINT4 (ids 22/21, packed) for grouped codes of 4 bits or less.
                    const int qtype = nibbles ? (sym ? 22 : 21) : (sym ? onnx::TensorProto::INT8 : onnx::TensorProto::UINT8);
                    // The layout: the weight's own, with codes along its output axis; a Conv's
                    // groups run along in*kh*kw, which blocked DequantizeLinear sees as the 2-D
                    // [out, in*kh*kw] tensor it stores, reshaped to the Conv's shape after it.
                    std::vector<int64_t> dataDims = t.shape, scaleDims;
                    std::vector<int8_t> data, zeros = codes.zero;
                    std::vector<float> scales = codes.scale;
                    int64_t axis = l.outAxis;
                    if (grouped && conv) {
                        dataDims = {int64_t(codes.rows), int64_t(codes.cols)};
                        data = codes.q;
                        scaleDims = {int64_t(codes.rows), int64_t(codes.groups)};
                        axis = 1;
                    } else if (grouped) { // 2-D: blocks along the input axis
                        if (l.outAxis == 0) {
                            data = codes.q;
                            scaleDims = {int64_t(codes.rows), int64_t(codes.groups)};
                            axis = 1;
                        } else {
                            data = transposed(codes.q, codes.rows, codes.cols);
                            scales = transposed(codes.scale, codes.rows, codes.groups);
                            zeros = transposed(codes.zero, codes.rows, codes.groups);
                            scaleDims = {int64_t(codes.groups), int64_t(codes.rows)};
                            axis = 0;
                        }
                    } else {
                        data.resize(codes.q.size());
                        matrixToLayout(t.shape, l.outAxis, codes.q.data(), data.data());
                        if (perTensor) {
                            scales.resize(1);
                            zeros.resize(1);
                        } else {
                            scaleDims = {int64_t(codes.rows)};
                        }
                    }
                    const std::string dataBytes = nibbles ? packNibbles(data) : std::string(data.begin(), data.end());
                    const std::string zeroBytes = nibbles ? packNibbles(zeros) : std::string(zeros.begin(), zeros.end());
                    setRaw(*init, name + "_quantized", qtype, dataDims, dataBytes.data(), dataBytes.size());
                    setRaw(*g.add_initializer(), name + "_scale", onnx::TensorProto::FLOAT, scaleDims, scales.data(),
                           scales.size() * 4);
                    setRaw(*g.add_initializer(), name + "_zero_point", qtype, scaleDims, zeroBytes.data(), zeroBytes.size());
                    const std::string dqOut = grouped && conv ? name + "_2d" : name;
                    onnx::NodeProto dq;
                    dq.set_op_type("DequantizeLinear");
                    dq.set_name(name + "_dequantize");
                    dq.add_input(name + "_quantized");
                    dq.add_input(name + "_scale");
                    dq.add_input(name + "_zero_point");
                    dq.add_output(dqOut);
                    if (!perTensor)
                        intAttribute(dq, "axis", axis);
                    if (grouped)
                        intAttribute(dq, "block_size", int64_t(codes.group));
                    added.push_back(std::move(dq));
                    if (grouped && conv) {
                        setRaw(*g.add_initializer(), name + "_shape", onnx::TensorProto::INT64, {int64_t(t.shape.size())},
                               t.shape.data(), t.shape.size() * 8);
                        onnx::NodeProto reshape;
                        reshape.set_op_type("Reshape");
                        reshape.set_name(name + "_reshape");
                        reshape.add_input(dqOut);
                        reshape.add_input(name + "_shape");
                        reshape.add_output(name);
                        added.push_back(std::move(reshape));
                    }
                    needsOpset21 |= grouped;
                    const std::string typeName = nibbles ? (sym ? "INT4" : "UINT4") : (sym ? "INT8" : "UINT8");
                    tp.stored = typeName +
                                (perTensor ? " per tensor" : grouped ? " blocks of " + std::to_string(codes.group) : " per axis") +
                                " + DequantizeLinear" + (grouped && conv ? " + Reshape" : "");
                    tp.bytes = dataBytes.size() + scales.size() * 4 + zeroBytes.size();
                    if (c.precision.bits < (nibbles ? 4 : 8)) {
                        tp.status = StoreStatus::Changed;
                        tp.reason = "int" + std::to_string(c.precision.bits) + " codes in " + (nibbles ? "4" : "8") +
                                    "-bit containers (the same values; the file is not smaller)";
                    }
                }
            }
            if (tp.status != StoreStatus::Impossible) {
                plan.configs[li] = c;
                if (c.hasSparsity() && tp.reason.empty()) {
                    tp.status = StoreStatus::Changed;
                    tp.reason = "pruned weights stored as zeros: ONNX has no sparse weight layout runtimes use, "
                                "so the file is not smaller";
                }
            }
        } else {
            impossible(shortPrecision(c) + " has no ONNX weight type Bonsai writes (fp32, fp16, int2-int8 per channel "
                                           "or per tensor)");
        }
        plan.tensors.push_back(std::move(tp));
    }
    // The dequantize and cast nodes first, so that the graph stays topologically sorted.
    google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
    for (auto& n : added)
        *nodes.Add() = std::move(n);
    for (auto& n : *g.mutable_node())
        *nodes.Add() = std::move(n);
    g.mutable_node()->Swap(&nodes);
    inlineExternalData(model, g); // one self-contained file
    if (needsOpset21) {
        for (auto& o : *out.mutable_opset_import())
            if ((o.domain().empty() || o.domain() == "ai.onnx") && o.version() < 21)
                o.set_version(21);
        if (out.ir_version() < 10)
            out.set_ir_version(10);
        plan.notes.push_back("group-wise weights: blocked DequantizeLinear needs opset 21 (the model's opset " +
                             std::to_string(opset) + " was raised) and IR version 10");
    }
    auto* prov = out.add_metadata_props();
    prov->set_key("bonsai.provenance");
    prov->set_value((provenance ? *provenance : exportProvenance(model, ExportFormat::Onnx, options, false)).toJson());
    if (out.ByteSizeLong() > static_cast<size_t>(INT_MAX))
        throw FileError(model.path, "the export is larger than ONNX's 2 GB protobuf limit");
    if (!out.SerializeToString(&bytes))
        throw Error("the ONNX export does not serialize");
    plan.fileBytes = bytes.size();
    uint64_t data = 0;
    for (const auto& t : plan.tensors)
        data += t.bytes;
    plan.metadataBytes = plan.fileBytes > data ? plan.fileBytes - data : 0;
    return plan;
}

} // namespace bonsai::detail
