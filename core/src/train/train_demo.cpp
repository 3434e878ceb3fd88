// The demo Fashion-MNIST CNN as an ONNX graph (see train_demo.h).
#include "bonsai/train_demo.h"

#include "bonsai/error.h"
#include "bonsai/onnx_write.h"

#include <onnx/onnx-ml.pb.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <unistd.h>

namespace bonsai {
namespace {

struct Builder {
    onnx::GraphProto* g;
    std::mt19937_64 eng;

    double normal()
    {
        // Box-Muller on two uniforms in (0, 1].
        const double u1 = (static_cast<double>(eng() >> 11) + 1.0) * 0x1.0p-53;
        const double u2 = static_cast<double>(eng() >> 11) * 0x1.0p-53;
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }
    void init(const std::string& name, const std::vector<int64_t>& dims, double stddev, float fill = 0.0f)
    {
        size_t n = 1;
        for (auto d : dims)
            n *= static_cast<size_t>(d);
        std::vector<float> v(n, fill);
        if (stddev > 0)
            for (auto& x : v)
                x = static_cast<float>(normal() * stddev);
        auto* t = g->add_initializer();
        t->set_name(name);
        t->set_data_type(onnx::TensorProto::FLOAT);
        for (auto d : dims)
            t->add_dims(d);
        t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
    }
    onnx::NodeProto* node(const std::string& op, const std::string& name, std::vector<std::string> in,
                          const std::string& out)
    {
        auto* n = g->add_node();
        n->set_op_type(op);
        n->set_name(name);
        for (const auto& s : in)
            n->add_input(s);
        n->add_output(out);
        return n;
    }
    static void ints(onnx::NodeProto* n, const std::string& name, std::vector<int64_t> v)
    {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INTS);
        for (auto x : v)
            a->add_ints(x);
    }
    static void i(onnx::NodeProto* n, const std::string& name, int64_t v)
    {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INT);
        a->set_i(v);
    }
    static void f(onnx::NodeProto* n, const std::string& name, float v)
    {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::FLOAT);
        a->set_f(v);
    }
    void io(onnx::ValueInfoProto* v, const std::string& name, std::vector<int64_t> dims)
    {
        v->set_name(name);
        auto* tt = v->mutable_type()->mutable_tensor_type();
        tt->set_elem_type(onnx::TensorProto::FLOAT);
        auto* sh = tt->mutable_shape();
        sh->add_dim()->set_dim_param("N");
        for (auto d : dims)
            sh->add_dim()->set_dim_value(d);
    }
    // Conv (no bias) + BatchNormalization + Relu + MaxPool 2x2.
    std::string block(const std::string& in, const std::string& p, int64_t cin, int64_t cout, int k)
    {
        init(p + "conv.weight", {cout, cin, 3, 3}, std::sqrt(2.0 / static_cast<double>(cin * 9)));
        init(p + "bn.weight", {cout}, 0, 1.0f);
        init(p + "bn.bias", {cout}, 0, 0.0f);
        init(p + "bn.running_mean", {cout}, 0, 0.0f);
        init(p + "bn.running_var", {cout}, 0, 1.0f);
        auto* c = node("Conv", p + "conv", {in, p + "conv.weight"}, p + "conv_out");
        ints(c, "kernel_shape", {3, 3});
        auto* bn = node("BatchNormalization", p + "bn",
                        {p + "conv_out", p + "bn.weight", p + "bn.bias", p + "bn.running_mean", p + "bn.running_var"},
                        p + "bn_out");
        f(bn, "epsilon", 1e-5f);
        f(bn, "momentum", 0.9f);
        node("Relu", p + "relu", {p + "bn_out"}, p + "relu_out");
        auto* mp = node("MaxPool", p + "pool", {p + "relu_out"}, "block" + std::to_string(k));
        ints(mp, "kernel_shape", {2, 2});
        ints(mp, "strides", {2, 2});
        return "block" + std::to_string(k);
    }
};

} // namespace

std::string fashionCnnOnnx(uint64_t seed)
{
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.set_producer_name("bonsai");
    m.set_producer_version("0.1.0");
    m.set_doc_string("Fashion-MNIST demo CNN (bonsai-cli train)");
    auto* op = m.add_opset_import();
    op->set_domain("");
    op->set_version(13);
    Builder b{m.mutable_graph(), std::mt19937_64(seed)};
    b.g->set_name("fashion_cnn");
    b.io(b.g->add_input(), "image", {1, 28, 28});
    b.io(b.g->add_output(), "logits", {10});
    std::string x = b.block("image", "layer1.", 1, 32, 1);
    x = b.block(x, "layer2.", 32, 64, 2);
    b.node("Flatten", "flatten", {x}, "flat");
    b.init("fc1.weight", {128, 1600}, std::sqrt(2.0 / 1600.0));
    b.init("fc1.bias", {128}, 0);
    Builder::i(b.node("Gemm", "fc1", {"flat", "fc1.weight", "fc1.bias"}, "fc1_out"), "transB", 1);
    b.node("Relu", "fc1.relu", {"fc1_out"}, "fc1_relu");
    b.init("fc2.weight", {10, 128}, std::sqrt(1.0 / 128.0));
    b.init("fc2.bias", {10}, 0);
    Builder::i(b.node("Gemm", "fc2", {"fc1_relu", "fc2.weight", "fc2.bias"}, "logits"), "transB", 1);
    std::string bytes;
    if (!m.SerializeToString(&bytes))
        throw Error("the demo model does not serialize");
    return bytes;
}

} // namespace bonsai
