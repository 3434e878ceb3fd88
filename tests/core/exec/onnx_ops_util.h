#pragma once
// Helpers of the ONNX operator tests (tst_onnx_ops*.cpp): one-node models built with libonnx's
// protobuf classes, run through Model + OnnxExecutor, and compared with hand-computed values.
#include "bonsai/onnx_exec.h"
#include "onnx_build.h"

#include <cmath>
#include <functional>
#include <limits>

using namespace onnxtest;

namespace opstest {

inline int caseNo = 0;

inline onnx::ModelProto opModel(int opset)
{
    onnx::ModelProto m = newModel("ops");
    m.mutable_opset_import(0)->set_version(opset);
    return m;
}

inline void setString(onnx::NodeProto* n, const std::string& name, const std::string& v)
{
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
}

inline void floatInit(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
               const std::vector<float>& v)
{
    *g->add_initializer() = rawFloat(name, dims, v);
}

inline void intInit(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& v)
{
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(v.size()));
    for (auto x : v)
        t->add_int64_data(x);
}

inline std::unique_ptr<Model> open(const onnx::ModelProto& m)
{
    return Model::open(save("ops_" + std::to_string(++caseNo) + ".onnx", m));
}

inline std::vector<Value> runModel(const onnx::ModelProto& m, const std::vector<Value>& inputs)
{
    const auto model = open(m);
    OnnxExecutor ex(*model);
    return ex.run(inputs);
}

// The single output of a one-node model with one float input "x".
inline Value runOne(int opset, const std::string& op, const Value& x,
             const std::function<void(onnx::GraphProto*, onnx::NodeProto*)>& setup = {})
{
    auto m = opModel(opset);
    auto* g = m.mutable_graph();
    addInput(g, "x", x.shape, x.type == Value::Type::Int64 ? onnx::TensorProto::INT64 : onnx::TensorProto::FLOAT);
    addOutput(g, "y");
    auto* n = addNode(g, op, {"x"}, {"y"}, "n");
    if (setup)
        setup(g, n);
    return runModel(m, {x})[0];
}

inline std::vector<float> iota(size_t n, float start = 1.0f)
{
    std::vector<float> v(n);
    for (size_t k = 0; k < n; ++k)
        v[k] = start + static_cast<float>(k);
    return v;
}

// Empty when v has the shape and (within 1e-5) the values, else what differs.
inline QString diffFloats(const Value& v, const std::vector<int64_t>& shape, const std::vector<float>& want)
{
    if (v.type != Value::Type::Float)
        return "not a float value";
    if (v.shape != shape)
        return QString::fromStdString("shape " + shapeString(v.shape) + " != " + shapeString(shape));
    if (v.f.size() != want.size())
        return "element count differs";
    for (size_t k = 0; k < want.size(); ++k)
        if (!(std::fabs(v.f[k] - want[k]) <= 1e-5f + 1e-5f * std::fabs(want[k])))
            return QString("element %1: %2 != %3").arg(k).arg(v.f[k]).arg(want[k]);
    return {};
}

#define EXPECT_FLOATS(value, shapeV, ...)                                                     \
    do {                                                                                       \
        const QString d_ = diffFloats((value), std::vector<int64_t> shapeV,                    \
                                      std::vector<float> __VA_ARGS__);                         \
        QVERIFY2(d_.isEmpty(), qPrintable(d_));                                                \
    } while (0)

inline QString execError(const std::function<void()>& f)
{
    try {
        f();
    } catch (const Error& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

} // namespace opstest
