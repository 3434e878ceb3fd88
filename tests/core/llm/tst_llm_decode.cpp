// LlmDecoder: the logits of a KV-cached decode step equal the full forward pass's
// (LanguageModel::logits) at that position.
//
// Tolerances, as max |difference| over every position and vocabulary entry divided by the
// largest |logit| of the reference (the logits here reach about 1..10):
//  - FP32 weights, and quantized weights with float activations (floatActivations): 2e-5
//    (float summation order only: the same weights as the fake quantization);
//  - quantized weights on the int8-activation kernels: 0.06 (the activations' int8 rounding
//    through 2-4 blocks; measured up to 0.012 with 32-element activation blocks and 0.028 with
//    the K types' 256-element ones), and the top-1 token of at least 90% of the positions
//    unchanged.
#include "bonsai/error.h"
#include "bonsai/export.h"
#include "bonsai/llm.h"
#include "bonsai/llm_decode.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"
#include "testutil.h"

#include <QtTest>

#include <algorithm>
#include <cmath>

using namespace bonsai;

namespace {

std::vector<LayerConfig> configsOf(const Model& m, const std::string& recipeJson)
{
    const Recipe r = Recipe::parse(recipeJson);
    std::vector<LayerConfig> c;
    for (const Layer& l : m.layers)
        c.push_back(r.resolve(l.name));
    return c;
}

// Prefill of the first `prompt` ids, then one step per remaining id; the logits of every
// position (ids.size() x vocab).
std::vector<float> decodeAll(LlmDecoder& d, const std::vector<int32_t>& ids, size_t prompt)
{
    d.reset();
    std::vector<float> out = d.forward(std::vector<int32_t>(ids.begin(), ids.begin() + long(prompt)), true);
    for (size_t i = prompt; i < ids.size(); ++i) {
        const auto l = d.forward({ids[i]});
        out.insert(out.end(), l.begin(), l.end());
    }
    return out;
}

struct Diff {
    double rel = 0;      // max |a - b| / max |b|
    double agree = 0;    // fraction of rows with the same arg-max
};

Diff compare(const std::vector<float>& a, const std::vector<float>& b, int64_t vocab)
{
    double mx = 0, diff = 0;
    int64_t same = 0;
    const int64_t rows = int64_t(b.size()) / vocab;
    for (int64_t r = 0; r < rows; ++r) {
        const float* pa = a.data() + r * vocab;
        const float* pb = b.data() + r * vocab;
        for (int64_t i = 0; i < vocab; ++i) {
            mx = std::max(mx, double(std::fabs(pb[i])));
            diff = std::max(diff, double(std::fabs(pa[i] - pb[i])));
        }
        same += (std::max_element(pa, pa + vocab) - pa) == (std::max_element(pb, pb + vocab) - pb) ? 1 : 0;
    }
    return {diff / mx, double(same) / double(rows)};
}

std::vector<int32_t> someIds(size_t n, unsigned seed)
{
    std::vector<int32_t> ids{1};
    uint32_t s = seed;
    while (ids.size() < n) {
        s = s * 1664525u + 1013904223u;
        ids.push_back(int32_t(3 + (s >> 8) % 1000));
    }
    return ids;
}

} // namespace

class TestLlmDecode : public QObject {
    Q_OBJECT

    std::unique_ptr<Model> tiny_, wide_;
    std::unique_ptr<LanguageModel> tinyLm_, wideLm_;

private slots:
    void initTestCase()
    {
        tiny_ = Model::open(testutil::dataPath("tiny-llama"));
        tinyLm_ = std::make_unique<LanguageModel>(*tiny_);
        wide_ = Model::open(testutil::writeWideLlama());
        wideLm_ = std::make_unique<LanguageModel>(*wide_);
    }

    void fp32MatchesFullPass()
    {
        const auto ids = someIds(24, 3);
        const auto full = tinyLm_->logits(ids);
        LlmDecoder d(*tinyLm_);
        QCOMPARE(d.weightSummary(), std::string("F32: 29 layers"));
        for (size_t prompt : {size_t(1), size_t(7), size_t(24)}) {
            const Diff df = compare(decodeAll(d, ids, prompt), full, tinyLm_->config().vocab);
            qInfo("fp32, prompt %zu: max relative difference %.2e", prompt, df.rel);
            QVERIFY2(df.rel <= 2e-5, qPrintable(QString::number(df.rel)));
        }
        QCOMPARE(d.position(), int64_t(24));
        QVERIFY_THROWS_EXCEPTION(Error, d.forward({5000}));
    }

