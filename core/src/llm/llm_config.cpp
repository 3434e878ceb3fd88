// LlmConfig from a Hugging Face config.json or from GGUF metadata, checked against the tensors.
#include "bonsai/error.h"
#include "common/json_fault.h"
#include "common/regular_file.h"
#include "formats/gguf.h"
#include "bonsai/llm.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <numbers>
#include <sstream>

namespace bonsai {

namespace {

namespace fs = std::filesystem;

std::string checkpointDir(const Model& model)
{
    std::error_code ec;
    if (fs::is_directory(model.path, ec))
        return model.path;
    const fs::path parent = fs::path(model.path).parent_path();
    return parent.empty() ? std::string(".") : parent.string();
}

using nlohmann::json;

// A key of config.json: nullopt when absent or null; refused when of another type.
const json* optionalKey(const json& j, const char* key)
{
    auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
}

std::optional<int64_t> optionalInt(const json& j, const char* key, const std::string& file)
{
    const json* v = optionalKey(j, key);
    if (!v)
        return std::nullopt;
    if (!v->is_number_integer() || (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX)))
        throw FileError(file, std::string("key '") + key + "' must be an integer, not " + v->dump());
    return v->get<int64_t>();
}

std::optional<double> optionalNumber(const json& j, const char* key, const std::string& file)
{
    const json* v = optionalKey(j, key);
    if (!v)
        return std::nullopt;
    if (!v->is_number())
        throw FileError(file, std::string("key '") + key + "' must be a number, not " + v->dump());
    return v->get<double>();
}

std::optional<std::string> optionalString(const json& j, const char* key, const std::string& file)
{
    const json* v = optionalKey(j, key);
    if (!v)
        return std::nullopt;
    if (!v->is_string())
        throw FileError(file, std::string("key '") + key + "' must be a string, not " + v->dump());
    return v->get<std::string>();
}

int64_t requireInt(const json& j, const char* key, const std::string& file)
{
    const auto v = optionalInt(j, key, file);
    if (!v)
        throw FileError(file, std::string("missing or non-integer key '") + key + "'");
    return *v;
}

// A token id (bos_token_id, eos_token_id): an integer, or a list whose first entry is taken
// (several EOS ids, as in Llama 3.1 instruct); -1 when absent.
int32_t tokenIdKey(const json& j, const char* key, const std::string& file)
{
    const json* v = optionalKey(j, key);
    if (!v)
        return -1;
    const json& id = v->is_array() && !v->empty() ? (*v)[0] : *v;
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
        throw FileError(file, std::string("key '") + key + "' must be a token id (a non-negative integer), not " +
                                  v->dump());
    return static_cast<int32_t>(id.get<int64_t>());
}

LlmConfig fromHuggingFace(const Model& model)
{
    const std::string file = (fs::path(checkpointDir(model)) / "config.json").string();
    std::string text;
    try {
        requireInsideFolder(file, checkpointDir(model));
        text = readRegularFile(file, kMaxSideFileBytes, "config.json");
    } catch (const FileError& e) {
        throw FileError(file, e.fault() + " (a language model needs the checkpoint's config.json)");
    }
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        throw FileError(file, "not valid JSON: " + jsonFault(e));
    }
    if (!j.is_object())
        throw FileError(file, "not a JSON object");
    LlmConfig c;
    c.architecture = optionalString(j, "model_type", file).value_or("llama");
    if (c.architecture != "llama" && c.architecture != "mistral" && c.architecture != "qwen2")
        throw FileError(file, "model_type '" + c.architecture +
                                  "' is not supported (llama, mistral and qwen2 are)");
    c.hidden = requireInt(j, "hidden_size", file);
    c.intermediate = requireInt(j, "intermediate_size", file);
    c.layers = requireInt(j, "num_hidden_layers", file);
    c.heads = requireInt(j, "num_attention_heads", file);
    c.kvHeads = optionalInt(j, "num_key_value_heads", file).value_or(c.heads);
    c.headDim = optionalInt(j, "head_dim", file).value_or(c.heads > 0 ? c.hidden / c.heads : 0);
    c.vocab = requireInt(j, "vocab_size", file);
    c.maxPositions = optionalInt(j, "max_position_embeddings", file).value_or(0);
    c.rmsEps = optionalNumber(j, "rms_norm_eps", file).value_or(1e-6);
    c.ropeTheta = optionalNumber(j, "rope_theta", file).value_or(10000.0);
    c.rope = RopeStyle::Neox;
    c.tiedEmbeddings = model.findTensor("lm_head.weight") < 0;
    c.attentionBias = model.findTensor("model.layers.0.self_attn.q_proj.bias") >= 0;
    c.bosId = tokenIdKey(j, "bos_token_id", file);
    c.eosId = tokenIdKey(j, "eos_token_id", file);
    if (const json* rs = optionalKey(j, "rope_scaling")) {
        if (!rs->is_object())
            throw FileError(file, "key 'rope_scaling' must be an object, not " + rs->dump());
        const std::string type = optionalString(*rs, "rope_type", file)
                                     .value_or(optionalString(*rs, "type", file).value_or(""));
        if (type == "llama3") {
            c.ropeFactor = optionalNumber(*rs, "factor", file).value_or(8.0);
            c.ropeLowFreqFactor = optionalNumber(*rs, "low_freq_factor", file).value_or(1.0);
            c.ropeHighFreqFactor = optionalNumber(*rs, "high_freq_factor", file).value_or(4.0);
            c.ropeOriginalMaxPositions = optionalInt(*rs, "original_max_position_embeddings", file).value_or(8192);
            if (!(c.ropeFactor > 0) || !std::isfinite(c.ropeFactor) || !(c.ropeLowFreqFactor > 0) ||
                !std::isfinite(c.ropeLowFreqFactor) || !(c.ropeHighFreqFactor > c.ropeLowFreqFactor) ||
                !std::isfinite(c.ropeHighFreqFactor) || c.ropeOriginalMaxPositions <= 0)
                throw FileError(file, "rope_scaling needs a positive factor, 0 < low_freq_factor < "
                                      "high_freq_factor and a positive original_max_position_embeddings");
        } else if (type == "linear") {
            const double factor = optionalNumber(*rs, "factor", file).value_or(1.0);
            if (!(factor > 0) || !std::isfinite(factor))
                throw FileError(file, "rope_scaling 'factor' must be positive, not " + std::to_string(factor));
            c.ropeFactor = -factor; // negative: linear position scaling
        } else if (type != "default" && !type.empty()) {
            throw FileError(file, "rope_scaling type '" + type + "' is not supported (llama3 and linear are)");
        }
    }
    return c;
}

