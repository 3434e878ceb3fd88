#pragma once
// Shared pieces of the speed measures (bonsai/speed.h): the clock, the process's peak
// resident set, the other processes' CPU load, and the two measures measureSpeed() dispatches to.
#include "bonsai/speed.h"

namespace bonsai {

double speedClock();          // seconds, monotonic
double processPeakRssBytes(); // getrusage's maximum resident set

// What the machine's CPUs did from construction to share(): the part of all cores' time that
// went to other processes than this one (busy time from /proc/stat minus this process's CPU
// time); -1 where /proc/stat cannot be read or less than half a second passed (its clock
// ticks are 10 ms: a shorter window says little).
class OtherCpuLoad {
public:
    OtherCpuLoad();
    double share() const;

private:
    CpuTimes start_;
    double wall_ = 0;
};

SpeedResult measureLlmSpeed(const Model& model, const std::vector<LayerConfig>& configs, const SpeedOptions& o,
                            const ProgressFn& progress);
SpeedResult measureOnnxSpeed(const Model& model, const std::vector<LayerConfig>& configs, const SpeedOptions& o,
                             const ProgressFn& progress);

} // namespace bonsai
