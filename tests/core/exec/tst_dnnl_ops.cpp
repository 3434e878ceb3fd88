// The executor's oneDNN kernels (exec/dnnl_ops.cpp) against plain references: Conv on varied
// geometry (strides, asymmetric pads, dilations, groups, bias, fused Relu / BatchNorm /
// residual Add / MaxPool) against a direct loop written here and against the Eigen kernels
// (ExecOptions::onednn off); pooling, Gemm and MatMul against the Eigen kernels; the weight
// caches against fresh executors and evaluators when weights change; deploy mode's INT8
// against fake quantization.
//
// Tolerances: FP32 results within 1e-4 relative to the output's largest magnitude (oneDNN and
// Eigen sum in different orders); INT8 deploy within an output SQNR of 30 dB of the FP32 run
// with the same (dequantized) weights, as 8-bit activations allow.
#include "bonsai/dataset.h"
#include "bonsai/evaluate.h"
#include "bonsai/onnx_exec.h"
#include "bonsai/presets.h"
#include "bonsai/compress.h"
#include "onnx_build.h"
#include "testutil.h"

#include <QtTest>

#include <cmath>
#include <filesystem>
#include <random>

using namespace onnxtest;

namespace {

std::vector<float> randoms(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f)
{
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v)
        x = u(rng);
    return v;
}

// Largest |a - b| over the largest |b| (or 1e-30).
double relError(const std::vector<float>& a, const std::vector<float>& b)
{
    if (a.size() != b.size())
        return 1e30;
    double e = 0, m = 1e-30;
    for (size_t k = 0; k < a.size(); ++k) {
        e = std::max(e, std::fabs(static_cast<double>(a[k]) - b[k]));
        m = std::max(m, std::fabs(static_cast<double>(b[k])));
    }
    return e / m;
}

double sqnrDb(const std::vector<float>& ref, const std::vector<float>& x)
{
    double s = 0, n = 0;
    for (size_t k = 0; k < ref.size(); ++k) {
        s += static_cast<double>(ref[k]) * ref[k];
        n += (static_cast<double>(ref[k]) - x[k]) * (static_cast<double>(ref[k]) - x[k]);
    }
    return n == 0 ? 1e9 : 10 * std::log10(s / n);
}

struct ConvCase {
    int64_t n, c, h, w, m, kh, kw, sh, sw, dh, dw, group;
    int64_t pt, pl, pb, pr; // pads: top, left, bottom, right
    bool bias, relu;
};

// Conv (+ Relu) of one case, as ONNX defines it, by direct summation.
std::vector<float> referenceConv(const ConvCase& k, const std::vector<float>& x, const std::vector<float>& w,
                                 const std::vector<float>& b, int64_t& oh, int64_t& ow)
{
    oh = (k.h + k.pt + k.pb - ((k.kh - 1) * k.dh + 1)) / k.sh + 1;
    ow = (k.w + k.pl + k.pr - ((k.kw - 1) * k.dw + 1)) / k.sw + 1;
    const int64_t cg = k.c / k.group, mg = k.m / k.group;
    std::vector<float> y(static_cast<size_t>(k.n * k.m * oh * ow));
    for (int64_t n = 0; n < k.n; ++n)
        for (int64_t m = 0; m < k.m; ++m) {
            const int64_t gi = m / mg;
            for (int64_t oy = 0; oy < oh; ++oy)
                for (int64_t ox = 0; ox < ow; ++ox) {
                    double acc = k.bias ? b[static_cast<size_t>(m)] : 0.0;
                    for (int64_t c = 0; c < cg; ++c)
                        for (int64_t ky = 0; ky < k.kh; ++ky)
                            for (int64_t kx = 0; kx < k.kw; ++kx) {
                                const int64_t iy = oy * k.sh - k.pt + ky * k.dh, ix = ox * k.sw - k.pl + kx * k.dw;
                                if (iy < 0 || iy >= k.h || ix < 0 || ix >= k.w)
                                    continue;
                                acc += static_cast<double>(x[static_cast<size_t>(((n * k.c + gi * cg + c) * k.h + iy) * k.w + ix)]) *
                                       w[static_cast<size_t>(((m * cg + c) * k.kh + ky) * k.kw + kx)];
                            }
                    if (k.relu)
                        acc = std::max(acc, 0.0);
                    y[static_cast<size_t>(((n * k.m + m) * oh + oy) * ow + ox)] = static_cast<float>(acc);
                }
        }
    return y;
}

