#pragma once
// A generated Llama-shaped checkpoint folder for benchmarks: model.safetensors (FP16, Gaussian
// weights of std 0.02 from a fixed seed, norms 1), config.json and the test fixture's
// tokenizer.model (1024 pieces; the benchmarks feed random token ids, so Bonsai takes any
// vocabulary, while llama.cpp loads a GGUF export only with vocab 1024, the tokenizer's). Written in
// streaming fashion, so the generator adds no memory to a benchmark's peak.
#include "bonsai/half.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace bench {

struct LlamaShape {
    int64_t hidden = 1280, inter = 3456, layers = 24, heads = 20, kvHeads = 4, vocab = 32000;
    int64_t headDim() const { return hidden / heads; }
};

struct TensorSpec {
    std::string name;
    std::vector<int64_t> shape;
    bool norm = false;
};

inline std::vector<TensorSpec> llamaTensors(const LlamaShape& s)
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

inline uint64_t numel(const std::vector<int64_t>& shape)
{
    uint64_t n = 1;
    for (int64_t d : shape)
        n *= uint64_t(d);
    return n;
}

inline uint64_t writeLlamaCheckpoint(const std::string& dir, const LlamaShape& s, const std::string& sourceDir)
{
    std::filesystem::create_directories(dir);
    const auto specs = llamaTensors(s);
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
    std::filesystem::copy_file(sourceDir + "/tests/data/tiny-llama/tokenizer.model", dir + "/tokenizer.model",
                  std::filesystem::copy_options::overwrite_existing);
    return params;
}

} // namespace bench
