// Tests of the ONNX executor on hostile models: every attribute or constant input that
// divides, sizes a loop or sizes an allocation (window attributes, group, Range, Tile, Expand,
// ConstantOfShape, Reshape, Pad, Split, Slice steps, integer division) is checked before use,
// and each refusal is a FileError naming the model file, the node (name and op) and the
// offending field. Where a value is legal but extreme (Slice steps, int64 overflow) the result
// is checked against numpy's / two's complement semantics worked out by hand.
#include "bonsai/onnx_exec.h"
#include "onnx_build.h"

#include <limits>

using namespace onnxtest;

namespace {

int caseNo = 0;
std::string lastPath;

void intInit(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& v,
             bool scalar = false)
{
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    if (!scalar)
        t->add_dims(static_cast<int64_t>(v.size()));
    for (auto x : v)
        t->add_int64_data(x);
}

// A model of one node `op` named "victim" reading x [1, 2, 4, 4] (float) and the extra
// initializer inputs, writing y.
onnx::ModelProto oneNode(const std::string& op, const std::vector<std::string>& extraInputs,
                         const std::function<void(onnx::GraphProto*, onnx::NodeProto*)>& edit,
                         std::vector<int64_t> xShape = {1, 2, 4, 4}, int xType = onnx::TensorProto::FLOAT)
{
    onnx::ModelProto m = newModel("hostile");
    auto* g = m.mutable_graph();
    addInput(g, "x", xShape, xType);
    std::vector<std::string> in = {"x"};
    in.insert(in.end(), extraInputs.begin(), extraInputs.end());
    auto* n = addNode(g, op, in, {"y"}, "victim");
    edit(g, n);
    addOutput(g, "y");
    return m;
}

Value xValue(const std::vector<int64_t>& shape = {1, 2, 4, 4})
{
    const size_t n = count(shape);
    return Value::floats(shape, pattern(n, 0.5f));
}

// The FileError of planning and running the model once on `x`; "" when it runs.
QString execError(const onnx::ModelProto& m, const Value& x)
{
    lastPath = save("hostile_" + std::to_string(++caseNo) + ".onnx", m);
    return errorOf([&] {
        const auto model = Model::open(lastPath);
        OnnxExecutor ex(*model);
        ex.run({x});
    });
}

std::vector<Value> runModel(const onnx::ModelProto& m, const std::vector<Value>& inputs)
{
    lastPath = save("hostile_" + std::to_string(++caseNo) + ".onnx", m);
    const auto model = Model::open(lastPath);
    OnnxExecutor ex(*model);
    return ex.run(inputs);
}

// The message starts with the model's path and names the node and every needle.
#define EXPECT_NODE_ERROR(msg, op, ...)                                                        \
    do {                                                                                       \
        const QString m_ = (msg);                                                              \
        QVERIFY2(m_.startsWith(QString::fromStdString(lastPath + ": ")), qPrintable(m_));      \
        QVERIFY2(m_.contains(QStringLiteral("'victim' (" op ")")), qPrintable(m_));            \
        for (const char* needle : {__VA_ARGS__})                                               \
            QVERIFY2(m_.contains(QString::fromUtf8(needle)), qPrintable(m_));                  \
    } while (0)

} // namespace

class TstOnnxExecErrors : public QObject {
    Q_OBJECT
private slots:
    void windowAttributes();
    void convGroup();
    void rangeBounds();
    void sizesFromConstants();
    void reshapeOverflow();
    void integerArithmetic();
    void extremeSliceSteps();
    void floatShapeInputs();
    void splitParts();
    void duplicateGraphInput();
};

