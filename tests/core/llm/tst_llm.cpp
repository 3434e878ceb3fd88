// The language-model forward pass and perplexity against the tiny-llama fixture: a Llama
// checkpoint trained by PyTorch, with PyTorch's own logits for a probe sentence and its
// perplexities of eval.txt (uncompressed, and after round-to-nearest INT4 on the projections),
// and KL(base || INT4) and top-1 agreement from an independent NumPy forward pass
// (tests/data/reference/tiny_llama_kl.py, its numbers in tiny_llama_kl.json).
#include "testutil.h"

#include "bonsai/compress.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"
#include "bonsai/tokenizer.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace bonsai;

namespace {

// Sanitizer builds run every code path on a slice of the text (the numbers against the
// reference are checked by the optimized build, where a full pass takes well under a second;
// under AddressSanitizer it takes half a minute).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
constexpr int64_t kSanitizedChunks = 12;

PerplexityOptions evalOptions()
{
    PerplexityOptions o;
    o.maxChunks = kSanitized ? kSanitizedChunks : 0;
    return o;
}

std::string fixture(const std::string& name) { return testutil::dataPath("tiny-llama/" + name); }

using testutil::readFile;

const nlohmann::json& reference()
{
    static const nlohmann::json j = nlohmann::json::parse(readFile(fixture("reference.json")));
    return j;
}

// KL(base || compressed), the reverse KL and top-1 agreement of RTN INT4 g32 on the projections,
// over all chunks of eval.txt ("all") and the first 12 ("chunks_12").
const nlohmann::json& klReference(bool firstChunks)
{
    static const nlohmann::json j =
        nlohmann::json::parse(readFile(testutil::dataPath("reference/tiny_llama_kl.json")));
    return j[firstChunks ? "chunks_12" : "all"];
}

// The KL and agreement of a perplexity result (or of ppl --json) against the NumPy reference.
// KL: relative 1e-5 (measured 5e-7; the two directions differ by 2.5e-3, so the direction is
// checked, and so is the normalisation per scored token). Agreement: within one token (a
// near-tie of the float32 and float64 argmax; measured: equal).
void checkKlAgainstReference(double kl, double agreement, uint64_t tokens, bool firstChunks)
{
    const nlohmann::json& ref = klReference(firstChunks);
    QCOMPARE(tokens, ref["tokens"].get<uint64_t>());
    const double klRef = ref["kl_base_compressed"].get<double>(), klRev = ref["kl_compressed_base"].get<double>();
    qInfo("KL(base || INT4) %.7f (NumPy %.7f, relative difference %.1e; reverse %.7f), agreement %.5f (NumPy %.5f)",
          kl, klRef, kl / klRef - 1, klRev, agreement, ref["agreement"].get<double>());
    QVERIFY(std::abs(klRev / klRef - 1) > 100 * 1e-5);
    QVERIFY2(std::abs(kl / klRef - 1) < 1e-5, qPrintable(QString::number(kl, 'g', 9)));
    const double agreeTokens = agreement * double(tokens);
    QVERIFY2(std::abs(agreeTokens - ref["agree_tokens"].get<double>()) <= 1.0, qPrintable(QString::number(agreeTokens)));
}

// INT4 group 32 symmetric on every attention and MLP projection (the fixture's RTN setting).
std::vector<LayerConfig> projections(const Model& m, QuantMethod method, int bits = 4)
{
    std::vector<LayerConfig> configs(m.layers.size());
    for (size_t i = 0; i < m.layers.size(); ++i) {
        const auto info = llmLayerInfo(m.layers[i].name);
        if (!info || info->role == LlmRole::Embedding || info->role == LlmRole::Head)
            continue;
        LayerConfig& c = configs[i];
        c.precision = Precision{PrecisionKind::Int, bits};
        c.granularity = Granularity::Group;
        c.groupSize = 32;
        c.symmetric = true;
        c.method = method;
        c.calibSamples = kSanitized ? 4 : 32;
    }
    return configs;
}

// Independent scoring from raw logits: mean NLL of `targets` given rows of logits.
double meanNll(const std::vector<float>& logits, int64_t vocab, const std::vector<int32_t>& targets)
{
    double sum = 0;
    for (size_t r = 0; r < targets.size(); ++r) {
        const float* row = logits.data() + r * static_cast<size_t>(vocab);
        double mx = row[0];
        for (int64_t j = 1; j < vocab; ++j)
            mx = std::max(mx, double(row[j]));
        double s = 0;
        for (int64_t j = 0; j < vocab; ++j)
            s += std::exp(double(row[j]) - mx);
        sum += mx + std::log(s) - double(row[targets[r]]);
    }
    return sum / double(targets.size());
}

} // namespace

