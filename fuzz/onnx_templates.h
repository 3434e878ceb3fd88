#pragma once
// Small valid ONNX models, one per family of ops whose attributes or constant inputs size
// loops and allocations: the structured harness (fuzz_onnx_mutate) mutates their fields, and
// make_onnx_seeds writes them as the seeds of the raw-bytes harnesses. Built with libonnx's
// protobuf classes.
#include <onnx/onnx-ml.pb.h>

#include <cstdint>
#include <string>
#include <vector>

namespace bonsai::fuzz {

struct OnnxTemplate {
    std::string name;
    onnx::ModelProto model;
};

namespace tmpl {

inline onnx::TensorProto* floatInit(onnx::GraphProto* g, const std::string& name,
                                    const std::vector<int64_t>& dims)
{
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    int64_t n = 1;
    for (auto d : dims) {
        t->add_dims(d);
        n *= d;
    }
    for (int64_t i = 0; i < n; ++i)
        t->add_float_data(0.125f * static_cast<float>(i % 11) - 0.5f);
    return t;
}

inline onnx::TensorProto* intInit(onnx::GraphProto* g, const std::string& name,
                                  const std::vector<int64_t>& values, bool scalar = false)
{
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    if (!scalar)
        t->add_dims(static_cast<int64_t>(values.size()));
    for (auto v : values)
        t->add_int64_data(v);
    return t;
}

inline onnx::NodeProto* node(onnx::GraphProto* g, const std::string& op,
                             const std::vector<std::string>& in, const std::string& out)
{
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(op + "_" + std::to_string(g->node_size()));
    for (const auto& s : in)
        n->add_input(s);
    n->add_output(out);
    return n;
}

inline void ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v)
{
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (auto x : v)
        a->add_ints(x);
}

inline void i(onnx::NodeProto* n, const std::string& name, int64_t v)
{
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
}

inline void input(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
                  int type = onnx::TensorProto::FLOAT)
{
    auto* vi = g->add_input();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(type);
    for (auto d : dims)
        tt->mutable_shape()->add_dim()->set_dim_value(d);
}

inline onnx::ModelProto model(onnx::GraphProto** g, int opset = 17)
{
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.set_producer_name("bonsai-fuzz");
    auto* op = m.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    *g = m.mutable_graph();
    (*g)->set_name("g");
    return m;
}

} // namespace tmpl

