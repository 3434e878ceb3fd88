// Evaluation: accuracy against a direct computation, incremental = full, cancellation, errors;
// a compressed run's top-1, agreement, KL and per-layer output SQNR (library and CLI) against
// the same numbers computed here by hand from weights quantized by the documented rule.
#include "onnx_build.h"

#include "bonsai/dataset.h"
#include "bonsai/evaluate.h"
#include "bonsai/recipe.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <algorithm>
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

// Nearest FP16 value (ties to even) of a positive normal-range x, by rounding the mantissa to
// 11 significant bits.
double fp16Round(double x)
{
    int e = 0;
    const double m = std::frexp(x, &e); // x = m * 2^e, m in [0.5, 1)
    return std::ldexp(std::nearbyint(std::ldexp(m, 11)), e - 11);
}

// Symmetric integer fake quantization as core/include/bonsai/quantize.h defines it, by hand:
// scale = fp16(max|w| / qmax) over a row (perChannel) or the whole matrix; q = clamp(round(w /
// scale), -qmax, qmax) with ties to even; w' = q * scale.
std::vector<float> handQuant(const std::vector<float>& w, int rows, int cols, int bits, bool perChannel)
{
    const double qmax = (1 << (bits - 1)) - 1;
    std::vector<float> out(w.size());
    auto absMax = [&](int r0, int r1) {
        double m = 0;
        for (int i = r0 * cols; i < r1 * cols; ++i)
            m = std::max(m, double(std::fabs(w[size_t(i)])));
        return m;
    };
    for (int r = 0; r < rows; ++r) {
        const float scale = float(fp16Round(perChannel ? absMax(r, r + 1) / qmax : absMax(0, rows) / qmax));
        for (int c = 0; c < cols; ++c) {
            const size_t i = size_t(r * cols + c);
            const double q = std::clamp(std::nearbyint(double(w[i] / scale)), -qmax, qmax);
            out[i] = float(q * scale);
        }
    }
    return out;
}

// What evaluate() reports, computed in double from the given weights: top-1 correct, agreement
// with and mean KL(p_ref || p) against the uncompressed model over the first n samples, and the
// output SQNR of fc1 (its Gemm's output, before the ReLU) and of fc2 over the first batch.
struct HandEval {
    int correct = 0, agree = 0;
    double meanKl = 0, sqnrFc1 = 0, sqnrFc2 = 0;
};

} // namespace

class TstOnnxEvaluate : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void referenceMatchesDirectComputation();
    void identityAgreesFully();
    void incrementalEqualsFull();
    void progressiveAndCancel();
    void compressedMatchesHandComputation();
    void errors();
    void cliEval();

private:
    // Hidden pre-activations and logits of sample s with weights w1, w2.
    void forward(int s, const std::vector<float>& w1, const std::vector<float>& w2, double* h, double* z) const;
    HandEval handEval(const std::vector<float>& w1q, const std::vector<float>& w2q, int n, int batch) const;

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

void TstOnnxEvaluate::forward(int s, const std::vector<float>& w1, const std::vector<float>& w2, double* h,
                              double* z) const
{
    double r[kHidden];
    for (int j = 0; j < kHidden; ++j) {
        double acc = b1_[size_t(j)];
        for (int k = 0; k < kIn; ++k)
            acc += double(w1[size_t(j * kIn + k)]) * (pixels_[size_t(s * kIn + k)] / 255.0);
        h[j] = acc;
        r[j] = std::max(0.0, acc);
    }
    for (int o = 0; o < kOut; ++o) {
        double acc = b2_[size_t(o)];
        for (int j = 0; j < kHidden; ++j)
            acc += double(w2[size_t(o * kHidden + j)]) * r[j];
        z[o] = acc;
    }
}

HandEval TstOnnxEvaluate::handEval(const std::vector<float>& w1q, const std::vector<float>& w2q, int n, int batch) const
{
    HandEval e;
    double sig1 = 0, err1 = 0, sig2 = 0, err2 = 0;
    auto argmax = [](const double* z) { return int(std::max_element(z, z + kOut) - z); };
    auto logSoftmax = [](const double* z, double* lp) {
        const double mx = *std::max_element(z, z + kOut);
        double sum = 0;
        for (int o = 0; o < kOut; ++o)
            sum += std::exp(z[o] - mx);
        for (int o = 0; o < kOut; ++o)
            lp[o] = z[o] - mx - std::log(sum);
    };
    for (int s = 0; s < n; ++s) {
        double h[kHidden], z[kOut], hq[kHidden], zq[kOut], lp[kOut], lq[kOut];
        forward(s, w1_, w2_, h, z);
        forward(s, w1q, w2q, hq, zq);
        e.correct += argmax(zq) == labels_[size_t(s)];
        e.agree += argmax(zq) == argmax(z);
        logSoftmax(z, lp);
        logSoftmax(zq, lq);
        for (int o = 0; o < kOut; ++o)
            e.meanKl += std::exp(lp[o]) * (lp[o] - lq[o]) / n;
        if (s < batch) {
            for (int j = 0; j < kHidden; ++j)
                sig1 += h[j] * h[j], err1 += (h[j] - hq[j]) * (h[j] - hq[j]);
            for (int o = 0; o < kOut; ++o)
                sig2 += z[o] * z[o], err2 += (z[o] - zq[o]) * (z[o] - zq[o]);
        }
    }
    e.sqnrFc1 = 10 * std::log10(sig1 / err1);
    e.sqnrFc2 = 10 * std::log10(sig2 / err2);
    return e;
}

