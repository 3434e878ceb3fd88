// The forward pass against a naive reference written here from the Hugging Face modelling code
// (plain loops in double precision): a Qwen2-shaped checkpoint (q/k/v biases, grouped-query
// attention, untied output head, rope_theta 1e6) and a Llama 3.1-shaped one ("llama3" RoPE
// scaling), both with random weights.
#include "testutil.h"

#include "bonsai/llm.h"
#include "bonsai/model.h"

#include <QtTest>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>
#include <random>

using namespace bonsai;

namespace {

struct Spec {
    std::string type = "qwen2";
    int64_t hidden = 32, inter = 48, layers = 2, heads = 4, kv = 2, vocab = 1024;
    double theta = 1e6;
    bool bias = true, tied = false, llama3Scaling = false;
    int64_t hd() const { return hidden / heads; }
};

using Tensors = std::map<std::string, std::vector<float>>;

// Writes the checkpoint folder and returns its tensors.
Tensors writeCheckpoint(const std::string& dir, const Spec& s)
{
    std::mt19937 rng(11);
    std::normal_distribution<float> n(0.0f, 0.15f);
    Tensors t;
    std::vector<testutil::StEntry> entries;
    auto add = [&](const std::string& name, std::vector<int64_t> shape, float mean = 0) {
        int64_t count = 1;
        for (auto d : shape)
            count *= d;
        std::vector<float> v(static_cast<size_t>(count));
        for (float& x : v)
            x = mean + n(rng);
        t[name] = v;
        entries.push_back({name, "F32", shape, testutil::floatBytes(v)});
    };
    add("model.embed_tokens.weight", {s.vocab, s.hidden});
    for (int64_t b = 0; b < s.layers; ++b) {
        const std::string p = "model.layers." + std::to_string(b) + ".";
        add(p + "input_layernorm.weight", {s.hidden}, 1.0f);
        add(p + "self_attn.q_proj.weight", {s.heads * s.hd(), s.hidden});
        add(p + "self_attn.k_proj.weight", {s.kv * s.hd(), s.hidden});
        add(p + "self_attn.v_proj.weight", {s.kv * s.hd(), s.hidden});
        if (s.bias) {
            add(p + "self_attn.q_proj.bias", {s.heads * s.hd()});
            add(p + "self_attn.k_proj.bias", {s.kv * s.hd()});
            add(p + "self_attn.v_proj.bias", {s.kv * s.hd()});
        }
        add(p + "self_attn.o_proj.weight", {s.hidden, s.heads * s.hd()});
        add(p + "post_attention_layernorm.weight", {s.hidden}, 1.0f);
        add(p + "mlp.gate_proj.weight", {s.inter, s.hidden});
        add(p + "mlp.up_proj.weight", {s.inter, s.hidden});
        add(p + "mlp.down_proj.weight", {s.hidden, s.inter});
    }
    add("model.norm.weight", {s.hidden}, 1.0f);
    if (!s.tied)
        add("lm_head.weight", {s.vocab, s.hidden});
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/model.safetensors", std::ios::binary) << testutil::makeSafetensors(entries);
    std::ofstream cfg(dir + "/config.json");
    cfg << "{\"model_type\": \"" << s.type << "\", \"hidden_size\": " << s.hidden << ", \"intermediate_size\": "
        << s.inter << ", \"num_hidden_layers\": " << s.layers << ", \"num_attention_heads\": " << s.heads
        << ", \"num_key_value_heads\": " << s.kv << ", \"rms_norm_eps\": 1e-6, \"rope_theta\": " << s.theta
        << ", \"vocab_size\": " << s.vocab << ", \"tie_word_embeddings\": " << (s.tied ? "true" : "false")
        << ", \"bos_token_id\": 1, \"eos_token_id\": 2";
    if (s.llama3Scaling)
        cfg << ", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, "
               "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 64}";
    cfg << "}";
    std::filesystem::copy_file(testutil::dataPath("tiny-llama/tokenizer.model"), dir + "/tokenizer.model",
                               std::filesystem::copy_options::overwrite_existing);
    return t;
}

using Mat = std::vector<std::vector<double>>; // [position][feature]

Mat linear(const Mat& x, const std::vector<float>& w, int64_t out, const std::vector<float>* bias)
{
    const size_t in = x[0].size();
    Mat y(x.size(), std::vector<double>(size_t(out)));
    for (size_t p = 0; p < x.size(); ++p)
        for (int64_t o = 0; o < out; ++o) {
            double s = bias ? (*bias)[size_t(o)] : 0.0;
            for (size_t i = 0; i < in; ++i)
                s += double(w[size_t(o) * in + i]) * x[p][i];
            y[p][size_t(o)] = s;
        }
    return y;
}

Mat rmsNorm(const Mat& x, const std::vector<float>& g)
{
    Mat y = x;
    for (auto& row : y) {
        double ss = 0;
        for (double v : row)
            ss += v * v;
        const double inv = 1.0 / std::sqrt(ss / double(row.size()) + 1e-6);
        for (size_t i = 0; i < row.size(); ++i)
            row[i] *= inv * g[i];
    }
    return y;
}

// Hugging Face's inverse frequencies, with the "llama3" rule when asked.
std::vector<double> invFreq(const Spec& s)
{
    std::vector<double> f(size_t(s.hd() / 2));
    for (size_t i = 0; i < f.size(); ++i) {
        f[i] = 1.0 / std::pow(s.theta, double(2 * i) / double(s.hd()));
        if (s.llama3Scaling) {
            const double wavelen = 2 * std::numbers::pi / f[i], low = 64.0 / 1.0, high = 64.0 / 4.0;
            if (wavelen > low)
                f[i] /= 8.0;
            else if (wavelen >= high) {
                const double smooth = (64.0 / wavelen - 1.0) / (4.0 - 1.0);
                f[i] = (1 - smooth) * f[i] / 8.0 + smooth * f[i];
            }
        }
    }
    return f;
}

// rotate_half RoPE on every head of every position.
void rope(Mat& x, int64_t heads, int64_t hd, const std::vector<double>& freq)
{
    for (size_t p = 0; p < x.size(); ++p)
        for (int64_t h = 0; h < heads; ++h)
            for (int64_t i = 0; i < hd / 2; ++i) {
                double& a = x[p][size_t(h * hd + i)];
                double& b = x[p][size_t(h * hd + i + hd / 2)];
                const double c = std::cos(double(p) * freq[size_t(i)]), sn = std::sin(double(p) * freq[size_t(i)]);
                const double x1 = a, x2 = b;
                a = x1 * c - x2 * sn;
                b = x2 * c + x1 * sn;
            }
}

Mat referenceLogits(const Tensors& t, const Spec& s, const std::vector<int32_t>& ids)
{
    const int64_t H = s.hidden, hd = s.hd();
    Mat x;
    for (int32_t id : ids) {
        const auto& e = t.at("model.embed_tokens.weight");
        x.emplace_back(e.begin() + id * H, e.begin() + (id + 1) * H);
    }
    const auto freq = invFreq(s);
    auto get = [&](const std::string& name) -> const std::vector<float>* {
        auto it = t.find(name);
        return it == t.end() ? nullptr : &it->second;
    };
    for (int64_t b = 0; b < s.layers; ++b) {
        const std::string p = "model.layers." + std::to_string(b) + ".";
        Mat h = rmsNorm(x, t.at(p + "input_layernorm.weight"));
        Mat q = linear(h, t.at(p + "self_attn.q_proj.weight"), s.heads * hd, get(p + "self_attn.q_proj.bias"));
        Mat k = linear(h, t.at(p + "self_attn.k_proj.weight"), s.kv * hd, get(p + "self_attn.k_proj.bias"));
        Mat v = linear(h, t.at(p + "self_attn.v_proj.weight"), s.kv * hd, get(p + "self_attn.v_proj.bias"));
        rope(q, s.heads, hd, freq);
        rope(k, s.kv, hd, freq);
        Mat attn(x.size(), std::vector<double>(size_t(s.heads * hd), 0.0));
        for (int64_t head = 0; head < s.heads; ++head) {
            const int64_t g = head / (s.heads / s.kv); // repeat_kv
            for (size_t i = 0; i < x.size(); ++i) {
                std::vector<double> w(i + 1);
                double mx = -1e300, sum = 0;
                for (size_t j = 0; j <= i; ++j) {
                    double d = 0;
                    for (int64_t c = 0; c < hd; ++c)
                        d += q[i][size_t(head * hd + c)] * k[j][size_t(g * hd + c)];
                    w[j] = d / std::sqrt(double(hd));
                    mx = std::max(mx, w[j]);
                }
                for (auto& v2 : w)
                    sum += (v2 = std::exp(v2 - mx));
                for (size_t j = 0; j <= i; ++j)
                    for (int64_t c = 0; c < hd; ++c)
                        attn[i][size_t(head * hd + c)] += w[j] / sum * v[j][size_t(g * hd + c)];
            }
        }
        Mat o = linear(attn, t.at(p + "self_attn.o_proj.weight"), H, nullptr);
        for (size_t i = 0; i < x.size(); ++i)
            for (int64_t c = 0; c < H; ++c)
                x[i][size_t(c)] += o[i][size_t(c)];
        h = rmsNorm(x, t.at(p + "post_attention_layernorm.weight"));
        Mat gate = linear(h, t.at(p + "mlp.gate_proj.weight"), s.inter, nullptr);
        const Mat up = linear(h, t.at(p + "mlp.up_proj.weight"), s.inter, nullptr);
        for (size_t i = 0; i < x.size(); ++i)
            for (int64_t c = 0; c < s.inter; ++c) {
                const double gv = gate[i][size_t(c)];
                gate[i][size_t(c)] = gv / (1 + std::exp(-gv)) * up[i][size_t(c)];
            }
        const Mat down = linear(gate, t.at(p + "mlp.down_proj.weight"), H, nullptr);
        for (size_t i = 0; i < x.size(); ++i)
            for (int64_t c = 0; c < H; ++c)
                x[i][size_t(c)] += down[i][size_t(c)];
    }
    x = rmsNorm(x, t.at("model.norm.weight"));
    return linear(x, t.at(s.tied ? "model.embed_tokens.weight" : "lm_head.weight"), s.vocab, nullptr);
}

} // namespace