void TstOnnxExecErrors::windowAttributes()
{
    const auto conv = [](const char* attr, std::vector<int64_t> v) {
        return oneNode("Conv", {"w"}, [&](onnx::GraphProto* g, onnx::NodeProto* n) {
            addInit(g, "w", {3, 2, 3, 3}, 0.1f);
            setInts(n, attr, v);
        });
    };
    // strides 0 would divide by zero; the message gives the attribute, the value and the range.
    EXPECT_NODE_ERROR(execError(conv("strides", {0, 1}), xValue()), "Conv", "strides", "value 0",
                      "[1, 1048576]");
    EXPECT_NODE_ERROR(execError(conv("dilations", {1, -3}), xValue()), "Conv", "dilations", "-3");
    EXPECT_NODE_ERROR(execError(conv("pads", {0, 0, std::numeric_limits<int64_t>::max(), 0}), xValue()),
                      "Conv", "pads", "9223372036854775807");
    const auto pool = [](const char* attr, std::vector<int64_t> v) {
        return oneNode("MaxPool", {}, [&](onnx::GraphProto*, onnx::NodeProto* n) {
            if (std::string(attr) != "kernel_shape")
                setInts(n, "kernel_shape", {2, 2});
            setInts(n, attr, v);
        });
    };
    EXPECT_NODE_ERROR(execError(pool("kernel_shape", {0, 2}), xValue()), "MaxPool", "kernel_shape", "value 0");
    EXPECT_NODE_ERROR(execError(pool("strides", {1, 0}), xValue()), "MaxPool", "strides", "value 0");
    // A pooling pad as large as the window (ONNX Runtime refuses it too).
    EXPECT_NODE_ERROR(execError(pool("pads", {0, 0, 2, 0}), xValue()), "MaxPool",
                      "pads [0, 0, 2, 0] must be smaller than kernel_shape [2, 2]");
    // The same MaxPool after Conv -> Relu (where the planner fuses it) is refused the same way.
    onnx::ModelProto m = newModel("hostile");
    auto* g = m.mutable_graph();
    addInput(g, "x", {1, 2, 4, 4});
    addInit(g, "w", {3, 2, 1, 1}, 0.1f);
    addNode(g, "Conv", {"x", "w"}, {"c"}, "conv");
    addNode(g, "Relu", {"c"}, {"r"}, "relu");
    auto* p = addNode(g, "MaxPool", {"r"}, {"y"}, "victim");
    setInts(p, "kernel_shape", {2, 2});
    setInts(p, "strides", {0, 2});
    addOutput(g, "y");
    EXPECT_NODE_ERROR(execError(m, xValue()), "MaxPool", "strides");
}

void TstOnnxExecErrors::convGroup()
{
    const auto conv = [](int64_t group) {
        return oneNode("Conv", {"w"}, [&](onnx::GraphProto* g, onnx::NodeProto* n) {
            addInit(g, "w", {2, 1, 1, 1}, 0.1f);
            setInt(n, "group", group);
        });
    };
    EXPECT_NODE_ERROR(execError(conv(0), xValue()), "Conv", "group", "value 0");
    EXPECT_NODE_ERROR(execError(conv(std::numeric_limits<int64_t>::min()), xValue()), "Conv", "group");
    // A group that does not divide the channels is refused at run time, naming W and X.
    EXPECT_NODE_ERROR(execError(conv(3), xValue()), "Conv", "group 3");
    // group 2 over 2 channels with W [2, 1, 1, 1] is a depthwise 1x1 conv: y[c] = x[c] * w[c].
    const auto y = runModel(conv(2), {xValue()});
    const auto x = pattern(32, 0.5f), w = pattern(2, 0.1f);
    QCOMPARE(y[0].shape, (std::vector<int64_t>{1, 2, 4, 4}));
    for (size_t k = 0; k < 32; ++k)
        QCOMPARE(y[0].f[k], x[k] * w[k / 16]);
}

void TstOnnxExecErrors::rangeBounds()
{
    const auto range = [](std::vector<int64_t> sld) {
        onnx::ModelProto m = newModel("hostile");
        auto* g = m.mutable_graph();
        intInit(g, "start", {sld[0]}, true);
        intInit(g, "limit", {sld[1]}, true);
        intInit(g, "delta", {sld[2]}, true);
        addNode(g, "Range", {"start", "limit", "delta"}, {"y"}, "victim");
        addOutput(g, "y");
        return m;
    };
    const auto err = [&](std::vector<int64_t> sld) {
        lastPath = save("hostile_" + std::to_string(++caseNo) + ".onnx", range(sld));
        return errorOf([&] {
            const auto model = Model::open(lastPath);
            OnnxExecutor(*model).run(std::vector<Value>{});
        });
    };
    EXPECT_NODE_ERROR(err({0, 10, 0}), "Range", "delta 0");
    // 2^62 elements of int64 would be 32 EiB: refused before allocating, naming the limit.
    EXPECT_NODE_ERROR(err({0, int64_t(1) << 62, 1}), "Range", "more than 134217728 elements");
    // A long but legal range with a delta near int64's edge: two elements, start and start+delta.
    const auto y = runModel(range({-(int64_t(1) << 62), int64_t(1) << 62, int64_t(1) << 62}), {});
    QCOMPARE(y[0].i, (std::vector<int64_t>{-(int64_t(1) << 62), 0}));
}

