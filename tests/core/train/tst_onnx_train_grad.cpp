// Backward passes of the training engine against central finite differences.
//
// Each case builds a tiny ONNX graph ending in logits, runs Trainer::forwardBackward() once for
// the analytic gradients (of every trainable parameter and of the input), then perturbs a
// handful of random coordinates by +-eps in float and compares (L(w+eps) - L(w-eps)) / 2eps
// with a relative tolerance of 1e-2 (plus a small absolute floor for float rounding). Inputs
// are random normals, so ties of MaxPool / Relu kinks are not hit.
#include "bonsai/error.h"
#include "bonsai/model.h"
#include "bonsai/train.h"
#include "train/grad.h"
#include "onnx_build.h"

#include <QtTest>

#include <cmath>
#include <random>

using namespace bonsai;
using namespace onnxtest;

namespace {

// A random-normal initializer (scaled).
void randInit(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
              std::mt19937_64& rng, float scale = 0.5f, float offset = 0.0f)
{
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> v(count(dims));
    for (auto& x : v)
        x = offset + scale * nd(rng);
    *g->add_initializer() = rawFloat(name, dims, v);
}

// Flatten + Gemm(transB) head to `classes` logits from a value of `features` per sample.
void head(onnx::GraphProto* g, const std::string& in, int64_t features, int64_t classes, std::mt19937_64& rng)
{
    addNode(g, "Flatten", {in}, {"flat"}, "flatten");
    randInit(g, "head.w", {classes, features}, rng, 0.3f);
    randInit(g, "head.b", {classes}, rng, 0.1f);
    setInt(addNode(g, "Gemm", {"flat", "head.w", "head.b"}, {"logits"}, "head"), "transB", 1);
    addOutput(g, "logits");
}

struct Check {
    int checked = 0;
    QStringList failures;
};

void compare(Check& c, const std::string& what, size_t i, double analytic, double numeric)
{
    ++c.checked;
    const double tol = 1e-2 * std::max(std::abs(analytic), std::abs(numeric)) + 3e-4;
    if (std::abs(analytic - numeric) > tol)
        c.failures << QString("%1[%2]: analytic %3, numeric %4")
                          .arg(QString::fromStdString(what))
                          .arg(i)
                          .arg(analytic, 0, 'g', 6)
                          .arg(numeric, 0, 'g', 6);
}

// Runs the gradient check of a model with input [xShape] and `classes` logits.
void checkModel(const onnx::ModelProto& proto, const std::string& file, const std::vector<int64_t>& xShape,
                int64_t classes, int coords = 6, float eps = 2e-3f)
{
    const auto model = Model::open(save(file, proto));
    TrainOptions o;
    o.inputGradient = true;
    Trainer tr(*model, o);
    std::mt19937_64 rng(7);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(count(xShape));
    for (auto& v : x)
        v = nd(rng);
    std::vector<int64_t> labels(static_cast<size_t>(xShape[0]));
    for (auto& l : labels)
        l = static_cast<int64_t>(rng() % static_cast<uint64_t>(classes));
    TrainBatch b{x.data(), labels.data(), xShape[0], nullptr};
    tr.forwardBackward(b);
    std::map<std::string, std::vector<float>> grads;
    for (const auto& name : tr.parameterNames())
        grads[name] = tr.gradient(name);
    const std::vector<float> gx = tr.inputGradient();
    QCOMPARE(gx.size(), x.size());
    Check c;
    const auto loss = [&] { return tr.forwardBackward(b); };
    for (const auto& [name, g] : grads) {
        std::vector<float> w = tr.value(name);
        for (int k = 0; k < coords; ++k) {
            const size_t i = static_cast<size_t>(rng() % w.size());
            const float orig = w[i];
            w[i] = orig + eps;
            tr.setValue(name, w);
            const double lp = loss();
            w[i] = orig - eps;
            tr.setValue(name, w);
            const double lm = loss();
            w[i] = orig;
            tr.setValue(name, w);
            compare(c, name, i, g[i], (lp - lm) / (2.0 * static_cast<double>(eps)));
        }
    }
    for (int k = 0; k < coords; ++k) {
        const size_t i = static_cast<size_t>(rng() % x.size());
        const float orig = x[i];
        x[i] = orig + eps;
        const double lp = loss();
        x[i] = orig - eps;
        const double lm = loss();
        x[i] = orig;
        compare(c, "input", i, gx[i], (lp - lm) / (2.0 * static_cast<double>(eps)));
    }
    QVERIFY2(c.failures.isEmpty(), qPrintable(c.failures.join("\n")));
    QVERIFY(c.checked >= coords * 2);
}

} // namespace

