// The ONNX executor on valid models with fuzzed fields: the bytes pick a template
// (onnx_templates.h) and then edit it (attribute values, integer initializers, dims, graph
// input shapes, op types, the opset), so nearly every input gets past protobuf parsing into
// the readers, the op factories and one run.
#include "fuzz_onnx_input.h"
#include "onnx_templates.h"

#include <limits>

namespace {

// Consumes the fuzz bytes front to back; zeros once they run out.
class Bytes {
public:
    Bytes(const uint8_t* d, size_t n) : d_(d), n_(n) {}
    bool empty() const { return n_ == 0; }
    uint8_t byte()
    {
        if (!n_)
            return 0;
        --n_;
        return *d_++;
    }
    // Mostly small values and the edges of int64, sometimes any 64-bit pattern.
    int64_t integer()
    {
        const uint8_t k = byte();
        switch (k % 8) {
        case 0: return static_cast<int64_t>(byte() % 8);
        case 1: return -static_cast<int64_t>(byte() % 8);
        case 2: return std::numeric_limits<int64_t>::max() - (byte() % 2);
        case 3: return std::numeric_limits<int64_t>::min() + (byte() % 2);
        case 4: return int64_t(1) << (byte() % 63);
        case 5: {
            uint64_t v = 0;
            for (int b = 0; b < 8; ++b)
                v = (v << 8) | byte();
            return static_cast<int64_t>(v);
        }
        default: return static_cast<int64_t>(byte()) - 64;
        }
    }
    float real()
    {
        static const float edge[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 1e30f, -1e30f, 1e-30f,
                                     std::numeric_limits<float>::infinity(),
                                     -std::numeric_limits<float>::infinity(),
                                     std::numeric_limits<float>::quiet_NaN(), 3.0f};
        const uint8_t k = byte();
        if (k < 200)
            return edge[k % (sizeof edge / sizeof edge[0])];
        return static_cast<float>(integer()) / 4.0f;
    }

private:
    const uint8_t* d_;
    size_t n_;
};

const char* const kAttrNames[] = {
    "axis", "axes", "group", "strides", "pads", "dilations", "kernel_shape", "keepdims",
    "perm", "split", "transA", "transB", "ceil_mode", "count_include_pad", "to", "epsilon",
    "alpha", "beta", "num_outputs", "allowzero", "storage_order", "noop_with_empty_axes",
    "stash_type", "select_last_index", "mode", "auto_pad", "value", "p", "start", "end"};
const char* const kOps[] = {
    "Conv", "MaxPool", "AveragePool", "Reshape", "Expand", "Tile", "Pad", "Slice", "Split",
    "ConstantOfShape", "Range", "Gather", "Transpose", "Squeeze", "Unsqueeze", "Concat",
    "ReduceMean", "ReduceSum", "Softmax", "Flatten", "BatchNormalization", "LayerNormalization",
    "InstanceNormalization", "Div", "Gemm", "MatMul", "Shape", "Size", "Cast", "Where",
    "GlobalAveragePool", "Clip", "ArgMax", "Mod", "Pow", "Identity", "Dropout", "Sum", "Mean"};
const char* const kStrings[] = {"constant", "reflect", "edge", "wrap", "NOTSET", "SAME_UPPER",
                                "SAME_LOWER", "VALID", "", "x"};

template <class T, size_t N> const T& pick(const T (&a)[N], uint8_t k) { return a[k % N]; }

void setAttribute(onnx::NodeProto* n, Bytes& b)
{
    const std::string name = pick(kAttrNames, b.byte());
    onnx::AttributeProto* a = nullptr;
    for (auto& x : *n->mutable_attribute())
        if (x.name() == name)
            a = &x;
    if (!a) {
        a = n->add_attribute();
        a->set_name(name);
    }
    const uint8_t kind = b.byte() % 5;
    a->clear_ints();
    a->clear_floats();
    switch (kind) {
    case 0: a->set_type(onnx::AttributeProto::INT); a->set_i(b.integer()); break;
    case 1: {
        a->set_type(onnx::AttributeProto::INTS);
        for (int k = b.byte() % 9; k > 0; --k)
            a->add_ints(b.integer());
        break;
    }
    case 2: a->set_type(onnx::AttributeProto::FLOAT); a->set_f(b.real()); break;
    case 3: a->set_type(onnx::AttributeProto::STRING); a->set_s(pick(kStrings, b.byte())); break;
    default: {
        a->set_type(onnx::AttributeProto::FLOATS);
        for (int k = b.byte() % 5; k > 0; --k)
            a->add_floats(b.real());
        break;
    }
    }
}

void mutate(onnx::ModelProto& m, Bytes& b)
{
    auto* g = m.mutable_graph();
    for (int step = 0; step < 24 && !b.empty(); ++step) {
        const uint8_t cmd = b.byte() % 9;
        const uint8_t which = b.byte();
        switch (cmd) {
        case 0:
        case 1:
            if (g->node_size())
                setAttribute(g->mutable_node(which % g->node_size()), b);
            break;
        case 2: // the values of an integer or float initializer
            if (g->initializer_size()) {
                auto* t = g->mutable_initializer(which % g->initializer_size());
                if (t->data_type() == onnx::TensorProto::INT64) {
                    for (int k = 0; k < t->int64_data_size(); ++k)
                        if (b.byte() % 2)
                            t->set_int64_data(k, b.integer());
                } else {
                    for (int k = 0; k < t->float_data_size() && k < 8; ++k)
                        t->set_float_data(k, b.real());
                }
            }
            break;
        case 3: // an initializer's length (values and dims together), or its dims alone
            if (g->initializer_size()) {
                auto* t = g->mutable_initializer(which % g->initializer_size());
                const int count = b.byte() % 10;
                if (b.byte() % 2 && t->data_type() == onnx::TensorProto::INT64) {
                    t->clear_int64_data();
                    for (int k = 0; k < count; ++k)
                        t->add_int64_data(b.integer());
                    t->clear_dims();
                    t->add_dims(count);
                } else if (t->dims_size()) {
                    // A new dim, mostly small, with the data resized to match when it stays
                    // small (else the reader's count check is what gets tested).
                    const int k = b.byte() % t->dims_size();
                    t->set_dims(k, b.byte() % 4 ? int64_t(b.byte() % 9) : b.integer());
                    int64_t n = 1;
                    for (const int64_t d : t->dims())
                        n = d < 0 || d > 4096 || n * d > 4096 ? -1 : n * d;
                    if (n >= 0 && t->data_type() == onnx::TensorProto::INT64)
                        t->mutable_int64_data()->Resize(static_cast<int>(n), 1);
                    else if (n >= 0)
                        t->mutable_float_data()->Resize(static_cast<int>(n), 0.5f);
                }
            }
            break;
        case 4: { // a graph input dim
            auto* shape = g->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
            if (which % 4 == 0)
                shape->add_dim()->set_dim_value(1 + b.byte() % 3);
            else if (which % 4 == 1 && shape->dim_size())
                shape->mutable_dim()->RemoveLast();
            else if (shape->dim_size())
                shape->mutable_dim(b.byte() % shape->dim_size())->set_dim_value(b.byte() % 9);
            break;
        }
        case 5:
            if (g->node_size())
                g->mutable_node(which % g->node_size())->set_op_type(pick(kOps, b.byte()));
            break;
        case 6: // rewire an input of a node to the output of an earlier node (no cycle)
            if (g->node_size() > 1) {
                const int t = 1 + which % (g->node_size() - 1);
                auto* n = g->mutable_node(t);
                const auto& src = g->node(b.byte() % t);
                if (n->input_size() && src.output_size())
                    n->set_input(b.byte() % n->input_size(), src.output(0));
            }
            break;
        case 7: // mostly an opset the reader accepts, sometimes one it refuses
            m.mutable_opset_import(0)->set_version(which % 8 ? 1 + which % 23 : which % 40);
            break;
        default: // drop or add a node input
            if (g->node_size()) {
                auto* n = g->mutable_node(which % g->node_size());
                if (b.byte() % 2 && n->input_size())
                    n->mutable_input()->RemoveLast();
                else
                    n->add_input(b.byte() % 2 ? "" : "x");
            }
            break;
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    static const std::vector<bonsai::fuzz::OnnxTemplate> templates = bonsai::fuzz::onnxTemplates();
    Bytes b(data, size);
    onnx::ModelProto m = templates[b.byte() % templates.size()].model;
    mutate(m, b);
    std::string bytes;
    m.SerializeToString(&bytes);
    auto model = bonsai::fuzz::readFuzzedOnnx(reinterpret_cast<const uint8_t*>(bytes.data()),
                                             bytes.size());
    if (model)
        bonsai::fuzz::planAndRun(*model);
    return 0;
}
