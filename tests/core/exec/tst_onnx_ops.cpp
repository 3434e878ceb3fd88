// Tests of the ONNX inference engine: each op against hand-computed results on tiny tensors
// (models built with libonnx's protobuf classes, run through Model + OnnxExecutor), the
// store-based ranged execution API, weight overrides and the errors.
#include "bonsai/onnx_exec.h"
#include "onnx_build.h"

#include <cmath>
#include <limits>

using namespace onnxtest;

namespace {

int caseNo = 0;

onnx::ModelProto opModel(int opset)
{
    onnx::ModelProto m = newModel("ops");
    m.mutable_opset_import(0)->set_version(opset);
    return m;
}

void setString(onnx::NodeProto* n, const std::string& name, const std::string& v)
{
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
}

void floatInit(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
               const std::vector<float>& v)
{
    *g->add_initializer() = rawFloat(name, dims, v);
}

void intInit(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& v)
{
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(v.size()));
    for (auto x : v)
        t->add_int64_data(x);
}

std::unique_ptr<Model> open(const onnx::ModelProto& m)
{
    return Model::open(save("ops_" + std::to_string(++caseNo) + ".onnx", m));
}

std::vector<Value> runModel(const onnx::ModelProto& m, const std::vector<Value>& inputs)
{
    const auto model = open(m);
    OnnxExecutor ex(*model);
    return ex.run(inputs);
}