class TestTrainGrad : public QObject {
    Q_OBJECT
private slots:
    void gemm()
    {
        std::mt19937_64 rng(1);
        auto m = newModel();
        auto* g = m.mutable_graph();
        addInput(g, "x", {4, 5});
        randInit(g, "w1", {5, 6}, rng);
        randInit(g, "c1", {1, 6}, rng); // broadcast C
        auto* n1 = addNode(g, "Gemm", {"x", "w1", "c1"}, {"h"}, "g1");
        setFloat(n1, "alpha", 0.7f);
        setFloat(n1, "beta", 1.3f);
        randInit(g, "w3", {3, 6}, rng);
        randInit(g, "b3", {3}, rng);
        setInt(addNode(g, "Gemm", {"h", "w3", "b3"}, {"logits"}, "g2"), "transB", 1);
        addOutput(g, "logits");
        checkModel(m, "grad_gemm.onnx", {4, 5}, 3);
    }

    void gemmTransAB()
    {
        // transA = transB = 1, alpha 0.8, beta 0.5 with C [N] broadcast; the kernel directly
        // (L = sum(dy .* Y) in double).
        std::mt19937_64 rng(2);
        const int64_t M = 5, N = 4, K = 3;
        std::normal_distribution<float> nd;
        std::vector<float> A(K * M), B(N * K), dy(M * N);
        for (auto* v : {&A, &B, &dy})
            for (auto& e : *v)
                e = nd(rng);
        // Y = 0.8 * A^T * B^T; L = sum(dy .* Y): dL/dA, dL/dB by finite differences.
        const auto L = [&](const std::vector<float>& a, const std::vector<float>& b) {
            double s = 0;
            for (int64_t i = 0; i < M; ++i)
                for (int64_t j = 0; j < N; ++j) {
                    double y = 0;
                    for (int64_t k = 0; k < K; ++k)
                        y += static_cast<double>(a[k * M + i]) * b[j * K + k];
                    s += 0.8 * y * dy[i * N + j];
                }
            return s;
        };
        std::vector<float> dA(A.size(), 0.0f), dB(B.size(), 0.0f), dC(N, 0.0f);
        grad::gemmBackward(true, true, M, N, K, 0.8f, 0.5f, A.data(), B.data(), dy.data(), dA.data(),
                           dB.data(), {N}, dC.data());
        Check c;
        const float eps = 1e-2f;
        for (size_t i = 0; i < A.size(); ++i) {
            auto p = A, q = A;
            p[i] += eps;
            q[i] -= eps;
            compare(c, "A", i, dA[i], (L(p, B) - L(q, B)) / (2 * eps));
        }
        for (size_t i = 0; i < B.size(); ++i) {
            auto p = B, q = B;
            p[i] += eps;
            q[i] -= eps;
            compare(c, "B", i, dB[i], (L(A, p) - L(A, q)) / (2 * eps));
        }
        for (int64_t j = 0; j < N; ++j) {
            double s = 0;
            for (int64_t i = 0; i < M; ++i)
                s += 0.5 * dy[i * N + j];
            compare(c, "C", static_cast<size_t>(j), dC[j], s);
        }
        QVERIFY2(c.failures.isEmpty(), qPrintable(c.failures.join("\n")));
    }