class TstLlm : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void configAndGrouping();
    void probeLogitsMatchReference();
    void perplexityMatchesReference();
    void perplexityProtocolFromLogits();
    void rtnInt4MatchesReference();
    void gptqBeatsRtn_data();
    void gptqBeatsRtn();
    void awqRuns();
    void awqOnOutlierChannels();
    void cancel();
    void badCheckpoints();
    void cliPpl();

private:
    std::unique_ptr<Model> model_;
    std::unique_ptr<LanguageModel> lm_;
    std::vector<int32_t> evalTokens_, calibTokens_;
    double rtnPpl_ = 0;
};

void TstLlm::initTestCase()
{
    model_ = Model::open(testutil::dataPath("tiny-llama"));
    lm_ = std::make_unique<LanguageModel>(*model_);
    evalTokens_ = lm_->tokenizer().encode(readFile(fixture("eval.txt")));
    calibTokens_ = lm_->tokenizer().encode(readFile(fixture("calib.txt")));
    // The NumPy reference scored SentencePiece's own ids of eval.txt: the same ids here.
    int64_t idSum = 0;
    for (int32_t t : evalTokens_)
        idSum += t;
    QCOMPARE(idSum, nlohmann::json::parse(readFile(testutil::dataPath("reference/tiny_llama_kl.json")))["eval_token_id_sum"].get<int64_t>());
}

void TstLlm::configAndGrouping()
{
    const LlmConfig& c = lm_->config();
    QCOMPARE(c.hidden, 128);
    QCOMPARE(c.heads, 4);
    QCOMPARE(c.kvHeads, 2);
    QCOMPARE(c.headDim, 32);
    QCOMPARE(c.layers, 4);
    QVERIFY(c.tiedEmbeddings);
    QVERIFY(isLanguageModel(*model_));
    // Every layer of the checkpoint has a role: 4 blocks x 7 projections + the embedding
    // (tied: the head has no tensor of its own).
    int projectionsSeen = 0, embeddings = 0;
    for (const Layer& l : model_->layers) {
        const auto info = llmLayerInfo(l.name);
        QVERIFY2(info.has_value(), l.name.c_str());
        if (info->role == LlmRole::Embedding) {
            ++embeddings;
        } else {
            ++projectionsSeen;
            QVERIFY(info->block >= 0 && info->block < 4);
        }
    }
    QCOMPARE(embeddings, 1);
    QCOMPARE(projectionsSeen, 28);
    const auto q = llmLayerInfo("model.layers.3.self_attn.q_proj.weight");
    QVERIFY(q && q->block == 3 && q->role == LlmRole::Q && q->group == "Block 3" && q->part == "attention");
    const auto d = llmLayerInfo("blk.12.ffn_down.weight");
    QVERIFY(d && d->block == 12 && d->role == LlmRole::Down && d->part == "mlp");
    QVERIFY(!llmLayerInfo("model.layers.x.self_attn.q_proj.weight"));
    QVERIFY(!llmLayerInfo("conv1.weight"));
}

