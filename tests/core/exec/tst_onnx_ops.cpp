// Tests of the ONNX inference engine, arithmetic and network operators: each op against
// hand-computed results on tiny tensors (models built with libonnx's protobuf classes, run
// through Model + OnnxExecutor). Shape and data-movement operators, weight overrides and the
// executor's errors are in tst_onnx_ops_data.cpp.
#include "onnx_build.h"
#include "onnx_ops_util.h"

using namespace opstest;

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

};

QTEST_GUILESS_MAIN(TstOnnxOps)
#include "tst_onnx_ops.moc"
