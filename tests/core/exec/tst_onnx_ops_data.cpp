// Tests of the ONNX inference engine, shape and data-movement operators (Reshape, Slice, the
// shape ops, Split), the store-based ranged execution API, weight overrides and the errors:
// each against hand-computed results on tiny tensors. Pad, Tile and Expand (which copy in runs)
// are also checked against their definition, computed element by element, on many small
// cases, and on outputs of 2^26 elements made from one or two.
#include "onnx_build.h"
#include "onnx_ops_util.h"

#include <limits>
#include <random>

using namespace opstest;

namespace {

// Pad by its definition: each output element's input index, axis by axis.
std::vector<float> padReference(const Value& x, const std::vector<int64_t>& pads, const std::string& mode,
                                float fill, std::vector<int64_t>& oshape)
{
    const size_t r = x.shape.size();
    oshape.assign(r, 0);
    for (size_t d = 0; d < r; ++d)
        oshape[d] = x.shape[d] + pads[d] + pads[d + r];
    std::vector<float> y(count(oshape));
    for (size_t k = 0; k < y.size(); ++k) {
        size_t rem = k, off = 0, stride = 1;
        bool inside = true;
        for (size_t d = r; d-- > 0;) {
            const auto o = static_cast<int64_t>(rem % static_cast<size_t>(oshape[d]));
            rem /= static_cast<size_t>(oshape[d]);
            const int64_t n = x.shape[d];
            int64_t i = o - pads[d];
            if (i < 0 || i >= n) {
                if (mode == "constant")
                    inside = false;
                else if (mode == "edge" || n == 1)
                    i = std::clamp<int64_t>(i, 0, n - 1);
                else
                    while (i < 0 || i >= n)
                        i = i < 0 ? -i : 2 * (n - 1) - i;
            }
            off += static_cast<size_t>(std::max<int64_t>(i, 0)) * stride;
            stride *= static_cast<size_t>(n);
        }
        y[k] = inside ? x.f[off] : fill;
    }
    return y;
}

Value padOf(const Value& x, const std::vector<int64_t>& pads, const std::string& mode, float fill)
{
    return runOne(13, "Pad", x, [&](onnx::GraphProto* g, onnx::NodeProto* n) {
        intInit(g, "pads", pads);
        floatInit(g, "fill", {}, {fill});
        n->add_input("pads");
        n->add_input("fill");
        setString(n, "mode", mode);
    });
}

} // namespace

class TstOnnxOpsData : public QObject {
    Q_OBJECT

private slots:
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

    // Integer results the operators' arithmetic cannot hold, as two's complement and the
    // saturating casts define them, never undefined behaviour (the long fuzz run of
    // fuzz_onnx_mutate found an int64 ReduceMean over an empty axis converting NaN to int64).
    void integerEdges()
    {
        const int64_t lo = std::numeric_limits<int64_t>::min();
        const auto abs = runOne(13, "Abs", Value::ints({3}, {lo, -5, 7}), [](onnx::GraphProto*, onnx::NodeProto*) {});
        QCOMPARE(abs.i, (std::vector<int64_t>{lo, 5, 7}));
        const auto neg = runOne(13, "Neg", Value::ints({3}, {lo, -5, 7}), [](onnx::GraphProto*, onnx::NodeProto*) {});
        QCOMPARE(neg.i, (std::vector<int64_t>{lo, 5, -7}));
        // The mean of no element is NaN, which an int64 output holds as 0.
        const auto mean = runOne(13, "ReduceMean", Value::ints({2, 0}, {}), [](onnx::GraphProto*, onnx::NodeProto* n) {
            setInts(n, "axes", {1});
            setInt(n, "keepdims", 0);
        });
        QCOMPARE(mean.shape, (std::vector<int64_t>{2}));
        QCOMPARE(mean.i, (std::vector<int64_t>{0, 0}));
    }

