// A GGUF file of the tiny-llama fixture, written the way llama.cpp's converter writes Llama
// checkpoints (Q and K rows permuted so that RoPE rotates adjacent pairs; GGUF tensor names;
// the SentencePiece vocabulary in the metadata), must give the Hugging Face checkpoint's
// logits, token ids and perplexity.
#include "gguf_writer.h"
#include "testutil.h"

#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "bonsai/tokenizer.h"
#include "tokenizer/spm.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

using namespace bonsai;
using namespace testutil::gguf;
using testutil::put;

namespace {

using testutil::readFile;

using testutil::permuteHeadRows;

std::string floats(const std::vector<float>& v)
{
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

std::string writeGguf(const Model& hf, const spm::Vocabulary& vocab)
{
    GgufWriter g;
    g.kv("general.architecture", tString, str("llama"));
    auto u32 = [&](const std::string& k, uint32_t v) { g.kv(k, tU32, scalar<uint32_t>(v)); };
    auto f32 = [&](const std::string& k, float v) { g.kv(k, tF32, scalar<float>(v)); };
    u32("llama.embedding_length", 128);
    u32("llama.feed_forward_length", 352);
    u32("llama.block_count", 4);
    u32("llama.attention.head_count", 4);
    u32("llama.attention.head_count_kv", 2);
    u32("llama.context_length", 512);
    f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    f32("llama.rope.freq_base", 10000.0f);
    g.kv("tokenizer.ggml.model", tString, str("llama"));
    g.kv("tokenizer.ggml.tokens", tArray, stringArray(vocab.pieces));
    g.kv("tokenizer.ggml.scores", tArray, numberArray<float>(tF32, vocab.scores));
    std::vector<int32_t> types;
    for (auto t : vocab.types)
        types.push_back(static_cast<int32_t>(t));
    g.kv("tokenizer.ggml.token_type", tArray, numberArray<int32_t>(tI32, types));
    u32("tokenizer.ggml.bos_token_id", 1);
    u32("tokenizer.ggml.eos_token_id", 2);
    u32("tokenizer.ggml.unknown_token_id", 0);

    auto add = [&](const std::string& hfName, const std::string& ggName, int64_t permuteHeads = 0) {
        const int t = hf.findTensor(hfName);
        if (t < 0)
            throw std::runtime_error("fixture lacks " + hfName);
        const TensorInfo& info = hf.tensors[size_t(t)];
        std::vector<float> v = hf.readFloat(t);
        std::vector<uint64_t> ne(info.shape.rbegin(), info.shape.rend()); // GGUF: innermost first
        if (permuteHeads)
            v = permuteHeadRows(v, info.shape[0], info.shape[1], permuteHeads);
        g.tensor(ggName, ne, gF32, floats(v));
    };
    add("model.embed_tokens.weight", "token_embd.weight");
    for (int b = 0; b < 4; ++b) {
        const std::string h = "model.layers." + std::to_string(b) + ".", p = "blk." + std::to_string(b) + ".";
        add(h + "input_layernorm.weight", p + "attn_norm.weight");
        add(h + "self_attn.q_proj.weight", p + "attn_q.weight", 4);
        add(h + "self_attn.k_proj.weight", p + "attn_k.weight", 2);
        add(h + "self_attn.v_proj.weight", p + "attn_v.weight");
        add(h + "self_attn.o_proj.weight", p + "attn_output.weight");
        add(h + "post_attention_layernorm.weight", p + "ffn_norm.weight");
        add(h + "mlp.gate_proj.weight", p + "ffn_gate.weight");
        add(h + "mlp.up_proj.weight", p + "ffn_up.weight");
        add(h + "mlp.down_proj.weight", p + "ffn_down.weight");
    }
    add("model.norm.weight", "output_norm.weight");
    return testutil::writeTemp("tiny-llama.gguf", g.build());
}

} // namespace

class TstLlmGguf : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void configFromMetadata();
    void groupedNames();
    void tokenizerFromMetadata();
    void logitsEqualHuggingFace();
    void perplexityEqualsHuggingFace();

private:
    std::unique_ptr<Model> hf_, gguf_;
    std::unique_ptr<LanguageModel> hfLm_, ggufLm_;
};

