// bonsai-cli speed: inference speed of a model as it would be deployed.
//
// Language models: LlmDecoder (packed low-bit kernels, KV cache): prefill of a prompt of random
// token ids, then greedy decode steps; per part (linear layer type, attention, rest) and total
// latency per decoded token as the median over the repeats with their range; resident weights,
// KV cache and peak RSS. ONNX classifiers: the executor's latency per batch, per node and in
// total, and images per second.
#include "commands.h"

#include "bonsai/compress.h"
#include "bonsai/kernels.h"
#include "bonsai/llm.h"
#include "bonsai/llm_decode.h"
#include "bonsai/model.h"
#include "bonsai/onnx_exec.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <omp.h>
#include <random>
#include <sys/resource.h>

namespace cli {

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double peakRssBytes()
{
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_maxrss) * 1024.0;
}

struct Spread {
    double median = 0, min = 0, max = 0;
};

Spread spreadOf(std::vector<double> v)
{
    if (v.empty())
        return {};
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    const double med = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    return {med, v.front(), v.back()};
}

nlohmann::ordered_json spreadJson(const Spread& s, double scale)
{
    return {{"median", s.median * scale}, {"min", s.min * scale}, {"max", s.max * scale}};
}

struct SpeedOptions {
    int64_t batch = 1, prompt = 128, tokens = 32, repeats = 3;
    int threads = 0;
    bool json = false;
};

