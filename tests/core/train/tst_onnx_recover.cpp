// Recovery after compression (recover.h, bonsai-cli recover) on a small MLP trained by the test
// on a synthetic 4-class data set written as .npy files: QAT beats post-training quantization,
// finetuning keeps pruned weights and removed channels, the distillation loss, lottery-ticket
// sparsity per round, and the CLI.
#include "bonsai/compress.h"
#include "bonsai/error.h"
#include "bonsai/evaluate.h"
#include "bonsai/model.h"
#include "bonsai/npy.h"
#include "bonsai/onnx_write.h"
#include "bonsai/quantize.h"
#include "bonsai/recover.h"
#include "bonsai/sparsity.h"
#include "bonsai/train.h"
#include "onnx_build.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <random>

using namespace bonsai;
using namespace onnxtest;

namespace {

constexpr int64_t kDim = 16, kHidden = 32, kClasses = 4;

// x [N,16] -> Gemm fc1 16->32 -> Relu -> Gemm fc2 32->4 -> logits (random weights).
std::string mlpBytes(uint64_t seed, const std::string& activation = "Relu")
{
    std::string bytes;
    mlpClassifier(seed, kDim, kHidden, kClasses, activation).SerializeToString(&bytes);
    return bytes;
}


struct Fixture {
    std::string modelPath, trainPath, testPath;
    std::unique_ptr<Model> model;
    std::unique_ptr<Dataset> train, test;
};

// The MLP trained (float) on the training clusters, written to a file once per process.
Fixture& fixture()
{
    static Fixture f = [] {
        Fixture x;
        x.trainPath = writeClusters("train", 2048, 1, kDim, kClasses);
        x.testPath = writeClusters("test", 1000, 2, kDim, kClasses);
        auto raw = Model::open(testutil::writeTemp("mlp_init.onnx", mlpBytes(3)));
        x.train = openDataset(x.trainPath);
        x.test = openDataset(x.testPath);
        TrainOptions o;
        o.lr = 1e-2;
        o.batch = 64;
        Trainer tr(*raw, o);
        auto shape = tr.inputShape();
        shape[0] = 1;
        const auto data = TrainData::load(*x.train, shape);
        for (int e = 0; e < 8; ++e)
            tr.trainEpoch(data, e);
        x.modelPath = testutil::tempPath("mlp.onnx");
        writeOnnxWithWeights(*raw, tr.snapshot(), x.modelPath);
        x.model = Model::open(x.modelPath);
        return x;
    }();
    return f;
}

std::vector<LayerConfig> allLayers(const Model& m, const LayerConfig& c) { return std::vector<LayerConfig>(m.layers.size(), c); }

LayerConfig intConfig(int bits, Granularity g)
{
    LayerConfig c;
    c.precision = Precision{PrecisionKind::Int, bits, DType::Q8_0};
    c.granularity = g;
    return c;
}

} // namespace

