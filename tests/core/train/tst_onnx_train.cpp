// Training engine: short seeded runs whose loss falls (Adam, SGD), determinism, masks kept
// through training, weight transforms, rewinding, distillation, the ONNX write-back and the
// demo CNN; errors about a node name the model file and the node.
#include "bonsai/error.h"
#include "bonsai/model.h"
#include "bonsai/onnx_exec.h"
#include "bonsai/onnx_write.h"
#include "bonsai/train.h"
#include "bonsai/train_demo.h"
#include "onnx_build.h"
#include "bonsai/readers.h"

#include <QtTest>

#include <cmath>
#include <random>

using namespace bonsai;
using namespace onnxtest;

namespace {

void randInit(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims,
              std::mt19937_64& rng, float scale, float offset = 0.0f)
{
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> v(count(dims));
    for (auto& x : v)
        x = offset + (scale > 0 ? scale * nd(rng) : 0.0f);
    *g->add_initializer() = rawFloat(name, dims, v);
}

// x [N,1,8,8] -> Conv 1->4 3x3 pad 1 -> BN -> Relu -> MaxPool 2 -> Flatten -> Gemm 64->3.
std::unique_ptr<Model> smallCnn()
{
    std::mt19937_64 rng(42);
    auto m = newModel();
    auto* g = m.mutable_graph();
    addInput(g, "x", {-1, 1, 8, 8});
    randInit(g, "conv.w", {4, 1, 3, 3}, rng, 0.47f);
    randInit(g, "conv.b", {4}, rng, 0.0f);
    randInit(g, "bn.s", {4}, rng, 0.0f, 1.0f);
    randInit(g, "bn.b", {4}, rng, 0.0f);
    randInit(g, "bn.m", {4}, rng, 0.0f);
    randInit(g, "bn.v", {4}, rng, 0.0f, 1.0f);
    randInit(g, "fc.w", {3, 64}, rng, 0.18f);
    randInit(g, "fc.b", {3}, rng, 0.0f);
    setInts(addNode(g, "Conv", {"x", "conv.w", "conv.b"}, {"c"}, "conv"), "pads", {1, 1, 1, 1});
    addNode(g, "BatchNormalization", {"c", "bn.s", "bn.b", "bn.m", "bn.v"}, {"n"}, "bn");
    addNode(g, "Relu", {"n"}, {"r"}, "relu");
    auto* p = addNode(g, "MaxPool", {"r"}, {"p"}, "pool");
    setInts(p, "kernel_shape", {2, 2});
    setInts(p, "strides", {2, 2});
    addNode(g, "Flatten", {"p"}, {"f"}, "flatten");
    setInt(addNode(g, "Gemm", {"f", "fc.w", "fc.b"}, {"logits"}, "fc"), "transB", 1);
    g->add_output()->set_name("logits");
    return Model::open(save("train_small_cnn.onnx", m));
}

// 3 classes of 8x8 images: a bright row band, column band or diagonal, plus noise.
TrainData synthetic(int64_t n, uint64_t seed)
{
    TrainData d;
    d.sampleShape = {1, 8, 8};
    d.size = n;
    d.x.resize(static_cast<size_t>(n * 64));
    d.labels.resize(static_cast<size_t>(n));
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> nd(0.0f, 0.4f);
    for (int64_t i = 0; i < n; ++i) {
        const int64_t c = static_cast<int64_t>(rng() % 3), at = static_cast<int64_t>(rng() % 6) + 1;
        d.labels[static_cast<size_t>(i)] = c;
        for (int64_t y = 0; y < 8; ++y)
            for (int64_t x = 0; x < 8; ++x) {
                const bool on = c == 0 ? y == at : c == 1 ? x == at : x == y;
                d.x[static_cast<size_t>(i * 64 + y * 8 + x)] = (on ? 1.0f : 0.0f) + nd(rng);
            }
    }
    return d;
}

} // namespace

class TestTrain : public QObject {
    Q_OBJECT
private slots:
    // Softmax regression (Gemm 4 -> 3) on 5 fixed samples, three steps on the same batch, each
    // worked out here: loss = mean_n (logsumexp(z_n) - z_n[y_n]), dL/dW = (P - Y)^T X / N,
    // dL/db = mean_n (p_n - y_n); SGD with momentum and L2 weight decay on W (not b), and Adam
    // with bias correction. The trainer's returned losses and weights must match.
    void firstStepsByHand_data()
    {
        QTest::addColumn<bool>("adam");
        QTest::newRow("sgd, momentum 0.9, weight decay 0.05") << false;
        QTest::newRow("adam") << true;
    }

