// measureSpeed for language models: prefill and KV-cached decode on LlmDecoder.
#include "bonsai/kernels.h"
#include "bonsai/llm.h"
#include "bonsai/llm_decode.h"
#include "bonsai/model.h"
#include "speed/speed_impl.h"

#include <algorithm>
#include <omp.h>
#include <random>

namespace bonsai {

SpeedResult measureLlmSpeed(const Model& model, const std::vector<LayerConfig>& configs, const SpeedOptions& o,
                            const ProgressFn& progress)
{
    LanguageModel lm(model);
    DecodeOptions dopt;
    dopt.batch = o.batch;
    dopt.maxContext = o.prompt + o.tokens + 1;
    const double tb = speedClock();
    LlmDecoder dec(lm, configs, dopt);
    SpeedResult r;
    r.kind = SpeedResult::Kind::LanguageModel;
    r.bindSeconds = speedClock() - tb;
    const int64_t V = lm.config().vocab;
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> uid(std::min<int32_t>(3, int32_t(V - 1)), int32_t(V - 1));
    std::vector<int32_t> prompt(size_t(o.batch * o.prompt));
    for (auto& id : prompt)
        id = uid(rng);

    // Work units: per pass (the warm-up and each repeat) the prefill and every decode step.
    const double units = double(o.repeats + 1) * double(o.tokens + 1);
    double done = 0;
    auto tick = [&] { reportProgress(progress, ++done / units); };

    std::vector<double> prefill, step; // seconds
    std::vector<std::vector<double>> parts(DecodeTimes::kParts); // per-token seconds per repeat
    std::vector<std::vector<double>> layers(model.layers.size());
    for (int64_t rep = -1; rep < o.repeats; ++rep) { // repeat -1 warms up (threads, caches) unrecorded
        dec.reset();
        const double t0 = speedClock();
        std::vector<float> logits = dec.forward(prompt);
        if (rep >= 0)
            prefill.push_back(speedClock() - t0);
        tick();
        dec.resetTimes();
        std::vector<int32_t> next(size_t(o.batch));
        for (int64_t t = 0; t < o.tokens; ++t) {
            for (int64_t s = 0; s < o.batch; ++s) {
                const float* l = logits.data() + s * V;
                next[size_t(s)] = int32_t(std::max_element(l, l + V) - l);
            }
            const double t1 = speedClock();
            logits = dec.forward(next);
            if (rep >= 0)
                step.push_back(speedClock() - t1);
            tick();
        }
        if (rep < 0)
            continue;
        const DecodeTimes& times = dec.times();
        for (int p = 0; p < DecodeTimes::kParts; ++p)
            parts[size_t(p)].push_back(times.seconds[size_t(p)] / double(o.tokens));
        for (size_t li = 0; li < layers.size() && li < times.layerSeconds.size(); ++li)
            if (times.layerSeconds[li] > 0)
                layers[li].push_back(times.layerSeconds[li] / double(o.tokens));
    }
    r.description = lm.config().describe();
    r.threads = omp_get_max_threads();
    r.repeats = o.repeats;
    r.kernels = std::string(kernelIsaName(kernelIsa()));
    r.weightSummary = dec.weightSummary();
    r.promptTokens = o.prompt;
    r.decodeTokens = o.tokens;
    r.decodeSteps = int64_t(step.size());
    r.prefill = spreadOf(prefill);
    r.decodeStep = spreadOf(step);
    r.prefillTokensPerSecond = double(o.batch * o.prompt) / r.prefill.median;
    r.decodeTokensPerSecond = 1.0 / r.decodeStep.median;
    r.throughput = double(o.batch) / r.decodeStep.median;
    for (int p = 0; p < DecodeTimes::kParts; ++p)
        r.parts.push_back({DecodeTimes::partName(p), spreadOf(parts[size_t(p)])});
    r.layerSeconds.assign(model.layers.size(), -1.0);
    for (size_t li = 0; li < layers.size(); ++li)
        if (!layers[li].empty())
            r.layerSeconds[li] = spreadOf(layers[li]).median;
    r.weightBytes = dec.weightBytes();
    r.kvCacheBytes = dec.cacheBytes();
    r.notes = dec.notes();
    return r;
}

} // namespace bonsai