class TstLlmReference : public QObject {
    Q_OBJECT
private slots:
    void logitsMatchNaiveReference_data();
    void logitsMatchNaiveReference();
};

void TstLlmReference::logitsMatchNaiveReference_data()
{
    QTest::addColumn<int>("variant");
    QTest::newRow("qwen2: biases, GQA, untied head, theta 1e6") << 0;
    QTest::newRow("llama 3.1: llama3 rope scaling, tied") << 1;
}

void TstLlmReference::logitsMatchNaiveReference()
{
    QFETCH(int, variant);
    Spec s;
    if (variant == 1) {
        s.type = "llama";
        s.bias = false;
        s.tied = true;
        s.theta = 500000;
        s.llama3Scaling = true;
        s.heads = 2;
        s.kv = 1;
    }
    const std::string dir = testutil::tempPath("ref" + std::to_string(variant));
    const Tensors t = writeCheckpoint(dir, s);
    auto model = Model::open(dir);
    LanguageModel lm(*model);
    QCOMPARE(lm.config().attentionBias, s.bias);
    QCOMPARE(lm.config().tiedEmbeddings, s.tied);
    std::vector<int32_t> ids = {1};
    std::mt19937 rng(5);
    for (int i = 0; i < 40; ++i)
        ids.push_back(int32_t(rng() % 1024));
    const std::vector<float> got = lm.logits(ids);
    const Mat want = referenceLogits(t, s, ids);
    double worst = 0, scale = 0;
    for (size_t p = 0; p < ids.size(); ++p)
        for (int64_t j = 0; j < s.vocab; ++j) {
            worst = std::max(worst, std::abs(double(got[p * size_t(s.vocab) + size_t(j)]) - want[p][size_t(j)]));
            scale = std::max(scale, std::abs(want[p][size_t(j)]));
        }
    qInfo("largest logit difference %.3g (largest logit %.3g)", worst, scale);
    QVERIFY(worst < 1e-4 * scale);
}

QTEST_APPLESS_MAIN(TstLlmReference)
#include "tst_llm_reference.moc"
