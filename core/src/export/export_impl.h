#pragma once
// Internals of the exporters: each format builds its file writer and the plan together, so
// the plan's sizes are those of the file written.
#include "bonsai/export.h"

namespace bonsai {
class GgufFileWriter;
}

namespace bonsai::detail {

ExportPlan buildGguf(const Model& model, const std::vector<LayerConfig>& configs, const ExportOptions& options,
                     GgufFileWriter& writer);

} // namespace bonsai::detail