void TstLlm::probeLogitsMatchReference()
{
    const auto& ref = reference();
    const auto ids = ref["probe_ids"].get<std::vector<int32_t>>();
    const auto expected = ref["probe_logits"].get<std::vector<std::vector<double>>>();
    const std::vector<float> got = lm_->logits(ids);
    const int64_t V = lm_->config().vocab;
    QCOMPARE(got.size(), ids.size() * size_t(V));
    double worst = 0;
    for (size_t r = 0; r < ids.size(); ++r) {
        double rowMax = 0;
        for (double e : expected[r])
            rowMax = std::max(rowMax, std::abs(e));
        for (int64_t j = 0; j < V; ++j) {
            const double diff = std::abs(double(got[r * size_t(V) + size_t(j)]) - expected[r][size_t(j)]);
            worst = std::max(worst, diff / rowMax);
        }
    }
    qInfo("largest logit difference relative to the row's largest logit: %.3g", worst);
    QVERIFY2(worst < 1e-4, qPrintable(QString::number(worst)));
}

void TstLlm::perplexityMatchesReference()
{
    const auto& ref = reference();
    QCOMPARE(int64_t(evalTokens_.size()), ref["eval_tokens"].get<int64_t>());
    const PerplexityResult r = lm_->perplexity(evalTokens_, {}, evalOptions());
    if (kSanitized) {
        QCOMPARE(r.tokens, uint64_t(kSanitizedChunks * 128));
        QSKIP("sanitizer build: the full-text reference perplexity is checked by the optimized build");
    }
    const double expected = ref["perplexity"].get<double>();
    qInfo("perplexity %.6f (reference %.6f), %.2f s", r.perplexity, expected, r.seconds);
    QCOMPARE(r.tokens, uint64_t(evalTokens_.size()));
    QCOMPARE(r.chunks, int64_t((evalTokens_.size() + 127) / 128));
    QVERIFY(std::abs(r.perplexity / expected - 1) < 1e-3);
    QCOMPARE(r.kl, 0.0);
    QCOMPARE(r.agreement, 1.0);
    QCOMPARE(r.originalBytes, r.compressedBytes);
    QCOMPARE(r.chunkPerplexity.size(), size_t(r.chunks));
}

void TstLlm::perplexityProtocolFromLogits()
{
    // Three chunks of 40 scored independently through logits(): [BOS] + chunk, every token
    // scored; the mean NLL must equal the batched perplexity pass.
    const int ctx = 40;
    const int32_t bos = 1;
    double nll = 0;
    int64_t n = 0;
    for (int c = 0; c < 3; ++c) {
        std::vector<int32_t> chunk(evalTokens_.begin() + c * ctx, evalTokens_.begin() + (c + 1) * ctx);
        std::vector<int32_t> input{bos};
        input.insert(input.end(), chunk.begin(), chunk.end() - 1);
        nll += meanNll(lm_->logits(input), lm_->config().vocab, chunk) * ctx;
        n += ctx;
    }
    PerplexityOptions opt;
    opt.ctx = ctx;
    opt.maxChunks = 3;
    opt.batchTokens = 50; // forces one chunk per batch
    const PerplexityResult r = lm_->perplexity(evalTokens_, {}, opt);
    QCOMPARE(r.tokens, uint64_t(n));
    QVERIFY(std::abs(r.nll - nll / double(n)) < 1e-5);
}

void TstLlm::rtnInt4MatchesReference()
{
    const auto configs = projections(*model_, QuantMethod::RTN);
    const PerplexityResult r = lm_->perplexity(evalTokens_, configs, evalOptions());
    if (kSanitized) {
        QVERIFY(r.kl > 0 && r.compressedBytes < r.originalBytes);
        checkKlAgainstReference(r.kl, r.agreement, r.tokens, true);
        QSKIP("sanitizer build: the full-text reference perplexity is checked by the optimized build");
    }
    const double expected = reference()["perplexity_int4_g32_sym_rtn_projections"].get<double>();
    qInfo("RTN INT4 g32: perplexity %.6f (reference %.6f), KL %.5f, agreement %.4f, %llu -> %llu bytes",
          r.perplexity, expected, r.kl, r.agreement, (unsigned long long)r.originalBytes,
          (unsigned long long)r.compressedBytes);
    QVERIFY(std::abs(r.perplexity / expected - 1) < 1e-3);
    QVERIFY(std::abs(r.basePerplexity / reference()["perplexity"].get<double>() - 1) < 1e-3);
    checkKlAgainstReference(r.kl, r.agreement, r.tokens, false);
    // Size: 28 projections of 4 bits + one FP16 scale per 32 weights, the rest F32 as stored.
    uint64_t projParams = 0;
    for (const Layer& l : model_->layers)
        if (llmLayerInfo(l.name)->role != LlmRole::Embedding)
            projParams += model_->tensors[size_t(l.weight)].numel;
    const uint64_t expectedBytes = model_->totalBytes() - projParams * 4 + projParams * 4 / 8 + projParams / 32 * 2;
    QCOMPARE(r.compressedBytes, expectedBytes);
    rtnPpl_ = r.perplexity;
}