int speedLlm(const bonsai::Model& model, const std::vector<bonsai::LayerConfig>& configs, const SpeedOptions& o)
{
    bonsai::LanguageModel lm(model);
    bonsai::DecodeOptions dopt;
    dopt.batch = o.batch;
    dopt.maxContext = o.prompt + o.tokens + 1;
    const double tb = now();
    bonsai::LlmDecoder dec(lm, configs, dopt);
    const double bindSeconds = now() - tb;
    const int64_t V = lm.config().vocab;
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> uid(std::min<int32_t>(3, int32_t(V - 1)), int32_t(V - 1));
    std::vector<int32_t> prompt(size_t(o.batch * o.prompt));
    for (auto& id : prompt)
        id = uid(rng);

    std::vector<double> prefill, step; // seconds
    std::vector<std::vector<double>> parts(bonsai::DecodeTimes::kParts); // per-token seconds per repeat
    for (int64_t r = -1; r < o.repeats; ++r) { // repeat -1 warms up (threads, caches) unrecorded
        dec.reset();
        const double t0 = now();
        std::vector<float> logits = dec.forward(prompt);
        if (r >= 0)
            prefill.push_back(now() - t0);
        dec.resetTimes();
        std::vector<int32_t> next(size_t(o.batch));
        for (int64_t t = 0; t < o.tokens; ++t) {
            for (int64_t s = 0; s < o.batch; ++s) {
                const float* l = logits.data() + s * V;
                next[size_t(s)] = int32_t(std::max_element(l, l + V) - l);
            }
            const double t1 = now();
            logits = dec.forward(next);
            if (r >= 0)
                step.push_back(now() - t1);
        }
        for (int p = 0; p < bonsai::DecodeTimes::kParts && r >= 0; ++p)
            parts[size_t(p)].push_back(dec.times().seconds[size_t(p)] / double(o.tokens));
    }
    const Spread pre = spreadOf(prefill), st = spreadOf(step);
    const double prefillTps = double(o.batch * o.prompt) / pre.median;
    const double decodeTps = 1.0 / st.median;
    const double throughput = double(o.batch) / st.median;
    const double rss = peakRssBytes();
    if (o.json) {
        nlohmann::ordered_json j;
        j["kind"] = "language model";
        j["model"] = model.path;
        j["kernels"] = std::string(bonsai::kernelIsaName(bonsai::kernelIsa()));
        j["threads"] = omp_get_max_threads();
        j["batch"] = o.batch;
        j["weights"] = dec.weightSummary();
        j["prompt_tokens"] = o.prompt;
        j["decode_tokens"] = o.tokens;
        j["repeats"] = o.repeats;
        j["prefill_tokens_per_second"] = prefillTps;
        j["decode_tokens_per_second"] = decodeTps;
        j["throughput"] = throughput;
        j["prefill_ms"] = spreadJson(pre, 1e3);
        j["decode_token_ms"] = spreadJson(st, 1e3);
        nlohmann::ordered_json per;
        for (int p = 0; p < bonsai::DecodeTimes::kParts; ++p)
            per[bonsai::DecodeTimes::partName(p)] = spreadJson(spreadOf(parts[size_t(p)]), 1e3);
        j["decode_token_ms_per_part"] = per;
        j["weight_bytes"] = dec.weightBytes();
        j["kv_cache_bytes"] = dec.cacheBytes();
        j["peak_rss_bytes"] = rss;
        j["bind_seconds"] = bindSeconds;
        j["notes"] = dec.notes();
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    std::printf("%s: %s\n", model.path.c_str(), lm.config().describe().c_str());
    std::printf("weights: %s; %.1f MiB resident, KV cache %.1f MiB; kernels %s, %d threads\n",
                dec.weightSummary().c_str(), double(dec.weightBytes()) / 1048576.0,
                double(dec.cacheBytes()) / 1048576.0, std::string(bonsai::kernelIsaName(bonsai::kernelIsa())).c_str(),
                omp_get_max_threads());
    std::printf("prefill  %lld x %lld tokens: %.1f tokens/s (median %.1f ms, %.1f-%.1f over %lld repeats)\n",
                (long long)o.batch, (long long)o.prompt, prefillTps, pre.median * 1e3, pre.min * 1e3, pre.max * 1e3,
                (long long)o.repeats);
    std::printf("decode   batch %lld: %.1f tokens/s per sequence, throughput %.1f tokens/s (median %.2f ms per step, "
                "%.2f-%.2f)\n",
                (long long)o.batch, decodeTps, throughput, st.median * 1e3, st.min * 1e3, st.max * 1e3);
    std::printf("per decode step (median over repeats, min-max):\n");
    for (int p = 0; p < bonsai::DecodeTimes::kParts; ++p) {
        const Spread s = spreadOf(parts[size_t(p)]);
        std::printf("  %-10s %7.3f ms  (%.3f-%.3f)\n", bonsai::DecodeTimes::partName(p), s.median * 1e3, s.min * 1e3,
                    s.max * 1e3);
    }
    std::printf("peak RSS %.1f MiB\n", rss / 1048576.0);
    for (const auto& n : dec.notes())
        std::printf("note: %s\n", n.c_str());
    return 0;
}

int speedOnnx(const bonsai::Model& model, const std::vector<bonsai::LayerConfig>& configs, const SpeedOptions& o)
{
    bonsai::OnnxExecutor ex(model);
    for (size_t i = 0; i < configs.size(); ++i)
        if (!configs[i].isIdentity()) {
            std::vector<float> w;
            bonsai::compressLayer(model, int(i), configs[i], &w);
            ex.setWeight(model.tensors[size_t(model.layers[i].weight)].name, std::move(w));
        }
    bonsai::OnnxExecutor::Store store;
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (size_t k = 0; k < ex.inputNames().size(); ++k) {
        std::vector<int64_t> shape = ex.inputShape(k);
        for (size_t d = 0; d < shape.size(); ++d)
            if (shape[d] < 0)
                shape[d] = d == 0 ? o.batch : 1;
        if (!shape.empty())
            shape[0] = o.batch;
        size_t n = 1;
        for (int64_t d : shape)
            n *= size_t(d);
        std::vector<float> v(n);
        for (float& x : v)
            x = u(rng);
        store[ex.inputNames()[k]] = bonsai::Value::floats(shape, std::move(v));
    }
    ex.run(store); // warm-up
    std::vector<double> total;
    std::vector<std::vector<double>> perNode(ex.nodeCount());
    for (int64_t r = 0; r < std::max<int64_t>(o.repeats, 5); ++r) {
        const double t0 = now();
        ex.run(store);
        total.push_back(now() - t0);
        for (size_t k = 0; k < ex.nodeCount(); ++k) {
            const double t1 = now();
            ex.run(store, k, k + 1);
            perNode[k].push_back(now() - t1);
        }
    }
    const Spread t = spreadOf(total);
    const double rss = peakRssBytes();
    if (o.json) {
        nlohmann::ordered_json j;
        j["kind"] = "onnx";
        j["model"] = model.path;
        j["threads"] = omp_get_max_threads();
        j["batch"] = o.batch;
        j["latency_ms"] = spreadJson(t, 1e3);
        j["throughput"] = double(o.batch) / t.median;
        nlohmann::ordered_json nodes = nlohmann::ordered_json::array();
        for (size_t k = 0; k < ex.nodeCount(); ++k)
            nodes.push_back({{"node", ex.node(k).name}, {"op", ex.node(k).op},
                             {"ms", spreadJson(spreadOf(perNode[k]), 1e3)}});
        j["nodes"] = nodes;
        j["weight_bytes"] = model.totalBytes();
        j["peak_rss_bytes"] = rss;
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    std::printf("%s: batch %lld, %d threads: %.3f ms per batch (median, %.3f-%.3f), %.1f samples/s\n",
                model.path.c_str(), (long long)o.batch, omp_get_max_threads(), t.median * 1e3, t.min * 1e3,
                t.max * 1e3, double(o.batch) / t.median);
    for (size_t k = 0; k < ex.nodeCount(); ++k)
        std::printf("  %-24s %-12s %8.3f ms\n", ex.node(k).name.c_str(), ex.node(k).op.c_str(),
                    spreadOf(perNode[k]).median * 1e3);
    std::printf("peak RSS %.1f MiB\n", rss / 1048576.0);
    return 0;
}

} // namespace

int cmdSpeed(const Args& in)
{
    Args args = in;
    const char* usage = "bonsai-cli speed MODEL [--recipe R.json | --preset KEY] [--batch N] [--threads T] "
                        "[--prompt N] [--tokens N] [--repeats N] [--json]";
    SpeedOptions o;
    o.json = takeFlag(args, "--json");
    std::string batch, threads, prompt, tokens, repeats;
    const ConfigSource source = takeConfigSource(args);
    if (takeOption(args, "--batch", batch))
        o.batch = wholeNumber("--batch", batch, 1, 4096);
    if (takeOption(args, "--threads", threads))
        o.threads = int(wholeNumber("--threads", threads, 1, 1024));
    if (takeOption(args, "--prompt", prompt))
        o.prompt = wholeNumber("--prompt", prompt, 1, 1 << 16);
    if (takeOption(args, "--tokens", tokens))
        o.tokens = wholeNumber("--tokens", tokens, 1, 1 << 16);
    if (takeOption(args, "--repeats", repeats))
        o.repeats = wholeNumber("--repeats", repeats, 1, 1000);
    if (source.listPresets)
        return printPresets();
    expectPositional(args, 1, usage);
    if (o.threads > 0)
        omp_set_num_threads(o.threads);
    auto model = bonsai::Model::open(args[0]);
    const auto configs = resolveConfigs(source, *model, "speed");
    if (bonsai::isLanguageModel(*model))
        return speedLlm(*model, configs, o);
    return speedOnnx(*model, configs, o);
}

} // namespace cli
