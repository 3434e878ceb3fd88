// bonsai-cli eval: accuracy of a (compressed) ONNX classifier on a data set.
#include "commands.h"
#include "format.h"

#include "bonsai/compress.h"
#include "bonsai/dataset.h"
#include "bonsai/evaluate.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace cli {

int cmdEval(const Args& in)
{
    Args args = in;
    const char* usage =
        "bonsai-cli eval MODEL [--dataset PATH] [--labels PATH] [--split test|train] [--recipe R.json | --preset KEY] "
        "[--limit N] [--batch N] [--deploy] [--json]";
    const bool asJson = takeFlag(args, "--json");
    const bool deploy = takeFlag(args, "--deploy");
    std::string dataset = bonsai::defaultDatasetPath(), labels, split = "test", limit = "0", batch = "256";
    takeOption(args, "--dataset", dataset);
    takeOption(args, "--labels", labels);
    takeOption(args, "--split", split);
    const ConfigSource source = takeConfigSource(args);
    takeOption(args, "--limit", limit);
    takeOption(args, "--batch", batch);
    if (source.listPresets)
        return printPresets();
    expectPositional(args, 1, usage);
    if (split != "test" && split != "train")
        throw UsageError("--split must be test or train");
    bonsai::EvalOptions opt;
    try {
        opt.limit = std::stoll(limit);
        opt.batch = std::stoll(batch);
    } catch (const std::exception&) {
        throw UsageError("--limit and --batch take whole numbers");
    }
    if (opt.limit < 0 || opt.batch < 1 || opt.batch > 65536)
        throw UsageError("--limit must be >= 0 and --batch between 1 and 65536");
    opt.quickSamples = 0;
    opt.deploy = deploy;

    // Everything is checked before any work starts.
    auto model = bonsai::Model::open(args[0]);
    bonsai::DatasetOptions dopt;
    dopt.labels = labels;
    dopt.split = split;
    auto data = bonsai::openDataset(dataset, dopt);
    const auto configs = resolveConfigs(source, *model, "eval");
    // One evaluation: the uncompressed model's is the whole run, nothing to cache for another.
    if (std::all_of(configs.begin(), configs.end(), [](const bonsai::LayerConfig& c) { return c.isIdentity(); }))
        opt.incremental = false;
    bonsai::Evaluator ev(*model, *data, opt);
    const auto r = ev.evaluate(configs);
    const auto& m = r.metrics;
    if (asJson) {
        nlohmann::ordered_json j;
        j["accuracy"] = m.top1;
        j["accuracy_ci95"] = {m.top1Ci.lo, m.top1Ci.hi};
        j["top5"] = m.top5;
        j["agreement"] = m.agreement;
        j["kl"] = m.meanKl;
        j["samples"] = r.samples;
        j["seconds"] = r.seconds;
        j["original_bytes"] = r.originalBytes;
        j["compressed_bytes"] = r.compressedBytes;
        j["preprocessing"] = ev.preprocess().describe();
        auto& le = j["layer_output_sqnr_db"] = nlohmann::ordered_json::object();
        for (const auto& e : r.layerErrors)
            le[e.layer] = std::isfinite(e.sqnrDb) ? nlohmann::ordered_json(e.sqnrDb) : nlohmann::ordered_json(nullptr);
        if (!r.notes.empty())
            j["notes"] = r.notes;
        if (deploy)
            j["int8_layers"] = r.int8Layers;
        std::puts(j.dump(2).c_str());
        return 0;
    }
    std::printf("model:         %s\n", model->path.c_str());
    std::printf("data:          %s (%s, %lld samples)\n", data->path().c_str(), data->format().c_str(),
                static_cast<long long>(r.samples));
    std::printf("preprocessing: %s\n", ev.preprocess().describe().c_str());
    std::printf("size:          %s -> %s (%.2fx)\n", humanBytes(r.originalBytes).c_str(),
                humanBytes(r.compressedBytes).c_str(),
                r.compressedBytes ? static_cast<double>(r.originalBytes) / static_cast<double>(r.compressedBytes) : 0.0);
    std::printf("top-1:         %.2f%%  (95%% CI %.2f-%.2f%%)\n", 100 * m.top1, 100 * m.top1Ci.lo, 100 * m.top1Ci.hi);
    std::printf("top-5:         %.2f%%\n", 100 * m.top5);
    std::printf("agreement:     %.2f%% with the uncompressed model\n", 100 * m.agreement);
    std::printf("mean KL:       %.6f nats\n", m.meanKl);
    std::printf("time:          %.3f s\n", r.seconds);
    if (deploy)
        std::printf("deploy:        %zu layer(s) in INT8\n", r.int8Layers.size());
    for (const auto& e : r.layerErrors)
        std::printf("  output SQNR of %-40s %8.2f dB\n", e.layer.c_str(), e.sqnrDb);
    for (const auto& note : r.notes)
        std::printf("  note: %s\n", note.c_str());
    return 0;
}

} // namespace cli