void TstOnnxExecErrors::sizesFromConstants()
{
    const int64_t big = int64_t(1) << 40;
    // Tile: negative and overflowing repeats.
    const auto tile = [](std::vector<int64_t> reps) {
        return oneNode("Tile", {"reps"}, [&](onnx::GraphProto* g, onnx::NodeProto*) { intInit(g, "reps", reps); });
    };
    EXPECT_NODE_ERROR(execError(tile({1, -1, 1, 1}), xValue()), "Tile", "repeats", "entry 1");
    EXPECT_NODE_ERROR(execError(tile({1, 1, std::numeric_limits<int64_t>::max(), 1}), xValue()), "Tile",
                      "repeats", "entry 2");
    EXPECT_NODE_ERROR(execError(tile({1 << 20, 1 << 20, 1, 1}), xValue()), "Tile", "elements");
    // Expand and ConstantOfShape to 2^80 elements, and to a negative dim.
    const auto expand = [](std::vector<int64_t> shape) {
        return oneNode("Expand", {"shape"}, [&](onnx::GraphProto* g, onnx::NodeProto*) { intInit(g, "shape", shape); });
    };
    EXPECT_NODE_ERROR(execError(expand({big, big, 1, 2, 4, 4}), xValue()), "Expand", "elements");
    onnx::ModelProto cos = newModel("hostile");
    intInit(cos.mutable_graph(), "shape", {big, big});
    addNode(cos.mutable_graph(), "ConstantOfShape", {"shape"}, {"y"}, "victim");
    addOutput(cos.mutable_graph(), "y");
    lastPath = save("hostile_" + std::to_string(++caseNo) + ".onnx", cos);
    EXPECT_NODE_ERROR(errorOf([&] {
                          const auto model = Model::open(lastPath);
                          OnnxExecutor(*model).run(std::vector<Value>{});
                      }),
                      "ConstantOfShape", "elements");
    // Pad by 2^62 on one side (the sum would overflow int64 with the other side).
    const auto pad = oneNode("Pad", {"pads"}, [&](onnx::GraphProto* g, onnx::NodeProto*) {
        intInit(g, "pads", {0, 0, int64_t(1) << 62, 0, 0, 0, int64_t(1) << 62, 0});
    });
    EXPECT_NODE_ERROR(execError(pad, xValue()), "Pad", "pad 4611686018427387904");
}

void TstOnnxExecErrors::reshapeOverflow()
{
    // Dims whose product wraps around int64 (2^62 * 4 * 2 * 16 is 0 modulo 2^64): refused, not
    // taken for a product that matches or divides the input's 32 elements.
    const auto reshape = [](std::vector<int64_t> shape) {
        return oneNode("Reshape", {"shape"}, [&](onnx::GraphProto* g, onnx::NodeProto*) { intInit(g, "shape", shape); });
    };
    const int64_t h = int64_t(1) << 62;
    EXPECT_NODE_ERROR(execError(reshape({h, 4, 2, 16}), xValue()), "Reshape", "cannot reshape");
    EXPECT_NODE_ERROR(execError(reshape({h, 4, -1}), xValue()), "Reshape", "cannot reshape");
    const auto y = runModel(reshape({4, -1}), {xValue()});
    QCOMPARE(y[0].shape, (std::vector<int64_t>{4, 8}));
}

void TstOnnxExecErrors::integerArithmetic()
{
    const auto div = [](const char* op, std::vector<int64_t> b) {
        return oneNode(op, {"b"}, [&](onnx::GraphProto* g, onnx::NodeProto*) { intInit(g, "b", b); }, {2},
                       onnx::TensorProto::INT64);
    };
    const int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
    const Value x = Value::ints({2}, {lo, hi});
    lastPath = "";
    const QString e = errorOf([&] { runModel(div("Div", {1, 0}), {x}); });
    EXPECT_NODE_ERROR(e, "Div", "integer division by zero");
    // Two's complement: INT64_MIN / -1 wraps to INT64_MIN; INT64_MAX / -1 = -INT64_MAX.
    QCOMPARE(runModel(div("Div", {-1, -1}), {x})[0].i, (std::vector<int64_t>{lo, -hi}));
    // INT64_MIN + -1 wraps to INT64_MAX, INT64_MAX + 1 to INT64_MIN; likewise for Mul by 2.
    QCOMPARE(runModel(div("Add", {-1, 1}), {x})[0].i, (std::vector<int64_t>{hi, lo}));
    QCOMPARE(runModel(div("Mul", {2, 2}), {x})[0].i, (std::vector<int64_t>{0, -2}));
}

