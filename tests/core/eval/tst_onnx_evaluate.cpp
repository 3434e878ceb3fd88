// Evaluation: accuracy against a direct computation, incremental = full, cancellation, errors.
#include "onnx_build.h"

#include "bonsai/dataset.h"
#include "bonsai/evaluate.h"
#include "bonsai/recipe.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <random>

using namespace bonsai;
using namespace onnxtest;

namespace {

constexpr int kN = 300, kIn = 16, kHidden = 8, kOut = 3;

std::string be32(uint32_t v)
{
    std::string s(4, '\0');
    for (int i = 0; i < 4; ++i)
        s[static_cast<size_t>(i)] = static_cast<char>((v >> (24 - 8 * i)) & 0xFF);
    return s;
}

} // namespace

class TstOnnxEvaluate : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void referenceMatchesDirectComputation();
    void identityAgreesFully();
    void incrementalEqualsFull();
    void progressiveAndCancel();
    void errors();
    void cliEval();

private:
    std::vector<float> w1_, b1_, w2_, b2_;
    std::vector<uint8_t> pixels_;
    std::vector<uint8_t> labels_;
    std::string model_, images_;
};

void TstOnnxEvaluate::initTestCase()
{
    std::mt19937 rng(5);
    std::normal_distribution<float> g(0.0f, 0.5f);
    auto fill = [&](std::vector<float>& v, size_t n) {
        v.resize(n);
        for (auto& x : v)
            x = g(rng);
    };
    fill(w1_, kHidden * kIn);
    fill(b1_, kHidden);
    fill(w2_, kOut * kHidden);
    fill(b2_, kOut);
    onnx::ModelProto m = newModel("mlp");
    auto* gr = m.mutable_graph();
    addInput(gr, "x", {-1, kIn});
    *gr->add_initializer() = rawFloat("fc1.weight", {kHidden, kIn}, w1_);
    *gr->add_initializer() = rawFloat("fc1.bias", {kHidden}, b1_);
    *gr->add_initializer() = rawFloat("fc2.weight", {kOut, kHidden}, w2_);
    *gr->add_initializer() = rawFloat("fc2.bias", {kOut}, b2_);
    setInt(addNode(gr, "Gemm", {"x", "fc1.weight", "fc1.bias"}, {"h"}, "fc1"), "transB", 1);
    addNode(gr, "Relu", {"h"}, {"r"}, "relu");
    setInt(addNode(gr, "Gemm", {"r", "fc2.weight", "fc2.bias"}, {"logits"}, "fc2"), "transB", 1);
    gr->add_output()->set_name("logits");
    model_ = save("mlp.onnx", m);

    // An IDX data set of 4x4 images with labels beside it under the standard names.
    std::uniform_int_distribution<int> px(0, 255), lab(0, kOut - 1);
    std::string img = be32(0x803) + be32(kN) + be32(4) + be32(4), lb = be32(0x801) + be32(kN);
    for (int i = 0; i < kN * kIn; ++i) {
        pixels_.push_back(static_cast<uint8_t>(px(rng)));
        img += static_cast<char>(pixels_.back());
    }
    for (int i = 0; i < kN; ++i) {
        labels_.push_back(static_cast<uint8_t>(lab(rng)));
        lb += static_cast<char>(labels_.back());
    }
    images_ = testutil::writeTemp("t10k-images-idx3-ubyte", img);
    testutil::writeTemp("t10k-labels-idx1-ubyte", lb);
}

