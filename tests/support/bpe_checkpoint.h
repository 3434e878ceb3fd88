#pragma once
// Hugging Face checkpoint folders with a byte-level BPE tokenizer, made by the tests
// (independently of Bonsai's tokenizer code): a tokenizer.json of the 256 byte-level
// characters (GPT-2's byte-to-unicode map), merges learned here from a training text by plain
// BPE (the most frequent adjacent pair, ties by the pair's text), extra whole-word tokens and
// added tokens; config.json; model.safetensors with Gaussian weights from fixed seeds.
#include "testutil.h"

#include <nlohmann/json.hpp>

#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace testutil {

// GPT-2's bytes_to_unicode: the printable bytes keep their code point, the others get 256, 257, ...
inline std::array<std::string, 256> byteLevelChars()
{
    std::array<std::string, 256> out;
    int next = 256;
    for (int b = 0; b < 256; ++b) {
        const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        const int cp = printable ? b : next++;
        std::string s;
        if (cp < 0x80) {
            s += char(cp);
        } else {
            s += char(0xC0 | (cp >> 6));
            s += char(0x80 | (cp & 0x3F));
        }
        out[size_t(b)] = s;
    }
    return out;
}

struct BpeCheckpoint {
    std::string modelType = "qwen2";
    int64_t hidden = 64, inter = 128, layers = 2, heads = 4, kvHeads = 2;
    double ropeTheta = 1e6;
    bool bias = true, tied = true;
    std::string ropeScaling;   // config.json's rope_scaling object ("": none)
    std::string preRegex;      // a Split pre-tokenizer's regex before ByteLevel ("": ByteLevel alone)
    bool nfc = false;          // an NFC normalizer (as Qwen2's)
    bool ignoreMerges = false;
    int merges = 300;
    std::vector<std::string> extraWords; // whole words (raw text) added to the vocabulary, no merge makes them
    std::vector<std::pair<std::string, bool>> added; // added tokens (content, special), after the vocabulary
    std::string templateBos;   // a TemplateProcessing post-processor adding this added token ("": none)
    std::string bosToken, eosToken; // config.json's bos/eos_token_id: these added tokens ("": null)
    int64_t paddedVocab = 0;   // config vocab_size and embedding rows (0: the tokenizer's size)
    std::string trainingText;
};

// What writeBpeCheckpoint made.
struct BpeCheckpointFiles {
    std::string dir;
    int64_t vocab = 0;          // embedding rows
    int64_t tokenizerSize = 0;  // ids the tokenizer uses
    int32_t bos = -1, eos = -1;
};