void TstLlm::gptqBeatsRtn_data()
{
    QTest::addColumn<int>("bits");
    QTest::newRow("int4") << 4;
    QTest::newRow("int3") << 3;
}

void TstLlm::gptqBeatsRtn()
{
    QFETCH(int, bits);
    PerplexityOptions opt = evalOptions();
    opt.calibrationTokens = calibTokens_;
    const PerplexityResult rtn = lm_->perplexity(evalTokens_, projections(*model_, QuantMethod::RTN, bits), opt);
    const PerplexityResult gptq = lm_->perplexity(evalTokens_, projections(*model_, QuantMethod::GPTQ, bits), opt);
    qInfo("INT%d g32: FP32 %.4f, RTN %.4f, GPTQ %.4f (%.0f%% of the loss recovered), KL %.5f vs %.5f", bits,
          rtn.basePerplexity, rtn.perplexity, gptq.perplexity,
          100 * (rtn.perplexity - gptq.perplexity) / (rtn.perplexity - rtn.basePerplexity), rtn.kl, gptq.kl);
    QCOMPARE(gptq.compressedBytes, rtn.compressedBytes);
    if (kSanitized)
        QSKIP("sanitizer build: GPTQ against RTN on the full text is checked by the optimized build");
    QVERIFY(gptq.perplexity < rtn.perplexity);
    QVERIFY(gptq.kl < rtn.kl);
}

void TstLlm::awqRuns()
{
    PerplexityOptions opt = evalOptions();
    opt.calibrationTokens = calibTokens_;
    const PerplexityResult rtn = lm_->perplexity(evalTokens_, projections(*model_, QuantMethod::RTN, 3), opt);
    const PerplexityResult awq = lm_->perplexity(evalTokens_, projections(*model_, QuantMethod::AWQ, 3), opt);
    qInfo("INT3 g32: RTN %.4f, AWQ %.4f", rtn.perplexity, awq.perplexity);
    for (const auto& n : awq.notes)
        qInfo("  %s", n.c_str());
    QCOMPARE(awq.compressedBytes, rtn.compressedBytes);
    QVERIFY(!awq.notes.empty());
    if (!kSanitized)
        QVERIFY(awq.perplexity < rtn.perplexity * 1.01);
}