void TstLlmGguf::initTestCase()
{
    hf_ = Model::open(testutil::dataPath("tiny-llama"));
    std::string error;
    auto vocab = spm::parseModelProto(readFile(testutil::dataPath("tiny-llama/tokenizer.model")), error);
    QVERIFY2(vocab, error.c_str());
    gguf_ = Model::open(writeGguf(*hf_, *vocab));
    hfLm_ = std::make_unique<LanguageModel>(*hf_);
    ggufLm_ = std::make_unique<LanguageModel>(*gguf_);
}

void TstLlmGguf::configFromMetadata()
{
    const LlmConfig& a = hfLm_->config();
    const LlmConfig& b = ggufLm_->config();
    QCOMPARE(b.architecture, std::string("llama"));
    QCOMPARE(b.hidden, a.hidden);
    QCOMPARE(b.intermediate, a.intermediate);
    QCOMPARE(b.layers, a.layers);
    QCOMPARE(b.heads, a.heads);
    QCOMPARE(b.kvHeads, a.kvHeads);
    QCOMPARE(b.vocab, a.vocab);
    QVERIFY(b.tiedEmbeddings);
    QVERIFY(b.rope == RopeStyle::Interleaved);
    QVERIFY(a.rope == RopeStyle::Neox);
}

void TstLlmGguf::groupedNames()
{
    QVERIFY(isLanguageModel(*gguf_));
    int projections = 0;
    for (const Layer& l : gguf_->layers) {
        const auto info = llmLayerInfo(l.name);
        QVERIFY2(info, l.name.c_str());
        projections += info->block >= 0;
    }
    QCOMPARE(projections, 28);
}

void TstLlmGguf::tokenizerFromMetadata()
{
    const auto ref = nlohmann::json::parse(readFile(testutil::dataPath("tiny-llama/reference.json")));
    const std::string probe = ref["probe_text"].get<std::string>();
    auto ids = ref["probe_ids"].get<std::vector<int32_t>>();
    ids.erase(ids.begin()); // BOS
    QCOMPARE(ggufLm_->tokenizer().encode(probe), ids);
    QCOMPARE(ggufLm_->tokenizer().bos(), 1);
}

void TstLlmGguf::logitsEqualHuggingFace()
{
    const std::vector<int32_t> ids = {1, 339, 592, 77, 400, 12, 900, 3, 45, 600, 601, 602};
    const auto a = hfLm_->logits(ids);
    const auto b = ggufLm_->logits(ids);
    QCOMPARE(a.size(), b.size());
    double worst = 0, scale = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        worst = std::max(worst, double(std::abs(a[i] - b[i])));
        scale = std::max(scale, double(std::abs(a[i])));
    }
    qInfo("largest logit difference GGUF vs Hugging Face: %.3g (largest logit %.3g)", worst, scale);
    QVERIFY(worst < 1e-5 * scale);
}

void TstLlmGguf::perplexityEqualsHuggingFace()
{
    const auto tokens = hfLm_->tokenizer().encode(readFile(testutil::dataPath("tiny-llama/eval.txt")));
    PerplexityOptions opt;
    opt.maxChunks = 20;
    const auto a = hfLm_->perplexity(tokens, {}, opt);
    const auto b = ggufLm_->perplexity(tokens, {}, opt);
    QCOMPARE(a.tokens, b.tokens);
    QVERIFY(std::abs(a.perplexity / b.perplexity - 1) < 1e-6);
}

QTEST_APPLESS_MAIN(TstLlmGguf)
#include "tst_llm_gguf.moc"
