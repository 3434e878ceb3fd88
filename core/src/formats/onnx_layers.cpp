// ONNX graph access and layer tying: which node consumes each weight, with which op, output
// axis and bias. Works on the proto that readOnnx() keeps in Model::native.
#include "formats/onnx_model.h"
#include "formats/onnx_attrs.h"
#include "bonsai/readers.h"

#include <onnx/onnx-ml.pb.h>

#include <unordered_map>
#include <unordered_set>

namespace bonsai {

const onnx::ModelProto* onnxProto(const Model& m)
{
    if (m.format != Format::Onnx)
        return nullptr;
    return static_cast<const onnx::ModelProto*>(m.native.get());
}

namespace {

void appendNodes(const onnx::GraphProto& g, int depth, std::vector<const onnx::NodeProto*>& out)
{
    if (depth > kOnnxMaxSubgraphDepth)
        return;
    for (const auto& n : g.node()) {
        out.push_back(&n);
        for (const auto& a : n.attribute()) {
            if (a.has_g())
                appendNodes(a.g(), depth + 1, out);
            for (const auto& sub : a.graphs())
                appendNodes(sub, depth + 1, out);
        }
    }
}

bool endsWith(const std::string& s, std::string_view suffix)
{
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Ties the graph's weights to their consumers; see tieOnnxLayers in onnx_model.h.
class LayerTier {
public:
    LayerTier(Model& m, std::vector<const onnx::NodeProto*> nodes)
        : m_(m), nodes_(std::move(nodes)), used_(m.tensors.size(), false)
    {
        for (size_t i = 0; i < m.tensors.size(); ++i)
            index_.emplace(m.tensors[i].name, static_cast<int>(i));
        for (size_t i = 0; i < nodes_.size(); ++i)
            for (const auto& in : nodes_[i]->input())
                if (!in.empty())
                    consumers_[in].push_back(i);
    }

    void run()
    {
        m_.layers.clear();
        for (size_t i = 0; i < nodes_.size(); ++i)
            tieNode(i);
    }

private:
    // Tensor index of input k of node n, or -1 when absent or not a stored tensor.
    int input(const onnx::NodeProto& n, int k) const
    {
        if (k >= n.input_size())
            return -1;
        const auto it = index_.find(n.input(k));
        return it == index_.end() ? -1 : it->second;
    }

    const TensorInfo& tensor(int i) const { return m_.tensors[static_cast<size_t>(i)]; }

    // b when it is a 1-D tensor of `len` elements (len < 0: any length), else -1.
    int bias(int b, int64_t len) const
    {
        if (b < 0 || tensor(b).shape.size() != 1 || (len >= 0 && tensor(b).shape[0] != len))
            return -1;
        return b;
    }

    // The 1-D bias added to the output of a MatMul: Add(out, b) or Add(b, out).
    int matMulBias(const onnx::NodeProto& mm, int64_t outDim) const
    {
        if (mm.output_size() < 1)
            return -1;
        const auto it = consumers_.find(mm.output(0));
        if (it == consumers_.end())
            return -1;
        for (size_t c : it->second) {
            const auto& add = *nodes_[c];
            if (add.op_type() != "Add" || add.input_size() != 2)
                continue;
            const int other = add.input(0) == mm.output(0) ? 1 : 0;
            const int b = bias(input(add, other), outDim);
            if (b >= 0)
                return b;
        }
        return -1;
    }

    void tieNode(size_t index)
    {
        const auto& n = *nodes_[index];
        if (!n.domain().empty() && n.domain() != "ai.onnx")
            return; // custom ops may reuse standard names with other meanings
        const std::string& op = n.op_type();
        int w = -1, b = -1, axis = 0;
        if (op == "Conv") {
            w = input(n, 1);
            if (w >= 0 && !tensor(w).shape.empty())
                b = bias(input(n, 2), tensor(w).shape[0]);
        } else if (op == "ConvTranspose") {
            w = input(n, 1);
            axis = 1;
            if (w >= 0 && tensor(w).shape.size() >= 2) {
                const int64_t group = OnnxAttrs(n).i("group", 1);
                const int64_t perGroup = tensor(w).shape[1];
                // Guard the product: both come from the file.
                if (group > 0 && perGroup >= 0 && perGroup <= INT64_MAX / group)
                    b = bias(input(n, 2), perGroup * group);
            }
        } else if (op == "Gemm") {
            w = input(n, 1);
            axis = OnnxAttrs(n).i("transB", 0) ? 0 : 1;
            if (w >= 0 && tensor(w).shape.size() != 2)
                return;
            if (w >= 0)
                b = bias(input(n, 2), tensor(w).shape[static_cast<size_t>(axis)]);
        } else if (op == "MatMul") {
            w = input(n, 1);
            if (w >= 0 && tensor(w).shape.size() >= 2) {
                axis = static_cast<int>(tensor(w).shape.size()) - 1;
                b = matMulBias(n, tensor(w).shape.back());
            }
        } else if (op == "Gather") {
            if (OnnxAttrs(n).i("axis", 0) != 0)
                return;
            w = input(n, 0); // embedding table [vocab, dim]
        } else {
            return;
        }
        if (w < 0 || used_[static_cast<size_t>(w)])
            return;
        const TensorInfo& t = tensor(w);
        if (t.shape.size() < 2 || (!dtypeInfo(t.dtype).isFloat && !t.dequant))
            return;
        used_[static_cast<size_t>(w)] = true;
        Layer l;
        l.name = endsWith(t.name, ".weight") ? t.name.substr(0, t.name.size() - 7) : t.name;
        l.op = op;
        l.weight = w;
        l.bias = b;
        l.outAxis = axis;
        l.node = n.name().empty() ? op + "_" + std::to_string(index) : n.name();
        m_.layers.push_back(std::move(l));
    }

    Model& m_;
    std::vector<const onnx::NodeProto*> nodes_;
    std::vector<bool> used_;
    std::unordered_map<std::string, int> index_;
    std::unordered_map<std::string, std::vector<size_t>> consumers_;
};

} // namespace

std::vector<const onnx::NodeProto*> onnxNodes(const onnx::ModelProto& proto)
{
    std::vector<const onnx::NodeProto*> out;
    if (proto.has_graph())
        appendNodes(proto.graph(), 0, out);
    return out;
}

void tieOnnxLayers(Model& m)
{
    const onnx::ModelProto* proto = onnxProto(m);
    if (!proto) {
        m.layers.clear();
        return;
    }
    LayerTier(m, onnxNodes(*proto)).run();
}

} // namespace bonsai