// The templates. Each reads x [1, 2, 4, 4] (float) and writes y.
inline std::vector<OnnxTemplate> onnxTemplates()
{
    using namespace tmpl;
    std::vector<OnnxTemplate> out;
    const auto add = [&](const std::string& name, auto build) {
        onnx::GraphProto* g = nullptr;
        onnx::ModelProto m = model(&g);
        input(g, "x", {1, 2, 4, 4});
        build(g);
        g->add_output()->set_name("y");
        out.push_back({name, std::move(m)});
    };
    add("conv_relu_pool", [](onnx::GraphProto* g) {
        floatInit(g, "w", {3, 2, 3, 3});
        floatInit(g, "b", {3});
        auto* c = node(g, "Conv", {"x", "w", "b"}, "c");
        ints(c, "kernel_shape", {3, 3});
        ints(c, "pads", {1, 1, 1, 1});
        ints(c, "strides", {1, 1});
        ints(c, "dilations", {1, 1});
        i(c, "group", 1);
        node(g, "Relu", {"c"}, "r");
        auto* p = node(g, "MaxPool", {"r"}, "p");
        ints(p, "kernel_shape", {2, 2});
        ints(p, "strides", {2, 2});
        node(g, "Flatten", {"p"}, "f");
        floatInit(g, "w2", {5, 12});
        auto* gm = node(g, "Gemm", {"f", "w2"}, "y");
        i(gm, "transB", 1);
    });
    add("pool", [](onnx::GraphProto* g) {
        auto* p = node(g, "AveragePool", {"x"}, "a");
        ints(p, "kernel_shape", {2, 2});
        ints(p, "strides", {1, 1});
        ints(p, "pads", {0, 0, 1, 1});
        i(p, "count_include_pad", 0);
        auto* q = node(g, "MaxPool", {"a"}, "m");
        ints(q, "kernel_shape", {2, 2});
        ints(q, "dilations", {1, 1});
        i(q, "ceil_mode", 1);
        node(g, "GlobalAveragePool", {"m"}, "y");
    });
    add("reshape_expand_tile", [](onnx::GraphProto* g) {
        intInit(g, "shape", {2, -1, 4});
        intInit(g, "eshape", {2, 2, 1, 4});
        intInit(g, "reps", {1, 2, 1});
        node(g, "Reshape", {"x", "shape"}, "r");
        node(g, "Tile", {"r", "reps"}, "t");
        node(g, "Expand", {"t", "eshape"}, "y");
    });
    add("pad_slice", [](onnx::GraphProto* g) {
        intInit(g, "pads", {0, 0, 1, 1, 0, 0, 1, 1});
        intInit(g, "starts", {0, 1});
        intInit(g, "ends", {4, 5});
        intInit(g, "axes", {2, 3});
        intInit(g, "steps", {2, 1});
        auto* p = node(g, "Pad", {"x", "pads"}, "p");
        p->add_attribute()->set_name("mode");
        p->mutable_attribute(0)->set_type(onnx::AttributeProto::STRING);
        p->mutable_attribute(0)->set_s("reflect");
        node(g, "Slice", {"p", "starts", "ends", "axes", "steps"}, "y");
    });
    add("split_concat", [](onnx::GraphProto* g) {
        intInit(g, "split", {1, 3});
        auto* s = g->add_node();
        s->set_op_type("Split");
        s->set_name("split");
        s->add_input("x");
        s->add_input("split");
        s->add_output("s0");
        s->add_output("s1");
        i(s, "axis", 2);
        auto* c = node(g, "Concat", {"s1", "s0"}, "y");
        i(c, "axis", 2);
    });
    add("constant_range", [](onnx::GraphProto* g) {
        intInit(g, "cshape", {2, 3});
        intInit(g, "start", {0}, true);
        intInit(g, "limit", {6}, true);
        intInit(g, "delta", {2}, true);
        node(g, "ConstantOfShape", {"cshape"}, "c");
        node(g, "Range", {"start", "limit", "delta"}, "r");
        node(g, "Shape", {"x"}, "s");
        node(g, "Cast", {"r"}, "rf")->add_attribute()->set_name("to");
        auto* cast = g->mutable_node(g->node_size() - 1);
        cast->mutable_attribute(0)->set_type(onnx::AttributeProto::INT);
        cast->mutable_attribute(0)->set_i(onnx::TensorProto::FLOAT);
        node(g, "Add", {"c", "rf"}, "y");
    });
    add("gather_transpose_reduce", [](onnx::GraphProto* g) {
        intInit(g, "idx", {1, 0, 3});
        auto* ga = node(g, "Gather", {"x", "idx"}, "ga");
        i(ga, "axis", 3);
        auto* t = node(g, "Transpose", {"ga"}, "t");
        ints(t, "perm", {0, 3, 1, 2});
        intInit(g, "uaxes", {0});
        node(g, "Unsqueeze", {"t", "uaxes"}, "u");
        intInit(g, "saxes", {0});
        node(g, "Squeeze", {"u", "saxes"}, "q");
        auto* r = node(g, "ReduceMean", {"q"}, "rm");
        ints(r, "axes", {2});
        i(r, "keepdims", 1);
        auto* sm = node(g, "Softmax", {"rm"}, "y");
        i(sm, "axis", -1);
    });
    add("norm_div", [](onnx::GraphProto* g) {
        floatInit(g, "scale", {2});
        floatInit(g, "bias", {2});
        floatInit(g, "mean", {2});
        floatInit(g, "var", {2});
        node(g, "BatchNormalization", {"x", "scale", "bias", "mean", "var"}, "bn");
        floatInit(g, "lns", {4});
        floatInit(g, "lnb", {4});
        auto* ln = node(g, "LayerNormalization", {"bn", "lns", "lnb"}, "ln");
        i(ln, "axis", -1);
        node(g, "Shape", {"ln"}, "s");
        intInit(g, "d", {1, 1, 1, 1});
        node(g, "Div", {"s", "d"}, "q");
        node(g, "Reshape", {"ln", "q"}, "y");
    });
    add("matmul_gemm", [](onnx::GraphProto* g) {
        floatInit(g, "m", {4, 3});
        node(g, "MatMul", {"x", "m"}, "mm");
        intInit(g, "shape", {8, 3});
        node(g, "Reshape", {"mm", "shape"}, "r");
        floatInit(g, "w", {3, 2});
        floatInit(g, "c", {2});
        auto* gm = node(g, "Gemm", {"r", "w", "c"}, "y");
        i(gm, "transA", 0);
    });
    add("grouped_conv_instnorm", [](onnx::GraphProto* g) {
        floatInit(g, "w", {4, 1, 2, 2});
        auto* c = node(g, "Conv", {"x", "w"}, "c");
        i(c, "group", 2);
        ints(c, "strides", {2, 2});
        auto* ap = node(g, "Conv", {"x", "w"}, "c2");
        ap->add_attribute()->set_name("auto_pad");
        ap->mutable_attribute(0)->set_type(onnx::AttributeProto::STRING);
        ap->mutable_attribute(0)->set_s("SAME_UPPER");
        i(ap, "group", 2);
        floatInit(g, "s", {4});
        floatInit(g, "b", {4});
        node(g, "InstanceNormalization", {"c", "s", "b"}, "in");
        node(g, "GlobalMaxPool", {"c2"}, "gm");
        node(g, "Add", {"in", "gm"}, "y");
    });
    return out;
}

} // namespace bonsai::fuzz
