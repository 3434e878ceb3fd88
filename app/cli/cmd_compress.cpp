// bonsai-cli compress: apply a recipe, print per-layer sizes and errors and the totals.
#include "commands.h"
#include "format.h"
#include "bonsai/describe.h"

#include "bonsai/compress.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>

namespace cli {

int cmdCompress(const Args& in)
{
    Args args = in;
    const char* usage = "bonsai-cli compress MODEL (--recipe R.json | --preset KEY) [--json]";
    const bool asJson = takeFlag(args, "--json");
    const ConfigSource source = takeConfigSource(args);
    if (source.listPresets)
        return printPresets();
    if (source.recipePath.empty() && source.preset.empty())
        throw UsageError(std::string("--recipe R.json or --preset KEY is required\nusage: ") + usage);
    expectPositional(args, 1, usage);
    auto model = bonsai::Model::open(args[0]);
    std::vector<std::string> warnings;
    const auto configs = resolveConfigs(source, *model, "compress", &warnings);
    bonsai::ModelResult res = bonsai::compressModel(*model, configs);
    res.warnings = warnings;
    for (const auto& c : configs)
        if (c.needsCalibration()) {
            std::fprintf(stderr, "bonsai-cli compress: note: gptq/awq need calibration data, which compress does not "
                                 "have: round-to-nearest is used (same size; bonsai-cli eval calibrates on its data set)\n");
            break;
        }

    if (asJson) {
        nlohmann::ordered_json j;
        auto& layers = j["layers"] = nlohmann::ordered_json::array();
        for (const auto& l : res.layers) {
            nlohmann::ordered_json e;
            e["name"] = l.name;
            e["config"] = bonsai::describe(l.config);
            e["params"] = l.params;
            e["original_bytes"] = (l.originalBits + 7) / 8;
            e["compressed_bytes"] = (l.compressedBits + 7) / 8;
            e["original_bits"] = l.originalBits;
            e["compressed_bits"] = l.compressedBits;
            e["bits_per_weight"] = l.bitsPerWeight();
            e["rel_error"] = l.error.relFrobenius;
            e["sqnr_db"] = std::isfinite(l.error.sqnrDb) ? nlohmann::ordered_json(l.error.sqnrDb) : nlohmann::ordered_json(nullptr);
            e["cosine"] = l.error.cosine;
            e["max_abs_error"] = l.error.maxAbsError;
            if (l.rankUsed)
                e["rank"] = l.rankUsed;
            if (!l.removedChannels.empty()) {
                e["removed_channels"] = l.removedChannels;
                e["consumer"] = l.consumer;
            }
            if (!l.notes.empty())
                e["notes"] = l.notes;
            layers.push_back(std::move(e));
        }
        j["original_bytes"] = res.originalBytes;
        j["compressed_bytes"] = res.compressedBytes;
        j["ratio"] = res.ratio();
        j["warnings"] = res.warnings;
        std::puts(j.dump(2).c_str());
        return 0;
    }
    std::printf("%-44s %-30s %12s %12s %7s %10s %8s %9s\n", "layer", "configuration", "original", "compressed",
                "bits/w", "rel.err", "SQNR dB", "cosine");
    for (const auto& l : res.layers) {
        std::printf("%-44s %-30s %12s %12s %7.3f %10.3g %8.2f %9.6f\n", l.name.c_str(),
                    bonsai::describe(l.config).c_str(), humanBytes((l.originalBits + 7) / 8).c_str(),
                    humanBytes((l.compressedBits + 7) / 8).c_str(), l.bitsPerWeight(), l.error.relFrobenius,
                    l.error.sqnrDb, l.error.cosine);
        for (const auto& n : l.notes)
            std::printf("    note: %s\n", n.c_str());
    }
    std::printf("\ntotal: %s -> %s (ratio %.2fx)\n", humanBytes(res.originalBytes).c_str(),
                humanBytes(res.compressedBytes).c_str(), res.ratio());
    return 0;
}

} // namespace cli