onnx::ModelProto convModel(const ConvCase& k, const std::vector<float>& w, const std::vector<float>& b)
{
    onnx::ModelProto m = newModel("conv");
    auto* g = m.mutable_graph();
    addInput(g, "x", {-1, k.c, k.h, k.w});
    addOutput(g, "y");
    *g->add_initializer() = rawFloat("w", {k.m, k.c / k.group, k.kh, k.kw}, w);
    std::vector<std::string> in = {"x", "w"};
    if (k.bias) {
        *g->add_initializer() = rawFloat("b", {k.m}, b);
        in.push_back("b");
    }
    auto* conv = addNode(g, "Conv", in, {k.relu ? "c" : "y"}, "conv");
    setInts(conv, "kernel_shape", {k.kh, k.kw});
    setInts(conv, "strides", {k.sh, k.sw});
    setInts(conv, "dilations", {k.dh, k.dw});
    setInts(conv, "pads", {k.pt, k.pl, k.pb, k.pr});
    setInt(conv, "group", k.group);
    if (k.relu)
        addNode(g, "Relu", {"c"}, {"y"}, "relu");
    return m;
}

std::vector<float> runWith(const Model& model, const std::vector<Value>& inputs, bool onednn, bool deploy = false)
{
    ExecOptions o;
    o.onednn = onednn;
    o.deploy = deploy;
    OnnxExecutor ex(model, o);
    return ex.run(inputs).at(0).f;
}

int fileNo = 0;
std::unique_ptr<Model> openModel(const onnx::ModelProto& m)
{
    return Model::open(save("dnnl_" + std::to_string(++fileNo) + ".onnx", m));
}

} // namespace

class TestDnnlOps : public QObject {
    Q_OBJECT

private slots:
    void convAgainstReference_data()
    {
        QTest::addColumn<int>("index");
        QTest::newRow("3x3 pad 1") << 0;
        QTest::newRow("stride 2, asymmetric pads") << 1;
        QTest::newRow("dilation 2") << 2;
        QTest::newRow("groups 2, relu") << 3;
        QTest::newRow("depthwise") << 4;
        QTest::newRow("1x1 no bias") << 5;
        QTest::newRow("one input channel, relu") << 6;
        QTest::newRow("5x3 kernel, stride 3x1, odd batch") << 7;
        QTest::newRow("one image") << 8;
    }
    void convAgainstReference()
    {
        QFETCH(int, index);
        const ConvCase cases[] = {
            {4, 8, 12, 12, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, false},
            {3, 6, 11, 9, 10, 3, 3, 2, 2, 1, 1, 1, 0, 1, 2, 0, true, false},
            {2, 5, 14, 13, 7, 3, 3, 1, 1, 2, 2, 1, 2, 2, 2, 2, true, true},
            {5, 8, 10, 10, 12, 3, 3, 1, 1, 1, 1, 2, 1, 1, 1, 1, true, true},
            {3, 16, 9, 9, 16, 3, 3, 1, 1, 1, 1, 16, 1, 1, 1, 1, true, false},
            {6, 24, 7, 7, 32, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, false, false},
            {9, 1, 28, 28, 20, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, true},
            {33, 4, 17, 8, 6, 5, 3, 3, 1, 1, 1, 1, 1, 0, 2, 1, true, true},
            {1, 32, 13, 13, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, true},
        };
        const ConvCase& k = cases[index];
        const auto x = randoms(static_cast<size_t>(k.n * k.c * k.h * k.w), 10 + index);
        const auto w = randoms(static_cast<size_t>(k.m * (k.c / k.group) * k.kh * k.kw), 20 + index);
        const auto b = randoms(static_cast<size_t>(k.m), 30 + index);
        int64_t oh = 0, ow = 0;
        const auto ref = referenceConv(k, x, w, b, oh, ow);
        const auto model = openModel(convModel(k, w, b));
        const std::vector<Value> in = {Value::floats({k.n, k.c, k.h, k.w}, x)};
        const auto fast = runWith(*model, in, true);
        const auto plain = runWith(*model, in, false);
        QVERIFY2(relError(fast, ref) < 1e-4, qPrintable(QString::number(relError(fast, ref))));
        QVERIFY2(relError(plain, ref) < 1e-4, qPrintable(QString::number(relError(plain, ref))));
    }