// Outlier channels made by a function-preserving rewrite of the checkpoint: in every block,
// hidden channels 5 and 77 of both RMSNorm weights are multiplied by 64 and the matching input
// columns of q/k/v and gate/up divided by 64. The model computes the same function (its
// perplexity must not move), but those projections now read two channels 64x larger than the
// rest through weights 64x smaller: round-to-nearest in groups of 32 loses them, AWQ's scales
// must give them back. Measured on 12 chunks: RTN's perplexity excess over FP32 0.75 (0.41 on
// the original checkpoint), AWQ's 0.19; alpha 0.80-0.95 for every q/k/v and gate/up group.
void TstLlm::awqOnOutlierChannels()
{
    const float k = 64.0f;
    const int64_t outliers[] = {5, 77}, hidden = 128;
    std::vector<testutil::StEntry> entries;
    for (size_t t = 0; t < model_->tensors.size(); ++t) {
        const auto& info = model_->tensors[t];
        std::vector<float> v = model_->readFloat(int(t));
        const std::string& n = info.name;
        const bool norm = n.find("input_layernorm") != std::string::npos ||
                          n.find("post_attention_layernorm") != std::string::npos;
        const bool reads = n.find("q_proj") != std::string::npos || n.find("k_proj") != std::string::npos ||
                           n.find("v_proj") != std::string::npos || n.find("gate_proj") != std::string::npos ||
                           n.find("up_proj") != std::string::npos;
        for (int64_t c : outliers) {
            if (norm)
                v[size_t(c)] *= k;
            if (reads)
                for (size_t r = 0; r < v.size() / size_t(hidden); ++r)
                    v[r * size_t(hidden) + size_t(c)] /= k;
        }
        entries.push_back({n, "F32", info.shape, testutil::floatBytes(v)});
    }
    const std::string dir = testutil::tempPath("outlier-llama");
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/model.safetensors", std::ios::binary) << testutil::makeSafetensors(entries);
    for (const char* f : {"config.json", "tokenizer.model"})
        std::filesystem::copy_file(fixture(f), dir + "/" + f, std::filesystem::copy_options::overwrite_existing);
    const auto model = Model::open(dir);
    const LanguageModel lm(*model);

    PerplexityOptions opt;
    opt.maxChunks = kSanitizedChunks;
    opt.calibrationTokens = calibTokens_;
    const PerplexityResult rtn = lm.perplexity(evalTokens_, projections(*model, QuantMethod::RTN, 4), opt);
    opt.compareToBase = false;
    const PerplexityResult awq = lm.perplexity(evalTokens_, projections(*model, QuantMethod::AWQ, 4), opt);
    // The original checkpoint's numbers on these 12 chunks, from the NumPy reference.
    const double origBase = klReference(true)["perplexity_base"].get<double>(),
                 origRtn = klReference(true)["perplexity_compressed"].get<double>();
    qInfo("outlier channels, INT4 g32 on %lld chunks: FP32 %.4f (original checkpoint %.4f), RTN %.4f (original "
          "checkpoint %.4f), AWQ %.4f", (long long)opt.maxChunks, rtn.basePerplexity, origBase, rtn.perplexity, origRtn,
          awq.perplexity);
    for (const auto& n : awq.notes)
        qInfo("  %s", n.c_str());
    QVERIFY(std::abs(rtn.basePerplexity / origBase - 1) < 1e-4);
    QCOMPARE(awq.compressedBytes, rtn.compressedBytes);
    // The outliers hurt RTN, and AWQ at the same size recovers most of it.
    QVERIFY(rtn.perplexity - rtn.basePerplexity > 1.5 * (origRtn - origBase));
    QVERIFY(awq.perplexity - rtn.basePerplexity < 0.5 * (rtn.perplexity - rtn.basePerplexity));
    // The projections that read the outliers chose strong scales (alpha >= 0.5) in every block.
    int scaled = 0;
    for (const auto& n : awq.notes) {
        const size_t at = n.find("AWQ alpha ");
        if (at != std::string::npos &&
            (n.find("q_proj, k_proj, v_proj") != std::string::npos || n.find("gate_proj, up_proj") != std::string::npos))
            scaled += std::stod(n.substr(at + 10)) >= 0.5;
    }
    QCOMPARE(scaled, 8);
}

void TstLlm::cancel()
{
    int calls = 0;
    bool thrown = false;
    try {
        lm_->perplexity(evalTokens_, {}, {}, [&](const PerplexityProgress& p) {
            ++calls;
            if (p.fraction < 0 || p.fraction > 1)
                return false;
            return p.chunksDone < 3;
        });
    } catch (const Cancelled&) {
        thrown = true;
    }
    QVERIFY(thrown);
    QVERIFY(calls > 3);
}