void TstOnnxEvaluate::referenceMatchesDirectComputation()
{
    auto model = Model::open(model_);
    auto data = openDataset(images_);
    Evaluator ev(*model, *data, {});
    const EvalResult r = ev.reference();
    int correct = 0;
    for (int s = 0; s < kN; ++s) {
        float h[kHidden], z[kOut];
        for (int j = 0; j < kHidden; ++j) {
            double acc = b1_[static_cast<size_t>(j)];
            for (int k = 0; k < kIn; ++k)
                acc += w1_[static_cast<size_t>(j * kIn + k)] * (pixels_[static_cast<size_t>(s * kIn + k)] / 255.0);
            h[j] = static_cast<float>(std::max(0.0, acc));
        }
        int best = 0;
        for (int o = 0; o < kOut; ++o) {
            double acc = b2_[static_cast<size_t>(o)];
            for (int j = 0; j < kHidden; ++j)
                acc += w2_[static_cast<size_t>(o * kHidden + j)] * h[j];
            z[o] = static_cast<float>(acc);
            if (z[o] > z[best])
                best = o;
        }
        correct += best == labels_[static_cast<size_t>(s)];
    }
    QCOMPARE(r.samples, static_cast<int64_t>(kN));
    QCOMPARE(r.metrics.top1Correct, static_cast<int64_t>(correct));
    QCOMPARE(r.metrics.top5, 1.0); // 3 classes: always within the top 5
}

void TstOnnxEvaluate::identityAgreesFully()
{
    auto model = Model::open(model_);
    auto data = openDataset(images_);
    Evaluator ev(*model, *data, {});
    const EvalResult r = ev.evaluate(std::vector<LayerConfig>(model->layers.size()));
    QCOMPARE(r.metrics.agreement, 1.0);
    QCOMPARE(r.metrics.meanKl, 0.0);
    QCOMPARE(r.metrics.top1Correct, ev.reference().metrics.top1Correct);
    QCOMPARE(r.compressedBytes, r.originalBytes);
}

void TstOnnxEvaluate::incrementalEqualsFull()
{
    auto model = Model::open(model_);
    auto data = openDataset(images_);
    EvalOptions inc;
    inc.batch = 64;
    EvalOptions full = inc;
    full.incremental = false;
    Evaluator a(*model, *data, inc), b(*model, *data, full);
    std::vector<LayerConfig> cfg(model->layers.size());
    cfg[1] = Recipe::parse(R"({"bonsai_recipe":1,"defaults":{"precision":"int2","granularity":"tensor"}})").resolve("fc2");
    const EvalResult ra = a.evaluate(cfg), rb = b.evaluate(cfg);
    QVERIFY(ra.startNode > 0); // started from the cached boundary of fc2
    QCOMPARE(rb.startNode, size_t(0));
    QCOMPARE(ra.metrics.top1Correct, rb.metrics.top1Correct);
    QCOMPARE(ra.metrics.agree, rb.metrics.agree);
    QCOMPARE(ra.metrics.meanKl, rb.metrics.meanKl);
    QVERIFY(ra.metrics.meanKl > 0);
    QCOMPARE(ra.layerErrors.size(), 1u);
    QCOMPARE(ra.layerErrors[0].layer, std::string("fc2"));
    QVERIFY(std::isfinite(ra.layerErrors[0].sqnrDb));
    QVERIFY(ra.compressedBytes < ra.originalBytes);
    // Changing an earlier layer afterwards starts from the beginning, and still matches.
    cfg[0] = cfg[1];
    const EvalResult ra2 = a.evaluate(cfg), rb2 = b.evaluate(cfg);
    QCOMPARE(ra2.startNode, size_t(0));
    QCOMPARE(ra2.metrics.top1Correct, rb2.metrics.top1Correct);
    QCOMPARE(ra2.metrics.meanKl, rb2.metrics.meanKl);
    QCOMPARE(ra2.layerErrors.size(), 2u);
}

