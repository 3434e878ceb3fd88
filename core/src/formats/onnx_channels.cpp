// Where a layer's output channels go in an ONNX graph (see channelRoute in onnx_model.h).
#include "formats/onnx_attrs.h"
#include "formats/onnx_model.h"

#include <onnx/onnx-ml.pb.h>

#include <unordered_map>
#include <unordered_set>

namespace bonsai {

namespace {

// Nodes that keep the channel axis where it is and compute each channel from that channel
// alone (elementwise activations, pooling within a channel).
bool keepsChannels(const std::string& op)
{
    static const std::unordered_set<std::string> ops = {
        "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish",
        "Softplus", "Softsign", "Gelu", "Mish", "Clip", "Dropout", "Identity", "MaxPool", "AveragePool",
        "GlobalAveragePool", "GlobalMaxPool", "LpPool", "Abs", "Neg"};
    return ops.count(op) > 0;
}

const char* kWhy = "removing its channels from the graph would change other results";

} // namespace

ChannelRoute channelRoute(const Model& m, int layer)
{
    ChannelRoute r;
    const onnx::ModelProto* proto = onnxProto(m);
    if (!proto || layer < 0 || static_cast<size_t>(layer) >= m.layers.size()) {
        r.problem = "not an ONNX layer";
        return r;
    }
    const Layer& l = m.layers[static_cast<size_t>(layer)];
    const TensorInfo& w = m.tensors[static_cast<size_t>(l.weight)];
    const onnx::GraphProto& g = proto->graph();
    if (l.op != "Conv" && l.op != "Gemm" && l.op != "MatMul") {
        r.problem = "a " + l.op + " layer's output channels are not followed";
        return r;
    }
    const int64_t channels = w.shape[static_cast<size_t>(l.outAxis)];
    std::unordered_map<std::string, std::vector<const onnx::NodeProto*>> readers;
    const onnx::NodeProto* producer = nullptr;
    for (const auto& n : g.node()) {
        for (const auto& in : n.input())
            if (!in.empty())
                readers[in].push_back(&n);
        if (!producer && n.op_type() == l.op && n.input_size() > 1 && n.input(1) == w.name)
            producer = &n;
    }
    if (!producer || producer->output_size() < 1) {
        r.problem = "its node is not in the main graph";
        return r;
    }
    if (l.op == "Conv" && OnnxAttrs(*producer).i("group", 1) != 1) {
        r.problem = "a grouped Conv's channels are not removed";
        return r;
    }
    std::unordered_set<std::string> outputs;
    for (const auto& o : g.output())
        outputs.insert(o.name());
    std::unordered_map<std::string, int> layerOfWeight;
    for (size_t i = 0; i < m.layers.size(); ++i)
        layerOfWeight[m.tensors[static_cast<size_t>(m.layers[i].weight)].name] = static_cast<int>(i);
    auto initializer = [&](const std::string& name) {
        for (const auto& t : g.initializer())
            if (t.name() == name)
                return true;
        return false;
    };

    std::string cur = producer->output(0);
    if (l.op == "MatMul" && l.bias >= 0) { // the bias Add that follows
        const auto it = readers.find(cur);
        if (it != readers.end() && it->second.size() == 1 && it->second[0]->op_type() == "Add")
            cur = it->second[0]->output(0);
    }
    bool flattened = false;
    for (int steps = 0; steps <= g.node_size(); ++steps) {
        if (outputs.count(cur)) {
            r.problem = "its output channels reach the graph's output '" + cur + "'";
            return r;
        }
        const auto it = readers.find(cur);
        if (it == readers.end() || it->second.empty()) {
            r.problem = "its output channels reach no layer";
            return r;
        }
        if (it->second.size() != 1) {
            r.problem = "'" + cur + "' is read by " + std::to_string(it->second.size()) + " nodes: " + kWhy;
            return r;
        }
        const onnx::NodeProto& n = *it->second[0];
        const std::string& op = n.op_type();
        const std::string where = op + " node '" + n.name() + "'";
        if (n.input_size() < 1 || n.input(0) != cur || n.output_size() < 1) {
            r.problem = "its output channels reach the " + where + " as another input: " + kWhy;
            return r;
        }
        if (keepsChannels(op) || op == "BatchNormalization") {
            if (op == "Clip")
                for (int k = 1; k < n.input_size(); ++k)
                    if (!n.input(k).empty() && !initializer(n.input(k))) {
                        r.problem = "the " + where + " has inputs that are computed: " + kWhy;
                        return r;
                    }
            if (op == "BatchNormalization") {
                for (int k = 1; k < 5; ++k)
                    if (k >= n.input_size() || !initializer(n.input(k))) {
                        r.problem = "the " + where + " has parameters that are no initializers";
                        return r;
                    }
                r.batchNorms.push_back(&n);
            }
            cur = n.output(0);
            continue;
        }
        if (op == "Flatten") {
            if (OnnxAttrs(n).i("axis", 1) != 1 || flattened) {
                r.problem = "the " + where + " does not keep the batch axis alone";
                return r;
            }
            flattened = true;
            cur = n.output(0);
            continue;
        }
        if (op == "Conv" || op == "Gemm" || op == "MatMul") {
            const auto li = n.input_size() > 1 ? layerOfWeight.find(n.input(1)) : layerOfWeight.end();
            if (li == layerOfWeight.end()) {
                r.problem = "the " + where + " that reads its channels has no weight layer";
                return r;
            }
            const Layer& c = m.layers[static_cast<size_t>(li->second)];
            const TensorInfo& cw = m.tensors[static_cast<size_t>(c.weight)];
            if (op == "Conv") {
                if (flattened || OnnxAttrs(n).i("group", 1) != 1 || cw.shape.size() < 3 || cw.shape[1] != channels) {
                    r.problem = "the " + where + " is grouped or does not read the channels as its input channels";
                    return r;
                }
                uint64_t k = 1;
                for (size_t a = 2; a < cw.shape.size(); ++a)
                    k *= static_cast<uint64_t>(cw.shape[a]);
                r.perChannel = k;
            } else {
                if (op == "Gemm" && OnnxAttrs(n).i("transA", 0) != 0) {
                    r.problem = "the " + where + " transposes its input";
                    return r;
                }
                if (cw.shape.size() != 2) {
                    r.problem = "the " + where + " has a weight of rank " + std::to_string(cw.shape.size());
                    return r;
                }
                const int64_t in = cw.shape[c.outAxis == 0 ? 1 : 0];
                if (channels <= 0 || in % channels != 0 || (!flattened && in != channels)) {
                    r.problem = "the " + where + " reads " + std::to_string(in) + " features, not " +
                                std::to_string(channels) + " channels";
                    return r;
                }
                r.perChannel = static_cast<uint64_t>(in / channels);
            }
            r.consumer = li->second;
            r.consumerNode = &n;
            return r;
        }
        r.problem = "its output channels reach the " + where + ": " + kWhy;
        return r;
    }
    r.problem = "the graph has a cycle";
    return r;
}

} // namespace bonsai
