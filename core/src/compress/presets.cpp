#include "bonsai/presets.h"

#include "bonsai/layer_role.h"
#include "bonsai/model.h"

#include <stdexcept>

namespace bonsai {

const std::vector<PresetInfo>& presets()
{
    static const std::vector<PresetInfo> all = {
        {Preset::Int8PerChannel, "int8", "INT8 everywhere (per channel)",
         "Every layer as 8-bit integers with one scale per output channel: about 4× smaller than FP32, "
         "usually without measurable accuracy loss."},
        {Preset::Int4Group128, "int4-g128", "INT4 group-128, embeddings and output layer in FP16",
         "4-bit integers with a scale per 128 weights (~4.1 bits/weight). Embeddings and the output "
         "projection are the most sensitive layers and stay FP16."},
        {Preset::Int4Group128Gptq, "int4-g128-gptq", "INT4 group-128 GPTQ (calibrated), embeddings and output in FP16",
         "The INT4 group-128 preset with GPTQ: each layer's rounding errors are corrected on calibration "
         "data when the model is evaluated (Evaluate or Perplexity). Same size, usually closer to the "
         "original; the single-layer preview shows round-to-nearest."},
        {Preset::Sparse24Int8, "sparse24-int8", "2:4 sparsity + INT8",
         "Two of every four weights pruned (the pattern sparse tensor cores accelerate) and the rest "
         "stored as INT8 per channel."},
        {Preset::Fp16, "fp16", "FP16 everywhere", "Every layer as 16-bit floats: half of FP32, practically lossless."},
        {Preset::Reset, "reset", "Reset (no compression)", "Every layer back to its stored weights: nothing compressed."},
    };
    return all;
}

const PresetInfo& presetInfo(Preset p)
{
    for (const auto& info : presets())
        if (info.preset == p)
            return info;
    throw std::out_of_range("unknown preset");
}

std::optional<Preset> presetByKey(std::string_view key)
{
    for (const auto& info : presets())
        if (info.key == key)
            return info.preset;
    return std::nullopt;
}

std::vector<LayerConfig> presetConfigs(Preset p, const Model& model)
{
    std::vector<LayerConfig> out(model.layers.size());
    for (size_t i = 0; i < out.size(); ++i) {
        LayerConfig& c = out[i];
        switch (p) {
        case Preset::Int8PerChannel: c.precision = {PrecisionKind::Int, 8}; break;
        case Preset::Int4Group128:
        case Preset::Int4Group128Gptq:
            if (layerRole(model, i) != LayerRole::Weight) {
                c.precision = {PrecisionKind::FP16};
            } else {
                c.precision = {PrecisionKind::Int, 4};
                c.granularity = Granularity::Group;
                c.groupSize = 128;
                if (p == Preset::Int4Group128Gptq)
                    c.method = QuantMethod::GPTQ;
            }
            break;
        case Preset::Sparse24Int8:
            c.precision = {PrecisionKind::Int, 8};
            c.pattern = SparsityPattern::NM;
            c.n = 2;
            c.m = 4;
            break;
        case Preset::Fp16: c.precision = {PrecisionKind::FP16}; break;
        case Preset::Reset:
        case Preset::NUM_PRESETS: break;
        }
    }
    return out;
}

} // namespace bonsai