void TstOnnxEvaluate::progressiveAndCancel()
{
    auto model = Model::open(model_);
    auto data = openDataset(images_);
    EvalOptions opt;
    opt.batch = 32;
    opt.quickSamples = 64;
    Evaluator ev(*model, *data, opt);
    std::vector<LayerConfig> cfg(model->layers.size());
    cfg[0] = Recipe::parse(R"({"bonsai_recipe":1,"defaults":{"precision":"int4"}})").resolve("fc1");
    std::vector<int64_t> seen;
    const EvalResult r = ev.evaluate(cfg, {}, [&](const EvalResult& p) {
        QVERIFY(!p.complete);
        seen.push_back(p.samples);
    });
    QVERIFY(!seen.empty());
    QCOMPARE(seen.front(), int64_t(32));
    QVERIFY(std::is_sorted(seen.begin(), seen.end()));
    QCOMPARE(r.samples, static_cast<int64_t>(kN));
    // Cancel and restart many times: each cancel throws, the next full run is unaffected.
    for (int k = 1; k < 12; ++k) {
        int calls = 0;
        QVERIFY_THROWS_EXCEPTION(Cancelled, ev.evaluate(cfg, [&](double) { return ++calls < k; }));
    }
    const EvalResult again = ev.evaluate(cfg);
    QCOMPARE(again.metrics.top1Correct, r.metrics.top1Correct);
    QCOMPARE(again.metrics.meanKl, r.metrics.meanKl);
}

void TstOnnxEvaluate::errors()
{
    auto data = openDataset(images_);
    // A model wanting 3x8x8 images: the 1x4x4 data set cannot fill it.
    onnx::ModelProto m = newModel("conv");
    auto* g = m.mutable_graph();
    addInput(g, "x", {-1, 3, 8, 8});
    addInit(g, "w", {2, 3, 3, 3}, 0.1f);
    addNode(g, "Conv", {"x", "w"}, {"y"});
    g->add_output()->set_name("y");
    auto conv = Model::open(save("conv.onnx", m));
    QVERIFY_THROWS_EXCEPTION(Error, Evaluator(*conv, *data, {}));
    // Unsupported operators are listed.
    onnx::ModelProto u = newModel("odd");
    g = u.mutable_graph();
    addInput(g, "x", {-1, kIn});
    addNode(g, "STFT", {"x"}, {"y"});
    addNode(g, "Einsum", {"y"}, {"z"});
    g->add_output()->set_name("z");
    auto odd = Model::open(save("odd.onnx", u));
    try {
        Evaluator ev(*odd, *data, {});
        QFAIL("no error");
    } catch (const Error& e) {
        const std::string msg = e.what();
        QVERIFY2(msg.find("Einsum") != std::string::npos && msg.find("STFT") != std::string::npos, e.what());
    }
    // Not an ONNX model.
    auto st = Model::open(testutil::writeTemp("x.safetensors", testutil::makeSafetensors(
        {{"w", "F32", {2, 2}, testutil::floatBytes({1, 2, 3, 4})}})));
    QVERIFY_THROWS_EXCEPTION(Error, Evaluator(*st, *data, {}));
}

void TstOnnxEvaluate::cliEval()
{
    const std::string recipe = testutil::writeTemp("eval.json", R"({"bonsai_recipe":1,"defaults":{"precision":"int8"}})");
    auto r = testutil::runCli({QStringLiteral("eval"), QString::fromStdString(model_), QStringLiteral("--dataset"),
                               QString::fromStdString(images_), QStringLiteral("--recipe"),
                               QString::fromStdString(recipe), QStringLiteral("--limit"), QStringLiteral("200"),
                               QStringLiteral("--json")});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    const auto j = nlohmann::json::parse(r.out.toStdString());
    for (const char* k : {"accuracy", "top5", "agreement", "kl", "samples", "seconds", "original_bytes", "compressed_bytes"})
        QVERIFY2(j.contains(k), k);
    QCOMPARE(j["samples"].get<int64_t>(), int64_t(200));
    QVERIFY(j["accuracy"].get<double>() >= 0 && j["accuracy"].get<double>() <= 1);
    QVERIFY(j["compressed_bytes"].get<uint64_t>() < j["original_bytes"].get<uint64_t>());
    // Bad data: a clear error before any work.
    r = testutil::runCli({QStringLiteral("eval"), QString::fromStdString(model_), QStringLiteral("--dataset"),
                          QString::fromStdString(testutil::writeTemp("junk.npz", "not a zip"))});
    QVERIFY(r.exitCode != 0);
    QVERIFY2(r.err.contains("junk.npz"), r.err.constData());
}

QTEST_GUILESS_MAIN(TstOnnxEvaluate)
#include "tst_onnx_evaluate.moc"