    void firstStepsByHand()
    {
        QFETCH(bool, adam);
        constexpr int N = 5, F = 4, C = 3;
        std::vector<double> w = {0.2, -0.1, 0.05, 0.3, -0.25, 0.15, 0.1, -0.05, 0.0, 0.2, -0.3, 0.1}, b = {0.1, -0.2, 0.05};
        const std::vector<float> x = {1.0f, 0.5f, -0.3f, 0.2f, -0.4f, 1.2f, 0.7f, -1.0f, 0.3f, -0.8f, 0.9f, 0.4f,
                                      -1.1f, 0.2f, 0.1f, 0.6f, 0.5f, 0.5f, -0.6f, -0.2f};
        const std::vector<int64_t> y = {0, 1, 2, 1, 0};
        auto m = newModel();
        auto* g = m.mutable_graph();
        addInput(g, "x", {-1, F});
        *g->add_initializer() = rawFloat("fc.w", {C, F}, std::vector<float>(w.begin(), w.end()));
        *g->add_initializer() = rawFloat("fc.b", {C}, std::vector<float>(b.begin(), b.end()));
        setInt(addNode(g, "Gemm", {"x", "fc.w", "fc.b"}, {"logits"}, "fc"), "transB", 1);
        g->add_output()->set_name("logits");
        const auto model = Model::open(save("train_softmax_regression.onnx", m));
        TrainOptions o;
        o.optimizer = adam ? TrainOptions::Optimizer::Adam : TrainOptions::Optimizer::Sgd;
        o.lr = adam ? 0.01 : 0.1;
        o.weightDecay = adam ? 0.0 : 0.05;
        Trainer tr(*model, o);
        std::vector<double> mw(w.size()), vw(w.size()), mb(b.size()), vb(b.size());
        for (int t = 1; t <= 3; ++t) {
            double loss = 0;
            std::vector<double> gw(w.size()), gb(b.size());
            for (int n = 0; n < N; ++n) {
                double z[C], mx = -1e300, sum = 0;
                for (int c = 0; c < C; ++c) {
                    z[c] = b[size_t(c)];
                    for (int f = 0; f < F; ++f)
                        z[c] += w[size_t(c * F + f)] * x[size_t(n * F + f)];
                    mx = std::max(mx, z[c]);
                }
                for (double v : z)
                    sum += std::exp(v - mx);
                loss += (mx + std::log(sum) - z[y[size_t(n)]]) / N;
                for (int c = 0; c < C; ++c) {
                    const double d = (std::exp(z[c] - mx) / sum - (c == y[size_t(n)] ? 1.0 : 0.0)) / N;
                    gb[size_t(c)] += d;
                    for (int f = 0; f < F; ++f)
                        gw[size_t(c * F + f)] += d * x[size_t(n * F + f)];
                }
            }
            auto update = [&](std::vector<double>& p, std::vector<double>& grad, std::vector<double>& m1,
                              std::vector<double>& m2, double decay) {
                for (size_t i = 0; i < p.size(); ++i) {
                    if (adam) {
                        m1[i] = 0.9 * m1[i] + 0.1 * grad[i];
                        m2[i] = 0.999 * m2[i] + 0.001 * grad[i] * grad[i];
                        const double mh = m1[i] / (1 - std::pow(0.9, t)), vh = m2[i] / (1 - std::pow(0.999, t));
                        p[i] -= o.lr * mh / (std::sqrt(vh) + 1e-8);
                    } else {
                        m1[i] = 0.9 * m1[i] + grad[i] + decay * p[i];
                        p[i] -= o.lr * m1[i];
                    }
                }
            };
            update(w, gw, mw, vw, o.weightDecay);
            update(b, gb, mb, vb, 0.0);
            const double got = tr.step({x.data(), y.data(), N});
            QVERIFY2(std::abs(got - loss) < 1e-6, qPrintable(QStringLiteral("step %1: loss %2, by hand %3").arg(t).arg(got).arg(loss)));
            const auto& tw = tr.value("fc.w");
            const auto& tb = tr.value("fc.b");
            for (size_t i = 0; i < w.size(); ++i)
                QVERIFY2(std::abs(tw[i] - w[i]) < 1e-6, qPrintable(QStringLiteral("step %1 fc.w[%2]: %3, by hand %4").arg(t).arg(i).arg(tw[i]).arg(w[i])));
            for (size_t i = 0; i < b.size(); ++i)
                QVERIFY2(std::abs(tb[i] - b[i]) < 1e-6, qPrintable(QStringLiteral("step %1 fc.b[%2]: %3, by hand %4").arg(t).arg(i).arg(tb[i]).arg(b[i])));
        }
        QCOMPARE(tr.steps(), int64_t(3));
    }

