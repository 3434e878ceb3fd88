#pragma once
// Shared pieces of the speed measures (bonsai/speed.h): the clock, the process's peak
// resident set, and the two measures measureSpeed() dispatches to.
#include "bonsai/speed.h"

namespace bonsai {

double speedClock();          // seconds, monotonic
double processPeakRssBytes(); // getrusage's maximum resident set

SpeedResult measureLlmSpeed(const Model& model, const std::vector<LayerConfig>& configs, const SpeedOptions& o,
                            const ProgressFn& progress);
SpeedResult measureOnnxSpeed(const Model& model, const std::vector<LayerConfig>& configs, const SpeedOptions& o,
                             const ProgressFn& progress);

} // namespace bonsai
