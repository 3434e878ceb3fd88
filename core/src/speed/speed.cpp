// measureSpeed: the timing summary and the dispatch by model kind (bonsai/speed.h).
#include "bonsai/speed.h"

#include "bonsai/error.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "speed/speed_impl.h"

#include <algorithm>
#include <chrono>
#include <sys/resource.h>

namespace bonsai {

double speedClock()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double processPeakRssBytes()
{
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_maxrss) * 1024.0;
}

Spread spreadOf(std::vector<double> v)
{
    if (v.empty())
        return {};
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    const double med = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    return {med, v.front(), v.back()};
}

SpeedResult measureSpeed(const Model& model, const std::vector<LayerConfig>& configs, const SpeedOptions& o,
                         const ProgressFn& progress)
{
    if (o.batch < 1 || o.prompt < 1 || o.tokens < 1 || o.repeats < 1)
        throw Error("speed: batch, prompt, tokens and repeats must each be at least 1");
    if (!configs.empty() && configs.size() != model.layers.size())
        throw Error("speed: " + std::to_string(configs.size()) + " configurations for " +
                    std::to_string(model.layers.size()) + " layers");
    reportProgress(progress, 0);
    SpeedResult r = isLanguageModel(model) ? measureLlmSpeed(model, configs, o, progress)
                                           : measureOnnxSpeed(model, configs, o, progress);
    r.model = model.path;
    r.batch = o.batch;
    r.peakRssBytes = processPeakRssBytes();
    reportProgress(progress, 1);
    return r;
}

} // namespace bonsai