    void matmulAdd()
    {
        std::mt19937_64 rng(3);
        auto m = newModel();
        auto* g = m.mutable_graph();
        addInput(g, "x", {4, 2, 5});
        randInit(g, "w", {5, 3}, rng);
        randInit(g, "b", {3}, rng);
        addNode(g, "MatMul", {"x", "w"}, {"mm"}, "mm");
        addNode(g, "Add", {"mm", "b"}, {"mb"}, "add");
        addNode(g, "Relu", {"mb"}, {"r"}, "relu");
        head(g, "r", 6, 3, rng);
        checkModel(m, "grad_matmul.onnx", {4, 2, 5}, 3, 6, 5e-4f);
    }

    void convGroupsStridesPadsDilations()
    {
        std::mt19937_64 rng(4);
        auto m = newModel();
        auto* g = m.mutable_graph();
        addInput(g, "x", {2, 4, 7, 6});
        randInit(g, "cw", {6, 2, 3, 2}, rng); // group 2: 4 -> 6 channels
        randInit(g, "cb", {6}, rng);
        auto* c = addNode(g, "Conv", {"x", "cw", "cb"}, {"c"}, "conv");
        setInt(c, "group", 2);
        setInts(c, "strides", {2, 1});
        setInts(c, "pads", {1, 0, 2, 1});
        setInts(c, "dilations", {1, 2});
        // out: H = (7 + 3 - 3) / 2 + 1 = 4, W = (6 + 1 - 3) / 1 + 1 = 5
        randInit(g, "pw", {3, 6, 1, 1}, rng); // pointwise
        addNode(g, "Conv", {"c", "pw"}, {"p"}, "pointwise");
        head(g, "p", 3 * 4 * 5, 4, rng);
        checkModel(m, "grad_conv.onnx", {2, 4, 7, 6}, 4);
    }

    void convDepthwiseSame()
    {
        std::mt19937_64 rng(5);
        auto m = newModel();
        auto* g = m.mutable_graph();
        addInput(g, "x", {2, 3, 5, 5});
        randInit(g, "dw", {3, 1, 3, 3}, rng);
        auto* c = addNode(g, "Conv", {"x", "dw"}, {"c"}, "dw");
        setInt(c, "group", 3);
        auto* a = c->add_attribute();
        a->set_name("auto_pad");
        a->set_type(onnx::AttributeProto::STRING);
        a->set_s("SAME_UPPER");
        setInts(c, "strides", {2, 2});
        head(g, "c", 3 * 3 * 3, 3, rng);
        checkModel(m, "grad_dwconv.onnx", {2, 3, 5, 5}, 3);
    }

    void reluMaxPool()
    {
        std::mt19937_64 rng(6);
        auto m = newModel();
        auto* g = m.mutable_graph();
        addInput(g, "x", {2, 2, 7, 7});
        addNode(g, "Relu", {"x"}, {"r"}, "relu");
        auto* p = addNode(g, "MaxPool", {"r"}, {"p"}, "pool"); // padded, overlapping windows
        setInts(p, "kernel_shape", {3, 3});
        setInts(p, "strides", {2, 2});
        setInts(p, "pads", {1, 1, 1, 1});
        auto* q = addNode(g, "MaxPool", {"x"}, {"q"}, "pool2"); // the 2x2 fast path
        setInts(q, "kernel_shape", {2, 2});
        setInts(q, "strides", {2, 2});
        addNode(g, "Flatten", {"p"}, {"pf"}, "fp");
        addNode(g, "Flatten", {"q"}, {"qf"}, "fq");
        randInit(g, "wp", {32, 3}, rng, 0.3f);
        randInit(g, "wq", {18, 3}, rng, 0.3f);
        addNode(g, "MatMul", {"pf", "wp"}, {"lp"}, "mp");
        addNode(g, "MatMul", {"qf", "wq"}, {"lq"}, "mq");
        addNode(g, "Add", {"lp", "lq"}, {"logits"}, "sum");
        addOutput(g, "logits");
        checkModel(m, "grad_maxpool.onnx", {2, 2, 7, 7}, 3);
    }

