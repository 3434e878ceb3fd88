#pragma once
// Helpers for the ONNX tests: build models with libonnx's protobuf classes (an independent
// writer), save them to temporary files and check the errors raised when reading them.
#include "bonsai/error.h"
#include "bonsai/model.h"
#include "testutil.h"

#include <onnx/onnx-ml.pb.h>

#include <QtTest>

#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace onnxtest {

using namespace bonsai;


// --- model building helpers ---

// Deterministic, distinct values for a tensor of n elements.
inline std::vector<float> pattern(size_t n, float base)
{
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i)
        v[i] = base + 0.25f * static_cast<float>(i) - 0.5f * static_cast<float>(i % 3);
    return v;
}

inline size_t count(const std::vector<int64_t>& dims)
{
    size_t n = 1;
    for (auto d : dims)
        n *= static_cast<size_t>(d);
    return n;
}

// FLOAT tensor with raw_data.
inline onnx::TensorProto rawFloat(const std::string& name, const std::vector<int64_t>& dims,
                           const std::vector<float>& values)
{
    onnx::TensorProto t;
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (auto d : dims)
        t.add_dims(d);
    t.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
    return t;
}

inline onnx::TensorProto* addInit(onnx::GraphProto* g, const std::string& name,
                           const std::vector<int64_t>& dims, float base)
{
    auto* t = g->add_initializer();
    *t = rawFloat(name, dims, pattern(count(dims), base));
    return t;
}

inline onnx::NodeProto* addNode(onnx::GraphProto* g, const std::string& op,
                         const std::vector<std::string>& in, const std::vector<std::string>& out,
                         const std::string& name = {})
{
    auto* n = g->add_node();
    n->set_op_type(op);
    if (!name.empty())
        n->set_name(name);
    for (const auto& s : in)
        n->add_input(s);
    for (const auto& s : out)
        n->add_output(s);
    return n;
}

inline void setInt(onnx::NodeProto* n, const std::string& name, int64_t v)
{
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
}

// Graph input with a shape (-1 for a symbolic batch dim "N") and element type.
inline void addInput(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
                     int elemType = onnx::TensorProto::FLOAT)
{
    auto* vi = g->add_input();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elemType);
    auto* shape = tt->mutable_shape();
    for (auto d : dims) {
        if (d < 0)
            shape->add_dim()->set_dim_param("N");
        else
            shape->add_dim()->set_dim_value(d);
    }
}

inline void addOutput(onnx::GraphProto* g, const std::string& name)
{
    g->add_output()->set_name(name);
}

inline void setInts(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v)
{
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (auto x : v)
        a->add_ints(x);
}

inline void setFloat(onnx::NodeProto* n, const std::string& name, float v)
{
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
}

inline onnx::ModelProto newModel(const std::string& graphName = "g")
{
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.set_producer_name("tst_onnx");
    m.set_producer_version("1.0");
    m.set_model_version(3);
    auto* op = m.add_opset_import();
    op->set_domain("");
    op->set_version(17);
    auto* ml = m.add_opset_import();
    ml->set_domain("ai.onnx.ml");
    ml->set_version(3);
    m.mutable_graph()->set_name(graphName);
    return m;
}

// x [N, dim] -> Gemm fc1 dim->hidden -> activation -> Gemm fc2 hidden->classes -> logits,
// with Gaussian weights from `seed` (fc1 scale 0.35, fc2 0.25, zero biases): the small
// classifier the training and recovery tests train.
inline onnx::ModelProto mlpClassifier(uint64_t seed, int64_t dim, int64_t hidden, int64_t classes,
                                      const std::string& activation = "Relu")
{
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    auto init = [&](onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims, float scale) {
        std::vector<float> v(count(dims));
        for (auto& x : v)
            x = scale * nd(rng);
        *g->add_initializer() = rawFloat(name, dims, v);
    };
    auto m = newModel();
    auto* g = m.mutable_graph();
    addInput(g, "x", {-1, dim});
    init(g, "fc1.weight", {hidden, dim}, 0.35f);
    init(g, "fc1.bias", {hidden}, 0.0f);
    init(g, "fc2.weight", {classes, hidden}, 0.25f);
    init(g, "fc2.bias", {classes}, 0.0f);
    setInt(addNode(g, "Gemm", {"x", "fc1.weight", "fc1.bias"}, {"h"}, "fc1"), "transB", 1);
    addNode(g, activation, {"h"}, {"r"}, "act");
    setInt(addNode(g, "Gemm", {"r", "fc2.weight", "fc2.bias"}, {"logits"}, "fc2"), "transB", 1);
    g->add_output()->set_name("logits");
    return m;
}

