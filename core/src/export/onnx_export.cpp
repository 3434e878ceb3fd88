// ONNX export of classifiers (see bonsai/export.h): the source graph with each compressed
// weight stored as the format allows (onnx_weights.h), low-rank layers as two nodes, pruned
// channels removed from the graph and BatchNormalization folded into the Conv before it, all
// of it computing the values Bonsai evaluated.
#include "bonsai/compress.h"
#include "bonsai/describe.h"
#include "bonsai/error.h"
#include "bonsai/layout.h"
#include "export/export_impl.h"
#include "export/onnx_weights.h"
#include "formats/onnx_attrs.h"
#include "formats/onnx_model.h"

#include <onnx/onnx-ml.pb.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

namespace bonsai::detail {

namespace {

int64_t opsetOf(const onnx::ModelProto& m)
{
    for (const auto& o : m.opset_import())
        if (o.domain().empty() || o.domain() == "ai.onnx")
            return o.version();
    return 0;
}

// The weight of a layer as its configuration computes it (compressLayer), in matrix form.
OnnxMatrix layerMatrixOf(const Model& model, int layer, const LayerConfig& c)
{
    const Layer& l = model.layers[static_cast<size_t>(layer)];
    const TensorInfo& t = model.tensors[static_cast<size_t>(l.weight)];
    const std::vector<float> w = c.isIdentity() ? model.readFloat(l.weight) : reconstructLayer(model, layer, c);
    OnnxMatrix m;
    m.rows = splitAtAxis(t.shape, l.outAxis).channels;
    m.cols = m.rows ? w.size() / m.rows : 0;
    m.values.resize(w.size());
    layoutToMatrix(t.shape, l.outAxis, w.data(), m.values.data());
    return m;
}

std::vector<float> floatsOf(const onnx::TensorProto& t)
{
    const size_t n = t.raw_data().empty() ? static_cast<size_t>(t.float_data_size()) : t.raw_data().size() / 4;
    std::vector<float> v(n);
    if (!t.raw_data().empty())
        std::memcpy(v.data(), t.raw_data().data(), n * 4);
    else
        std::copy(t.float_data().begin(), t.float_data().end(), v.begin());
    return v;
}

void setFloats(onnx::TensorProto& t, const std::vector<float>& v)
{
    const std::string name = t.name();
    setRaw(t, name, onnx::TensorProto::FLOAT, {int64_t(v.size())}, v.data(), v.size() * 4);
}

template <typename T>
void eraseIndices(std::vector<T>& v, const std::vector<uint64_t>& drop)
{
    for (auto it = drop.rbegin(); it != drop.rend(); ++it)
        if (*it < v.size())
            v.erase(v.begin() + static_cast<std::ptrdiff_t>(*it));
}

// The export's work on the graph: node edits are made on a copy of the node list.
class OnnxGraphEdit {
public:
    explicit OnnxGraphEdit(onnx::GraphProto& g) : g_(g), nodes_(g.node().begin(), g.node().end()), gone_(nodes_.size())
    {
        for (size_t i = 0; i < nodes_.size(); ++i)
            for (const auto& in : nodes_[i].input())
                readers_[in].push_back(i);
        for (const auto& o : g.output())
            outputs_.insert(o.name());
    }

    // Index of the node of op `op` that reads weight `w` as input 1 (-1: none).
    int nodeOf(const std::string& op, const std::string& w) const
    {
        for (size_t i = 0; i < nodes_.size(); ++i)
            if (nodes_[i].op_type() == op && nodes_[i].input_size() > 1 && nodes_[i].input(1) == w)
                return static_cast<int>(i);
        return -1;
    }
    onnx::NodeProto& node(int i) { return nodes_[static_cast<size_t>(i)]; }

    // The BatchNormalization that alone reads node i's output, with initializer parameters of
    // `channels` entries each, or -1.
    int batchNormAfter(int i, int64_t channels)
    {
        const auto& out = nodes_[static_cast<size_t>(i)].output(0);
        const auto it = readers_.find(out);
        if (outputs_.count(out) || it == readers_.end() || it->second.size() != 1)
            return -1;
        const onnx::NodeProto& bn = nodes_[it->second[0]];
        if (bn.op_type() != "BatchNormalization" || bn.input_size() != 5 || bn.input(0) != out || bn.output_size() != 1)
            return -1;
        for (int k = 1; k < 5; ++k) {
            const onnx::TensorProto* t = findInitializer(g_, bn.input(k));
            if (!t || t->data_type() != onnx::TensorProto::FLOAT || t->dims_size() != 1 || t->dims(0) != channels)
                return -1;
        }
        return static_cast<int>(it->second[0]);
    }

