#pragma once
// Shared benchmark helpers: ONNX graphs with random weights, built with libonnx's protobuf
// classes and written to a temporary file.
#define ONNX_ML 1
#define ONNX_NAMESPACE onnx
#define ONNX_API
#include "bonsai/error.h"

#include <onnx/onnx-ml.pb.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace bench {

// A float initializer of normal(mean, scale) values (`positive`: their absolute values).
inline void addInit(onnx::GraphProto* g, std::mt19937& rng, const std::string& name, std::vector<int64_t> dims,
                    float scale, float mean = 0.0f, bool positive = false)
{
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    size_t n = 1;
    for (auto d : dims) {
        t->add_dims(d);
        n *= static_cast<size_t>(d);
    }
    std::normal_distribution<float> dist(mean, scale);
    std::vector<float> v(n);
    for (auto& x : v)
        x = positive ? std::abs(dist(rng)) : dist(rng);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), n * sizeof(float)));
}

inline onnx::NodeProto* node(onnx::GraphProto* g, const std::string& op, std::vector<std::string> in,
                             const std::string& out)
{
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(out);
    for (auto& s : in)
        n->add_input(s);
    n->add_output(out);
    return n;
}

inline void ints(onnx::NodeProto* n, const std::string& name, std::vector<int64_t> v)
{
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (auto x : v)
        a->add_ints(x);
}

inline void intAttr(onnx::NodeProto* n, const std::string& name, int64_t v)
{
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
}

// A model of opset 17 with one float input [N, dims...] and one output.
inline onnx::ModelProto newModel(const std::string& name, const std::string& input, std::vector<int64_t> dims,
                                 const std::string& output)
{
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.set_producer_name(name);
    auto* op = m.add_opset_import();
    op->set_domain("");
    op->set_version(17);
    auto* g = m.mutable_graph();
    g->set_name(name);
    auto* in = g->add_input();
    in->set_name(input);
    auto* tt = in->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_param("N");
    for (auto d : dims)
        tt->mutable_shape()->add_dim()->set_dim_value(d);
    g->add_output()->set_name(output);
    return m;
}

// Writes `m` to a new file in the temporary folder; returns its path.
inline std::string saveModel(const onnx::ModelProto& m, const std::string& prefix)
{
    const auto path = (std::filesystem::temp_directory_path() /
                       (prefix + "_" + std::to_string(::getpid()) + ".onnx")).string();
    std::ofstream out(path, std::ios::binary);
    if (!m.SerializeToOstream(&out))
        throw bonsai::Error("cannot write " + path);
    return path;
}

} // namespace bench
