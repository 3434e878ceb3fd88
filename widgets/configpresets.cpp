#include "configpresets.h"

#include "bonsai/model.h"

#include <QCoreApplication>

#include <regex>

namespace bonsai::ui {

static QString tr(const char* s) { return QCoreApplication::translate("Presets", s); }

QString presetName(Preset p)
{
    switch (p) {
    case Preset::Int8PerChannel: return tr("INT8 everywhere (per channel)");
    case Preset::Int4Group128: return tr("INT4 group-128, embeddings and output layer in FP16");
    case Preset::Int4Group128Gptq: return tr("INT4 group-128 GPTQ (calibrated), embeddings and output in FP16");
    case Preset::Sparse24Int8: return tr("2:4 sparsity + INT8");
    case Preset::Fp16: return tr("FP16 everywhere");
    case Preset::Reset: return tr("Reset (no compression)");
    case Preset::NUM_PRESETS: break;
    }
    return {};
}

QString presetHelp(Preset p)
{
    switch (p) {
    case Preset::Int8PerChannel:
        return tr("Every layer as 8-bit integers with one scale per output channel: about 4× smaller "
                  "than FP32, usually without measurable accuracy loss.");
    case Preset::Int4Group128:
        return tr("4-bit integers with a scale per 128 weights (~4.1 bits/weight). Embeddings and the "
                  "output projection are the most sensitive layers and stay FP16.");
    case Preset::Int4Group128Gptq:
        return tr("The INT4 group-128 preset with GPTQ: each layer's rounding errors are corrected on "
                  "calibration data when the model is evaluated (Evaluate or Perplexity). Same size, "
                  "usually closer to the original; the single-layer preview shows round-to-nearest.");
    case Preset::Sparse24Int8:
        return tr("Two of every four weights pruned (the pattern sparse tensor cores accelerate) and the "
                  "rest stored as INT8 per channel.");
    case Preset::Fp16: return tr("Every layer as 16-bit floats: half of FP32, practically lossless.");
    case Preset::Reset: return tr("Every layer back to its stored weights: nothing compressed.");
    case Preset::NUM_PRESETS: break;
    }
    return {};
}

bool isEmbeddingOrOutput(const bonsai::Model& model, int layer)
{
    const auto& l = model.layers.at(static_cast<size_t>(layer));
    if (l.op == "Embedding" || l.op == "Gather")
        return true;
    static const std::regex names(R"((^|[._/])(embed|embeddings|embed_tokens|wte|wpe|tok_embeddings|token_embd|lm_head|output|classifier)([._/]|$))",
                                  std::regex::icase);
    static const std::regex inner(R"(attn|attention|mlp|ffn|block|layers?[._/]\d)", std::regex::icase);
    // "output" alone names the output layer (GGUF, llama.cpp); inside a block it is a sublayer.
    return std::regex_search(l.name, names) &&
           (l.name.find("embed") != std::string::npos || l.name.find("lm_head") != std::string::npos ||
            !std::regex_search(l.name, inner));
}

std::vector<bonsai::LayerConfig> presetConfigs(Preset p, const bonsai::Model& model)
{
    std::vector<bonsai::LayerConfig> out(model.layers.size());
    for (size_t i = 0; i < out.size(); ++i) {
        bonsai::LayerConfig& c = out[i];
        switch (p) {
        case Preset::Int8PerChannel:
            c.precision = {bonsai::PrecisionKind::Int, 8};
            break;
        case Preset::Int4Group128:
        case Preset::Int4Group128Gptq:
            if (isEmbeddingOrOutput(model, static_cast<int>(i))) {
                c.precision = {bonsai::PrecisionKind::FP16};
            } else {
                c.precision = {bonsai::PrecisionKind::Int, 4};
                c.granularity = bonsai::Granularity::Group;
                c.groupSize = 128;
                if (p == Preset::Int4Group128Gptq)
                    c.method = bonsai::QuantMethod::GPTQ;
            }
            break;
        case Preset::Sparse24Int8:
            c.precision = {bonsai::PrecisionKind::Int, 8};
            c.pattern = bonsai::SparsityPattern::NM;
            c.n = 2;
            c.m = 4;
            break;
        case Preset::Fp16: c.precision = {bonsai::PrecisionKind::FP16}; break;
        case Preset::Reset:
        case Preset::NUM_PRESETS: break;
        }
    }
    return out;
}

} // namespace bonsai::ui
