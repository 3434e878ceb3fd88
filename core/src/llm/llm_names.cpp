// Names of Llama-family tensors: Hugging Face ("model.layers.3.self_attn.q_proj.weight") and
// GGUF ("blk.3.attn_q.weight") conventions, mapped to roles and display groups.
#include "bonsai/llm.h"

#include <array>
#include <charconv>

namespace bonsai {

namespace {

struct RoleName {
    std::string_view suffix; // after the block prefix (HF) or "blk.N." (GGUF)
    LlmRole role;
};

constexpr std::array<RoleName, 9> kHfBlock = {{
    {"input_layernorm", LlmRole::AttnNorm},
    {"self_attn.q_proj", LlmRole::Q},
    {"self_attn.k_proj", LlmRole::K},
    {"self_attn.v_proj", LlmRole::V},
    {"self_attn.o_proj", LlmRole::O},
    {"post_attention_layernorm", LlmRole::MlpNorm},
    {"mlp.gate_proj", LlmRole::Gate},
    {"mlp.up_proj", LlmRole::Up},
    {"mlp.down_proj", LlmRole::Down},
}};

constexpr std::array<RoleName, 9> kGgufBlock = {{
    {"attn_norm", LlmRole::AttnNorm},
    {"attn_q", LlmRole::Q},
    {"attn_k", LlmRole::K},
    {"attn_v", LlmRole::V},
    {"attn_output", LlmRole::O},
    {"ffn_norm", LlmRole::MlpNorm},
    {"ffn_gate", LlmRole::Gate},
    {"ffn_up", LlmRole::Up},
    {"ffn_down", LlmRole::Down},
}};

std::string_view stripSuffix(std::string_view name)
{
    for (std::string_view s : {std::string_view(".weight"), std::string_view(".bias")})
        if (name.size() > s.size() && name.substr(name.size() - s.size()) == s)
            return name.substr(0, name.size() - s.size());
    return name;
}

std::string_view labelOf(LlmRole r, bool gguf)
{
    switch (r) {
    case LlmRole::Embedding: return gguf ? "token_embd" : "embed_tokens";
    case LlmRole::AttnNorm: return gguf ? "attn_norm" : "input_layernorm";
    case LlmRole::Q: return gguf ? "attn_q" : "q_proj";
    case LlmRole::K: return gguf ? "attn_k" : "k_proj";
    case LlmRole::V: return gguf ? "attn_v" : "v_proj";
    case LlmRole::O: return gguf ? "attn_output" : "o_proj";
    case LlmRole::MlpNorm: return gguf ? "ffn_norm" : "post_attention_layernorm";
    case LlmRole::Gate: return gguf ? "ffn_gate" : "gate_proj";
    case LlmRole::Up: return gguf ? "ffn_up" : "up_proj";
    case LlmRole::Down: return gguf ? "ffn_down" : "down_proj";
    case LlmRole::FinalNorm: return gguf ? "output_norm" : "norm";
    case LlmRole::Head: return gguf ? "output" : "lm_head";
    }
    return "";
}

LlmLayerInfo make(int block, LlmRole role, bool gguf)
{
    LlmLayerInfo info;
    info.block = block;
    info.role = role;
    info.label = std::string(labelOf(role, gguf));
    switch (role) {
    case LlmRole::Embedding: info.group = "Embeddings"; break;
    case LlmRole::FinalNorm:
    case LlmRole::Head: info.group = "Output head"; break;
    default:
        info.group = "Block " + std::to_string(block);
        info.part = (role == LlmRole::AttnNorm || role == LlmRole::Q || role == LlmRole::K ||
                     role == LlmRole::V || role == LlmRole::O)
                        ? "attention"
                        : "mlp";
        break;
    }
    return info;
}

// Parses "<digits>." at the start of s; returns the block index and advances s.
std::optional<int> takeBlock(std::string_view& s)
{
    int block = -1;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), block);
    if (ec != std::errc() || p == s.data() || block < 0)
        return std::nullopt;
    s.remove_prefix(static_cast<size_t>(p - s.data()));
    if (s.empty() || s.front() != '.')
        return std::nullopt;
    s.remove_prefix(1);
    return block;
}

} // namespace

std::string_view llmRoleName(LlmRole r)
{
    switch (r) {
    case LlmRole::Embedding: return "embeddings";
    case LlmRole::AttnNorm: return "attn.norm";
    case LlmRole::Q: return "attn.q";
    case LlmRole::K: return "attn.k";
    case LlmRole::V: return "attn.v";
    case LlmRole::O: return "attn.o";
    case LlmRole::MlpNorm: return "mlp.norm";
    case LlmRole::Gate: return "mlp.gate";
    case LlmRole::Up: return "mlp.up";
    case LlmRole::Down: return "mlp.down";
    case LlmRole::FinalNorm: return "final norm";
    case LlmRole::Head: return "head";
    }
    return "";
}

std::optional<LlmLayerInfo> llmLayerInfo(std::string_view name)
{
    std::string_view s = stripSuffix(name);
    // Hugging Face: "model.embed_tokens", "model.layers.N.<role>", "model.norm", "lm_head".
    // Some exports drop the leading "model.".
    if (s == "model.embed_tokens" || s == "embed_tokens")
        return make(-1, LlmRole::Embedding, false);
    if (s == "model.norm")
        return make(-1, LlmRole::FinalNorm, false);
    if (s == "lm_head")
        return make(-1, LlmRole::Head, false);
    for (std::string_view prefix : {std::string_view("model.layers."), std::string_view("layers.")}) {
        if (s.substr(0, prefix.size()) != prefix)
            continue;
        std::string_view rest = s.substr(prefix.size());
        const auto block = takeBlock(rest);
        if (!block)
            return std::nullopt;
        for (const auto& r : kHfBlock)
            if (rest == r.suffix)
                return make(*block, r.role, false);
        return std::nullopt;
    }
    // GGUF: "token_embd", "blk.N.<role>", "output_norm", "output".
    if (s == "token_embd")
        return make(-1, LlmRole::Embedding, true);
    if (s == "output_norm")
        return make(-1, LlmRole::FinalNorm, true);
    if (s == "output")
        return make(-1, LlmRole::Head, true);
    if (s.substr(0, 4) == "blk.") {
        std::string_view rest = s.substr(4);
        const auto block = takeBlock(rest);
        if (!block)
            return std::nullopt;
        for (const auto& r : kGgufBlock)
            if (rest == r.suffix)
                return make(*block, r.role, true);
    }
    return std::nullopt;
}

std::optional<std::string> ggufTensorName(std::string_view name)
{
    const auto info = llmLayerInfo(name);
    if (!info)
        return std::nullopt;
    const std::string_view stem = stripSuffix(name);
    const std::string suffix(name.substr(stem.size())); // ".weight", ".bias" or nothing
    const std::string label(labelOf(info->role, true));
    return (info->block >= 0 ? "blk." + std::to_string(info->block) + "." + label : label) + suffix;
}

bool isLanguageModel(const Model& model)
{
    bool embedding = false, q = false, down = false;
    for (const TensorInfo& t : model.tensors) {
        const auto info = llmLayerInfo(t.name);
        if (!info)
            continue;
        embedding |= info->role == LlmRole::Embedding;
        q |= info->role == LlmRole::Q;
        down |= info->role == LlmRole::Down;
    }
    return embedding && q && down;
}

} // namespace bonsai