void TstOnnxEvaluate::compressedMatchesHandComputation()
{
    // fc1 INT4 per channel, fc2 INT3 per tensor; batches of 100, so the SQNR covers samples 0-99.
    auto model = Model::open(model_);
    auto data = openDataset(images_);
    EvalOptions opt;
    opt.batch = 100;
    Evaluator ev(*model, *data, opt);
    std::vector<LayerConfig> cfg(model->layers.size());
    cfg[0] = Recipe::parse(R"({"bonsai_recipe":1,"defaults":{"precision":"int4","granularity":"channel"}})").resolve("fc1");
    cfg[1] = Recipe::parse(R"({"bonsai_recipe":1,"defaults":{"precision":"int3","granularity":"tensor"}})").resolve("fc2");
    const EvalResult r = ev.evaluate(cfg);
    const HandEval e = handEval(handQuant(w1_, kHidden, kIn, 4, true), handQuant(w2_, kOut, kHidden, 3, false), kN, 100);
    qInfo("top-1 %lld (hand %d), agreement %lld (hand %d), KL %.6g (hand %.6g), SQNR fc1 %.4f dB (hand %.4f), fc2 %.4f dB "
          "(hand %.4f)", (long long)r.metrics.top1Correct, e.correct, (long long)r.metrics.agree, e.agree,
          r.metrics.meanKl, e.meanKl, r.layerErrors.at(0).sqnrDb, e.sqnrFc1, r.layerErrors.at(1).sqnrDb, e.sqnrFc2);
    QVERIFY(e.agree < kN && e.meanKl > 1e-4); // the compression changes answers: the checks below measure something
    QCOMPARE(r.metrics.top1Correct, int64_t(e.correct));
    QCOMPARE(r.metrics.agree, int64_t(e.agree));
    QVERIFY(std::abs(r.metrics.meanKl / e.meanKl - 1) < 1e-4);
    QCOMPARE(r.layerErrors.size(), 2u);
    QCOMPARE(r.layerErrors[0].layer, std::string("fc1"));
    QCOMPARE(r.layerErrors[1].layer, std::string("fc2"));
    QVERIFY(std::abs(r.layerErrors[0].sqnrDb - e.sqnrFc1) < 1e-3);
    QVERIFY(std::abs(r.layerErrors[1].sqnrDb - e.sqnrFc2) < 1e-3);
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
    // INT4 per channel on both layers, the first 200 samples in batches of 50: every number of
    // the JSON against the hand computation (the SQNR over the first batch, samples 0-49).
    const std::string recipe = testutil::writeTemp(
        "eval.json", R"({"bonsai_recipe":1,"defaults":{"precision":"int4","granularity":"channel"}})");
    auto r = testutil::runCli({QStringLiteral("eval"), QString::fromStdString(model_), QStringLiteral("--dataset"),
                               QString::fromStdString(images_), QStringLiteral("--recipe"),
                               QString::fromStdString(recipe), QStringLiteral("--limit"), QStringLiteral("200"),
                               QStringLiteral("--batch"), QStringLiteral("50"), QStringLiteral("--json")});
    QVERIFY2(r.exitCode == 0, r.err.constData());
    const auto j = nlohmann::json::parse(r.out.toStdString());
    for (const char* k : {"accuracy", "top5", "agreement", "kl", "samples", "seconds", "original_bytes", "compressed_bytes"})
        QVERIFY2(j.contains(k), k);
    const HandEval e = handEval(handQuant(w1_, kHidden, kIn, 4, true), handQuant(w2_, kOut, kHidden, 4, true), 200, 50);
    QVERIFY(e.agree < 200);
    QCOMPARE(j["samples"].get<int64_t>(), int64_t(200));
    QCOMPARE(j["accuracy"].get<double>(), e.correct / 200.0);
    QCOMPARE(j["agreement"].get<double>(), e.agree / 200.0);
    QCOMPARE(j["top5"].get<double>(), 1.0); // 3 classes
    QVERIFY(std::abs(j["kl"].get<double>() / e.meanKl - 1) < 1e-4);
    QVERIFY(std::abs(j["layer_output_sqnr_db"]["fc1"].get<double>() - e.sqnrFc1) < 1e-3);
    QVERIFY(std::abs(j["layer_output_sqnr_db"]["fc2"].get<double>() - e.sqnrFc2) < 1e-3);
    // Storage: 4-bit codes plus one FP16 scale per output channel; biases stay F32.
    const uint64_t weights = kHidden * kIn + kOut * kHidden, biases = kHidden + kOut;
    QCOMPARE(j["original_bytes"].get<uint64_t>(), (weights + biases) * 4);
    QCOMPARE(j["compressed_bytes"].get<uint64_t>(), weights / 2 + (kHidden + kOut) * 2 + biases * 4);
    // Bad data: a clear error before any work.
    r = testutil::runCli({QStringLiteral("eval"), QString::fromStdString(model_), QStringLiteral("--dataset"),
                          QString::fromStdString(testutil::writeTemp("junk.npz", "not a zip"))});
    QVERIFY(r.exitCode != 0);
    QVERIFY2(r.err.contains("junk.npz"), r.err.constData());
}

QTEST_GUILESS_MAIN(TstOnnxEvaluate)
#include "tst_onnx_evaluate.moc"
