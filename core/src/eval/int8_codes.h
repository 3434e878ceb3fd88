#pragma once
// Deploy mode's INT8 weights: the integer codes behind a layer's compressed values.
#include "bonsai/layer_config.h"
#include "bonsai/model.h"
#include "bonsai/onnx_exec.h"

#include <optional>
#include <vector>

namespace bonsai {

// The 8-bit codes of a layer compressed to symmetric INT8 per channel or per tensor, read back
// from the values it computes with (`rec`, codes times scales); nullopt for any other
// configuration, or when the values are not such a grid (e.g. a rank-reduced product).
std::optional<QuantizedWeight> int8Codes(const Model& model, const Layer& layer, const LayerConfig& c,
                                         const std::vector<float>& rec);

} // namespace bonsai
