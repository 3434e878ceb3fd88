#include "bonsai/layer_role.h"

#include "bonsai/model.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <string_view>

namespace bonsai {

namespace {

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

bool isProjection(const std::string& op) { return op == "Gemm" || op == "MatMul"; }

} // namespace

bool isEmbeddingName(const std::string& tensorName)
{
    const std::string s = lower(tensorName);
    for (std::string_view w : {"embed", "wte", "wpe", "tok_embeddings", "token_embd"})
        if (s.find(w) != std::string::npos)
            return true;
    return false;
}

LayerRole layerRole(const Model& m, size_t layer)
{
    const Layer& l = m.layers.at(layer);
    if (l.op == "Embedding" || l.op == "Gather")
        return LayerRole::Embedding;
    static const std::regex names(
        R"((^|[._/])(embed|embeddings|embed_tokens|wte|wpe|tok_embeddings|token_embd|lm_head|output|classifier|score)([._/]|$))",
        std::regex::icase);
    static const std::regex inner(R"(attn|attention|mlp|ffn|block|layers?[._/]\d)", std::regex::icase);
    static const std::regex topHead(R"(^(head|fc)([._/]|$))", std::regex::icase);
    // "output" alone names the output layer (GGUF, llama.cpp); inside a block it is a sublayer.
    if (std::regex_search(l.name, names) &&
        (l.name.find("embed") != std::string::npos || l.name.find("lm_head") != std::string::npos ||
         !std::regex_search(l.name, inner)))
        return isEmbeddingName(l.name) ? LayerRole::Embedding : LayerRole::Output;
    if (std::regex_search(l.name, topHead))
        return LayerRole::Output;
    if (m.format == Format::Onnx && isProjection(l.op)) {
        const bool last = std::none_of(m.layers.begin() + static_cast<std::ptrdiff_t>(layer) + 1, m.layers.end(),
                                       [](const Layer& k) { return isProjection(k.op) || k.op == "Conv"; });
        if (last)
            return LayerRole::Output;
    }
    return LayerRole::Weight;
}

} // namespace bonsai