// A data set for mlpClassifier: `classes` Gaussian clusters in `dim` dimensions (centres
// 0.9·N(0, 1) from a fixed seed, the same in every split; unit noise from `seed`), written as
// tempPath(dir)/x.npy (float32 [n, dim]) and y.npy (int64 [n]); returns the x.npy path.
inline std::string writeClusters(const std::string& dir, int64_t n, uint64_t seed, int64_t dim = 16,
                                 int64_t classes = 4)
{
    std::mt19937_64 centersRng(7);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> centers(static_cast<size_t>(classes * dim));
    for (auto& c : centers)
        c = 0.9f * nd(centersRng);
    std::mt19937_64 rng(seed);
    std::vector<float> x(static_cast<size_t>(n * dim));
    std::vector<int64_t> y(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        const int64_t c = static_cast<int64_t>(rng() % static_cast<uint64_t>(classes));
        y[static_cast<size_t>(i)] = c;
        for (int64_t d = 0; d < dim; ++d)
            x[static_cast<size_t>(i * dim + d)] = centers[static_cast<size_t>(c * dim + d)] + nd(rng);
    }
    std::filesystem::create_directories(testutil::tempPath(dir));
    testutil::writeTemp(dir + "/y.npy", testutil::npyBytes("<i8", {n}, std::string(reinterpret_cast<const char*>(y.data()), y.size() * 8)));
    return testutil::writeTemp(dir + "/x.npy", testutil::npyBytes("<f4", {n, dim}, testutil::floatBytes(x)));
}

inline std::string save(const std::string& file, const onnx::ModelProto& m)
{
    std::string bytes;
    if (!m.SerializeToString(&bytes))
        qFatal("cannot serialise the test model");
    return testutil::writeTemp(file, bytes);
}

// The message of the FileError thrown by f, or an empty string when none is thrown. Other
// exceptions come back as "UNEXPECTED ..." so that EXPECT_FILE_ERROR reports them.
inline QString errorOf(const std::function<void()>& f)
{
    try {
        f();
    } catch (const FileError& e) {
        return QString::fromStdString(e.what());
    } catch (const std::exception& e) {
        return QStringLiteral("UNEXPECTED EXCEPTION TYPE: ") + QString::fromStdString(e.what());
    }
    return {};
}

inline QString openError(const std::string& path)
{
    return errorOf([&] { Model::open(path); });
}

#define EXPECT_FILE_ERROR(msg, needle)                                                        \
    do {                                                                                      \
        const QString m_ = (msg);                                                             \
        QVERIFY2(!m_.isEmpty(), "no error was raised");                                      \
        QVERIFY2(!m_.startsWith("UNEXPECTED"), qPrintable(m_));                               \
        QVERIFY2(m_.contains(QStringLiteral(needle)), qPrintable(m_));                        \
    } while (0)

inline const Layer* layerOf(const Model& m, const std::string& weight)
{
    const int w = m.findTensor(weight);
    for (const auto& l : m.layers)
        if (l.weight == w)
            return &l;
    return nullptr;
}

inline std::string metaValue(const Model& m, const std::string& key)
{
    for (const auto& [k, v] : m.metadata)
        if (k == key)
            return v;
    return {};
}

// Conv -> Gemm(transB=1) -> MatMul -> Add(bias) -> Gemm(transB=0), plus an embedding Gather
// and an int64 shape initializer.
inline onnx::ModelProto mixedModel()
{
    onnx::ModelProto m = newModel("mixed");
    auto* md = m.add_metadata_props();
    md->set_key("author");
    md->set_value("bonsai tests");
    auto* g = m.mutable_graph();
    addInit(g, "conv1.weight", {4, 3, 3, 3}, 1.0f);
    addInit(g, "conv1.bias", {4}, -1.0f);
    addInit(g, "fc1.weight", {16, 144}, 0.5f);
    addInit(g, "fc1.bias", {16}, 2.0f);
    addInit(g, "proj.weight", {16, 8}, -3.0f);
    addInit(g, "proj.bias", {8}, 7.0f);
    addInit(g, "head", {8, 5}, 4.0f);
    addInit(g, "head_bias", {5}, 9.0f);
    addInit(g, "emb.weight", {10, 4}, 0.0f);
    auto* shape = g->add_initializer();
    shape->set_name("flat_shape");
    shape->set_data_type(onnx::TensorProto::INT64);
    shape->add_dims(2);
    shape->add_int64_data(1);
    shape->add_int64_data(144);
    addNode(g, "Gather", {"emb.weight", "ids"}, {"e"}, "embed");
    addNode(g, "Conv", {"x", "conv1.weight", "conv1.bias"}, {"c"}, "conv1");
    addNode(g, "Reshape", {"c", "flat_shape"}, {"f"}, "flatten");
    setInt(addNode(g, "Gemm", {"f", "fc1.weight", "fc1.bias"}, {"g1"}, "fc1"), "transB", 1);
    addNode(g, "MatMul", {"g1", "proj.weight"}, {"m1"}, "proj");
    addNode(g, "Add", {"proj.bias", "m1"}, {"a1"}, "proj_add");
    addNode(g, "Gemm", {"a1", "head", "head_bias"}, {"y"}); // unnamed, transB = 0
    return m;
}


// A model whose single MatMul weight "ext.weight" [2, 3] lives in a side file.
inline onnx::ModelProto externalModel(const std::string& location, const std::string& offset,
                               const std::string& length)
{
    onnx::ModelProto m = newModel();
    auto* g = m.mutable_graph();
    auto* t = g->add_initializer();
    t->set_name("ext.weight");
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_dims(2);
    t->add_dims(3);
    t->set_data_location(onnx::TensorProto::EXTERNAL);
    const std::pair<std::string, std::string> entries[] = {
        {"location", location}, {"offset", offset}, {"length", length}};
    for (const auto& [k, v] : entries) {
        if (v.empty())
            continue;
        auto* e = t->add_external_data();
        e->set_key(k);
        e->set_value(v);
    }
    addNode(g, "MatMul", {"x", "ext.weight"}, {"y"});
    return m;
}


} // namespace onnxtest