// The single output of a one-node model with one float input "x".
Value runOne(int opset, const std::string& op, const Value& x,
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

std::vector<float> iota(size_t n, float start = 1.0f)
{
    std::vector<float> v(n);
    for (size_t k = 0; k < n; ++k)
        v[k] = start + static_cast<float>(k);
    return v;
}

// Empty when v has the shape and (within 1e-5) the values, else what differs.
QString diffFloats(const Value& v, const std::vector<int64_t>& shape, const std::vector<float>& want)
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

QString execError(const std::function<void()>& f)
{
    try {
        f();
    } catch (const Error& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

} // namespace

class TstOnnxOps : public QObject {
    Q_OBJECT

private slots:
    void convPadsStride()
    {
        // 3x3 input 1..9, 3x3 kernel of ones, pads 1, stride 2, bias 1: each output is the sum
        // of a 2x2 corner block plus 1.
        const auto y = runOne(17, "Conv", Value::floats({1, 1, 3, 3}, iota(9)),
                              [](onnx::GraphProto* g, onnx::NodeProto* n) {
                                  floatInit(g, "w", {1, 1, 3, 3}, std::vector<float>(9, 1.0f));
                                  floatInit(g, "b", {1}, {1.0f});
                                  n->add_input("w");
                                  n->add_input("b");
                                  setInts(n, "pads", {1, 1, 1, 1});
                                  setInts(n, "strides", {2, 2});
                              });
        EXPECT_FLOATS(y, ({1, 1, 2, 2}), {13, 17, 25, 29});
    }

    void convAutoPadDilation()
    {
        // SAME_UPPER with a 2x2 kernel on 3x3: pad one at the end; kernel [[1, 0], [0, 0]]
        // copies the input.
        const auto same = runOne(17, "Conv", Value::floats({1, 1, 3, 3}, iota(9)),
                                 [](onnx::GraphProto* g, onnx::NodeProto* n) {
                                     floatInit(g, "w", {1, 1, 2, 2}, {0, 0, 0, 1});
                                     n->add_input("w");
                                     setString(n, "auto_pad", "SAME_UPPER");
                                 });
        EXPECT_FLOATS(same, ({1, 1, 3, 3}), {5, 6, 0, 8, 9, 0, 0, 0, 0});
        // Dilation 2 of a 2x2 kernel of ones on 3x3: the four corners.
        const auto dil = runOne(17, "Conv", Value::floats({1, 1, 3, 3}, iota(9)),
                                [](onnx::GraphProto* g, onnx::NodeProto* n) {
                                    floatInit(g, "w", {1, 1, 2, 2}, {1, 1, 1, 1});
                                    n->add_input("w");
                                    setInts(n, "dilations", {2, 2});
                                });
        EXPECT_FLOATS(dil, ({1, 1, 1, 1}), {1 + 3 + 7 + 9});
    }

    void convGrouped()
    {
        // 4 channels [1, 2, 3, 4], group 2, 1x1 kernels: out0 = 1*1 + 1*2, out1 = 1*3 - 1*4.
        const auto y = runOne(17, "Conv", Value::floats({1, 4, 1, 1}, {1, 2, 3, 4}),
                              [](onnx::GraphProto* g, onnx::NodeProto* n) {
                                  floatInit(g, "w", {2, 2, 1, 1}, {1, 1, 1, -1});
                                  n->add_input("w");
                                  setInt(n, "group", 2);
                              });
        EXPECT_FLOATS(y, ({1, 2, 1, 1}), {3, -1});
        // Depthwise 2x2 kernels of ones (weights 1 and 2) on two 2x2 channels, batch of 2.
        std::vector<float> x = iota(8);
        for (float v : iota(8, 11.0f))
            x.push_back(v);
        const auto dw = runOne(17, "Conv", Value::floats({2, 2, 2, 2}, x),
                               [](onnx::GraphProto* g, onnx::NodeProto* n) {
                                   floatInit(g, "w", {2, 1, 2, 2}, {1, 1, 1, 1, 2, 2, 2, 2});
                                   floatInit(g, "b", {2}, {0.5f, -0.5f});
                                   n->add_input("w");
                                   n->add_input("b");
                                   setInt(n, "group", 2);
                               });
        EXPECT_FLOATS(dw, ({2, 2, 1, 1}), {10.5f, 51.5f, 50.5f, 131.5f});
    }

    void convReluPoolFused()
    {
        // Conv -> Relu -> MaxPool is folded into one node; results equal the unfused graph.
        auto m = opModel(17);
        auto* g = m.mutable_graph();
        addInput(g, "x", {2, 2, 5, 5});
        addOutput(g, "y");
        floatInit(g, "w", {3, 2, 2, 2}, pattern(24, -1.0f));
        floatInit(g, "b", {3}, {0.1f, -0.2f, 0.3f});
        addNode(g, "Conv", {"x", "w", "b"}, {"c"}, "conv");
        addNode(g, "Relu", {"c"}, {"r"}, "relu");
        auto* p = addNode(g, "MaxPool", {"r"}, {"y"}, "pool");
        setInts(p, "kernel_shape", {2, 2});
        setInts(p, "strides", {2, 2});
        const auto model = open(m);
        OnnxExecutor fused(*model);
        ExecOptions noFuse;
        noFuse.fuse = false;
        OnnxExecutor plain(*model, noFuse);
        QCOMPARE(fused.nodeCount(), size_t(1));
        QCOMPARE(fused.node(0).fused, (std::vector<std::string>{"Relu", "MaxPool"}));
        QCOMPARE(plain.nodeCount(), size_t(3));
        std::vector<float> xv = pattern(100, -3.0f);
        const auto a = fused.run({Value::floats({2, 2, 5, 5}, xv)})[0];
        const auto b = plain.run({Value::floats({2, 2, 5, 5}, xv)})[0];
        QCOMPARE(a.shape, (std::vector<int64_t>{2, 3, 2, 2}));
        QCOMPARE(a.f, b.f);
        // Keeping the Relu output prevents folding it away.
        ExecOptions keep;
        keep.keep = {"r"};
        OnnxExecutor kept(*model, keep);
        QCOMPARE(kept.nodeCount(), size_t(2));
        QCOMPARE(kept.run({Value::floats({2, 2, 5, 5}, xv)})[0].f, b.f);
    }

    void gemmTransBBroadcastBias()
    {
        // A [2,3] = 1..6, B^T rows [1,0,1] and [0,1,0]: A B^T = [[4, 2], [10, 5]]; C [2].
        const auto y = runOne(13, "Gemm", Value::floats({2, 3}, iota(6)),
                              [](onnx::GraphProto* g, onnx::NodeProto* n) {
                                  floatInit(g, "B", {2, 3}, {1, 0, 1, 0, 1, 0});
                                  floatInit(g, "C", {2}, {10, 20});
                                  n->add_input("B");
                                  n->add_input("C");
                                  setInt(n, "transB", 1);
                              });
        EXPECT_FLOATS(y, ({2, 2}), {14, 22, 20, 25});
        // alpha 2, beta 0.5, transA, C [2,1] broadcast along columns.
        const auto z = runOne(13, "Gemm", Value::floats({3, 2}, {1, 4, 2, 5, 3, 6}),
                              [](onnx::GraphProto* g, onnx::NodeProto* n) {
                                  floatInit(g, "B", {3, 2}, {1, 0, 0, 1, 1, 0});
                                  floatInit(g, "C", {2, 1}, {10, 20});
                                  n->add_input("B");
                                  n->add_input("C");
                                  setInt(n, "transA", 1);
                                  setFloat(n, "alpha", 2.0f);
                                  setFloat(n, "beta", 0.5f);
                              });
        EXPECT_FLOATS(z, ({2, 2}), {8 + 5, 4 + 5, 20 + 10, 10 + 10});
    }

    void matmulBatchedBroadcast()
    {
        // A [2,1,2] times B [2,1]: batch broadcast of a 2-D B.
        auto m = opModel(13);
        auto* g = m.mutable_graph();
        addInput(g, "a", {2, 1, 2});
        addInput(g, "b", {2, 2, 1});
        addOutput(g, "y");
        addNode(g, "MatMul", {"a", "b"}, {"y"});
        const auto y = runModel(m, {Value::floats({2, 1, 2}, {1, 2, 3, 4}),
                                    Value::floats({2, 2, 1}, {1, 1, 2, -1})})[0];
        EXPECT_FLOATS(y, ({2, 1, 1}), {3, 2});
        // 1-D times 2-D: [2] x [2,3] -> [3].
        auto m2 = opModel(13);
        g = m2.mutable_graph();
        addInput(g, "a", {2});
        addOutput(g, "y");
        floatInit(g, "w", {2, 3}, iota(6));
        addNode(g, "MatMul", {"a", "w"}, {"y"});
        EXPECT_FLOATS(runModel(m2, {Value::floats({2}, {1, -1})})[0], ({3}), {-3, -3, -3});
    }

    void maxPoolPadsCeil()
    {
        // 4x4 input 1..16, 2x2 kernel, stride 2, pads 1: 3x3 output of clipped windows.
        const auto y = runOne(17, "MaxPool", Value::floats({1, 1, 4, 4}, iota(16)),
                              [](onnx::GraphProto*, onnx::NodeProto* n) {
                                  setInts(n, "kernel_shape", {2, 2});
                                  setInts(n, "strides", {2, 2});
                                  setInts(n, "pads", {1, 1, 1, 1});
                              });
        EXPECT_FLOATS(y, ({1, 1, 3, 3}), {1, 3, 4, 9, 11, 12, 13, 15, 16});
        // 5x5 input 1..25, 2x2 kernel, stride 2, ceil_mode: the last row/column windows are partial.
        const auto c = runOne(17, "MaxPool", Value::floats({1, 1, 5, 5}, iota(25)),
                              [](onnx::GraphProto*, onnx::NodeProto* n) {
                                  setInts(n, "kernel_shape", {2, 2});
                                  setInts(n, "strides", {2, 2});
                                  setInt(n, "ceil_mode", 1);
                              });
        EXPECT_FLOATS(c, ({1, 1, 3, 3}), {7, 9, 10, 17, 19, 20, 22, 24, 25});
    }

    void averagePoolCountIncludePad()
    {
        // 2x2 input [1,2,3,4], 2x2 kernel, stride 1, pads 1 at the start: corners see one value.
        // (The pads vector is built outside the nested lambdas: GCC 12 at -O3 miscompiled a
        // braced list there into another test's {1, 1, 1, 1}.)
        const std::vector<int64_t> pads = {1, 1, 0, 0};
        const auto setup = [pads](bool include) {
            return [include, pads](onnx::GraphProto*, onnx::NodeProto* n) {
                setInts(n, "kernel_shape", {2, 2});
                setInts(n, "pads", pads);
                setInt(n, "count_include_pad", include ? 1 : 0);
            };
        };
        const auto ex = runOne(17, "AveragePool", Value::floats({1, 1, 2, 2}, {1, 2, 3, 4}), setup(false));
        EXPECT_FLOATS(ex, ({1, 1, 2, 2}), {1, 1.5f, 2, 2.5f});
        const auto in = runOne(17, "AveragePool", Value::floats({1, 1, 2, 2}, {1, 2, 3, 4}), setup(true));
        EXPECT_FLOATS(in, ({1, 1, 2, 2}), {0.25f, 0.75f, 1, 2.5f});
        const auto gap = runOne(17, "GlobalAveragePool", Value::floats({1, 2, 1, 2}, {1, 2, 3, 5}));
        EXPECT_FLOATS(gap, ({1, 2, 1, 1}), {1.5f, 4});
    }

    void softmaxRow()
    {
        const auto y = runOne(13, "Softmax", Value::floats({1, 3}, {1, 2, 3}));
        EXPECT_FLOATS(y, ({1, 3}), {0.0900306f, 0.2447285f, 0.6652410f});
        const auto l = runOne(13, "LogSoftmax", Value::floats({1, 3}, {1, 2, 3}));
        EXPECT_FLOATS(l, ({1, 3}), {-2.4076059f, -1.4076059f, -0.4076059f});
        // Opset 11 coerces to 2-D at axis 1: softmax over all 4 elements of each batch row.
        const auto legacy = runOne(11, "Softmax", Value::floats({1, 2, 2}, {0, 0, 0, 0}));
        EXPECT_FLOATS(legacy, ({1, 2, 2}), {0.25f, 0.25f, 0.25f, 0.25f});
        // Opset 13 uses the last axis only.
        const auto axis = runOne(13, "Softmax", Value::floats({1, 2, 2}, {0, 0, 0, 0}));
        EXPECT_FLOATS(axis, ({1, 2, 2}), {0.5f, 0.5f, 0.5f, 0.5f});
    }

    void broadcastAdd()
    {
        auto m = opModel(14);
        auto* g = m.mutable_graph();
        addInput(g, "a", {2, 3});
        addInput(g, "b", {3});
        addOutput(g, "y");
        addOutput(g, "z");
        addNode(g, "Add", {"a", "b"}, {"y"});
        addNode(g, "Div", {"b", "a"}, {"z"});
        const auto out = runModel(m, {Value::floats({2, 3}, iota(6)), Value::floats({3}, {10, 20, 30})});
        EXPECT_FLOATS(out[0], ({2, 3}), {11, 22, 33, 14, 25, 36});
        EXPECT_FLOATS(out[1], ({2, 3}), {10, 10, 10, 2.5f, 4, 5});
    }

    void reshapeZeroMinusOne()
    {
        const auto y = runOne(14, "Reshape", Value::floats({2, 3, 4}, iota(24)),
                              [](onnx::GraphProto* g, onnx::NodeProto* n) {
                                  intInit(g, "shape", {0, -1});
                                  n->add_input("shape");
                              });
        QCOMPARE(y.shape, (std::vector<int64_t>{2, 12}));
        QCOMPARE(y.f, iota(24));
        // allowzero: a 0 means an empty dim, not "copy".
        const auto z = runOne(14, "Reshape", Value::floats({0, 3}, {}),
                              [](onnx::GraphProto* g, onnx::NodeProto* n) {
                                  intInit(g, "shape", {3, 0});
                                  n->add_input("shape");
                                  setInt(n, "allowzero", 1);
                              });
        QCOMPARE(z.shape, (std::vector<int64_t>{3, 0}));
    }

    void sliceNegativeSteps()
    {
        const auto y = runOne(13, "Slice", Value::floats({10}, iota(10, 0.0f)),
                              [](onnx::GraphProto* g, onnx::NodeProto* n) {
                                  intInit(g, "starts", {-1});
                                  intInit(g, "ends", {std::numeric_limits<int64_t>::min()});
                                  intInit(g, "axes", {0});
                                  intInit(g, "steps", {-2});
                                  for (const char* s : {"starts", "ends", "axes", "steps"})
                                      n->add_input(s);
                              });
        EXPECT_FLOATS(y, ({5}), {9, 7, 5, 3, 1});
        const auto z = runOne(13, "Slice", Value::floats({3, 4}, iota(12, 0.0f)),
                              [](onnx::GraphProto* g, onnx::NodeProto* n) {
                                  intInit(g, "starts", {2, 100});
                                  intInit(g, "ends", {0, 0});
                                  intInit(g, "axes", {0, -1});
                                  intInit(g, "steps", {-1, -2});
                                  for (const char* s : {"starts", "ends", "axes", "steps"})
                                      n->add_input(s);
                              });
        EXPECT_FLOATS(z, ({2, 2}), {11, 9, 7, 5});
    }

    void batchNorm()
    {
        const auto y = runOne(15, "BatchNormalization", Value::floats({1, 2, 1, 2}, {1, 2, 3, 4}),
                              [](onnx::GraphProto* g, onnx::NodeProto* n) {
                                  floatInit(g, "s", {2}, {2, 1});
                                  floatInit(g, "b", {2}, {0, 1});
                                  floatInit(g, "m", {2}, {1, 3});
                                  floatInit(g, "v", {2}, {4, 1});
                                  for (const char* s : {"s", "b", "m", "v"})
                                      n->add_input(s);
                                  setFloat(n, "epsilon", 0.0f);
                              });
        EXPECT_FLOATS(y, ({1, 2, 1, 2}), {0, 1, 1, 2});
    }

    void layerNorm()
    {
        const auto y = runOne(17, "LayerNormalization", Value::floats({2, 4}, {1, 2, 3, 4, 2, 2, 2, 2}),
                              [](onnx::GraphProto* g, onnx::NodeProto* n) {
                                  floatInit(g, "s", {4}, {1, 1, 1, 2});
                                  floatInit(g, "b", {4}, {0, 0, 0, 1});
                                  n->add_input("s");
                                  n->add_input("b");
                                  setFloat(n, "epsilon", 0.0f);
                              });
        // Row 1: mean 2.5, variance 1.25; row 2 is constant (0 / sqrt(0)) -> NaN-free only with
        // eps, so check row 1 here.
        for (size_t k = 0; k < 4; ++k) {
            const float want[] = {-1.3416408f, -0.4472136f, 0.4472136f, 2 * 1.3416408f + 1};
            QVERIFY(std::fabs(y.f[k] - want[k]) < 1e-5f);
        }
    }

    void geluTanhVsErf()
    {
        const Value x = Value::floats({3}, {1, -1, 0});
        const auto erf = runOne(20, "Gelu", x);
        EXPECT_FLOATS(erf, ({3}), {0.8413447f, -0.1586553f, 0});
        const auto tanh = runOne(20, "Gelu", x, [](onnx::GraphProto*, onnx::NodeProto* n) {
            setString(n, "approximate", "tanh");
        });
        EXPECT_FLOATS(tanh, ({3}), {0.8411920f, -0.1588080f, 0});
    }

    void activations()
    {
        const Value x = Value::floats({4}, {-2, -0.5f, 0.5f, 4});
        EXPECT_FLOATS(runOne(14, "Relu", x), ({4}), {0, 0, 0.5f, 4});
        EXPECT_FLOATS(runOne(16, "LeakyRelu", x), ({4}), {-0.02f, -0.005f, 0.5f, 4});
        EXPECT_FLOATS(runOne(14, "HardSwish", x), ({4}), {-2 * (1.0f / 6), -0.5f * (2.5f / 6), 0.5f * (3.5f / 6), 4});
        EXPECT_FLOATS(runOne(6, "HardSigmoid", x), ({4}), {0.1f, 0.4f, 0.6f, 1});
        EXPECT_FLOATS(runOne(6, "Clip", x, [](onnx::GraphProto*, onnx::NodeProto* n) {
                          setFloat(n, "min", -1);
                          setFloat(n, "max", 1);
                      }),
                      ({4}), {-1, -0.5f, 0.5f, 1});
        EXPECT_FLOATS(runOne(13, "Clip", x, [](onnx::GraphProto* g, onnx::NodeProto* n) {
                          floatInit(g, "lo", {}, {0});
                          n->add_input("lo");
                      }),
                      ({4}), {0, 0, 0.5f, 4});
    }

    void shapeOps()
    {
        // Unsqueeze: attribute before opset 13, input after.
        const auto u11 = runOne(11, "Unsqueeze", Value::floats({2}, {1, 2}),
                                [](onnx::GraphProto*, onnx::NodeProto* n) { setInts(n, "axes", {0, -1}); });
        QCOMPARE(u11.shape, (std::vector<int64_t>{1, 2, 1}));
        const auto u13 = runOne(13, "Unsqueeze", Value::floats({2}, {1, 2}),
                                [](onnx::GraphProto* g, onnx::NodeProto* n) {
                                    intInit(g, "axes", {1});
                                    n->add_input("axes");
                                });
        QCOMPARE(u13.shape, (std::vector<int64_t>{2, 1}));
        const auto t = runOne(13, "Transpose", Value::floats({2, 3}, iota(6)));
        EXPECT_FLOATS(t, ({3, 2}), {1, 4, 2, 5, 3, 6});
        const auto sh = runOne(15, "Shape", Value::floats({2, 3, 4}, iota(24)),
                               [](onnx::GraphProto*, onnx::NodeProto* n) { setInt(n, "start", -2); });
        QCOMPARE(sh.type, Value::Type::Int64);
        QCOMPARE(sh.i, (std::vector<int64_t>{3, 4}));
        const auto gather = runOne(13, "Gather", Value::floats({3, 2}, iota(6)),
                                   [](onnx::GraphProto* g, onnx::NodeProto* n) {
                                       intInit(g, "idx", {2, -3});
                                       n->add_input("idx");
                                   });
        EXPECT_FLOATS(gather, ({2, 2}), {5, 6, 1, 2});
        const auto pad = runOne(13, "Pad", Value::floats({3}, {1, 2, 3}),
                                [](onnx::GraphProto* g, onnx::NodeProto* n) {
                                    intInit(g, "pads", {2, 1});
                                    n->add_input("pads");
                                    setString(n, "mode", "reflect");
                                });
        EXPECT_FLOATS(pad, ({6}), {3, 2, 1, 2, 3, 2});
        const auto rm = runOne(13, "ReduceMean", Value::floats({2, 2}, {1, 2, 3, 5}),
                               [](onnx::GraphProto*, onnx::NodeProto* n) {
                                   setInts(n, "axes", {1});
                                   setInt(n, "keepdims", 0);
                               });
        EXPECT_FLOATS(rm, ({2}), {1.5f, 4});
        const auto cast = runOne(13, "Cast", Value::floats({3}, {1.7f, -1.7f, 0}),
                                 [](onnx::GraphProto*, onnx::NodeProto* n) { setInt(n, "to", onnx::TensorProto::INT64); });
        QCOMPARE(cast.i, (std::vector<int64_t>{1, -1, 0}));
    }

    void splitOutputs()
    {
        auto m = opModel(13);
        auto* g = m.mutable_graph();
        addInput(g, "x", {5});
        addOutput(g, "a");
        addOutput(g, "b");
        intInit(g, "split", {2, 3});
        addNode(g, "Split", {"x", "split"}, {"a", "b"});
        const auto out = runModel(m, {Value::floats({5}, iota(5))});
        EXPECT_FLOATS(out[0], ({2}), {1, 2});
        EXPECT_FLOATS(out[1], ({3}), {3, 4, 5});
    }

    void rangesAndWeights()
    {
        // x -> MatMul(w1) -> Relu -> MatMul(w2): re-run from the node that reads w2 only.
        auto m = opModel(13);
        auto* g = m.mutable_graph();
        addInput(g, "x", {-1, 2});
        addOutput(g, "y");
        floatInit(g, "w1", {2, 2}, {1, 0, 0, 1});
        floatInit(g, "w2", {2, 1}, {1, 1});
        addNode(g, "MatMul", {"x", "w1"}, {"h"}, "mm1");
        addNode(g, "Relu", {"h"}, {"r"}, "relu");
        addNode(g, "MatMul", {"r", "w2"}, {"y"}, "mm2");
        const auto model = open(m);
        OnnxExecutor ex(*model);
        QCOMPARE(ex.inputNames(), (std::vector<std::string>{"x"}));
        QCOMPARE(ex.inputShape(0), (std::vector<int64_t>{-1, 2}));
        QCOMPARE(ex.nodeCount(), size_t(3));
        QCOMPARE(ex.firstNodeUsing("w1"), size_t(0));
        QCOMPARE(ex.firstNodeUsing("w2"), size_t(2));
        QCOMPARE(ex.producerOf("r"), size_t(1));
        QCOMPARE(ex.nodeOutput(1, 0), std::string("r"));
        OnnxExecutor::Store store;
        store["x"] = Value::floats({2, 2}, {1, -2, 3, 4});
        ex.run(store);
        EXPECT_FLOATS(store.at("y"), ({2, 1}), {1, 7});
        ex.setWeight("w2", {2, -1});
        store.erase("y");
        ex.run(store, ex.firstNodeUsing("w2"));
        EXPECT_FLOATS(store.at("y"), ({2, 1}), {2, 2});
        ex.clearWeights();
        // dropDead frees intermediates except those kept.
        OnnxExecutor::Store s2;
        s2["x"] = Value::floats({1, 2}, {1, 1});
        OnnxExecutor::RunOptions o;
        o.dropDead = true;
        o.keep = {"r"};
        ex.run(s2, 0, SIZE_MAX, o);
        QVERIFY(!s2.count("h"));
        QVERIFY(s2.count("r"));
        QVERIFY(!s2.count("x"));
        EXPECT_FLOATS(s2.at("y"), ({1, 1}), {2});
        // Cancellation stops before the next node.
        OnnxExecutor::Store s3;
        s3["x"] = Value::floats({1, 2}, {1, 1});
        int calls = 0;
        ex.run(s3, 0, SIZE_MAX, [&] { return ++calls > 1; });
        QVERIFY(s3.count("h"));
        QVERIFY(!s3.count("r"));
        QVERIFY(!execError([&] { ex.setWeight("w2", {1}); }).isEmpty());
    }

    void errors()
    {
        // Unknown and subgraph ops are listed; the model still opens.
        auto m = opModel(13);
        auto* g = m.mutable_graph();
        addInput(g, "x", {-1, 3});
        addOutput(g, "y");
        addNode(g, "FooBar", {"x"}, {"a"});
        addNode(g, "Relu", {"a"}, {"b"});
        addNode(g, "Loop", {"b"}, {"y"});
        const auto model = open(m);
        QCOMPARE(OnnxExecutor::unsupportedOps(*model), (std::vector<std::string>{"FooBar", "Loop"}));
        const QString msg = execError([&] { OnnxExecutor ex(*model); });
        QVERIFY2(msg.contains("FooBar") && msg.contains("Loop"), qPrintable(msg));

        // Unimplemented attribute values are rejected, not computed wrongly.
        auto m2 = opModel(17);
        g = m2.mutable_graph();
        addInput(g, "x", {1, 1, 4, 4});
        addOutput(g, "y");
        auto* p = addNode(g, "MaxPool", {"x"}, {"y", "idx"});
        setInts(p, "kernel_shape", {2, 2});
        QCOMPARE(OnnxExecutor::unsupportedOps(*open(m2)), (std::vector<std::string>{"MaxPool"}));

        // Wrong input shape names the input and the expected shape.
        auto m3 = opModel(13);
        g = m3.mutable_graph();
        addInput(g, "x", {-1, 3});
        addOutput(g, "y");
        addNode(g, "Relu", {"x"}, {"y"});
        const auto model3 = open(m3);
        OnnxExecutor ex(*model3);
        QVERIFY(OnnxExecutor::unsupportedOps(*model3).empty());
        const QString shapeMsg = execError([&] { ex.run({Value::floats({2, 4}, iota(8))}); });
        QVERIFY2(shapeMsg.contains("'x'") && shapeMsg.contains("[?, 3]"), qPrintable(shapeMsg));
        const QString typeMsg = execError([&] { ex.run({Value::ints({1, 3}, {1, 2, 3})}); });
        QVERIFY2(typeMsg.contains("'x'") && typeMsg.contains("float"), qPrintable(typeMsg));
        OnnxExecutor::Store empty;
        const QString missing = execError([&] { ex.run(empty); });
        QVERIFY2(missing.contains("'x'") && missing.contains("missing"), qPrintable(missing));

        // Runtime shape errors name the node.
        auto m4 = opModel(13);
        g = m4.mutable_graph();
        addInput(g, "a", {2, 3});
        addInput(g, "b", {2});
        addOutput(g, "y");
        addNode(g, "Add", {"a", "b"}, {"y"}, "bad_add");
        const QString bc = execError([&] { runModel(m4, {Value::floats({2, 3}, iota(6)), Value::floats({2}, {1, 2})}); });
        QVERIFY2(bc.contains("bad_add") && bc.contains("broadcast"), qPrintable(bc));
    }
};

QTEST_GUILESS_MAIN(TstOnnxOps)
#include "tst_onnx_ops.moc"