    // Sequences of a batch keep their own caches: each equals its own full pass.
    void batchOfTwo()
    {
        const auto a = someIds(12, 5), b = someIds(12, 9);
        DecodeOptions o;
        o.batch = 2;
        LlmDecoder d(*tinyLm_, {}, o);
        std::vector<int32_t> prompt(a.begin(), a.begin() + 4);
        prompt.insert(prompt.end(), b.begin(), b.begin() + 4);
        const auto first = d.forward(prompt, true);
        const int64_t V = tinyLm_->config().vocab;
        std::vector<float> ga(first.begin(), first.begin() + 4 * V), gb(first.begin() + 4 * V, first.end());
        for (size_t i = 4; i < 12; ++i) {
            const auto l = d.forward({a[i], b[i]});
            ga.insert(ga.end(), l.begin(), l.begin() + V);
            gb.insert(gb.end(), l.begin() + V, l.end());
        }
        QVERIFY(compare(ga, tinyLm_->logits(a), V).rel <= 2e-5);
        QVERIFY(compare(gb, tinyLm_->logits(b), V).rel <= 2e-5);
        QVERIFY_THROWS_EXCEPTION(Error, d.forward({1, 2, 3}));
    }

    void quantizedMatchesFakeQuantization_data()
    {
        QTest::addColumn<bool>("wide");
        QTest::addColumn<QString>("precision");
        QTest::addColumn<QString>("format");
        QTest::newRow("q8_0") << false << R"("precision":"q8_0")" << "Q8_0";
        QTest::newRow("q4_0") << false << R"("precision":"q4_0")" << "Q4_0";
        QTest::newRow("int8") << false << R"("precision":"int8")" << "INT8";
        QTest::newRow("int4 g32") << false << R"("precision":"int4","granularity":"group","group_size":32)" << "INT4";
        QTest::newRow("int4 asym g32")
            << false << R"("precision":"int4","granularity":"group","group_size":32,"symmetric":false)" << "INT4";
        QTest::newRow("int6 clip") << false << R"("precision":"int6","clip_search":true)" << "INT8";
        QTest::newRow("q4_k") << true << R"("precision":"q4_k")" << "Q4_K";
        QTest::newRow("q6_k") << true << R"("precision":"q6_k")" << "Q6_K";
    }

    void quantizedMatchesFakeQuantization()
    {
        QFETCH(bool, wide);
        QFETCH(QString, precision);
        QFETCH(QString, format);
        const LanguageModel& lm = wide ? *wideLm_ : *tinyLm_;
        const auto configs = configsOf(lm.model(), R"({"bonsai_recipe":1,"defaults":{)" + precision.toStdString() + "}}");
        const auto ids = someIds(20, 11);
        const auto full = lm.logits(ids, configs);
        const int64_t V = lm.config().vocab;

        LlmDecoder d(lm, configs);
        const std::string summary = d.weightSummary();
        QVERIFY2(summary.find(format.toStdString()) == 0 && summary.find(',') == std::string::npos, summary.c_str());
        QVERIFY2(d.notes().empty(), d.notes().empty() ? "" : d.notes()[0].c_str());
        const Diff q = compare(decodeAll(d, ids, 6), full, V);

        DecodeOptions fo;
        fo.floatActivations = true;
        LlmDecoder df(lm, configs, fo);
        const Diff f = compare(decodeAll(df, ids, 6), full, V);
        qInfo("%s: int8 activations %.2e (top-1 %.0f%%), float activations %.2e", qPrintable(format), q.rel,
              100 * q.agree, f.rel);
        QVERIFY2(f.rel <= 2e-5, qPrintable(QString::number(f.rel)));
        QVERIFY2(q.rel <= 0.06, qPrintable(QString::number(q.rel)));
        QVERIFY(q.agree >= 0.9);
    }

    // A quantized GGUF runs from its mapped blocks: resident weights are the file's tensors.
    void ggufInPlace()
    {
        const auto configs = configsOf(*wide_, R"({"bonsai_recipe":1,"defaults":{"precision":"q4_k"},
            "rules":[{"match":"lm_head","precision":"q6_k"}]})");
        const std::string path = testutil::tempPath("decode-wide-q4_k.gguf");
        ExportOptions eo;
        eo.overwrite = true;
        exportModel(*wide_, configs, ExportFormat::Gguf, path, eo);
        auto g = Model::open(path);
        LanguageModel lm(*g);
        LlmDecoder d(lm);
        QCOMPARE(d.weightSummary(), std::string("Q4_K: 14 layers, Q6_K: 1 layer"));
        uint64_t bytes = 0;
        for (const Layer& l : g->layers)
            if (l.name != "token_embd")
                bytes += g->tensors[size_t(l.weight)].nbytes;
        QCOMPARE(d.weightBytes(), bytes);
        const auto ids = someIds(16, 21);
        const Diff q = compare(decodeAll(d, ids, 5), lm.logits(ids), lm.config().vocab);
        qInfo("GGUF Q4_K: int8 activations %.2e (top-1 %.0f%%)", q.rel, 100 * q.agree);
        QVERIFY(q.rel <= 0.06);
        QVERIFY(q.agree >= 0.9);
    }
};

QTEST_APPLESS_MAIN(TestLlmDecode)
#include "tst_llm_decode.moc"
