// Perplexity-pass throughput of a generated Llama-shaped checkpoint (~500M parameters, FP16 on
// disk): tokens per second, achieved GFLOP/s against Eigen's own sgemm measured in the same run,
// and peak RSS against the checkpoint's size.
//
//   bench_llm [DIR] [--tokens N] [--threads T]
//
// DIR (default: a temporary directory) receives model.safetensors, config.json and a copy of
// the test fixture's tokenizer.model (the token ids fed to the pass are random; the tokenizer
// is only needed to open the checkpoint). The checkpoint is written in streaming fashion, so
// the generator itself adds no memory to the peak.
#include "bench_util.h"

#include "bonsai/half.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"

#include <Eigen/Core>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace fs = std::filesystem;

namespace {

struct Shape {
    int64_t hidden = 1280, inter = 3456, layers = 24, heads = 20, kvHeads = 4, vocab = 32000;
    int64_t headDim() const { return hidden / heads; }
};

struct TensorSpec {
    std::string name;
    std::vector<int64_t> shape;
    bool norm = false;
};

std::vector<TensorSpec> tensors(const Shape& s)
{
    std::vector<TensorSpec> t;
    t.push_back({"model.embed_tokens.weight", {s.vocab, s.hidden}});
    for (int64_t b = 0; b < s.layers; ++b) {
        const std::string p = "model.layers." + std::to_string(b) + ".";
        const int64_t q = s.heads * s.headDim(), kv = s.kvHeads * s.headDim();
        t.push_back({p + "input_layernorm.weight", {s.hidden}, true});
        t.push_back({p + "self_attn.q_proj.weight", {q, s.hidden}});
        t.push_back({p + "self_attn.k_proj.weight", {kv, s.hidden}});
        t.push_back({p + "self_attn.v_proj.weight", {kv, s.hidden}});
        t.push_back({p + "self_attn.o_proj.weight", {s.hidden, q}});
        t.push_back({p + "post_attention_layernorm.weight", {s.hidden}, true});
        t.push_back({p + "mlp.gate_proj.weight", {s.inter, s.hidden}});
        t.push_back({p + "mlp.up_proj.weight", {s.inter, s.hidden}});
        t.push_back({p + "mlp.down_proj.weight", {s.hidden, s.inter}});
    }
    t.push_back({"model.norm.weight", {s.hidden}, true});
    t.push_back({"lm_head.weight", {s.vocab, s.hidden}});
    return t;
}

uint64_t numel(const std::vector<int64_t>& shape)
{
    uint64_t n = 1;
    for (int64_t d : shape)
        n *= uint64_t(d);
    return n;
}

uint64_t writeCheckpoint(const std::string& dir, const Shape& s)
{
    fs::create_directories(dir);
    const auto specs = tensors(s);
    std::string header = "{";
    uint64_t offset = 0, params = 0;
    for (const auto& t : specs) {
        const uint64_t bytes = numel(t.shape) * 2;
        header += "\"" + t.name + "\":{\"dtype\":\"F16\",\"shape\":[";
        for (size_t i = 0; i < t.shape.size(); ++i)
            header += (i ? "," : "") + std::to_string(t.shape[i]);
        header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + bytes) + "]},";
        offset += bytes;
        params += numel(t.shape);
    }
    header.back() = '}';
    while ((header.size() + 8) % 8)
        header += ' ';
    std::ofstream out(dir + "/model.safetensors", std::ios::binary);
    const uint64_t n = header.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header;
    std::mt19937 rng(42);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<uint16_t> buf(1 << 20);
    for (const auto& t : specs) {
        uint64_t left = numel(t.shape);
        while (left) {
            const size_t k = size_t(std::min<uint64_t>(left, buf.size()));
            for (size_t i = 0; i < k; ++i)
                buf[i] = bonsai::floatToFp16(t.norm ? 1.0f : normal(rng));
            out.write(reinterpret_cast<const char*>(buf.data()), std::streamsize(k * 2));
            left -= k;
        }
    }
    std::ofstream cfg(dir + "/config.json");
    cfg << "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"hidden_size\":" << s.hidden
        << ",\"intermediate_size\":" << s.inter << ",\"num_hidden_layers\":" << s.layers
        << ",\"num_attention_heads\":" << s.heads << ",\"num_key_value_heads\":" << s.kvHeads
        << ",\"rms_norm_eps\":1e-5,\"rope_theta\":10000.0,\"vocab_size\":" << s.vocab
        << ",\"max_position_embeddings\":2048,\"tie_word_embeddings\":false,\"bos_token_id\":1,\"eos_token_id\":2}";
    fs::copy_file(std::string(BONSAI_SOURCE_DIR) + "/tests/data/tiny-llama/tokenizer.model", dir + "/tokenizer.model",
                  fs::copy_options::overwrite_existing);
    return params;
}