// The names a configuration's numbers have in its file, for messages.
struct ConfigKeys {
    std::string hidden, intermediate, layers, heads, kvHeads, headDim, vocab, maxPositions, rmsEps, ropeTheta;
};

const ConfigKeys kHfKeys{"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                         "num_key_value_heads", "head_dim", "vocab_size", "max_position_embeddings",
                         "rms_norm_eps", "rope_theta"};

ConfigKeys ggufKeys(const std::string& arch)
{
    return {arch + ".embedding_length", arch + ".feed_forward_length", arch + ".block_count",
            arch + ".attention.head_count", arch + ".attention.head_count_kv", arch + ".attention.key_length",
            "the rows of token_embd.weight", arch + ".context_length",
            arch + ".attention.layer_norm_rms_epsilon", arch + ".rope.freq_base"};
}

// Every number that sizes a loop, an allocation or a division, checked before use: positive,
// within what any real model has, consistent with each other and with the tensors present
// (a configuration claiming 10^6 blocks for a checkpoint of 50 tensors is refused here, before
// anything is allocated for them).
void checkConfig(const LlmConfig& c, const ConfigKeys& k, const Model& model, const std::string& file)
{
    constexpr int64_t kMaxDim = int64_t(1) << 24; // no dimension of a real model comes near
    auto dim = [&](int64_t v, const std::string& key) {
        if (v <= 0 || v > kMaxDim)
            throw FileError(file, "'" + key + "' is " + std::to_string(v) + "; it must be between 1 and " +
                                      std::to_string(kMaxDim));
    };
    dim(c.hidden, k.hidden);
    dim(c.intermediate, k.intermediate);
    dim(c.heads, k.heads);
    dim(c.kvHeads, k.kvHeads);
    dim(c.headDim, k.headDim);
    dim(c.vocab, k.vocab);
    if (c.heads % c.kvHeads != 0)
        throw FileError(file, "'" + k.heads + "' (" + std::to_string(c.heads) + ") attention heads cannot share '" +
                                  k.kvHeads + "' (" + std::to_string(c.kvHeads) + ") key/value heads evenly");
    if (c.headDim % 2 != 0)
        throw FileError(file, "'" + k.headDim + "' is " + std::to_string(c.headDim) + ", odd; RoPE needs pairs");
    if (c.heads * c.headDim > kMaxDim)
        throw FileError(file, "'" + k.heads + "' x '" + k.headDim + "' is " + std::to_string(c.heads * c.headDim) +
                                  ", beyond " + std::to_string(kMaxDim));
    // Each block has 7 weight matrices and 2 norms; the model has the embeddings and final norm too.
    const uint64_t tensors = model.tensors.size();
    if (c.layers <= 0 || static_cast<uint64_t>(c.layers) > tensors / 9)
        throw FileError(file, "'" + k.layers + "' is " + std::to_string(c.layers) + " but the checkpoint's " +
                                  std::to_string(tensors) + " tensors hold at most " + std::to_string(tensors / 9) +
                                  " blocks (9 tensors each)");
    if (c.maxPositions < 0)
        throw FileError(file, "'" + k.maxPositions + "' is negative (" + std::to_string(c.maxPositions) + ")");
    if (!(c.rmsEps > 0) || !std::isfinite(c.rmsEps))
        throw FileError(file, "'" + k.rmsEps + "' must be a positive number, not " + std::to_string(c.rmsEps));
    if (!(c.ropeTheta > 0) || !std::isfinite(c.ropeTheta))
        throw FileError(file, "'" + k.ropeTheta + "' must be a positive number, not " + std::to_string(c.ropeTheta));
}

