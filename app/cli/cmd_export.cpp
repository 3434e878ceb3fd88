// bonsai-cli export: write the compressed model for another runtime, after the pre-export
// check (per tensor: the type stored and whether it is what the recipe asked for; the file
// size; with --text, the perplexity Bonsai predicts for exactly the weights written).
#include "commands.h"
#include "format.h"

#include "bonsai/error.h"
#include "bonsai/export.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "bonsai/tokenizer.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <optional>

namespace cli {

int cmdExport(const Args& in)
{
    Args args = in;
    const char* usage = "bonsai-cli export MODEL (--recipe R.json | --preset KEY) --format gguf|tensor-types|onnx|safetensors|safetensors-packed|llm-compressor --out PATH [--dtype f32|f16|bf16] "
                        "[--check] [--accept-mapping] [--force] [--text FILE [--ctx N] [--chunks N]] [--json]";
    const bool asJson = takeFlag(args, "--json");
    const bool checkOnly = takeFlag(args, "--check");
    bonsai::ExportOptions options;
    options.acceptMapping = takeFlag(args, "--accept-mapping");
    options.overwrite = takeFlag(args, "--force");
    std::string formatName, out, textPath, ctx = "128", chunks = "0";
    takeOption(args, "--format", formatName);
    takeOption(args, "--out", out);
    takeOption(args, "--text", textPath);
    takeOption(args, "--ctx", ctx);
    takeOption(args, "--chunks", chunks);
    std::string dtype = "f32";
    takeOption(args, "--dtype", dtype);
    if (dtype == "f32" || dtype == "f16" || dtype == "bf16")
        options.floatType = dtype == "f32" ? bonsai::DType::F32 : dtype == "f16" ? bonsai::DType::F16 : bonsai::DType::BF16;
    else
        throw UsageError("--dtype takes f32, f16 or bf16, not '" + dtype + "'");
    const ConfigSource source = takeConfigSource(args);
    if (source.listPresets)
        return printPresets();
    expectPositional(args, 1, usage);
    const auto format = bonsai::parseExportFormat(formatName);
    if (!format)
        throw UsageError((formatName.empty() ? std::string("--format is required") : "unknown format '" + formatName + "'") +
                         " (gguf, tensor-types, onnx, safetensors, safetensors-packed, llm-compressor)\nusage: " + usage);
    if (out.empty() && !checkOnly)
        throw UsageError(std::string("--out PATH is required (or --check)\nusage: ") + usage);

    auto model = bonsai::Model::open(args[0]);
    const auto configs = resolveConfigs(source, *model, "export");
    const bonsai::ExportPlan plan = bonsai::planExport(*model, configs, *format, options);

    std::optional<bonsai::PerplexityResult> predicted;
    bonsai::PerplexityOptions popt;
    if (!textPath.empty()) {
        popt.ctx = static_cast<int>(wholeNumber("--ctx", ctx, 1, 1 << 20));
        popt.maxChunks = wholeNumber("--chunks", chunks, 0, 1ll << 40);
        const bonsai::LanguageModel lm(*model);
        predicted = lm.perplexity(lm.tokenizer().encode(bonsai::readTextFile(textPath)), plan.configs, popt);
    }

    bool written = false;
    if (!checkOnly && plan.writable()) {
        bonsai::exportModel(*model, configs, *format, out, options);
        written = true;
    }

    if (asJson) {
        nlohmann::ordered_json j;
        j["format"] = std::string(bonsai::exportFormatName(plan.format));
        j["writable"] = plan.writable();
        j["written"] = written;
        if (written)
            j["out"] = out;
        j["file_bytes"] = plan.fileBytes;
        j["metadata_bytes"] = plan.metadataBytes;
        auto& tensors = j["tensors"] = nlohmann::ordered_json::array();
        for (const auto& t : plan.tensors) {
            nlohmann::ordered_json e;
            e["source"] = t.source;
            e["name"] = t.target;
            e["configured"] = t.configured;
            e["stored"] = t.stored;
            e["status"] = std::string(bonsai::storeStatusName(t.status));
            if (!t.reason.empty())
                e["reason"] = t.reason;
            e["bytes"] = t.bytes;
            tensors.push_back(std::move(e));
        }
        if (predicted) {
            j["predicted"]["perplexity"] = predicted->perplexity;
            j["predicted"]["tokens"] = predicted->tokens;
            j["predicted"]["ctx"] = popt.ctx;
            j["predicted"]["kl"] = predicted->kl;
            j["predicted"]["base_perplexity"] = predicted->basePerplexity;
        }
        j["notes"] = plan.notes;
        j["problems"] = plan.problems();
        std::puts(j.dump(2).c_str());
    } else {
        std::printf("%-40s %-28s %-10s %-8s %-13s %s\n", "tensor", "name in file", "configured", "stored", "status",
                    "bytes");
        for (const auto& t : plan.tensors) {
            std::printf("%-40s %-28s %-10s %-8s %-13s %s\n", t.source.c_str(), t.target.c_str(), t.configured.c_str(),
                        t.stored.c_str(), std::string(bonsai::storeStatusName(t.status)).c_str(),
                        humanBytes(t.bytes).c_str());
            if (!t.reason.empty())
                std::printf("    %s\n", t.reason.c_str());
        }
        std::printf("\nfile: %s (%llu bytes, of which %llu metadata and tensor infos)\n", humanBytes(plan.fileBytes).c_str(),
                    static_cast<unsigned long long>(plan.fileBytes), static_cast<unsigned long long>(plan.metadataBytes));
        for (const auto& n : plan.notes)
            std::printf("note: %s\n", n.c_str());
        if (predicted)
            std::printf("predicted perplexity: %.4f (%llu tokens of %s, chunks of %d; uncompressed %.4f)\n",
                        predicted->perplexity, static_cast<unsigned long long>(predicted->tokens), textPath.c_str(),
                        popt.ctx, predicted->basePerplexity);
        if (written)
            std::printf("written: %s\n", out.c_str());
    }
    if (!plan.writable()) {
        std::string msg = "cannot export to " + std::string(bonsai::exportFormatName(plan.format)) + " as configured";
        for (const auto& p : plan.problems())
            msg += "\n  " + p;
        if (!options.acceptMapping && plan.format == bonsai::ExportFormat::Gguf)
            msg += "\n(--accept-mapping stores each at the nearest type the check names)";
        throw bonsai::Error(msg);
    }
    return 0;
}

} // namespace cli
