// ONNX export of classifiers (see bonsai/export.h): the source graph with each compressed
// weight stored as the format allows, all of it computing exactly the values Bonsai evaluated.
#include "bonsai/compress.h"
#include "bonsai/describe.h"
#include "bonsai/error.h"
#include "bonsai/half.h"
#include "bonsai/layout.h"
#include "export/export_impl.h"
#include "formats/onnx_model.h"
#include "quant/quant_int_impl.h"

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

// The reconstructed weight of a layer (compressLayer, in the weight's own layout).
std::vector<float> reconstruct(const Model& model, int layer, const LayerConfig& c)
{
    std::vector<float> out;
    compressLayer(model, layer, c, &out);
    return out;
}

// Integer codes and per-channel parameters that DequantizeLinear turns back into exactly
// `values` (the configured weight), or an empty string and the reason.
struct Codes {
    std::vector<int8_t> q;       // weight layout
    std::vector<float> scale;    // per channel
    std::vector<int8_t> zero;    // per channel (uint8 bytes when asymmetric)
};

std::string perChannelCodes(const Model& model, int layer, const LayerConfig& c, const std::vector<float>& values,
                            Codes& out)
{
    const Layer& l = model.layers[static_cast<size_t>(layer)];
    const TensorInfo& t = model.tensors[static_cast<size_t>(l.weight)];
    const AxisSplit s = splitAtAxis(t.shape, l.outAxis);
    const uint64_t rows = s.channels, cols = s.cols();
    // What the precision step saw: the layer after sparsity, in matrix form.
    LayerConfig before = c;
    before.precision = Precision{PrecisionKind::FP32};
    const std::vector<float> pre = reconstruct(model, layer, before);
    std::vector<float> preM(pre.size()), valM(values.size());
    layoutToMatrix(t.shape, l.outAxis, pre.data(), preM.data());
    layoutToMatrix(t.shape, l.outAxis, values.data(), valM.data());
    const IntQuantConfig q = intQuantConfig(c);
    const float qmax = intq::qmaxOf(q), qlo = intq::qloOf(q);
    std::vector<int8_t> codesM(rows * cols);
    out.scale.assign(rows, 0.0f);
    out.zero.assign(rows, 0);
    const intq::Params whole = intq::paramsFor(intq::rangeOf(preM.data(), preM.size()), 1.0f, q.symmetric, qmax);
    for (uint64_t r = 0; r < rows; ++r) {
        const float* x = preM.data() + r * cols;
        const intq::Params p = c.granularity == Granularity::PerTensor
                                   ? whole
                                   : intq::paramsFor(intq::rangeOf(x, cols), 1.0f, q.symmetric, qmax);
        out.scale[r] = p.scale;
        out.zero[r] = static_cast<int8_t>(static_cast<uint8_t>(p.zero));
        for (uint64_t i = 0; i < cols; ++i) {
            const float y = valM[r * cols + i];
            float code = p.scale == 0 ? p.zero : intq::roundEven(y / p.scale) + p.zero;
            code = std::min(std::max(code, qlo), qmax);
            if ((code - p.zero) * p.scale != y)
                return "its values are not on one integer grid per channel (clip search, GPTQ or AWQ chose "
                       "other scales): not exported to ONNX yet";
            codesM[r * cols + i] = q.symmetric ? static_cast<int8_t>(code)
                                               : static_cast<int8_t>(static_cast<uint8_t>(code));
        }
    }
    out.q.resize(codesM.size());
    matrixToLayout(t.shape, l.outAxis, codesM.data(), out.q.data());
    return {};
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
                   (c.precision.kind == PrecisionKind::Int && c.granularity != Granularity::Group)) {
            const std::vector<float> values = reconstruct(model, static_cast<int>(li), c);
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
            } else if (opset < 13) {
                impossible("per-axis DequantizeLinear needs opset 13; the model has opset " + std::to_string(opset));
            } else {
                Codes codes;
                const std::string why = perChannelCodes(model, static_cast<int>(li), c, values, codes);
                if (!why.empty()) {
                    impossible(why);
                } else {
                    const bool sym = c.symmetric;
                    const int qtype = sym ? onnx::TensorProto::INT8 : onnx::TensorProto::UINT8;
                    const bool perTensor = c.granularity == Granularity::PerTensor;
                    const int64_t channels = perTensor ? 1 : static_cast<int64_t>(codes.scale.size());
                    setRaw(*init, name + "_quantized", qtype, t.shape, codes.q.data(), codes.q.size());
                    onnx::TensorProto* scale = g.add_initializer();
                    setRaw(*scale, name + "_scale", onnx::TensorProto::FLOAT,
                           perTensor ? std::vector<int64_t>{} : std::vector<int64_t>{channels}, codes.scale.data(),
                           size_t(channels) * 4);
                    onnx::TensorProto* zero = g.add_initializer();
                    setRaw(*zero, name + "_zero_point", qtype,
                           perTensor ? std::vector<int64_t>{} : std::vector<int64_t>{channels}, codes.zero.data(),
                           size_t(channels));
                    onnx::NodeProto dq;
                    dq.set_op_type("DequantizeLinear");
                    dq.set_name(name + "_dequantize");
                    dq.add_input(name + "_quantized");
                    dq.add_input(name + "_scale");
                    dq.add_input(name + "_zero_point");
                    dq.add_output(name);
                    if (!perTensor) {
                        auto* axis = dq.add_attribute();
                        axis->set_name("axis");
                        axis->set_type(onnx::AttributeProto::INT);
                        axis->set_i(l.outAxis);
                    }
                    added.push_back(std::move(dq));
                    tp.stored = std::string(sym ? "INT8" : "UINT8") + (perTensor ? " per tensor" : " per axis") +
                                " + DequantizeLinear";
                    tp.bytes = codes.q.size() + size_t(channels) * 5;
                    if (c.precision.bits < 8) {
                        tp.status = StoreStatus::Changed;
                        tp.reason = "int" + std::to_string(c.precision.bits) +
                                    " codes in 8-bit containers (the same values; the file is not smaller)";
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
        } else if (c.precision.kind == PrecisionKind::Int) {
            impossible("group-wise integers: the blocked DequantizeLinear (opset 21, block_size) export is not "
                       "written yet");
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