// Best-of-3 GFLOP/s of an Eigen sgemm shaped like the pass's largest products.
double gemmGflops(int64_t m, int64_t k, int64_t n)
{
    using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    RowMat a = RowMat::Random(m, k), w = RowMat::Random(n, k), c(m, n);
    double best = 0;
    for (int r = 0; r < 3; ++r) {
        const double t0 = bench::now();
        c.noalias() = a * w.transpose();
        best = std::max(best, 2.0 * double(m) * double(k) * double(n) / (bench::now() - t0) / 1e9);
    }
    return best;
}

} // namespace

int main(int argc, char** argv)
{
    std::string dir;
    int64_t tokens = 2048;
    int threads = 2;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--tokens" && i + 1 < argc)
            tokens = std::stoll(argv[++i]);
        else if (a == "--threads" && i + 1 < argc)
            threads = std::stoi(argv[++i]);
        else
            dir = a;
    }
    const bool temporary = dir.empty();
    if (temporary)
        dir = (fs::temp_directory_path() / ("bonsai-bench-llm-" + std::to_string(getpid()))).string();
    omp_set_num_threads(threads);
    Eigen::setNbThreads(threads);

    const Shape s;
    const double tg = bench::now();
    const uint64_t params = writeCheckpoint(dir, s);
    const uint64_t fileBytes = fs::file_size(dir + "/model.safetensors");
    std::printf("checkpoint: %.1fM parameters, %.2f GB FP16 (%lld blocks, hidden %lld, MLP %lld, %lld heads / %lld KV, "
                "vocab %lld), written in %.1f s\n",
                double(params) / 1e6, double(fileBytes) / 1e9, (long long)s.layers, (long long)s.hidden,
                (long long)s.inter, (long long)s.heads, (long long)s.kvHeads, (long long)s.vocab, bench::now() - tg);

    auto model = bonsai::Model::open(dir);
    bonsai::LanguageModel lm(*model);
    std::mt19937 rng(7);
    std::uniform_int_distribution<int32_t> id(3, int32_t(s.vocab - 1));
    std::vector<int32_t> ids(static_cast<size_t>(tokens));
    for (auto& t : ids)
        t = id(rng);
    bonsai::PerplexityOptions opt;
    opt.ctx = 128;
    opt.batchTokens = 2048;
    const bonsai::PerplexityResult r = lm.perplexity(ids, {}, opt);

    // FLOPs of the pass: every linear layer and the head once per token, plus attention.
    const int64_t hd = s.headDim();
    const double linear = double(s.layers) * double(s.hidden * (s.heads * hd) * 2 + s.hidden * (s.kvHeads * hd) * 2 +
                                                     3 * s.hidden * s.inter) +
                          double(s.vocab * s.hidden);
    const double attention = double(s.layers) * double(s.heads) * 2.0 * 128.0 * double(hd) * 2.0 / 2.0; // per token, causal
    const double flops = 2.0 * linear * double(r.tokens) + attention * double(r.tokens);
    const double achieved = flops / r.seconds / 1e9;
    const double rssMiB = bench::peakRssMB(); // before the sgemm's own buffers
    const double gemm = gemmGflops(2048, s.hidden, s.inter);
    std::printf("perplexity pass, %d threads: %llu tokens in %.2f s = %.1f tokens/s (ctx 128, random ids, ppl %.1f)\n",
                threads, (unsigned long long)r.tokens, r.seconds, double(r.tokens) / r.seconds, r.perplexity);
    std::printf("achieved %.1f GFLOP/s; Eigen sgemm 2048x%lldx%lld in the same run: %.1f GFLOP/s -> %.0f%% (target >= 60%%)\n",
                achieved, (long long)s.hidden, (long long)s.inter, gemm, 100 * achieved / gemm);
    const double fileMiB = double(fileBytes) / 1048576.0;
    std::printf("peak RSS %.0f MiB = %.2fx the checkpoint's %.0f MiB (target < 1.5x)\n", rssMiB, rssMiB / fileMiB,
                fileMiB);
    if (temporary)
        fs::remove_all(dir);
    return 0;
}
