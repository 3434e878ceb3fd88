#pragma once
// Whole-model starting points for the Presets menu.
#include "bonsai/layer_config.h"

#include <QString>

#include <vector>

namespace bonsai {
class Model;
}

namespace bonsai::ui {

enum class Preset { Int8PerChannel, Int4Group128, Int4Group128Gptq, Sparse24Int8, Fp16, Reset, NUM_PRESETS };

QString presetName(Preset p);
QString presetHelp(Preset p);
// One configuration per layer of `model`.
std::vector<bonsai::LayerConfig> presetConfigs(Preset p, const bonsai::Model& model);
// Embedding tables and the output (vocabulary) projection, which presets keep in FP16.
bool isEmbeddingOrOutput(const bonsai::Model& model, int layer);

} // namespace bonsai::ui