    // 1-D and 3-D convolutions and auto_pad against the Eigen kernels.
    void convOtherRanks()
    {
        for (int rank : {3, 5}) {
            onnx::ModelProto m = newModel("conv");
            auto* g = m.mutable_graph();
            std::vector<int64_t> xs = {3, 4}, ws = {6, 2};
            for (int d = 2; d < rank; ++d) {
                xs.push_back(rank == 3 ? 19 : 7);
                ws.push_back(3);
            }
            addInput(g, "x", xs);
            addOutput(g, "y");
            *g->add_initializer() = rawFloat("w", ws, randoms(count(ws), 41));
            *g->add_initializer() = rawFloat("b", {6}, randoms(6, 42));
            auto* conv = addNode(g, "Conv", {"x", "w", "b"}, {"y"}, "conv");
            setInt(conv, "group", 2);
            auto* a = conv->add_attribute();
            a->set_name("auto_pad");
            a->set_type(onnx::AttributeProto::STRING);
            a->set_s("SAME_UPPER");
            setInts(conv, "strides", std::vector<int64_t>(static_cast<size_t>(rank - 2), 2));
            const auto model = openModel(m);
            const std::vector<Value> in = {Value::floats(xs, randoms(count(xs), 43))};
            const auto fast = runWith(*model, in, true), plain = runWith(*model, in, false);
            QVERIFY2(relError(fast, plain) < 1e-4, qPrintable(QString::number(rank)));
        }
    }