    void padModes()
    {
        // By hand: [[1, 2, 3], [4, 5, 6]] cropped and padded on both axes.
        const Value x = Value::floats({2, 3}, iota(6));
        EXPECT_FLOATS(padOf(x, {1, -1, 0, 2}, "constant", 9), ({3, 4}),
                      {9, 9, 9, 9, 2, 3, 9, 9, 5, 6, 9, 9});
        EXPECT_FLOATS(padOf(x, {0, 2, 1, -2}, "edge", 0), ({3, 3}), {1, 1, 1, 4, 4, 4, 4, 4, 4});
        // Reflect further than the axis is long: the mirror repeats (period 2 (n - 1)).
        EXPECT_FLOATS(padOf(x, {0, 5, 0, 4}, "reflect", 0), ({2, 12}),
                      {2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 5, 4, 5, 6, 5, 4, 5, 6, 5, 4, 5, 6});
        // Cropped past the whole axis on one side, padded on the other: every element is the
        // last (edge) or a reflection of the cropped ones (reflect).
        EXPECT_FLOATS(padOf(Value::floats({3}, iota(3)), {-4, 6}, "edge", 0), ({5}), {3, 3, 3, 3, 3});
        EXPECT_FLOATS(padOf(Value::floats({3}, iota(3)), {-2, 3}, "reflect", 0), ({4}), {3, 2, 1, 2});

        // Against the definition on random shapes (empty axes too), pads and modes.
        std::mt19937 rng(7);
        const auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
        int checked = 0;
        for (int c = 0; c < 300; ++c) {
            const auto r = static_cast<size_t>(pick(1, 4));
            const std::string mode = std::vector<std::string>{"constant", "edge", "reflect"}[static_cast<size_t>(c % 3)];
            std::vector<int64_t> shape(r), pads(2 * r);
            bool valid = true;
            for (size_t d = 0; d < r; ++d) {
                shape[d] = pick(mode == "constant" ? 0 : 1, 4);
                pads[d] = pick(-3, 7);
                pads[d + r] = pick(-3, 7);
                valid = valid && shape[d] + pads[d] + pads[d + r] >= 0;
            }
            if (!valid)
                continue;
            const Value in = Value::floats(shape, iota(count(shape)));
            std::vector<int64_t> oshape;
            const auto want = padReference(in, pads, mode, -1, oshape);
            const QString d = diffFloats(padOf(in, pads, mode, -1), oshape, want);
            QVERIFY2(d.isEmpty(), qPrintable(QString::fromStdString(mode + " of " + shapeString(shape) + " by " +
                                                                    shapeString(pads) + ": ") + d));
            ++checked;
        }
        QVERIFY2(checked > 200, qPrintable(QString::number(checked)));
    }

    void tileAndExpand()
    {
        EXPECT_FLOATS(runOne(13, "Tile", Value::floats({2, 2}, iota(4)),
                             [](onnx::GraphProto* g, onnx::NodeProto* n) {
                                 intInit(g, "reps", {2, 3});
                                 n->add_input("reps");
                             }),
                      ({4, 6}), {1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4});
        // Expand: a size-1 axis repeats, a missing leading axis is added.
        EXPECT_FLOATS(runOne(13, "Expand", Value::floats({3, 1}, iota(3)),
                             [](onnx::GraphProto* g, onnx::NodeProto* n) {
                                 intInit(g, "shape", {2, 1, 2});
                                 n->add_input("shape");
                             }),
                      ({2, 3, 2}), {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
        const auto empty = runOne(13, "Tile", Value::floats({2, 2}, iota(4)),
                                  [](onnx::GraphProto* g, onnx::NodeProto* n) {
                                      intInit(g, "reps", {0, 3});
                                      n->add_input("reps");
                                  });
        QCOMPARE(empty.shape, (std::vector<int64_t>{0, 6}));
    }

    // Outputs of 2^26 elements from one or two: each element checked (the kernels copy runs,
    // so these take as long as writing the memory; the element-wise kernels took minutes under
    // the address sanitizer on outputs of this size).
    void largeOutputs()
    {
        const int64_t n = 8192;
        const auto y = padOf(Value::floats({1, 1}, {7}), {n - 1, 0, 0, n - 1}, "constant", 2);
        QCOMPARE(y.shape, (std::vector<int64_t>{n, n}));
        for (int64_t k = 0; k < n * n; ++k)
            if (y.f[static_cast<size_t>(k)] != (k == (n - 1) * n ? 7.0f : 2.0f))
                QFAIL(qPrintable(QString("element %1 is %2").arg(k).arg(y.f[static_cast<size_t>(k)])));
        const auto e = padOf(Value::floats({1, 2}, {3, 4}), {0, n - 2, n - 1, 0}, "reflect", 0);
        QCOMPARE(e.shape, (std::vector<int64_t>{n, n}));
        for (int64_t k = 0; k < n * n; ++k)
            if (e.f[static_cast<size_t>(k)] != (k % 2 ? 4.0f : 3.0f))
                QFAIL(qPrintable(QString("element %1 is %2").arg(k).arg(e.f[static_cast<size_t>(k)])));
        const auto t = runOne(13, "Tile", Value::floats({1, 1}, {5}), [&](onnx::GraphProto* g, onnx::NodeProto* nd) {
            intInit(g, "reps", {n, n});
            nd->add_input("reps");
        });
        QCOMPARE(t.shape, (std::vector<int64_t>{n, n}));
        QVERIFY(std::all_of(t.f.begin(), t.f.end(), [](float v) { return v == 5.0f; }));
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

QTEST_GUILESS_MAIN(TstOnnxOpsData)
#include "tst_onnx_ops_data.moc"