    void remove(int i) { gone_[static_cast<size_t>(i)] = true; }
    // Node i is replaced by `two` (in order).
    void replace(int i, std::vector<onnx::NodeProto> two) { replaced_[i] = std::move(two); }

    // The graph's nodes: the weights' own nodes first, then the edited list.
    void finish(std::vector<onnx::NodeProto>& weightNodes)
    {
        google::protobuf::RepeatedPtrField<onnx::NodeProto> out;
        for (auto& n : weightNodes)
            *out.Add() = std::move(n);
        for (size_t i = 0; i < nodes_.size(); ++i) {
            if (gone_[i])
                continue;
            const auto it = replaced_.find(static_cast<int>(i));
            if (it == replaced_.end()) {
                *out.Add() = std::move(nodes_[i]);
                continue;
            }
            for (auto& n : it->second)
                *out.Add() = std::move(n);
        }
        g_.mutable_node()->Swap(&out);
    }

private:
    onnx::GraphProto& g_;
    std::vector<onnx::NodeProto> nodes_;
    std::vector<bool> gone_;
    std::map<int, std::vector<onnx::NodeProto>> replaced_;
    std::map<std::string, std::vector<size_t>> readers_;
    std::set<std::string> outputs_;
};

// What channel pruning removes: rows of pruned layers, and the consumers' columns.
struct Pruning {
    std::vector<std::vector<uint64_t>> rows, cols;
    std::vector<std::string> problem;
    std::vector<std::vector<const onnx::NodeProto*>> batchNorms; // on the way, to slice
};

Pruning planPruning(const Model& model, const std::vector<LayerConfig>& configs)
{
    const size_t L = model.layers.size();
    Pruning p{std::vector<std::vector<uint64_t>>(L), std::vector<std::vector<uint64_t>>(L), std::vector<std::string>(L),
              std::vector<std::vector<const onnx::NodeProto*>>(L)};
    for (size_t i = 0; i < L && i < configs.size(); ++i) {
        const LayerConfig& c = configs[i];
        if (!(c.hasSparsity() && c.pattern == SparsityPattern::Channels))
            continue;
        const ChannelRoute route = channelRoute(model, static_cast<int>(i));
        if (c.hasRank()) {
            p.problem[i] = "channel pruning with low rank: not exported yet";
        } else if (route.consumer < 0) {
            p.problem[i] = "channel pruning: " + route.problem;
        } else if (route.consumer <= static_cast<int>(i)) {
            p.problem[i] = "channel pruning: the layer that reads its channels comes before it";
        } else {
            const LayerResult r = compressLayer(model, static_cast<int>(i), c);
            p.rows[i] = r.removedChannels;
            auto& cols = p.cols[static_cast<size_t>(route.consumer)];
            for (uint64_t ch : r.removedChannels)
                for (uint64_t k = 0; k < route.perChannel; ++k)
                    cols.push_back(ch * route.perChannel + k);
            p.batchNorms[i] = route.batchNorms;
        }
    }
    for (auto& c : p.cols) {
        std::sort(c.begin(), c.end());
        c.erase(std::unique(c.begin(), c.end()), c.end());
    }
    return p;
}

// The layout shape of a weight once `rows` output channels and `cols` matrix columns (whole
// entries of its first input axis) are gone.
std::vector<int64_t> reducedDims(std::vector<int64_t> dims, int outAxis, uint64_t rows, uint64_t cols)
{
    dims[static_cast<size_t>(outAxis)] -= static_cast<int64_t>(rows);
    const size_t inAxis = outAxis == 0 ? 1 : 0;
    uint64_t later = 1;
    for (size_t a = inAxis + 1; a < dims.size(); ++a)
        if (static_cast<int>(a) != outAxis)
            later *= static_cast<uint64_t>(dims[a]);
    dims[inAxis] -= static_cast<int64_t>(cols / later);
    return dims;
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
    OnnxWeightWriter writer(g);
    writer.opset = opset;
    OnnxGraphEdit edit(g);
    const Pruning pruning = planPruning(model, configs);
    std::set<std::string> unused; // initializers no node reads any more
    uint64_t folded = 0;
    bool structural = false; // nodes or shapes changed

    for (size_t li = 0; li < model.layers.size(); ++li) {
        const Layer& l = model.layers[li];
        const TensorInfo& t = model.tensors[static_cast<size_t>(l.weight)];
        const LayerConfig configured = li < configs.size() ? configs[li] : LayerConfig{};
        LayerConfig c = configured;
        const std::string uncalibrated = withoutCalibration(c);
        const std::vector<uint64_t>& dropRowsOf = pruning.rows[li];
        const std::vector<uint64_t>& dropColsOf = pruning.cols[li];
        ExportTensorPlan tp;
        tp.source = t.name;
        tp.target = t.name;
        tp.layer = static_cast<int>(li);
        tp.configured = describe(configured);
        auto impossible = [&](const std::string& why) {
            tp.status = StoreStatus::Impossible;
            tp.reason = why;
        };
        onnx::TensorProto* init = findInitializer(g, t.name);
        const int nodeIndex = edit.nodeOf(l.op, t.name);
        const int64_t channels = t.shape[static_cast<size_t>(l.outAxis)];
        const int bnIndex = l.op == "Conv" && nodeIndex >= 0 ? edit.batchNormAfter(nodeIndex, channels) : -1;
        const PrecisionKind kind = c.precision.kind;
        const bool written = kind == PrecisionKind::FP32 || kind == PrecisionKind::FP16 || kind == PrecisionKind::Int;
        const bool fold = bnIndex >= 0 && kind != PrecisionKind::FP16 && written;
        if (c.isIdentity() && dropColsOf.empty() && !fold) {
            tp.stored = std::string(dtypeName(t.dtype));
            tp.bytes = t.nbytes;
            plan.tensors.push_back(std::move(tp));
            continue;
        }
        if (!init || init->data_type() != onnx::TensorProto::FLOAT) {
            impossible("the weight is no FLOAT initializer of the main graph");
        } else if (!pruning.problem[li].empty()) {
            impossible(pruning.problem[li]);
        } else if (!written) {
            impossible(shortPrecision(c) + " has no ONNX weight type Bonsai writes (fp32, fp16, int2-int8)");
        } else if (nodeIndex < 0) {
            impossible("its " + l.op + " node is not in the main graph");
        } else if (c.hasRank() && !(l.op == "Conv" || l.op == "Gemm" || (l.op == "MatMul" && t.shape.size() == 2))) {
            impossible("low rank on a " + l.op + " with a weight of rank " + std::to_string(t.shape.size()));
        } else if (c.hasRank() && l.op == "Conv" && OnnxAttrs(edit.node(nodeIndex)).i("group", 1) != 1) {
            impossible("low rank on a grouped Conv: not exported yet");
        }
        if (tp.status == StoreStatus::Impossible) {
            plan.tensors.push_back(std::move(tp));
            continue;
        }

        // BatchNormalization folded: row r scaled by gamma / sqrt(var + eps), the bias
        // (b - mean) * k + beta; parameters of kept channels only.
        std::vector<float> k, shift;
        std::vector<float> bias;
        const bool hasBias = l.bias >= 0 && findInitializer(g, model.tensors[static_cast<size_t>(l.bias)].name);
        if (hasBias)
            bias = floatsOf(*findInitializer(g, model.tensors[static_cast<size_t>(l.bias)].name));
        eraseIndices(bias, dropRowsOf);
        if (fold) {
            onnx::NodeProto& bn = edit.node(bnIndex);
            const float eps = OnnxAttrs(bn).f("epsilon", 1e-5f);
            std::vector<float> gamma = floatsOf(*findInitializer(g, bn.input(1))), beta = floatsOf(*findInitializer(g, bn.input(2))),
                               mean = floatsOf(*findInitializer(g, bn.input(3))), var = floatsOf(*findInitializer(g, bn.input(4)));
            for (auto* v : {&gamma, &beta, &mean, &var})
                eraseIndices(*v, dropRowsOf);
            if (bias.empty())
                bias.assign(gamma.size(), 0.0f);
            k.resize(gamma.size());
            for (size_t r = 0; r < k.size(); ++r) {
                k[r] = gamma[r] / std::sqrt(var[r] + eps);
                bias[r] = (bias[r] - mean[r]) * k[r] + beta[r];
            }
            for (int in = 1; in < 5; ++in)
                unused.insert(bn.input(in));
        }

        const LayerConfig asWritten = c.isIdentity() ? LayerConfig{} : c;
        OnnxWeightWriter::Stored stored;
        std::string why;
        std::vector<onnx::NodeProto> rankNodes; // the two nodes of a low-rank layer
        if (c.hasRank()) {
            LowRankFactors f;
            compressLayer(model, static_cast<int>(li), c, nullptr, nullptr, nullptr, nullptr, &f);
            OnnxMatrix u, v;
            u.rows = f.rows;
            u.cols = v.rows = f.rank;
            v.cols = f.cols;
            u.values = f.u;
            v.values = f.v;
            fakeQuantize(c, u.values.data(), u.rows, u.cols);
            fakeQuantize(c, v.values.data(), v.rows, v.cols);
            if (kind == PrecisionKind::Int) {
                why = intCodes(c, f.u, u);
                if (why.empty())
                    why = intCodes(c, f.v, v);
            }
            if (why.empty())
                why = dropColumns(v, dropColsOf);
            if (why.empty() && fold)
                scaleRows(u, k);
            // The factors' layouts: V's rows are the rank components, U's columns; MatMul
            // stores them [in, r] and [r, out].
            const std::vector<int64_t> dims = reducedDims(t.shape, l.outAxis, 0, dropColsOf.size());
            std::vector<int64_t> vDims = dims, uDims;
            int factorAxis = 0;
            if (l.op == "Conv") {
                vDims[0] = int64_t(f.rank);
                uDims.assign(dims.size(), 1);
                uDims[0] = dims[0];
                uDims[1] = int64_t(f.rank);
            } else if (l.op == "Gemm") {
                vDims = {int64_t(f.rank), int64_t(v.cols)};
                uDims = {int64_t(u.rows), int64_t(f.rank)};
            } else {
                vDims = {int64_t(v.cols), int64_t(f.rank)};
                uDims = {int64_t(f.rank), int64_t(u.rows)};
                factorAxis = 1;
            }
            OnnxWeightWriter::Stored su, sv;
            if (why.empty())
                why = writer.write(t.name + "_v", vDims, factorAxis, asWritten, v, sv, init);
            if (why.empty())
                why = writer.write(t.name + "_u", uDims, factorAxis, asWritten, u, su);
            if (why.empty()) {
                onnx::NodeProto& n = edit.node(nodeIndex);
                onnx::NodeProto first = n, second;
                const std::string mid = t.name + "_rank_out";
                first.set_name(n.name() + "_v");
                first.set_input(1, t.name + "_v");
                first.clear_output();
                first.add_output(mid);
                second.set_op_type(l.op);
                second.set_name(n.name() + "_u");
                second.add_input(mid);
                second.add_input(t.name + "_u");
                second.add_output(n.output(0));
                if (l.op == "Conv") {
                    while (first.input_size() > 2)
                        first.mutable_input()->RemoveLast();
                    if (n.input_size() > 2 && !n.input(2).empty())
                        second.add_input(n.input(2));
                } else if (l.op == "Gemm") {
                    first.clear_attribute();
                    OnnxAttrs a(n);
                    intAttribute(first, "transA", a.i("transA", 0));
                    intAttribute(first, "transB", 1);
                    auto* alpha = first.add_attribute();
                    alpha->set_name("alpha");
                    alpha->set_type(onnx::AttributeProto::FLOAT);
                    alpha->set_f(a.f("alpha", 1.0f));
                    while (first.input_size() > 2)
                        first.mutable_input()->RemoveLast();
                    intAttribute(second, "transB", 1);
                    if (n.input_size() > 2 && !n.input(2).empty()) {
                        second.add_input(n.input(2));
                        auto* beta = second.add_attribute();
                        beta->set_name("beta");
                        beta->set_type(onnx::AttributeProto::FLOAT);
                        beta->set_f(a.f("beta", 1.0f));
                    }
                }
                rankNodes.push_back(std::move(first));
                rankNodes.push_back(std::move(second));
                stored.type = "rank " + std::to_string(f.rank) + ": U " + su.type + ", V " + sv.type + " (two " + l.op +
                              " nodes)";
                stored.bytes = su.bytes + sv.bytes;
                stored.containerBits = su.containerBits;
            }
        } else {
            OnnxMatrix m = layerMatrixOf(model, static_cast<int>(li), asWritten);
            if (kind == PrecisionKind::Int) {
                LayerConfig before = c;
                before.precision = Precision{PrecisionKind::FP32};
                OnnxMatrix pre = layerMatrixOf(model, static_cast<int>(li), before);
                dropRows(pre, dropRowsOf);
                dropRows(m, dropRowsOf);
                why = intCodes(c, pre.values, m);
            } else {
                dropRows(m, dropRowsOf);
            }
            if (why.empty())
                why = dropColumns(m, dropColsOf);
            if (why.empty() && fold)
                scaleRows(m, k);
            const std::vector<int64_t> dims = reducedDims(t.shape, l.outAxis, dropRowsOf.size(), dropColsOf.size());
            if (why.empty())
                why = writer.write(t.name, dims, l.outAxis, asWritten, m, stored, init);
        }
        if (!why.empty()) {
            impossible(why);
            plan.tensors.push_back(std::move(tp));
            continue;
        }

        // The bias (kept channels, folded) and the nodes after: the BatchNormalization folded
        // away, or its parameters sliced to the kept channels.
        onnx::NodeProto& last = rankNodes.empty() ? edit.node(nodeIndex) : rankNodes.back(); // carries the channels
        if (fold || !dropRowsOf.empty()) {
            if (hasBias && !bias.empty()) {
                setFloats(*findInitializer(g, model.tensors[static_cast<size_t>(l.bias)].name), bias);
            } else if (fold) { // a new bias, the last input of the node that carries the channels
                const std::string name = t.name + "_folded_bias";
                setRaw(*g.add_initializer(), name, onnx::TensorProto::FLOAT, {int64_t(bias.size())}, bias.data(),
                       bias.size() * 4);
                while (last.input_size() < 2)
                    last.add_input("");
                if (last.input_size() == 2)
                    last.add_input(name);
                else
                    last.set_input(2, name);
            }
        }
        std::string foldedOut;
        if (fold) {
            onnx::NodeProto& bn = edit.node(bnIndex);
            foldedOut = bn.output(0);
            last.set_output(0, foldedOut);
            edit.remove(bnIndex);
            ++folded;
        }
        if (!rankNodes.empty())
            edit.replace(nodeIndex, std::move(rankNodes));
        for (const onnx::NodeProto* bn : pruning.batchNorms[li]) {
            if (bn->output_size() > 0 && bn->output(0) == foldedOut)
                continue; // folded
            for (int in = 1; in < 5; ++in) {
                onnx::TensorProto* p = findInitializer(g, bn->input(in));
                if (p) {
                    std::vector<float> v = floatsOf(*p);
                    eraseIndices(v, dropRowsOf);
                    setFloats(*p, v);
                }
            }
        }
        structural |= fold || !dropRowsOf.empty() || !dropColsOf.empty() || c.hasRank();

        tp.stored = stored.type;
        tp.bytes = stored.bytes;
        plan.configs[li] = c;
        std::vector<std::string> changes;
        if (!uncalibrated.empty())
            changes.push_back(uncalibrated);
        if (kind == PrecisionKind::Int && static_cast<uint32_t>(c.precision.bits) < stored.containerBits)
            changes.push_back("int" + std::to_string(c.precision.bits) + " codes in " +
                              std::to_string(stored.containerBits) + "-bit containers (the same values; the file is not "
                              "smaller)");
        if (c.hasSparsity() && c.pattern != SparsityPattern::Channels)
            changes.push_back("pruned weights stored as zeros: ONNX has no sparse weight layout runtimes use, so the "
                              "file is not smaller");
        if (!dropRowsOf.empty())
            tp.stored += ", " + std::to_string(dropRowsOf.size()) + " output channels removed";
        if (!dropColsOf.empty())
            tp.stored += ", inputs of removed channels removed";
        if (fold)
            tp.stored += ", BatchNormalization folded";
        if (!changes.empty()) {
            tp.status = StoreStatus::Changed;
            for (size_t i = 0; i < changes.size(); ++i)
                tp.reason += (i ? "; " : "") + changes[i];
        }
        plan.tensors.push_back(std::move(tp));
    }
    // Nothing reads folded BatchNormalization parameters any more.
    if (!unused.empty()) {
        auto* inits = g.mutable_initializer();
        for (int i = inits->size() - 1; i >= 0; --i)
            if (unused.count(inits->Get(i).name()))
                inits->DeleteSubrange(i, 1);
    }
    edit.finish(writer.nodes());
    if (structural)
        g.clear_value_info(); // intermediate shapes changed; runtimes infer them
    inlineExternalData(model, g); // one self-contained file
    if (writer.needsOpset21()) {
        for (auto& o : *out.mutable_opset_import())
            if ((o.domain().empty() || o.domain() == "ai.onnx") && o.version() < 21)
                o.set_version(21);
        if (out.ir_version() < 10)
            out.set_ir_version(10);
        plan.notes.push_back("group-wise weights: blocked DequantizeLinear needs opset 21 (the model's opset " +
                             std::to_string(opset) + " was raised) and IR version 10");
    }
    if (folded)
        plan.notes.push_back(std::to_string(folded) + " BatchNormalization node" + (folded > 1 ? "s" : "") +
                             " folded into the Conv before (scales of integer codes, or the weights, times "
                             "gamma / sqrt(var + eps); FP16 layers keep theirs)");
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