    void adamLossFalls()
    {
        auto model = smallCnn();
        TrainOptions o;
        o.batch = 16;
        o.lr = 1e-2;
        Trainer tr(*model, o);
        QCOMPARE(tr.parameterNames(), (std::vector<std::string>{"conv.w", "conv.b", "bn.s", "bn.b", "fc.w", "fc.b"}));
        QCOMPARE(tr.bufferNames(), (std::vector<std::string>{"bn.m", "bn.v"}));
        const auto data = synthetic(240, 1);
        const auto first = tr.trainEpoch(data, 0);
        EpochResult last;
        for (int e = 1; e < 6; ++e)
            last = tr.trainEpoch(data, e);
        QVERIFY2(last.loss < 0.5 * first.loss, qPrintable(QString("loss %1 -> %2").arg(first.loss).arg(last.loss)));
        QVERIFY2(last.accuracy > 0.85, qPrintable(QString::number(last.accuracy)));
        QCOMPARE(tr.steps(), 6 * 15);
        // Inference mode on held-out data.
        const auto test = synthetic(90, 2);
        const auto logits = tr.predict(test.x.data(), test.size);
        int correct = 0;
        for (int64_t i = 0; i < test.size; ++i) {
            const float* r = logits.data() + i * 3;
            correct += std::max_element(r, r + 3) - r == test.labels[static_cast<size_t>(i)];
        }
        QVERIFY2(correct >= 70, qPrintable(QString::number(correct)));
    }

    void sgdLossFallsAndIsDeterministic()
    {
        auto model = smallCnn();
        TrainOptions o;
        o.optimizer = TrainOptions::Optimizer::Sgd;
        o.lr = 0.05;
        o.momentum = 0.9;
        o.weightDecay = 1e-4;
        o.batch = 20;
        o.seed = 7;
        const auto data = synthetic(200, 3);
        WeightMap runs[2];
        double losses[2][2] = {};
        for (int r = 0; r < 2; ++r) {
            Trainer tr(*model, o);
            losses[r][0] = tr.trainEpoch(data, 0).loss;
            for (int e = 1; e < 4; ++e)
                losses[r][1] = tr.trainEpoch(data, e).loss;
            runs[r] = tr.snapshot();
        }
        QVERIFY(losses[0][1] < 0.6 * losses[0][0]);
        QCOMPARE(losses[0][0], losses[1][0]);
        QCOMPARE(losses[0][1], losses[1][1]);
        QVERIFY(runs[0] == runs[1]);
        // Another seed, another order.
        o.seed = 8;
        Trainer other(*model, o);
        other.trainEpoch(data, 0);
        QVERIFY(other.snapshot() != runs[0]);
    }

    void masksStayZero()
    {
        auto model = smallCnn();
        TrainOptions o;
        o.batch = 16;
        o.lr = 1e-2;
        Trainer tr(*model, o);
        std::vector<uint8_t> keep(64 * 3, 1);
        for (size_t i = 0; i < keep.size(); i += 2)
            keep[i] = 0;
        tr.setMask("fc.w", keep);
        tr.maskChannels("conv.w", {2});
        QVERIFY(tr.mask("conv.b") && tr.mask("bn.s") && tr.mask("bn.b"));
        const auto data = synthetic(160, 4);
        for (int e = 0; e < 3; ++e)
            tr.trainEpoch(data, e);
        const auto& fc = tr.value("fc.w");
        for (size_t i = 0; i < fc.size(); ++i)
            QVERIFY(keep[i] ? fc[i] != 0.0f : fc[i] == 0.0f);
        const auto& cw = tr.value("conv.w");
        for (size_t i = 0; i < cw.size(); ++i)
            QCOMPARE(cw[i] == 0.0f, i / 9 == 2);
        QCOMPARE(tr.value("conv.b")[2], 0.0f);
        QCOMPARE(tr.value("bn.s")[2], 0.0f);
        QCOMPARE(tr.value("bn.b")[2], 0.0f);
        QVERIFY(tr.value("bn.s")[1] != 0.0f);
        // A removed channel contributes nothing: the pooled feature map of channel 2 is zero.
        const auto logits = tr.predict(data.x.data(), 4);
        QCOMPARE(logits.size(), size_t(12));
        // setValue re-applies the mask.
        tr.setValue("fc.w", std::vector<float>(fc.size(), 1.0f));
        QCOMPARE(tr.value("fc.w")[0], 0.0f);
        QCOMPARE(tr.value("fc.w")[1], 1.0f);
    }