    // Conv -> BatchNormalization -> Add (residual) -> Relu -> MaxPool folded into one node.
    void fusedEpilogue()
    {
        for (bool broadcastResidual : {false, true}) {
            onnx::ModelProto m = newModel("fused");
            auto* g = m.mutable_graph();
            addInput(g, "x", {-1, 8, 10, 10});
            addInput(g, "r", {-1, 8, 10, 10});
            addOutput(g, "y");
            *g->add_initializer() = rawFloat("w", {8, 8, 3, 3}, randoms(576, 51));
            *g->add_initializer() = rawFloat("b", {8}, randoms(8, 52));
            *g->add_initializer() = rawFloat("gamma", {8}, randoms(8, 53, 0.5f, 1.5f));
            *g->add_initializer() = rawFloat("beta", {8}, randoms(8, 54));
            *g->add_initializer() = rawFloat("mean", {8}, randoms(8, 55));
            *g->add_initializer() = rawFloat("var", {8}, randoms(8, 56, 0.2f, 2.0f));
            *g->add_initializer() = rawFloat("rc", {1, 8, 1, 1}, randoms(8, 57));
            auto* conv = addNode(g, "Conv", {"x", "w", "b"}, {"c"}, "conv");
            setInts(conv, "pads", {1, 1, 1, 1});
            setFloat(addNode(g, "BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, {"n"}, "bn"), "epsilon", 1e-3f);
            addNode(g, "Add", {broadcastResidual ? "rc" : "r", "n"}, {"s"}, "add");
            addNode(g, "Relu", {"s"}, {"a"}, "relu");
            auto* pool = addNode(g, "MaxPool", {"a"}, {"y"}, "pool");
            setInts(pool, "kernel_shape", {2, 2});
            setInts(pool, "strides", {2, 2});
            const auto model = openModel(m);
            const std::vector<Value> in = {Value::floats({6, 8, 10, 10}, randoms(4800, 58)),
                                           Value::floats({6, 8, 10, 10}, randoms(4800, 59))};
            OnnxExecutor fusedEx(*model);
            QCOMPARE(fusedEx.nodeCount(), size_t(1));
            QCOMPARE(fusedEx.node(0).fused,
                     (std::vector<std::string>{"BatchNormalization", "Add", "Relu", "MaxPool"}));
            ExecOptions unfused;
            unfused.fuse = false;
            unfused.onednn = false;
            OnnxExecutor plainEx(*model, unfused);
            QCOMPARE(plainEx.nodeCount(), size_t(5));
            const auto a = fusedEx.run(in).at(0).f, b = plainEx.run(in).at(0).f;
            QVERIFY2(relError(a, b) < 1e-4, qPrintable(QString::number(relError(a, b))));
            ExecOptions eigenFused;
            eigenFused.onednn = false;
            const auto c = OnnxExecutor(*model, eigenFused).run(in).at(0).f;
            QVERIFY2(relError(c, b) < 1e-4, qPrintable(QString::number(relError(c, b))));
        }
    }

    void poolingAgainstEigen()
    {
        struct P {
            const char* op;
            std::vector<int64_t> kernel, strides, pads, dilations;
            int ceil, includePad;
        };
        const P cases[] = {
            {"MaxPool", {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 0, 0},
            {"MaxPool", {2, 2}, {2, 2}, {}, {}, 1, 0},
            {"MaxPool", {3, 3}, {1, 1}, {1, 0, 1, 0}, {2, 2}, 0, 0},
            {"AveragePool", {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 0, 0},
            {"AveragePool", {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 0, 1},
            {"AveragePool", {2, 2}, {2, 2}, {}, {}, 1, 0},
            {"AveragePool", {3}, {2}, {1, 1}, {}, 1, 1},
        };
        int idx = 0;
        for (const P& p : cases) {
            onnx::ModelProto m = newModel("pool");
            auto* g = m.mutable_graph();
            std::vector<int64_t> xs = {5, 6};
            for (size_t d = 0; d < p.kernel.size(); ++d)
                xs.push_back(11);
            addInput(g, "x", xs);
            addOutput(g, "y");
            auto* n = addNode(g, p.op, {"x"}, {"y"}, "pool");
            setInts(n, "kernel_shape", p.kernel);
            setInts(n, "strides", p.strides);
            if (!p.pads.empty())
                setInts(n, "pads", p.pads);
            if (!p.dilations.empty())
                setInts(n, "dilations", p.dilations);
            setInt(n, "ceil_mode", p.ceil);
            if (std::string(p.op) == "AveragePool")
                setInt(n, "count_include_pad", p.includePad);
            const auto model = openModel(m);
            const std::vector<Value> in = {Value::floats(xs, randoms(count(xs), 60 + idx))};
            const auto fast = runWith(*model, in, true), plain = runWith(*model, in, false);
            QVERIFY2(relError(fast, plain) < 1e-5, qPrintable(QString::number(idx)));
            ++idx;
        }
    }

    void gemmAndMatMulAgainstEigen()
    {
        int idx = 0;
        for (int ta : {0, 1})
            for (int tb : {0, 1})
                for (int bias : {0, 1, 2}) { // none, [N], [M, N] (runs in the plain kernel)
                    onnx::ModelProto m = newModel("gemm");
                    auto* g = m.mutable_graph();
                    const int64_t M = 37, K = 50, N = 23;
                    addInput(g, "a", ta ? std::vector<int64_t>{K, M} : std::vector<int64_t>{M, K});
                    addOutput(g, "y");
                    *g->add_initializer() = rawFloat("b", tb ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N},
                                                     randoms(static_cast<size_t>(K * N), 70 + idx));
                    std::vector<std::string> in = {"a", "b"};
                    if (bias) {
                        const std::vector<int64_t> cs = bias == 1 ? std::vector<int64_t>{N} : std::vector<int64_t>{M, N};
                        *g->add_initializer() = rawFloat("c", cs, randoms(count(cs), 80 + idx));
                        in.push_back("c");
                    }
                    auto* n = addNode(g, "Gemm", in, {"y"}, "gemm");
                    setInt(n, "transA", ta);
                    setInt(n, "transB", tb);
                    setFloat(n, "alpha", 0.75f);
                    setFloat(n, "beta", 1.5f);
                    const auto model = openModel(m);
                    const std::vector<Value> x = {Value::floats(ta ? std::vector<int64_t>{K, M} : std::vector<int64_t>{M, K},
                                                                randoms(static_cast<size_t>(M * K), 90 + idx))};
                    const auto fast = runWith(*model, x, true), plain = runWith(*model, x, false);
                    QVERIFY2(relError(fast, plain) < 1e-5, qPrintable(QString::number(idx)));
                    ++idx;
                }
        // MatMul of a batch of matrices by a weight, and of two computed values.
        onnx::ModelProto m = newModel("matmul");
        auto* g = m.mutable_graph();
        addInput(g, "a", {2, 3, 5, 16});
        addInput(g, "c", {2, 3, 12, 5});
        addOutput(g, "y");
        addOutput(g, "z");
        *g->add_initializer() = rawFloat("w", {16, 12}, randoms(192, 99));
        addNode(g, "MatMul", {"a", "w"}, {"y"}, "mm");
        addNode(g, "MatMul", {"y", "c"}, {"z"}, "mm2");
        const auto model = openModel(m);
        const std::vector<Value> in = {Value::floats({2, 3, 5, 16}, randoms(480, 100)),
                                       Value::floats({2, 3, 12, 5}, randoms(360, 101))};
        ExecOptions eigen;
        eigen.onednn = false;
        const auto a = OnnxExecutor(*model).run(in), b = OnnxExecutor(*model, eigen).run(in);
        QVERIFY(relError(a[0].f, b[0].f) < 1e-5);
        QVERIFY(relError(a[1].f, b[1].f) < 1e-5);
    }

    // The reordered weights are cached per weight version: a new weight is used at once, and
    // clearing it brings the model's back.
    void cacheFollowsSetWeight()
    {
        onnx::ModelProto m = newModel("cnn");
        auto* g = m.mutable_graph();
        addInput(g, "x", {-1, 3, 8, 8});
        addOutput(g, "y");
        *g->add_initializer() = rawFloat("cw", {4, 3, 3, 3}, randoms(108, 1));
        *g->add_initializer() = rawFloat("cb", {4}, randoms(4, 2));
        *g->add_initializer() = rawFloat("fw", {5, 144}, randoms(720, 3));
        *g->add_initializer() = rawFloat("fb", {5}, randoms(5, 4));
        *g->add_initializer() = rawFloat("shape", {2}, {0, 144}); // float shape, truncated
        addNode(g, "Conv", {"x", "cw", "cb"}, {"c"}, "conv");
        addNode(g, "Relu", {"c"}, {"r"}, "relu");
        auto* fl = addNode(g, "Flatten", {"r"}, {"f"}, "flat");
        setInt(fl, "axis", 1);
        auto* gemm = addNode(g, "Gemm", {"f", "fw", "fb"}, {"y"}, "fc");
        setInt(gemm, "transB", 1);
        const auto model = openModel(m);
        const std::vector<Value> in = {Value::floats({7, 3, 8, 8}, randoms(1344, 5))};
        OnnxExecutor ex(*model);
        const auto first = ex.run(in)[0].f;
        for (uint32_t seed : {11u, 12u, 13u}) {
            auto cw = randoms(108, seed), fw = randoms(720, seed + 100);
            ex.setWeight("cw", cw);
            ex.setWeight("fw", fw);
            const auto cached = ex.run(in)[0].f;
            OnnxExecutor fresh(*model);
            fresh.setWeight("cw", cw);
            fresh.setWeight("fw", fw);
            const auto expected = fresh.run(in)[0].f;
            QCOMPARE(cached, expected);
            QVERIFY(relError(cached, first) > 1e-3);
        }
        ex.clearWeights();
        QCOMPARE(ex.run(in)[0].f, first);
    }

    // Deploy mode: a Conv and a Gemm with 8-bit codes run in INT8, close to the FP32 run with
    // the same dequantized weights (8-bit activations: an output SQNR above 30 dB), and not
    // identical to it (they did run in INT8).
    void deployInt8AgainstFakeQuant()
    {
        for (bool signedInput : {false, true}) {
            onnx::ModelProto m = newModel("cnn");
            auto* g = m.mutable_graph();
            addInput(g, "x", {-1, 6, 10, 10});
            addOutput(g, "y");
            *g->add_initializer() = rawFloat("cw", {12, 6, 3, 3}, randoms(648, 1));
            *g->add_initializer() = rawFloat("cb", {12}, randoms(12, 2));
            *g->add_initializer() = rawFloat("fw", {10, 1200}, randoms(12000, 3));
            *g->add_initializer() = rawFloat("fb", {10}, randoms(10, 4));
            auto* conv = addNode(g, "Conv", {"x", "cw", "cb"}, {"c"}, "conv");
            setInts(conv, "pads", {1, 1, 1, 1});
            addNode(g, "Relu", {"c"}, {"r"}, "relu");
            addNode(g, "Flatten", {"r"}, {"f"}, "flat");
            setInt(addNode(g, "Gemm", {"f", "fw", "fb"}, {"y"}, "fc"), "transB", 1);
            const auto model = openModel(m);
            // Symmetric per-channel INT8 codes of both weights (channels: axis 0).
            const auto quantize = [](const std::vector<float>& w, int64_t rows, QuantizedWeight& q) {
                const size_t cols = w.size() / static_cast<size_t>(rows);
                q.codes.resize(w.size());
                q.scales.resize(static_cast<size_t>(rows));
                q.axis = 0;
                std::vector<float> deq(w.size());
                for (size_t r = 0; r < static_cast<size_t>(rows); ++r) {
                    float amax = 0;
                    for (size_t c = 0; c < cols; ++c)
                        amax = std::max(amax, std::fabs(w[r * cols + c]));
                    q.scales[r] = amax / 127.0f;
                    for (size_t c = 0; c < cols; ++c) {
                        q.codes[r * cols + c] = static_cast<int8_t>(std::nearbyint(w[r * cols + c] / q.scales[r]));
                        deq[r * cols + c] = q.codes[r * cols + c] * q.scales[r];
                    }
                }
                return deq;
            };
            QuantizedWeight qc, qf;
            const auto cw = quantize(randoms(648, 1), 12, qc), fw = quantize(randoms(12000, 3), 10, qf);
            const std::vector<Value> in = {
                Value::floats({9, 6, 10, 10}, randoms(5400, 7, signedInput ? -1.0f : 0.0f, 1.0f))};
            ExecOptions deploy;
            deploy.deploy = true;
            OnnxExecutor fake(*model), int8(*model, deploy);
            fake.setWeight("cw", cw);
            fake.setWeight("fw", fw);
            int8.setWeight("cw", cw, qc);
            int8.setWeight("fw", fw, qf);
            OnnxExecutor::Store sf, si;
            sf["x"] = si["x"] = in[0];
            fake.run(sf);
            int8.run(si);
            for (const char* v : {"r", "y"}) {
                const double db = sqnrDb(sf.at(v).f, si.at(v).f);
                qInfo("%s input, %s: INT8 vs FP32 output SQNR %.1f dB", signedInput ? "signed" : "unsigned", v, db);
                QVERIFY2(db > 30 && db < 80, qPrintable(QString("%1: %2 dB").arg(v).arg(db)));
            }
            // Without deploy mode the codes are ignored: the FP32 result exactly.
            OnnxExecutor plain(*model);
            plain.setWeight("cw", cw, qc);
            plain.setWeight("fw", fw, qf);
            QCOMPARE(plain.run(in)[0].f, sf.at("y").f);
        }
    }

    // The evaluator on the demo CNN: two configurations in a row give what fresh evaluators
    // give; deploy mode's INT8 agrees with fake quantization.
    void evaluatorConfigurationsAndDeploy()
    {
        if (!std::filesystem::exists(defaultDatasetDir()))
            QSKIP("the Fashion-MNIST data set is not installed");
        const auto model = Model::open(BONSAI_DEMO_MODEL);
        const auto data = openDataset(defaultDatasetPath());
        EvalOptions opt;
        opt.limit = 1000;
        opt.quickSamples = 0;
        const auto int8 = presetConfigs(*presetByKey("int8"), *model);
        const auto int4 = presetConfigs(*presetByKey("int4"), *model);
        Evaluator reused(*model, *data, opt);
        const auto a1 = reused.evaluate(int8);
        const auto a2 = reused.evaluate(int4);
        const auto a3 = reused.evaluate(int8);
        const auto fresh8 = Evaluator(*model, *data, opt).evaluate(int8);
        const auto fresh4 = Evaluator(*model, *data, opt).evaluate(int4);
        QCOMPARE(a1.metrics.top1Correct, fresh8.metrics.top1Correct);
        QCOMPARE(a3.metrics.top1Correct, fresh8.metrics.top1Correct);
        QCOMPARE(a2.metrics.top1Correct, fresh4.metrics.top1Correct);
        QCOMPARE(a2.metrics.agreement, fresh4.metrics.agreement);
        QCOMPARE(a2.layerErrors.size(), fresh4.layerErrors.size());
        for (size_t k = 0; k < a2.layerErrors.size(); ++k)
            QCOMPARE(a2.layerErrors[k].sqnrDb, fresh4.layerErrors[k].sqnrDb);

        // Deploy: every layer in INT8; accuracy within 0.5 points of fake quantization, at
        // least 98% agreement with the uncompressed model, each layer's output SQNR within
        // 4 dB of fake quantization's and above 25 dB.
        EvalOptions dopt = opt;
        dopt.deploy = true;
        const auto d = Evaluator(*model, *data, dopt).evaluate(int8);
        QCOMPARE(d.int8Layers.size(), model->layers.size());
        QVERIFY(std::fabs(d.metrics.top1 - fresh8.metrics.top1) <= 0.005);
        QVERIFY(d.metrics.agreement >= 0.98);
        QCOMPARE(d.layerErrors.size(), fresh8.layerErrors.size());
        qInfo("deploy INT8: top-1 %.2f%% (fake quantization %.2f%%), agreement %.2f%%", 100 * d.metrics.top1,
              100 * fresh8.metrics.top1, 100 * d.metrics.agreement);
        for (size_t k = 0; k < d.layerErrors.size(); ++k) {
            qInfo("  %s: output SQNR %.2f dB (fake quantization %.2f dB)", d.layerErrors[k].layer.c_str(),
                  d.layerErrors[k].sqnrDb, fresh8.layerErrors[k].sqnrDb);
            QVERIFY2(d.layerErrors[k].sqnrDb > 25 && d.layerErrors[k].sqnrDb > fresh8.layerErrors[k].sqnrDb - 4,
                     qPrintable(QString::fromStdString(d.layerErrors[k].layer)));
        }
        // Not INT8 (4 bits): deploy runs it as fake quantization, the same results.
        const auto d4 = Evaluator(*model, *data, dopt).evaluate(int4);
        QVERIFY(d4.int8Layers.empty());
        QCOMPARE(d4.metrics.top1Correct, fresh4.metrics.top1Correct);
    }
};

QTEST_GUILESS_MAIN(TestDnnlOps)
#include "tst_dnnl_ops.moc"