class TestRecover : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        auto& f = fixture();
        QCOMPARE(f.model->layers.size(), size_t(2));
        const double acc = weightsAccuracy(*f.model, {}, *f.test);
        QVERIFY2(acc > 0.85, qPrintable(QString::number(acc)));
    }

    void methodNames()
    {
        for (auto m : {RecoverMethod::Finetune, RecoverMethod::Qat, RecoverMethod::Distill, RecoverMethod::Lottery})
            QCOMPARE(parseRecoverMethod(recoverMethodName(m)), std::optional<RecoverMethod>(m));
        QVERIFY(!parseRecoverMethod("prune"));
    }

    // The issue's case: INT4 on the shipped demo CNN (Fashion-MNIST from Debian's package),
    // a few hundred seeded QAT steps beat post-training quantization.
    void qatBeatsPtqAtInt4OnTheDemoCnn()
    {
#if defined(__SANITIZE_ADDRESS__)
        QSKIP("real training is too slow under the sanitizers; qatBeatsPostTrainingQuantization covers the code");
#endif
        const std::string demo = BONSAI_DEMO_MODEL;
        if (!std::filesystem::exists(defaultDatasetDir()) || !std::filesystem::exists(demo))
            QSKIP("the Fashion-MNIST data set (dataset-fashion-mnist) is not installed");
        auto model = Model::open(demo);
        DatasetOptions trainOpts, testOpts;
        trainOpts.split = "train";
        const auto train = openDataset(defaultDatasetPath(), trainOpts);
        const auto test = openDataset(defaultDatasetPath(), testOpts);
        const auto configs = allLayers(*model, intConfig(4, Granularity::PerTensor));
        RecoverOptions o;
        o.method = RecoverMethod::Qat;
        o.steps = 200;
        o.epochs = 1;
        o.limit = 200 * 64;
        o.evalEachEpoch = false;
        o.evalLimit = 1000;
        o.lr = 1e-4;
        const auto r = recover(*model, configs, *train, *test, o);
        qInfo("demo CNN, INT4 per tensor on 1000 test images: post-training %.4f, QAT (200 steps) %.4f",
              r.accuracyBefore, r.accuracyAfter);
        QVERIFY2(r.accuracyAfter > r.accuracyBefore,
                 qPrintable(QString("PTQ %1 -> QAT %2").arg(r.accuracyBefore).arg(r.accuracyAfter)));
    }

    void qatBeatsPostTrainingQuantization()
    {
        auto& f = fixture();
        const auto configs = allLayers(*f.model, intConfig(2, Granularity::PerTensor));
        RecoverOptions o;
        o.method = RecoverMethod::Qat;
        o.epochs = 10; // 32 steps each: 320 seeded steps
        o.lr = 3e-3;
        const auto r = recover(*f.model, configs, *f.train, *f.test, o);
        qInfo("INT2 per tensor: post-training %.3f, QAT %.3f", r.accuracyBefore, r.accuracyAfter);
        QVERIFY2(r.accuracyAfter > r.accuracyBefore + 0.05,
                 qPrintable(QString("PTQ %1 -> QAT %2").arg(r.accuracyBefore).arg(r.accuracyAfter)));
        QCOMPARE(r.epochs.size(), size_t(10));
        QCOMPARE(r.epochs.back().testAccuracy, r.accuracyAfter);
        // The result holds INT2 values: at most 3 distinct values per (per-tensor) weight.
        for (const char* w : {"fc1.weight", "fc2.weight"}) {
            std::set<float> distinct(r.weights.at(w).begin(), r.weights.at(w).end());
            QVERIFY2(distinct.size() <= 3, w);
        }
        // Written and read back: the same accuracy.
        const std::string out = testutil::tempPath("qat.onnx");
        writeRecovered(*f.model, r, out);
        auto back = Model::open(out);
        QCOMPARE(weightsAccuracy(*back, {}, *f.test), r.accuracyAfter);
    }

    void qatForwardIsTheCompressedModel()
    {
        // One step of 256 samples with a negligible learning rate: the training forward pass
        // (fake quantization through the weight transform) classifies exactly like the
        // compressed model does.
        auto& f = fixture();
        std::vector<LayerConfig> configs(2);
        configs[0].precision = Precision{PrecisionKind::NF4, 0, DType::Q8_0};
        configs[0].pattern = SparsityPattern::Channels;
        configs[0].sparsity = 0.25;
        configs[1].precision = Precision{PrecisionKind::Ggml, 0, DType::Q4_1};
        configs[1].sparsity = 0.5;
        RecoverOptions o;
        o.method = RecoverMethod::Qat;
        o.batch = 256;
        o.limit = 256;
        o.lr = 1e-30;
        o.evalLimit = 10;
        const auto r = recover(*f.model, configs, *f.train, *f.test, o);
        QCOMPARE(r.epochs.size(), size_t(1));
        EvalOptions eo;
        eo.limit = 256;
        eo.quickSamples = 0;
        Evaluator ev(*f.model, *f.train, eo);
        QCOMPARE(r.epochs[0].trainAccuracy, ev.evaluate(configs).metrics.top1);
        for (int layer = 0; layer < 2; ++layer) {
            std::vector<float> rec;
            compressLayer(*f.model, layer, configs[static_cast<size_t>(layer)], &rec);
            const auto& w = r.weights.at(layer ? "fc2.weight" : "fc1.weight");
            for (size_t i = 0; i < rec.size(); ++i)
                QVERIFY(std::abs(rec[i] - w[i]) <= 1e-6f * (1.0f + std::abs(rec[i])));
        }
    }

    void finetuneKeepsMasksAndRemovedChannels()
    {
        auto& f = fixture();
        std::vector<LayerConfig> configs(2);
        configs[0] = intConfig(8, Granularity::PerChannel);
        configs[0].pattern = SparsityPattern::Channels;
        configs[0].sparsity = 0.25; // 8 of 32 hidden units
        configs[1] = intConfig(8, Granularity::PerChannel);
        configs[1].sparsity = 0.5; // unstructured, 64 of 128
        std::vector<float> rec1;
        const auto l0 = compressLayer(*f.model, 0, configs[0], &rec1);
        QCOMPARE(l0.removedChannels.size(), size_t(8));
        uint64_t rows = 0, cols = 0;
        const auto w1 = layerMatrix(*f.model, f.model->layers[1], rows, cols);
        const auto mask = magnitudeMask(w1.data(), rows, cols, 0.5);

        RecoverOptions o;
        o.method = RecoverMethod::Finetune;
        o.epochs = 2;
        o.lr = 1e-3;
        const auto r = recover(*f.model, configs, *f.train, *f.test, o);
        const std::string out = testutil::tempPath("finetune.onnx");
        writeRecovered(*f.model, r, out);
        auto back = Model::open(out);
        const auto fc1 = back->readFloat(back->findTensor("fc1.weight"));
        const auto b1 = back->readFloat(back->findTensor("fc1.bias"));
        const auto fc2 = back->readFloat(back->findTensor("fc2.weight"));
        const auto orig2 = f.model->readFloat(f.model->findTensor("fc2.weight"));
        for (uint64_t ch : l0.removedChannels) {
            for (int64_t k = 0; k < kDim; ++k)
                QCOMPARE(fc1[ch * kDim + static_cast<uint64_t>(k)], 0.0f);
            QCOMPARE(b1[ch], 0.0f);
        }
        int zeros = 0;
        bool changed = false;
        for (size_t i = 0; i < fc2.size(); ++i) {
            if (!mask[i])
                QCOMPARE(fc2[i], 0.0f);
            zeros += fc2[i] == 0.0f;
            changed |= mask[i] && std::abs(fc2[i] - orig2[i]) > 1e-3f;
        }
        QCOMPARE(zeros, 64);
        QVERIFY(changed); // trained
        // The written weights are what the recipe stores: compressing them again changes nothing.
        for (int layer = 0; layer < 2; ++layer) {
            std::vector<float> again;
            compressLayer(*back, layer, configs[static_cast<size_t>(layer)], &again);
            const auto now = back->readFloat(back->layers[static_cast<size_t>(layer)].weight);
            for (size_t i = 0; i < now.size(); ++i)
                QVERIFY(std::abs(again[i] - now[i]) <= 1e-6f * (1.0f + std::abs(now[i])));
        }
        QCOMPARE(weightsAccuracy(*back, {}, *f.test), r.accuracyAfter);
        qInfo("finetune (int8, channels 25%% / 50%% unstructured): %.3f -> %.3f", r.accuracyBefore, r.accuracyAfter);
        QVERIFY(r.accuracyAfter >= r.accuracyBefore - 0.02);
    }

    void distillationLoss()
    {
        // One step on a batch of 4 with a learning rate too small to move anything: the epoch
        // loss is the loss of the compressed student against the uncompressed teacher.
        auto& f = fixture();
        const LayerConfig c = intConfig(3, Granularity::PerChannel);
        const auto configs = allLayers(*f.model, c);
        RecoverOptions o;
        o.method = RecoverMethod::Distill;
        o.epochs = 1;
        o.batch = 4;
        o.limit = 4;
        o.lr = 1e-30;
        o.alpha = 0.6;
        o.temperature = 3.0;
        o.evalLimit = 10;
        const auto r = recover(*f.model, configs, *f.train, *f.test, o);
        QCOMPARE(r.epochs.size(), size_t(1));
        QCOMPARE(r.epochs[0].steps, int64_t(1));

        // By hand: logits of the float (teacher) and INT3 per-channel (student) MLP.
        const auto w1 = f.model->readFloat(f.model->findTensor("fc1.weight"));
        const auto b1 = f.model->readFloat(f.model->findTensor("fc1.bias"));
        const auto w2 = f.model->readFloat(f.model->findTensor("fc2.weight"));
        const auto b2 = f.model->readFloat(f.model->findTensor("fc2.bias"));
        IntQuantConfig q;
        q.bits = 3;
        q.granularity = Granularity::PerChannel;
        std::vector<float> q1(w1.size()), q2(w2.size());
        fakeQuantInt(w1.data(), kHidden, kDim, q, q1.data());
        fakeQuantInt(w2.data(), kClasses, kHidden, q, q2.data());
        std::vector<float> x(4 * kDim);
        std::vector<int64_t> y(4);
        f.train->fillBatch(0, 4, {1, kDim}, x.data(), y.data());
        auto logits = [&](const std::vector<float>& a, const std::vector<float>& b, int64_t s) {
            std::vector<double> h(kHidden), z(kClasses);
            for (int64_t j = 0; j < kHidden; ++j) {
                double v = b1[static_cast<size_t>(j)];
                for (int64_t k = 0; k < kDim; ++k)
                    v += double(a[static_cast<size_t>(j * kDim + k)]) * x[static_cast<size_t>(s * kDim + k)];
                h[static_cast<size_t>(j)] = std::max(v, 0.0);
            }
            for (int64_t c2 = 0; c2 < kClasses; ++c2) {
                double v = b2[static_cast<size_t>(c2)];
                for (int64_t j = 0; j < kHidden; ++j)
                    v += double(b[static_cast<size_t>(c2 * kHidden + j)]) * h[static_cast<size_t>(j)];
                z[static_cast<size_t>(c2)] = v;
            }
            return z;
        };
        auto logSoftmax = [](const std::vector<double>& z, double t) {
            double mx = *std::max_element(z.begin(), z.end()), s = 0;
            for (double v : z)
                s += std::exp((v - mx) / t);
            std::vector<double> out;
            for (double v : z)
                out.push_back((v - mx) / t - std::log(s));
            return out;
        };
        // loss = mean over the batch of alpha T^2 KL(p_t || p_s) + (1 - alpha) CE(student, label)
        const double T = 3.0, alpha = 0.6;
        double total = 0;
        for (int64_t s = 0; s < 4; ++s) {
            const auto zt = logits(w1, w2, s), zs = logits(q1, q2, s);
            const auto lt = logSoftmax(zt, T), ls = logSoftmax(zs, T), ce = logSoftmax(zs, 1.0);
            double kl = 0;
            for (int64_t c2 = 0; c2 < kClasses; ++c2)
                kl += std::exp(lt[static_cast<size_t>(c2)]) * (lt[static_cast<size_t>(c2)] - ls[static_cast<size_t>(c2)]);
            total += alpha * T * T * kl + (1 - alpha) * -ce[static_cast<size_t>(y[static_cast<size_t>(s)])];
        }
        const double expected = total / 4;
        QVERIFY2(std::abs(r.epochs[0].loss - expected) < 1e-4 * (1 + expected),
                 qPrintable(QString("%1 vs %2").arg(r.epochs[0].loss, 0, 'g', 10).arg(expected, 0, 'g', 10)));
    }

    void distillWithoutTeacherIsQat()
    {
        // alpha = 0 leaves only the cross-entropy of the fake-quantized student: distillation
        // then trains exactly as QAT does (same start, same forward pass, same steps).
        auto& f = fixture();
        std::vector<LayerConfig> configs(2, intConfig(3, Granularity::PerChannel));
        configs[1].sparsity = 0.5;
        RecoverOptions o;
        o.method = RecoverMethod::Qat;
        o.epochs = 2;
        o.lr = 3e-3;
        o.evalEachEpoch = false;
        const auto qat = recover(*f.model, configs, *f.train, *f.test, o);
        o.method = RecoverMethod::Distill;
        o.alpha = 0;
        const auto distill = recover(*f.model, configs, *f.train, *f.test, o);
        QVERIFY(qat.weights == distill.weights);
        QCOMPARE(distill.accuracyAfter, qat.accuracyAfter);
        QVERIFY(qat.accuracyAfter > qat.accuracyBefore);
    }

    void notesSayWhatIsAppliedAfterTraining()
    {
        auto& f = fixture();
        const auto int2 = allLayers(*f.model, intConfig(2, Granularity::PerChannel));
        const std::string after = " quantization is applied after training \u2014 use qat or distill to train through it";
        QCOMPARE(recoverNotes(RecoverMethod::Finetune, int2),
                 std::vector<std::string>{"finetune trains float weights; the recipe's INT2" + after});
        QVERIFY(recoverNotes(RecoverMethod::Qat, int2).empty());
        QVERIFY(recoverNotes(RecoverMethod::Distill, int2).empty());
        std::vector<LayerConfig> mixed = int2;
        mixed[1].precision = Precision{PrecisionKind::NF4, 0, DType::Q8_0};
        mixed[1].rank = 2;
        QCOMPARE(recoverNotes(RecoverMethod::Lottery, mixed),
                 (std::vector<std::string>{"lottery trains float weights; the recipe's INT2 and NF4" + after,
                                           "lottery trains full-rank weights; the recipe's rank reduction is applied "
                                           "after training"}));
        LayerConfig pruned;
        pruned.sparsity = 0.5;
        QVERIFY(recoverNotes(RecoverMethod::Finetune, allLayers(*f.model, pruned)).empty());
        RecoverOptions o;
        o.method = RecoverMethod::Finetune;
        o.steps = 1;
        o.evalLimit = 10;
        QCOMPARE(recover(*f.model, int2, *f.train, *f.test, o).notes, recoverNotes(RecoverMethod::Finetune, int2));
    }

    void lotteryReachesTargetSparsity()
    {
        auto& f = fixture();
        const auto configs = allLayers(*f.model, LayerConfig{});
        RecoverOptions o;
        o.method = RecoverMethod::Lottery;
        o.rounds = 3;
        o.targetSparsity = 0.875;
        o.epochs = 2;
        o.lr = 3e-3;
        o.rewindStep = 5;
        o.evalEachEpoch = false;
        const auto r = recover(*f.model, configs, *f.train, *f.test, o);
        const uint64_t n = kHidden * kDim + kClasses * kHidden;
        QCOMPARE(r.rounds.size(), size_t(3));
        QCOMPARE(r.epochs.size(), size_t(6));
        for (int i = 1; i <= 3; ++i) {
            const auto& rr = r.rounds[static_cast<size_t>(i - 1)];
            const double s = 1.0 - std::pow(1.0 - 0.875, i / 3.0);
            QCOMPARE(rr.round, i);
            QCOMPARE(rr.prunable, n);
            QCOMPARE(rr.pruned, pruneCount(n, s));
            QVERIFY(rr.accuracy > 0.25 && rr.accuracy <= 1.0);
        }
        for (const auto& rr : r.rounds)
            qInfo("lottery round %d: sparsity %.4f, accuracy %.3f", rr.round, rr.sparsity, rr.accuracy);
        QCOMPARE(r.rounds.back().pruned, uint64_t(n / 8 * 7));
        QCOMPARE(r.rounds.back().accuracy, r.accuracyAfter);
        uint64_t zeros = 0;
        for (const char* w : {"fc1.weight", "fc2.weight"})
            for (float v : r.weights.at(w))
                zeros += v == 0.0f;
        QCOMPARE(zeros, uint64_t(n / 8 * 7));
    }

    void errors()
    {
        auto& f = fixture();
        RecoverOptions o;
        o.method = RecoverMethod::Lottery;
        o.targetSparsity = 1.0;
        QVERIFY_THROWS_EXCEPTION(Error, recover(*f.model, allLayers(*f.model, {}), *f.train, *f.test, o));
        o = {};
        QVERIFY_THROWS_EXCEPTION(Error, recover(*f.model, {}, *f.train, *f.test, o)); // no configs
        // A GGUF block type on rows of 16 values does not fit.
        LayerConfig g;
        g.precision = Precision{PrecisionKind::Ggml, 0, DType::Q8_0};
        QVERIFY_THROWS_EXCEPTION(Error, recover(*f.model, allLayers(*f.model, g), *f.train, *f.test, o));
        // An op without a backward pass: the error names it.
        auto sig = Model::open(testutil::writeTemp("mlp_sigmoid.onnx", mlpBytes(3, "Sigmoid")));
        try {
            recover(*sig, allLayers(*sig, intConfig(4, Granularity::PerTensor)), *f.train, *f.test, o);
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("Sigmoid"), e.what());
        }
    }

    void progressAndCancel()
    {
        auto& f = fixture();
        RecoverOptions o;
        o.method = RecoverMethod::Finetune;
        o.epochs = 2;
        o.evalLimit = 50;
        std::vector<double> seen;
        recover(*f.model, allLayers(*f.model, intConfig(4, Granularity::PerChannel)), *f.train, *f.test, o,
                [&](double p) { seen.push_back(p); return true; });
        QCOMPARE(seen.size(), size_t(64)); // 2 epochs of 32 steps
        QVERIFY(std::is_sorted(seen.begin(), seen.end()));
        QCOMPARE(seen.back(), 1.0);
        int calls = 0;
        QVERIFY_THROWS_EXCEPTION(Cancelled, recover(*f.model, allLayers(*f.model, intConfig(4, Granularity::PerChannel)),
                                                    *f.train, *f.test, o, [&](double) { return ++calls < 5; }));
        QCOMPARE(calls, 5);
    }

    void cli()
    {
        auto& f = fixture();
        const std::string recipe = testutil::writeTemp(
            "int2.json", R"({"bonsai_recipe": 1, "defaults": {"precision": "int2", "granularity": "tensor"}})");
        const std::string out = testutil::tempPath("cli_qat.onnx");
        auto r = testutil::runCli({"recover", QString::fromStdString(f.modelPath), "--recipe",
                                   QString::fromStdString(recipe), "--method", "qat", "--epochs", "3", "--lr", "0.003",
                                   "--dataset", QString::fromStdString(f.trainPath), "--test-dataset",
                                   QString::fromStdString(f.testPath), "--out", QString::fromStdString(out), "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto j = nlohmann::json::parse(r.out.toStdString());
        for (const char* k : {"method", "accuracy_before", "accuracy_after", "epochs", "rounds", "seconds", "out"})
            QVERIFY2(j.contains(k), k);
        QCOMPARE(j["method"].get<std::string>(), std::string("qat"));
        QCOMPARE(j["epochs"].size(), size_t(3));
        QVERIFY(j["accuracy_after"].get<double>() > j["accuracy_before"].get<double>());
        QCOMPARE(j["out"].get<std::string>(), out);
        auto back = Model::open(out);
        QCOMPARE(weightsAccuracy(*back, {}, *f.test), j["accuracy_after"].get<double>());

        QVERIFY(j["notes"].empty());
        // Finetune says that the INT2 quantization is applied after training only.
        const std::vector<std::string> notes = recoverNotes(RecoverMethod::Finetune, allLayers(*f.model, intConfig(2, Granularity::PerTensor)));
        QCOMPARE(notes.size(), size_t(1));
        const QStringList common = {"recover", QString::fromStdString(f.modelPath), "--recipe",
                                    QString::fromStdString(recipe), "--method", "finetune", "--steps", "1",
                                    "--eval-limit", "10", "--dataset", QString::fromStdString(f.trainPath),
                                    "--out", QString::fromStdString(out)};
        r = testutil::runCli(common + QStringList{"--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QCOMPARE(nlohmann::json::parse(r.out.toStdString())["notes"].get<std::vector<std::string>>(), notes);
        r = testutil::runCli(common);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY2(r.out.contains(QByteArray::fromStdString("note: " + notes[0] + "\n")), r.out.constData());

        // Errors: unknown method, non-ONNX model, missing --out.
        r = testutil::runCli({"recover", QString::fromStdString(f.modelPath), "--recipe", QString::fromStdString(recipe),
                              "--method", "prune", "--out", QString::fromStdString(out)});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("unknown method 'prune'"), r.err.constData());
        const std::string st = testutil::writeTemp(
            "w.safetensors", testutil::makeSafetensors({{"fc.weight", "F32", {2, 2}, testutil::floatBytes({1, 2, 3, 4})}}));
        r = testutil::runCli({"recover", QString::fromStdString(st), "--recipe", QString::fromStdString(recipe),
                              "--method", "qat", "--dataset", QString::fromStdString(f.trainPath), "--out",
                              QString::fromStdString(out)});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains("ONNX"), r.err.constData());
        r = testutil::runCli({"recover", QString::fromStdString(f.modelPath), "--method", "qat"});
        QVERIFY(r.exitCode != 0);
    }
};

QTEST_APPLESS_MAIN(TestRecover)
#include "tst_onnx_recover.moc"
