// bonsai-cli speed: inference speed of a model as it would be deployed (bonsai/speed.h
// measures: language models on the KV-cached decoder, ONNX classifiers on the executor);
// printed as text or JSON.
#include "commands.h"

#include "bonsai/model.h"
#include "bonsai/speed.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <omp.h>

namespace cli {

namespace {

nlohmann::ordered_json spreadJson(const bonsai::Spread& s, double scale)
{
    return {{"median", s.median * scale}, {"min", s.min * scale}, {"max", s.max * scale}};
}

// The other processes' share of the CPUs while measuring, with a warning once it is large
// enough to slow the figures.
void printLoad(const bonsai::SpeedResult& r)
{
    if (r.otherCpuShare < 0)
        return;
    std::printf("other processes: %.0f%% of the CPUs while measuring%s\n", 100 * r.otherCpuShare,
                r.otherCpuShare > bonsai::kBusyMachineShare ? " (the figures are slower than this machine can do; measure again when it is idle)"
                                      : "");
}

int printLlm(const bonsai::SpeedResult& r, bool json)
{
    if (json) {
        nlohmann::ordered_json j;
        j["kind"] = "language model";
        j["model"] = r.model;
        j["kernels"] = r.kernels;
        j["threads"] = r.threads;
        j["batch"] = r.batch;
        j["weights"] = r.weightSummary;
        j["prompt_tokens"] = r.promptTokens;
        j["decode_tokens"] = r.decodeTokens;
        j["repeats"] = r.repeats;
        j["prefill_tokens_per_second"] = r.prefillTokensPerSecond;
        j["decode_tokens_per_second"] = r.decodeTokensPerSecond;
        j["throughput"] = r.throughput;
        j["prefill_ms"] = spreadJson(r.prefill, 1e3);
        j["decode_token_ms"] = spreadJson(r.decodeStep, 1e3);
        nlohmann::ordered_json per;
        for (const auto& p : r.parts)
            per[p.name] = spreadJson(p.seconds, 1e3);
        j["decode_token_ms_per_part"] = per;
        j["weight_bytes"] = r.weightBytes;
        j["kv_cache_bytes"] = r.kvCacheBytes;
        j["peak_rss_bytes"] = r.peakRssBytes;
        j["other_cpu_share"] = r.otherCpuShare;
        j["bind_seconds"] = r.bindSeconds;
        j["notes"] = r.notes;
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    std::printf("%s: %s\n", r.model.c_str(), r.description.c_str());
    std::printf("weights: %s; %.1f MiB resident, KV cache %.1f MiB; kernels %s, %d threads\n",
                r.weightSummary.c_str(), double(r.weightBytes) / 1048576.0, double(r.kvCacheBytes) / 1048576.0,
                r.kernels.c_str(), r.threads);
    std::printf("prefill  %lld x %lld tokens: %.1f tokens/s (median %.1f ms, %.1f-%.1f over %lld repeats)\n",
                (long long)r.batch, (long long)r.promptTokens, r.prefillTokensPerSecond, r.prefill.median * 1e3,
                r.prefill.min * 1e3, r.prefill.max * 1e3, (long long)r.repeats);
    std::printf("decode   batch %lld: %.1f tokens/s per sequence, throughput %.1f tokens/s (median %.2f ms per step, "
                "%.2f-%.2f)\n",
                (long long)r.batch, r.decodeTokensPerSecond, r.throughput, r.decodeStep.median * 1e3,
                r.decodeStep.min * 1e3, r.decodeStep.max * 1e3);
    std::printf("per decode step (median over repeats, min-max):\n");
    for (const auto& p : r.parts)
        std::printf("  %-10s %7.3f ms  (%.3f-%.3f)\n", p.name.c_str(), p.seconds.median * 1e3, p.seconds.min * 1e3,
                    p.seconds.max * 1e3);
    std::printf("peak RSS %.1f MiB\n", r.peakRssBytes / 1048576.0);
    printLoad(r);
    for (const auto& n : r.notes)
        std::printf("note: %s\n", n.c_str());
    return 0;
}

int printOnnx(const bonsai::SpeedResult& r, bool json, bool deploy)
{
    if (json) {
        nlohmann::ordered_json j;
        j["kind"] = "onnx";
        j["model"] = r.model;
        j["threads"] = r.threads;
        j["batch"] = r.batch;
        j["latency_ms"] = spreadJson(r.latency, 1e3);
        j["throughput"] = r.throughput;
        nlohmann::ordered_json nodes = nlohmann::ordered_json::array();
        for (const auto& n : r.nodes)
            nodes.push_back({{"node", n.name}, {"op", n.op}, {"ms", spreadJson(n.seconds, 1e3)}});
        j["nodes"] = nodes;
        j["weight_bytes"] = r.weightBytes;
        j["peak_rss_bytes"] = r.peakRssBytes;
        j["other_cpu_share"] = r.otherCpuShare;
        if (deploy)
            j["int8_layers"] = r.int8Layers;
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    if (deploy)
        std::printf("deploy: %zu layers in INT8\n", r.int8Layers.size());
    std::printf("%s: batch %lld, %d threads: %.3f ms per batch (median, %.3f-%.3f), %.1f samples/s\n",
                r.model.c_str(), (long long)r.batch, r.threads, r.latency.median * 1e3, r.latency.min * 1e3,
                r.latency.max * 1e3, r.throughput);
    for (const auto& n : r.nodes)
        std::printf("  %-24s %-12s %8.3f ms\n", n.name.c_str(), n.op.c_str(), n.seconds.median * 1e3);
    std::printf("peak RSS %.1f MiB\n", r.peakRssBytes / 1048576.0);
    printLoad(r);
    return 0;
}

} // namespace

int cmdSpeed(const Args& in)
{
    Args args = in;
    const char* usage = "bonsai-cli speed MODEL [--recipe R.json | --preset KEY] [--batch N] [--threads T] "
                        "[--prompt N] [--tokens N] [--repeats N] [--deploy] [--json]";
    bonsai::SpeedOptions o;
    int threads = 0;
    const bool json = takeFlag(args, "--json");
    o.deploy = takeFlag(args, "--deploy");
    std::string batch, threadsText, prompt, tokens, repeats;
    const ConfigSource source = takeConfigSource(args);
    if (takeOption(args, "--batch", batch))
        o.batch = wholeNumber("--batch", batch, 1, 4096);
    if (takeOption(args, "--threads", threadsText))
        threads = int(wholeNumber("--threads", threadsText, 1, 1024));
    if (takeOption(args, "--prompt", prompt))
        o.prompt = wholeNumber("--prompt", prompt, 1, 1 << 16);
    if (takeOption(args, "--tokens", tokens))
        o.tokens = wholeNumber("--tokens", tokens, 1, 1 << 16);
    if (takeOption(args, "--repeats", repeats))
        o.repeats = wholeNumber("--repeats", repeats, 1, 1000);
    if (source.listPresets)
        return printPresets();
    expectPositional(args, 1, usage);
    if (threads > 0)
        omp_set_num_threads(threads);
    auto model = bonsai::Model::open(args[0]);
    const auto configs = resolveConfigs(source, *model, "speed");
    const bonsai::SpeedResult r = bonsai::measureSpeed(*model, configs, o);
    return r.kind == bonsai::SpeedResult::Kind::LanguageModel ? printLlm(r, json) : printOnnx(r, json, o.deploy);
}

} // namespace cli
