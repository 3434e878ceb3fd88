#pragma once
// Whole-model starting points: one LayerConfig per layer, shared by the GUI's Presets menu and
// `bonsai-cli compress|eval|ppl --preset KEY`.
#include "bonsai/layer_config.h"

#include <optional>
#include <string_view>
#include <vector>

namespace bonsai {

class Model;

enum class Preset { Int8PerChannel, Int4Group128, Int4Group128Gptq, Sparse24Int8, Fp16, Reset, NUM_PRESETS };

struct PresetInfo {
    Preset preset;
    std::string_view key;  // command-line name: "int8", "int4-g128", ...
    std::string_view name; // menu text
    std::string_view help; // one or two sentences for a tooltip
};

// Every preset, in menu order.
const std::vector<PresetInfo>& presets();
const PresetInfo& presetInfo(Preset p);
std::optional<Preset> presetByKey(std::string_view key);

// One configuration per layer of `model`. Presets that keep embeddings and the output layer in
// FP16 use layerRole() (bonsai/layer_role.h).
std::vector<LayerConfig> presetConfigs(Preset p, const Model& model);

} // namespace bonsai