void TstOnnxExecErrors::extremeSliceSteps()
{
    // x = 0..4; numpy: x[0:5:2**63-1] == [0], x[4::-2**63] == [4], x[1:4:3] == [1].
    const auto slice = [](std::vector<int64_t> s, std::vector<int64_t> e, std::vector<int64_t> st) {
        return oneNode("Slice", {"s", "e", "a", "st"}, [&](onnx::GraphProto* g, onnx::NodeProto*) {
            intInit(g, "s", s);
            intInit(g, "e", e);
            intInit(g, "a", {0});
            intInit(g, "st", st);
        }, {5});
    };
    const Value x = Value::floats({5}, {0, 1, 2, 3, 4});
    const int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
    QCOMPARE(runModel(slice({0}, {5}, {hi}), {x})[0].f, (std::vector<float>{0}));
    QCOMPARE(runModel(slice({4}, {lo}, {lo}), {x})[0].f, (std::vector<float>{4}));
    QCOMPARE(runModel(slice({1}, {4}, {3}), {x})[0].f, (std::vector<float>{1}));
    QCOMPARE(runModel(slice({hi}, {lo}, {-2}), {x})[0].f, (std::vector<float>{4, 2, 0}));
}

void TstOnnxExecErrors::floatShapeInputs()
{
    // Shapes given as floats are truncated and saturated into int64 (NaN reads as 0, which
    // Reshape takes as "copy the input dim"); converting NaN or 1e30 directly is undefined.
    const auto reshape = [](std::vector<float> shape) {
        return oneNode("Reshape", {"shape"}, [&](onnx::GraphProto* g, onnx::NodeProto*) {
            *g->add_initializer() = rawFloat("shape", {static_cast<int64_t>(shape.size())}, shape);
        });
    };
    const float nan = std::numeric_limits<float>::quiet_NaN();
    QCOMPARE(runModel(reshape({nan, 32.9f}), {xValue()})[0].shape, (std::vector<int64_t>{1, 32}));
    EXPECT_NODE_ERROR(execError(reshape({1e30f, 32}), xValue()), "Reshape", "cannot reshape");
}

void TstOnnxExecErrors::splitParts()
{
    // Parts that sum to the axis but include a negative one (or overflow when summed).
    const auto split = [](std::vector<int64_t> parts) {
        onnx::ModelProto m = newModel("hostile");
        auto* g = m.mutable_graph();
        addInput(g, "x", {1, 2, 4, 4});
        intInit(g, "split", parts);
        auto* n = addNode(g, "Split", {"x", "split"}, {"y", "z"}, "victim");
        setInt(n, "axis", 2);
        addOutput(g, "y");
        addOutput(g, "z");
        return m;
    };
    EXPECT_NODE_ERROR(execError(split({-4, 8}), xValue()), "Split", "split [?, 8]", "[0, 4]");
    const int64_t hi = std::numeric_limits<int64_t>::max();
    EXPECT_NODE_ERROR(execError(split({hi, hi}), xValue()), "Split", "outside [0, 4]");
}

void TstOnnxExecErrors::duplicateGraphInput()
{
    onnx::ModelProto m = newModel("hostile");
    auto* g = m.mutable_graph();
    addInput(g, "x", {1, 2});
    addInput(g, "x", {3});
    addNode(g, "Relu", {"x"}, {"y"}, "victim");
    addOutput(g, "y");
    lastPath = save("hostile_" + std::to_string(++caseNo) + ".onnx", m);
    const QString e = errorOf([&] {
        const auto model = Model::open(lastPath);
        OnnxExecutor ex(*model);
    });
    QVERIFY2(e.startsWith(QString::fromStdString(lastPath + ": ")), qPrintable(e));
    QVERIFY2(e.contains("graph input 'x' is declared twice"), qPrintable(e));
}

QTEST_APPLESS_MAIN(TstOnnxExecErrors)
#include "tst_onnx_exec_errors.moc"