LlmConfig fromGguf(const Model& model, const GgufMetadata& md)
{
    const std::string& file = model.path;
    LlmConfig c;
    const auto arch = md.requireTypedString("general.architecture", file);
    if (!arch)
        throw FileError(file, "GGUF metadata has no general.architecture");
    c.architecture = *arch;
    if (c.architecture != "llama" && c.architecture != "qwen2" && c.architecture != "mistral")
        throw FileError(file, "GGUF architecture '" + c.architecture +
                                  "' is not supported (llama, mistral and qwen2 are)");
    const std::string a = c.architecture + ".";
    auto need = [&](const std::string& key) -> int64_t {
        const auto v = md.requireTypedInt(a + key, file);
        if (!v)
            throw FileError(file, "GGUF metadata lacks '" + a + key + "'");
        return *v;
    };
    c.hidden = need("embedding_length");
    c.intermediate = need("feed_forward_length");
    c.layers = need("block_count");
    c.heads = need("attention.head_count");
    c.kvHeads = md.requireTypedInt(a + "attention.head_count_kv", file).value_or(c.heads);
    c.headDim = md.requireTypedInt(a + "attention.key_length", file).value_or(c.heads > 0 ? c.hidden / c.heads : 0);
    c.maxPositions = md.requireTypedInt(a + "context_length", file).value_or(0);
    c.rmsEps = md.requireTypedNumber(a + "attention.layer_norm_rms_epsilon", file).value_or(1e-5);
    c.ropeTheta = md.requireTypedNumber(a + "rope.freq_base", file).value_or(10000.0);
    // RoPE scaling as llama.cpp reads it: the factor (or the older scale_linear) scales
    // positions for the type "linear", the default; "llama3" scaling is rope_freqs.weight.
    const std::string scaling = md.requireTypedString(a + "rope.scaling.type", file).value_or("linear");
    const double factor = md.requireTypedNumber(a + "rope.scaling.factor", file)
                              .value_or(md.requireTypedNumber(a + "rope.scale_linear", file).value_or(0.0));
    if (scaling == "linear") {
        if (factor < 0 || !std::isfinite(factor))
            throw FileError(file, "GGUF metadata '" + a + "rope.scaling.factor' must be positive");
        if (factor > 0 && factor != 1)
            c.ropeFactor = -factor; // negative: linear position scaling
    } else if (scaling != "none") {
        throw FileError(file, "GGUF metadata '" + a + "rope.scaling.type' is '" + scaling +
                                  "', which Bonsai does not run (none and linear are)");
    }
    // llama.cpp permutes Q/K rows of Llama checkpoints when converting, so that RoPE rotates
    // adjacent pairs; Qwen2 keeps the Hugging Face (NeoX) layout.
    c.rope = c.architecture == "qwen2" ? RopeStyle::Neox : RopeStyle::Interleaved;
    const int emb = model.findTensor("token_embd.weight");
    if (emb < 0)
        throw FileError(file, "GGUF file has no token_embd.weight tensor");
    const auto& embShape = model.tensors[static_cast<size_t>(emb)].shape;
    if (embShape.size() != 2)
        throw FileError(file, "tensor 'token_embd.weight' has " + std::to_string(embShape.size()) +
                                  " dimensions, not 2 (vocabulary x embedding)");
    c.vocab = embShape[0];
    c.tiedEmbeddings = model.findTensor("output.weight") < 0;
    c.attentionBias = model.findTensor("blk.0.attn_q.bias") >= 0;
    // Token ids are checked against the vocabulary by the tokenizer (tokenizer_gguf.cpp).
    auto id = [&](const char* key) -> int32_t {
        const auto v = md.requireTypedInt(key, file);
        return v && *v >= 0 && *v <= INT32_MAX ? static_cast<int32_t>(*v) : -1;
    };
    c.bosId = id("tokenizer.ggml.bos_token_id");
    c.eosId = id("tokenizer.ggml.eos_token_id");
    return c;
}

} // namespace

