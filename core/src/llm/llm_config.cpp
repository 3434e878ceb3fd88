// LlmConfig from a Hugging Face config.json or from GGUF metadata, checked against the tensors.
#include "bonsai/error.h"
#include "common/regular_file.h"
#include "formats/gguf.h"
#include "bonsai/llm.h"

#include <nlohmann/json.hpp>

#include <cmath>
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

int64_t requireInt(const nlohmann::json& j, const char* key, const std::string& file)
{
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer())
        throw FileError(file, std::string("missing or non-integer key '") + key + "'");
    const int64_t v = it->get<int64_t>();
    if (v <= 0)
        throw FileError(file, std::string("key '") + key + "' must be positive, not " + std::to_string(v));
    return v;
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
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
        throw FileError(file, std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object())
        throw FileError(file, "not a JSON object");
    LlmConfig c;
    c.architecture = j.value("model_type", std::string("llama"));
    if (c.architecture != "llama" && c.architecture != "mistral" && c.architecture != "qwen2")
        throw FileError(file, "model_type '" + c.architecture +
                                  "' is not supported (llama, mistral and qwen2 are)");
    c.hidden = requireInt(j, "hidden_size", file);
    c.intermediate = requireInt(j, "intermediate_size", file);
    c.layers = requireInt(j, "num_hidden_layers", file);
    c.heads = requireInt(j, "num_attention_heads", file);
    c.kvHeads = j.contains("num_key_value_heads") && !j["num_key_value_heads"].is_null()
                    ? requireInt(j, "num_key_value_heads", file)
                    : c.heads;
    c.headDim = j.contains("head_dim") && !j["head_dim"].is_null() ? requireInt(j, "head_dim", file)
                                                                   : c.hidden / c.heads;
    c.vocab = requireInt(j, "vocab_size", file);
    c.maxPositions = j.value("max_position_embeddings", int64_t(0));
    c.rmsEps = j.value("rms_norm_eps", 1e-6);
    if (j.contains("rope_theta") && j["rope_theta"].is_number())
        c.ropeTheta = j["rope_theta"].get<double>();
    c.rope = RopeStyle::Neox;
    c.tiedEmbeddings = model.findTensor("lm_head.weight") < 0;
    c.attentionBias = model.findTensor("model.layers.0.self_attn.q_proj.bias") >= 0;
    if (j.contains("bos_token_id") && j["bos_token_id"].is_number_integer())
        c.bosId = j["bos_token_id"].get<int32_t>();
    if (j.contains("eos_token_id") && j["eos_token_id"].is_number_integer())
        c.eosId = j["eos_token_id"].get<int32_t>();
    if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) {
        const auto& rs = j["rope_scaling"];
        const std::string type = rs.value("rope_type", rs.value("type", std::string()));
        if (type == "llama3") {
            c.ropeFactor = rs.value("factor", 8.0);
            c.ropeLowFreqFactor = rs.value("low_freq_factor", 1.0);
            c.ropeHighFreqFactor = rs.value("high_freq_factor", 4.0);
            c.ropeOriginalMaxPositions = rs.value("original_max_position_embeddings", int64_t(8192));
        } else if (type == "linear") {
            c.ropeFactor = -rs.value("factor", 1.0); // negative: linear position scaling
        } else if (type != "default" && !type.empty()) {
            throw FileError(file, "rope_scaling type '" + type + "' is not supported (llama3 and linear are)");
        }
    }
    return c;
}

LlmConfig fromGguf(const Model& model, const GgufMetadata& md)
{
    const std::string& file = model.path;
    LlmConfig c;
    const auto arch = md.getString("general.architecture");
    if (!arch)
        throw FileError(file, "GGUF metadata has no general.architecture");
    c.architecture = *arch;
    if (c.architecture != "llama" && c.architecture != "qwen2" && c.architecture != "mistral")
        throw FileError(file, "GGUF architecture '" + c.architecture +
                                  "' is not supported (llama, mistral and qwen2 are)");
    auto need = [&](const std::string& key) -> int64_t {
        const auto v = md.getInt(c.architecture + "." + key);
        if (!v || *v <= 0)
            throw FileError(file, "GGUF metadata lacks a positive '" + c.architecture + "." + key + "'");
        return *v;
    };
    c.hidden = need("embedding_length");
    c.intermediate = need("feed_forward_length");
    c.layers = need("block_count");
    c.heads = need("attention.head_count");
    c.kvHeads = md.getInt(c.architecture + ".attention.head_count_kv").value_or(c.heads);
    c.headDim = md.getInt(c.architecture + ".attention.key_length").value_or(c.hidden / c.heads);
    c.maxPositions = md.getInt(c.architecture + ".context_length").value_or(0);
    c.rmsEps = md.getDouble(c.architecture + ".attention.layer_norm_rms_epsilon").value_or(1e-5);
    c.ropeTheta = md.getDouble(c.architecture + ".rope.freq_base").value_or(10000.0);
    // RoPE scaling as llama.cpp reads it: the factor (or the older scale_linear) scales
    // positions for the type "linear", the default; "llama3" scaling is rope_freqs.weight.
    const std::string scaling = md.getString(c.architecture + ".rope.scaling.type").value_or("linear");
    const double factor = md.getDouble(c.architecture + ".rope.scaling.factor")
                              .value_or(md.getDouble(c.architecture + ".rope.scale_linear").value_or(0.0));
    if (scaling == "linear") {
        if (factor < 0 || !std::isfinite(factor))
            throw FileError(file, "GGUF metadata '" + c.architecture + ".rope.scaling.factor' must be positive");
        if (factor > 0 && factor != 1)
            c.ropeFactor = -factor; // negative: linear position scaling
    } else if (scaling != "none") {
        throw FileError(file, "GGUF metadata '" + c.architecture + ".rope.scaling.type' is '" + scaling +
                                  "', which Bonsai does not run (none and linear are)");
    }
    // llama.cpp permutes Q/K rows of Llama checkpoints when converting, so that RoPE rotates
    // adjacent pairs; Qwen2 keeps the Hugging Face (NeoX) layout.
    c.rope = c.architecture == "qwen2" ? RopeStyle::Neox : RopeStyle::Interleaved;
    const int emb = model.findTensor("token_embd.weight");
    if (emb < 0)
        throw FileError(file, "GGUF file has no token_embd.weight tensor");
    c.vocab = model.tensors[static_cast<size_t>(emb)].shape.at(0);
    c.tiedEmbeddings = model.findTensor("output.weight") < 0;
    c.attentionBias = model.findTensor("blk.0.attn_q.bias") >= 0;
    c.bosId = static_cast<int32_t>(md.getInt("tokenizer.ggml.bos_token_id").value_or(-1));
    c.eosId = static_cast<int32_t>(md.getInt("tokenizer.ggml.eos_token_id").value_or(-1));
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
    if (const GgufMetadata* md = ggufMetadata(model))
        c = fromGguf(model, *md);
    else if (model.format == Format::Safetensors)
        c = fromHuggingFace(model);
    else
        throw FileError(model.path, "language models are read from safetensors checkpoints or GGUF files");
    if (c.heads % c.kvHeads != 0)
        throw FileError(model.path, std::to_string(c.heads) + " attention heads cannot share " +
                                        std::to_string(c.kvHeads) + " key/value heads evenly");
    if (c.headDim % 2 != 0)
        throw FileError(model.path, "head dimension " + std::to_string(c.headDim) + " is odd; RoPE needs pairs");
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
