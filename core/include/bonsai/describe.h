#pragma once
// Descriptions of compression configurations, one place for the CLI, the GUI's tables, its
// trade-off charts and its run labels.
#include "bonsai/layer_config.h"

#include <string>
#include <vector>

namespace bonsai {

// One line a person can read, e.g. "int4 group 128 asym, 50% unstructured, rank 16".
std::string describe(const LayerConfig& c);

// Table cells: precision "int4 g128", "int8 tensor asym", "int4 g32 gptq", "unchanged" for
// fp32; sparsity "—", "50%", "2:4", "30% channels", "50% (global)"; rank "—", "16",
// "95% energy".
std::string shortPrecision(const LayerConfig& c);
std::string shortSparsity(const LayerConfig& c);
std::string shortRank(const LayerConfig& c);

// A whole model's configuration in a few words: "uncompressed", "int8 per channel (all 4
// layers)", or the three most common descriptions with their counts ("3× int8 per channel,
// 1× fp16, …").
std::string configSummary(const std::vector<LayerConfig>& configs);

// The label of a calibration run: the most common integer quantization as "METHOD precision
// group" ("GPTQ int4 g32", "RTN int8 per channel"), "(+N other)" when other layers are
// compressed differently; "uncompressed"; "N compressed layers" when none is an integer one.
std::string runLabel(const std::vector<LayerConfig>& configs);

} // namespace bonsai