void TstLlm::badCheckpoints()
{
    // A config.json that disagrees with the tensors, a missing config.json, a broken one.
    const std::string dir = testutil::tempPath("badllm");
    std::filesystem::create_directories(dir);
    std::filesystem::copy_file(fixture("model.safetensors"), dir + "/model.safetensors",
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(fixture("tokenizer.model"), dir + "/tokenizer.model",
                               std::filesystem::copy_options::overwrite_existing);
    auto expectFault = [&](const std::string& config, const char* fragment) {
        if (config.empty())
            std::filesystem::remove(dir + "/config.json");
        else
            std::ofstream(dir + "/config.json") << config;
        try {
            auto m = Model::open(dir);
            LanguageModel lm(*m);
            QFAIL("no error");
        } catch (const FileError& e) {
            QVERIFY2(std::string(e.what()).find(fragment) != std::string::npos, e.what());
        }
    };
    std::string cfg = readFile(fixture("config.json"));
    auto replace = [&](std::string s, const std::string& a, const std::string& b) {
        s.replace(s.find(a), a.size(), b);
        return s;
    };
    expectFault("", "config.json");
    expectFault("{ not json", "config.json");
    expectFault(replace(cfg, "\"hidden_size\": 128", "\"hidden_size\": 96"), "model.embed_tokens.weight");
    expectFault(replace(cfg, "\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"), "key/value heads");
    expectFault(replace(cfg, "\"model_type\": \"llama\"", "\"model_type\": \"gpt_neox\""), "gpt_neox");
    expectFault(replace(cfg, "\"intermediate_size\": 352,", ""), "intermediate_size");
}

void TstLlm::cliPpl()
{
    const std::string recipe = testutil::writeTemp("rtn4.json", R"({"bonsai_recipe": 1, "rules": [
        {"match": "_proj$", "precision": "int4", "granularity": "group", "group_size": 32}]})");
    QStringList args = {"ppl", QString::fromStdString(testutil::dataPath("tiny-llama")), "--text",
                        QString::fromStdString(fixture("eval.txt")), "--recipe", QString::fromStdString(recipe), "--json"};
    if (kSanitized)
        args << "--chunks" << QString::number(kSanitizedChunks);
    const auto r = testutil::runCli(args);
    QVERIFY2(r.exitCode == 0, r.err.constData());
    const auto j = nlohmann::json::parse(r.out.toStdString());
    for (const char* key : {"perplexity", "tokens", "kl", "agreement", "seconds", "original_bytes", "compressed_bytes"})
        QVERIFY2(j.contains(key), key);
    QVERIFY(j["compressed_bytes"].get<int64_t>() < j["original_bytes"].get<int64_t>());
    if (!kSanitized) {
        QCOMPARE(j["tokens"].get<int64_t>(), int64_t(evalTokens_.size()));
        const double expected = reference()["perplexity_int4_g32_sym_rtn_projections"].get<double>();
        QVERIFY(std::abs(j["perplexity"].get<double>() / expected - 1) < 1e-3);
    }
    checkKlAgainstReference(j["kl"].get<double>(), j["agreement"].get<double>(), j["tokens"].get<uint64_t>(),
                            kSanitized);

    const auto bad = testutil::runCli({"ppl", QString::fromStdString(testutil::dataPath("tiny-llama")), "--text",
                                       "/nonexistent/text.txt"});
    QCOMPARE(bad.exitCode, 1);
    QVERIFY(bad.err.contains("/nonexistent/text.txt"));
    const auto usage = testutil::runCli({"ppl", QString::fromStdString(testutil::dataPath("tiny-llama"))});
    QCOMPARE(usage.exitCode, 2);
    const std::string empty = testutil::writeTemp("empty.txt", "");
    const auto none = testutil::runCli({"ppl", QString::fromStdString(testutil::dataPath("tiny-llama")), "--text",
                                        QString::fromStdString(empty)});
    QCOMPARE(none.exitCode, 1);
    QVERIFY(none.err.contains("empty.txt") && none.err.contains("empty"));
    const auto badCtx = testutil::runCli({"ppl", QString::fromStdString(testutil::dataPath("tiny-llama")), "--text",
                                          QString::fromStdString(fixture("eval.txt")), "--ctx", "0"});
    QCOMPARE(badCtx.exitCode, 2);
    QVERIFY(badCtx.err.contains("--ctx"));
    const auto notLlm = testutil::runCli({"ppl", QString::fromStdString(BONSAI_DEMO_MODEL), "--text",
                                          QString::fromStdString(fixture("eval.txt"))});
    QCOMPARE(notLlm.exitCode, 1);
    QVERIFY(notLlm.err.contains("fashion_cnn.onnx"));
}

QTEST_APPLESS_MAIN(TstLlm)
#include "tst_llm.moc"