std::string readTextFile(const std::string& path)
{
    std::string text = readRegularFile(path, uint64_t(1) << 30, "text file");
    if (text.empty())
        throw FileError(path, "the text file is empty");
    return text;
}

LlmConfig LlmConfig::fromModel(const Model& model)
{
    LlmConfig c;
    if (const GgufMetadata* md = ggufMetadata(model)) {
        c = fromGguf(model, *md);
        checkConfig(c, ggufKeys(c.architecture), model, model.path);
    } else if (model.format == Format::Safetensors) {
        c = fromHuggingFace(model);
        checkConfig(c, kHfKeys, model, (fs::path(checkpointDir(model)) / "config.json").string());
    } else {
        throw FileError(model.path, "language models are read from safetensors checkpoints or GGUF files");
    }
    return c;
}

double LlmConfig::llama3RopeDivisor(double freq) const
{
    const double oldCtx = double(ropeOriginalMaxPositions);
    const double lowWavelen = oldCtx / ropeLowFreqFactor, highWavelen = oldCtx / ropeHighFreqFactor;
    const double wavelen = 2 * std::numbers::pi / freq;
    if (wavelen > lowWavelen)
        return ropeFactor;
    if (wavelen < highWavelen)
        return 1;
    const double smooth = (oldCtx / wavelen - ropeLowFreqFactor) / (ropeHighFreqFactor - ropeLowFreqFactor);
    return 1 / ((1 - smooth) / ropeFactor + smooth);
}

std::string LlmConfig::describe() const
{
    std::ostringstream s;
    s << architecture << ", " << layers << " blocks, hidden " << hidden << ", " << heads << " heads";
    if (kvHeads != heads)
        s << " (" << kvHeads << " KV)";
    s << ", MLP " << intermediate << ", vocab " << vocab;
    if (tiedEmbeddings)
        s << ", tied embeddings";
    return s.str();
}

} // namespace bonsai