    void averagePools()
    {
        for (int include = 0; include < 2; ++include) {
            std::mt19937_64 rng(7 + static_cast<uint64_t>(include));
            auto m = newModel();
            auto* g = m.mutable_graph();
            addInput(g, "x", {2, 3, 6, 5});
            randInit(g, "cw", {3, 3, 1, 1}, rng);
            addNode(g, "Conv", {"x", "cw"}, {"c"}, "conv");
            auto* p = addNode(g, "AveragePool", {"c"}, {"p"}, "avg");
            setInts(p, "kernel_shape", {3, 2});
            setInts(p, "strides", {2, 2});
            setInts(p, "pads", {1, 0, 1, 1});
            setInt(p, "count_include_pad", include);
            setInt(p, "ceil_mode", 1);
            addNode(g, "GlobalAveragePool", {"c"}, {"gp"}, "gap");
            addNode(g, "Flatten", {"gp"}, {"gf"}, "fg");
            addNode(g, "Flatten", {"p"}, {"pf"}, "fp");
            // p: H = ceil((6 + 2 - 3) / 2) + 1 = 4, W = ceil((5 + 1 - 2) / 2) + 1 = 3
            randInit(g, "wp", {36, 4}, rng, 0.3f);
            randInit(g, "wg", {3, 4}, rng, 0.3f);
            addNode(g, "MatMul", {"pf", "wp"}, {"lp"}, "mp");
            addNode(g, "MatMul", {"gf", "wg"}, {"lg"}, "mg");
            addNode(g, "Add", {"lp", "lg"}, {"logits"}, "sum");
            addOutput(g, "logits");
            checkModel(m, "grad_avgpool.onnx", {2, 3, 6, 5}, 4);
        }
    }

    void batchNormTraining()
    {
        std::mt19937_64 rng(9);
        auto m = newModel();
        auto* g = m.mutable_graph();
        addInput(g, "x", {3, 2, 4, 4});
        randInit(g, "cw", {4, 2, 3, 3}, rng);
        randInit(g, "s", {4}, rng, 0.3f, 1.0f);
        randInit(g, "b", {4}, rng, 0.3f);
        randInit(g, "rm", {4}, rng, 0.1f);
        randInit(g, "rv", {4}, rng, 0.1f, 1.0f);
        addNode(g, "Conv", {"x", "cw"}, {"c"}, "conv");
        setFloat(addNode(g, "BatchNormalization", {"c", "s", "b", "rm", "rv"}, {"n"}, "bn"), "momentum", 0.8f);
        addNode(g, "Relu", {"n"}, {"r"}, "relu");
        head(g, "r", 4 * 2 * 2, 3, rng);
        checkModel(m, "grad_bn.onnx", {3, 2, 4, 4}, 3);
    }

    void batchNormRunningStatistics()
    {
        // N=2, C=1, 2 values each: batch mean 2.5, population variance 1.25.
        const float x[4] = {1, 2, 3, 4}, scale[1] = {2}, bias[1] = {1};
        float y[4], mean[1], inv[1], rm[1] = {1}, rv[1] = {2};
        grad::batchNormTrainForward(2, 1, 2, 0.0f, 0.9f, x, scale, bias, y, mean, inv, rm, rv);
        QCOMPARE(mean[0], 2.5f);
        QVERIFY(std::abs(inv[0] - 1.0f / std::sqrt(1.25f)) < 1e-6f);
        QVERIFY(std::abs(rm[0] - (0.9f * 1 + 0.1f * 2.5f)) < 1e-6f);
        QVERIFY(std::abs(rv[0] - (0.9f * 2 + 0.1f * 1.25f)) < 1e-6f);
        QVERIFY(std::abs(y[0] - (1 + 2 * (1 - 2.5f) / std::sqrt(1.25f))) < 1e-5f);
    }