    void weightTransformRewindDistill()
    {
        auto model = smallCnn();
        TrainOptions o;
        o.batch = 16;
        o.lr = 1e-2;
        o.distillAlpha = 0.5;
        o.temperature = 2.0;
        Trainer tr(*model, o);
        const WeightMap start = tr.snapshot();
        int calls = 0;
        // Fake quantization to multiples of 1/8 in the forward pass; straight-through backward.
        tr.setWeightTransform([&](const std::string&, const std::vector<int64_t>&, const float* latent,
                                  float* forward, size_t n) {
            ++calls;
            for (size_t i = 0; i < n; ++i)
                forward[i] = std::round(latent[i] * 8.0f) / 8.0f;
        });
        const auto data = synthetic(64, 5);
        std::vector<float> teacher(static_cast<size_t>(16 * 3), 0.0f);
        TrainBatch b{data.x.data(), data.labels.data(), 16, teacher.data()};
        const double l0 = tr.step(b);
        QVERIFY(std::isfinite(l0));
        QCOMPARE(calls, 6);
        double l = l0;
        for (int k = 0; k < 30; ++k)
            l = tr.step(b);
        QVERIFY2(l < l0, qPrintable(QString("%1 -> %2").arg(l0).arg(l)));
        // Latent weights are not rounded.
        bool offGrid = false;
        for (float v : tr.value("fc.w"))
            offGrid |= std::abs(v * 8.0f - std::round(v * 8.0f)) > 1e-3f;
        QVERIFY(offGrid);
        QVERIFY(tr.snapshot() != start);
        tr.restore(start);
        tr.resetOptimizer();
        QVERIFY(tr.snapshot() == start);
        QCOMPARE(tr.steps(), 0);
    }

    void writeBack()
    {
        auto model = smallCnn();
        TrainOptions o;
        o.batch = 32;
        o.lr = 1e-2;
        Trainer tr(*model, o);
        const auto data = synthetic(128, 6);
        tr.trainEpoch(data, 0);
        const std::string path = testutil::tempPath("train_written.onnx");
        writeOnnxWithWeights(*model, tr.snapshot(), path);
        const auto back = Model::open(path);
        QCOMPARE(back->tensors.size(), model->tensors.size());
        for (const auto& [name, v] : tr.snapshot()) {
            const int t = back->findTensor(name);
            QVERIFY(t >= 0);
            QVERIFY2(back->readFloat(t) == v, name.c_str());
        }
        // Running statistics moved away from their initial 0 / 1 and were written.
        QVERIFY(back->readFloat(back->findTensor("bn.m")) != std::vector<float>(4, 0.0f));
        QVERIFY(back->readFloat(back->findTensor("bn.v")) != std::vector<float>(4, 1.0f));
        // The executor on the written model gives the trainer's inference-mode logits.
        OnnxExecutor ex(*back);
        Value x = Value::floats({8, 1, 8, 8}, std::vector<float>(data.x.begin(), data.x.begin() + 8 * 64));
        const auto y = ex.run({x});
        const auto p = tr.predict(data.x.data(), 8);
        QCOMPARE(y.at(0).f.size(), p.size());
        for (size_t i = 0; i < p.size(); ++i)
            QVERIFY(std::abs(y[0].f[i] - p[i]) <= 1e-5f * (1 + std::abs(p[i])));
        // Errors: an unknown name, a wrong size.
        WeightMap bad{{"nope", {1.0f}}};
        QVERIFY_THROWS_EXCEPTION(Error, onnxBytesWithWeights(*model, bad));
        WeightMap wrong{{"fc.b", {1.0f}}};
        QVERIFY_THROWS_EXCEPTION(Error, onnxBytesWithWeights(*model, wrong));
    }

