// measureSpeed: the timing summary and the dispatch by model kind (bonsai/speed.h).
#include "bonsai/speed.h"

#include "bonsai/error.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "speed/speed_impl.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

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

CpuTimes cpuTimesNow()
{
    CpuTimes t;
    std::ifstream in("/proc/stat");
    std::string cpu;
    // cpu user nice system idle iowait irq softirq steal (guest time is inside user and nice)
    double v[8] = {};
    if (!(in >> cpu) || cpu != "cpu")
        return t;
    for (double& x : v)
        if (!(in >> x))
            return t;
    const double tick = double(sysconf(_SC_CLK_TCK));
    if (tick <= 0)
        return t;
    double total = 0;
    for (double x : v)
        total += x;
    t.total = total / tick;
    t.busy = (total - v[3] - v[4]) / tick;
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    t.self = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    return t;
}

OtherCpuLoad::OtherCpuLoad() : start_(cpuTimesNow()), wall_(speedClock()) {}

double OtherCpuLoad::share() const
{
    const CpuTimes now = cpuTimesNow();
    const double total = now.total - start_.total;
    if (start_.total < 0 || now.total < 0 || total <= 0 || speedClock() - wall_ < 0.5)
        return -1;
    const double other = (now.busy - start_.busy) - (now.self - start_.self);
    return std::clamp(other / total, 0.0, 1.0);
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
    const OtherCpuLoad load;
    SpeedResult r = isLanguageModel(model) ? measureLlmSpeed(model, configs, o, progress)
                                           : measureOnnxSpeed(model, configs, o, progress);
    r.model = model.path;
    r.batch = o.batch;
    r.peakRssBytes = processPeakRssBytes();
    r.otherCpuShare = load.share();
    reportProgress(progress, 1);
    return r;
}

} // namespace bonsai