    void reshapeAddResidual()
    {
        std::mt19937_64 rng(10);
        auto m = newModel();
        auto* g = m.mutable_graph();
        addInput(g, "x", {2, 12});
        auto* shape = g->add_initializer();
        shape->set_name("shape");
        shape->set_data_type(onnx::TensorProto::INT64);
        shape->add_dims(4);
        for (int64_t d : {-1, 3, 2, 2})
            shape->add_int64_data(d);
        addNode(g, "Reshape", {"x", "shape"}, {"r"}, "reshape");
        randInit(g, "cw", {3, 3, 1, 1}, rng);
        randInit(g, "cb", {3, 1, 1}, rng);
        addNode(g, "Conv", {"r", "cw"}, {"c"}, "conv");
        addNode(g, "Add", {"c", "r"}, {"res"}, "residual");    // same shape
        addNode(g, "Add", {"res", "cb"}, {"biased"}, "bias"); // broadcast [3,1,1]
        addNode(g, "Identity", {"biased"}, {"id"}, "id");
        head(g, "id", 12, 3, rng);
        checkModel(m, "grad_reshape.onnx", {2, 12}, 3);
    }

    void softTargets()
    {
        // Distillation loss: gradient against finite differences in double.
        std::mt19937_64 rng(11);
        std::normal_distribution<float> nd;
        const int64_t N = 3, K = 4;
        std::vector<float> z(N * K), t(N * K), dz(N * K), scratch(N * K);
        for (auto* v : {&z, &t})
            for (auto& e : *v)
                e = 2 * nd(rng);
        const int64_t labels[3] = {0, 3, 1};
        grad::softmaxCrossEntropy(N, K, z.data(), labels, dz.data(), t.data(), 0.6, 2.5);
        Check c;
        for (size_t i = 0; i < z.size(); ++i) {
            auto p = z, q = z;
            p[i] += 1e-2f;
            q[i] -= 1e-2f;
            const double lp = grad::softmaxCrossEntropy(N, K, p.data(), labels, scratch.data(), t.data(), 0.6, 2.5);
            const double lm = grad::softmaxCrossEntropy(N, K, q.data(), labels, scratch.data(), t.data(), 0.6, 2.5);
            compare(c, "z", i, dz[i], (lp - lm) / 2e-2);
        }
        QVERIFY2(c.failures.isEmpty(), qPrintable(c.failures.join("\n")));
        // Teacher equal to the student: the KL term and its gradient vanish.
        const double ce = grad::softmaxCrossEntropy(N, K, z.data(), labels, dz.data());
        const double mixed = grad::softmaxCrossEntropy(N, K, z.data(), labels, scratch.data(), z.data(), 0.25, 3.0);
        QVERIFY(std::abs(mixed - 0.75 * ce) < 1e-9);
    }

    void unsupported()
    {
        std::mt19937_64 rng(12);
        auto m = newModel();
        auto* g = m.mutable_graph();
        addInput(g, "x", {2, 4});
        randInit(g, "w", {4, 3}, rng);
        addNode(g, "MatMul", {"x", "w"}, {"h"}, "mm");
        addNode(g, "Sigmoid", {"h"}, {"s"}, "sig");
        addNode(g, "Transpose", {"s"}, {"t"}, "tr");
        addNode(g, "Transpose", {"t"}, {"logits"}, "tr2");
        addOutput(g, "logits");
        const auto model = Model::open(save("grad_unsupported.onnx", m));
        const auto ops = Trainer::unsupportedOps(*model);
        QCOMPARE(ops, (std::vector<std::string>{"Sigmoid", "Transpose"}));
        try {
            Trainer tr(*model);
            QFAIL("no error for ops without a backward pass");
        } catch (const Error& e) {
            const QString msg = e.what();
            QVERIFY2(msg.contains("Sigmoid, Transpose"), qPrintable(msg));
        }
    }
};

QTEST_GUILESS_MAIN(TestTrainGrad)
#include "tst_onnx_train_grad.moc"