    void demoModel()
    {
        const std::string bytes = fashionCnnOnnx(5);
        QCOMPARE(fashionCnnOnnx(5), bytes);
        QVERIFY(fashionCnnOnnx(6) != bytes);
        auto model = readOnnxBytes(bytes);
        QCOMPARE(model->totalParams(), uint64_t(225130 + 2 * (32 + 64)));
        QCOMPARE(model->layers.size(), size_t(4));
        TrainOptions o;
        o.batch = 8;
        Trainer tr(*model, o);
        QCOMPARE(tr.parameterNames().size(), size_t(10));
        QCOMPARE(tr.inputShape(), (std::vector<int64_t>{-1, 1, 28, 28}));
        std::vector<float> x(8 * 784);
        std::mt19937_64 rng(1);
        for (auto& v : x)
            v = static_cast<float>(rng() % 256) / 255.0f;
        std::vector<int64_t> labels{0, 1, 2, 3, 4, 5, 6, 7};
        TrainBatch b{x.data(), labels.data(), 8, nullptr};
        const double l0 = tr.step(b);
        QVERIFY(l0 > 0.5 && l0 < 10);
        for (int k = 0; k < 10; ++k)
            tr.step(b);
        QVERIFY(tr.forwardBackward(b) < l0);
        QCOMPARE(tr.predict(x.data(), 3).size(), size_t(30));
    }

    void errors()
    {
        auto model = smallCnn();
        TrainOptions o;
        o.batch = 0;
        QVERIFY_THROWS_EXCEPTION(Error, Trainer(*model, o));
        Trainer tr(*model);
        QVERIFY_THROWS_EXCEPTION(Error, tr.setMask("fc.w", {1, 0}));
        QVERIFY_THROWS_EXCEPTION(Error, tr.setMask("bn.m", std::vector<uint8_t>(4, 1))); // a buffer
        QVERIFY_THROWS_EXCEPTION(Error, tr.maskChannels("conv.w", {9}));
        std::vector<float> x(64, 0.5f);
        int64_t label = 3; // 3 classes
        TrainBatch b{x.data(), &label, 1, nullptr};
        QVERIFY_THROWS_EXCEPTION(Error, tr.step(b));
    }

    // A Pad before opset 11 has a `pads` attribute (negative crops), not a window: it trains.
    // The trainer read window attributes from every node, and refused it naming only the
    // attribute ("attribute 'pads' value -1 is outside [0, ...]").
    void legacyPadAttribute()
    {
        std::mt19937_64 rng(3);
        auto m = newModel();
        m.mutable_opset_import(0)->set_version(10);
        auto* g = m.mutable_graph();
        addInput(g, "x", {-1, 1, 8, 8});
        randInit(g, "fc.w", {64, 3}, rng, 0.1f);
        setInts(addNode(g, "Pad", {"x"}, {"p"}, "crop"), "pads", {0, 0, -1, -1, 0, 0, 1, 1});
        addNode(g, "Flatten", {"p"}, {"f"}, "flatten");
        addNode(g, "MatMul", {"f", "fc.w"}, {"logits"}, "fc");
        g->add_output()->set_name("logits");
        const auto model = Model::open(save("train_legacy_pad.onnx", m));
        Trainer tr(*model);
        std::vector<float> x(2 * 64, 0.25f);
        int64_t labels[2] = {0, 2};
        QVERIFY(std::isfinite(tr.step(TrainBatch{x.data(), labels, 2, nullptr})));
    }

    // An error of a node's backward pass names the model file and the node, as the executor's.
    void errorsNameFileAndNode()
    {
        std::mt19937_64 rng(4);
        auto m = newModel();
        auto* g = m.mutable_graph();
        addInput(g, "x", {-1, 2, 4});
        randInit(g, "w", {1, 4, 3}, rng, 0.1f); // batch dim 1 against the input's N: no backward
        addNode(g, "MatMul", {"x", "w"}, {"y"}, "mm");
        addNode(g, "Flatten", {"y"}, {"logits"}, "flatten");
        g->add_output()->set_name("logits");
        const std::string path = save("train_broadcast_matmul.onnx", m);
        const auto model = Model::open(path);
        Trainer tr(*model);
        std::vector<float> x(2 * 8, 0.5f);
        int64_t labels[2] = {1, 5};
        try {
            tr.step(TrainBatch{x.data(), labels, 2, nullptr});
            QFAIL("the broadcast MatMul trained");
        } catch (const FileError& e) {
            const QString msg = QString::fromUtf8(e.what());
            QVERIFY2(msg.startsWith(QString::fromStdString(path + ": training: backward of node 'mm' (MatMul): ")),
                     qPrintable(msg));
        }
    }
};

QTEST_GUILESS_MAIN(TestTrain)
#include "tst_onnx_train.moc"