inline BpeCheckpointFiles writeBpeCheckpoint(const std::string& dir, const BpeCheckpoint& s)
{
    const auto chars = byteLevelChars();
    // Training words: runs of non-space bytes with the spaces before them, in byte-level form,
    // each with its count.
    std::map<std::vector<std::string>, int64_t> counted;
    std::vector<std::string> word;
    bool inWord = false;
    for (unsigned char b : s.trainingText) {
        const bool space = b == ' ' || b == '\n' || b == '\t';
        if (space && inWord && !word.empty()) {
            ++counted[word];
            word.clear();
        }
        inWord = !space;
        word.push_back(chars[b]);
    }
    if (!word.empty())
        ++counted[word];
    std::vector<std::pair<std::vector<std::string>, int64_t>> words(counted.begin(), counted.end());

    nlohmann::json vocab = nlohmann::json::object();
    int64_t next = 0;
    for (const auto& c : chars)
        vocab[c] = next++;
    nlohmann::json merges = nlohmann::json::array();
    for (int m = 0; m < s.merges; ++m) {
        std::map<std::pair<std::string, std::string>, int64_t> count;
        for (const auto& [w, n] : words)
            for (size_t i = 0; i + 1 < w.size(); ++i)
                count[{w[i], w[i + 1]}] += n;
        std::pair<std::string, std::string> best;
        int64_t bestCount = 0;
        for (const auto& [pair, n] : count)
            if (n > bestCount) {
                best = pair;
                bestCount = n;
            }
        if (bestCount < 2)
            break;
        merges.push_back(best.first + " " + best.second);
        const std::string merged = best.first + best.second;
        if (!vocab.contains(merged))
            vocab[merged] = next++;
        for (auto& [w, n] : words) {
            std::vector<std::string> out;
            for (size_t i = 0; i < w.size(); ++i) {
                if (i + 1 < w.size() && w[i] == best.first && w[i + 1] == best.second) {
                    out.push_back(merged);
                    ++i;
                } else {
                    out.push_back(w[i]);
                }
            }
            w = std::move(out);
        }
    }
    for (const std::string& raw : s.extraWords) {
        std::string mapped;
        for (unsigned char b : raw)
            mapped += chars[b];
        if (!vocab.contains(mapped))
            vocab[mapped] = next++;
    }
    BpeCheckpointFiles files;
    files.dir = dir;
    nlohmann::json added = nlohmann::json::array();
    std::map<std::string, int64_t> addedId;
    for (const auto& [content, special] : s.added) {
        addedId[content] = next;
        added.push_back({{"id", next++}, {"content", content}, {"single_word", false}, {"lstrip", false},
                         {"rstrip", false}, {"normalized", false}, {"special", special}});
    }
    files.tokenizerSize = next;
    files.vocab = s.paddedVocab > 0 ? s.paddedVocab : next;

    nlohmann::json byteLevel = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false},
                                {"use_regex", s.preRegex.empty()}};
    nlohmann::json pre = byteLevel;
    if (!s.preRegex.empty())
        pre = {{"type", "Sequence"},
               {"pretokenizers",
                {{{"type", "Split"}, {"pattern", {{"Regex", s.preRegex}}}, {"behavior", "Isolated"}, {"invert", false}},
                 byteLevel}}};
    nlohmann::json post = byteLevel;
    if (!s.templateBos.empty()) {
        const int64_t id = addedId.at(s.templateBos);
        post = {{"type", "TemplateProcessing"},
                {"single", {{{"SpecialToken", {{"id", s.templateBos}, {"type_id", 0}}}},
                            {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
                {"pair", nlohmann::json::array()},
                {"special_tokens", {{s.templateBos, {{"id", s.templateBos}, {"ids", {id}}, {"tokens", {s.templateBos}}}}}}};
    }
    nlohmann::json tok = {
        {"version", "1.0"},
        {"truncation", nullptr},
        {"padding", nullptr},
        {"added_tokens", added},
        {"normalizer", s.nfc ? nlohmann::json{{"type", "NFC"}} : nlohmann::json()},
        {"pre_tokenizer", pre},
        {"post_processor", post},
        {"decoder", byteLevel},
        {"model",
         {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", ""},
          {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"byte_fallback", false},
          {"ignore_merges", s.ignoreMerges}, {"vocab", vocab}, {"merges", merges}}},
    };
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/tokenizer.json", std::ios::binary) << tok.dump(1);

    files.bos = s.bosToken.empty() ? -1 : int32_t(addedId.at(s.bosToken));
    files.eos = s.eosToken.empty() ? -1 : int32_t(addedId.at(s.eosToken));
    nlohmann::json cfg = {
        {"architectures", {s.modelType == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"}},
        {"model_type", s.modelType},
        {"hidden_size", s.hidden},
        {"intermediate_size", s.inter},
        {"num_hidden_layers", s.layers},
        {"num_attention_heads", s.heads},
        {"num_key_value_heads", s.kvHeads},
        {"max_position_embeddings", 512},
        {"rms_norm_eps", 1e-6},
        {"rope_theta", s.ropeTheta},
        {"vocab_size", files.vocab},
        {"tie_word_embeddings", s.tied},
        {"bos_token_id", files.bos >= 0 ? nlohmann::json(files.bos) : nlohmann::json()},
        {"eos_token_id", files.eos >= 0 ? nlohmann::json(files.eos) : nlohmann::json()},
    };
    if (!s.ropeScaling.empty())
        cfg["rope_scaling"] = nlohmann::json::parse(s.ropeScaling);
    std::ofstream(dir + "/config.json") << cfg.dump(1);

    std::vector<StEntry> t;
    unsigned seed = 100;
    auto add = [&](const std::string& name, std::vector<int64_t> shape, float mean, float sigma) {
        int64_t n = 1;
        for (int64_t d : shape)
            n *= d;
        std::vector<float> v = gaussian(size_t(n), seed++, sigma);
        for (float& x : v)
            x += mean;
        t.push_back({name, "F32", shape, floatBytes(v)});
    };
    const int64_t hd = s.hidden / s.heads;
    add("model.embed_tokens.weight", {files.vocab, s.hidden}, 0, 0.1f);
    for (int64_t b = 0; b < s.layers; ++b) {
        const std::string p = "model.layers." + std::to_string(b) + ".";
        add(p + "input_layernorm.weight", {s.hidden}, 1, 0.1f);
        add(p + "self_attn.q_proj.weight", {s.heads * hd, s.hidden}, 0, 0.2f);
        add(p + "self_attn.k_proj.weight", {s.kvHeads * hd, s.hidden}, 0, 0.2f);
        add(p + "self_attn.v_proj.weight", {s.kvHeads * hd, s.hidden}, 0, 0.15f);
        if (s.bias) {
            add(p + "self_attn.q_proj.bias", {s.heads * hd}, 0, 0.5f);
            add(p + "self_attn.k_proj.bias", {s.kvHeads * hd}, 0, 0.5f);
            add(p + "self_attn.v_proj.bias", {s.kvHeads * hd}, 0, 0.5f);
        }
        add(p + "self_attn.o_proj.weight", {s.hidden, s.heads * hd}, 0, 0.15f);
        add(p + "post_attention_layernorm.weight", {s.hidden}, 1, 0.1f);
        add(p + "mlp.gate_proj.weight", {s.inter, s.hidden}, 0, 0.15f);
        add(p + "mlp.up_proj.weight", {s.inter, s.hidden}, 0, 0.15f);
        add(p + "mlp.down_proj.weight", {s.hidden, s.inter}, 0, 0.15f);
    }
    add("model.norm.weight", {s.hidden}, 1, 0.1f);
    if (!s.tied)
        add("lm_head.weight", {files.vocab, s.hidden}, 0, 0.1f);
    std::ofstream(dir + "/model.safetensors", std::ios::binary) << makeSafetensors(t);
    return files;
}

// The Llama 3 and Qwen2 pre-tokenizer regexes as their tokenizer.json files write them.
inline const char* kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
inline const char* kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// A Qwen2-shaped checkpoint (q/k/v biases, GQA, tied embeddings, theta 1e6, NFC normalizer,
// Qwen2's regex, <|endoftext|> as BOS and EOS in config.json, vocab padded as Qwen2's is) and
// a Llama 3.1-shaped one (Llama 3's regex, ignore_merges, a template adding
// <|begin_of_text|>, an untied head, "llama3" RoPE scaling), both trained on `text`.
inline BpeCheckpoint qwen2Checkpoint(const std::string& text)
{
    BpeCheckpoint s;
    s.preRegex = kQwen2Regex;
    s.nfc = true;
    s.added = {{"<|endoftext|>", true}, {"<|im_start|>", true}, {"<|im_end|>", true}, {"<tool>", false}};
    s.bosToken = s.eosToken = "<|endoftext|>";
    s.paddedVocab = 640;
    s.trainingText = text;
    return s;
}

inline BpeCheckpoint llama3Checkpoint(const std::string& text)
{
    BpeCheckpoint s;
    s.modelType = "llama";
    s.bias = false;
    s.tied = false;
    s.ropeTheta = 500000;
    s.ropeScaling = R"({"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,
                        "original_max_position_embeddings":64})";
    s.preRegex = kLlama3Regex;
    s.ignoreMerges = true;
    s.extraWords = {" licorice", " gumball", "Debian"};
    s.added = {{"<|begin_of_text|>", true}, {"<|end_of_text|>", true}, {"<|reserved_special_token_0|>", true}};
    s.templateBos = "<|begin_of_text|>";
    s.bosToken = "<|begin_of_text|>";
    s.eosToken = "<|end_of_text|>";
    s.trainingText = text;
    return s;
}

// The checkpoints the export tests run by name: "qwen2", "llama3", "linear" (the Llama one with
// linear RoPE scaling by 4) and "gpt2" (the Llama one with GPT-2's pre-tokenizer, ByteLevel
// alone, no template, no scaling).
inline BpeCheckpoint bpeTestCheckpoint(const std::string& row, const std::string& text)
{
    BpeCheckpoint s = row == "qwen2" ? qwen2Checkpoint(text) : llama3Checkpoint(text);
    if (row == "linear")
        s.ropeScaling = R"({"type":"linear","factor":4.0})";
    if (row == "gpt2") {
        s.preRegex.clear();
        s.ignoreMerges = false;
        s.templateBos.clear();
        s.ropeScaling.clear();
    }
    return s;
}

} // namespace testutil
