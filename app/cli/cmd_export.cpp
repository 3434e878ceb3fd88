// bonsai-cli export: write the compressed model for another runtime, after the pre-export
// check (per tensor: the type stored and whether it is what the recipe asked for; the file
// size; the quality Bonsai predicts for exactly the weights written: with --text, the
// perplexity of a language model; with --dataset (or eval's default data set), the top-1
// accuracy of an ONNX classifier). The data of the prediction is recorded in the provenance.
#include "commands.h"
#include "format.h"

#include "bonsai/dataset.h"
#include "bonsai/error.h"
#include "bonsai/evaluate.h"
#include "bonsai/export.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "bonsai/tokenizer.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

namespace cli {

namespace {

struct AccuracyPrediction {
    double value = 0, uncompressed = 0;
    int64_t samples = 0;
};

} // namespace

int cmdExport(const Args& in)
{
    Args args = in;
    const char* usage = "bonsai-cli export MODEL (--recipe R.json | --preset KEY) --format gguf|tensor-types|onnx|safetensors|safetensors-packed|llm-compressor --out PATH [--dtype f32|f16|bf16] "
                        "[--check] [--accept-mapping] [--force] [--text FILE [--ctx N] [--chunks N]] "
                        "[--dataset PATH [--limit N]] [--json]";
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
    std::string datasetPath, limit = "0";
    const bool datasetGiven = takeOption(args, "--dataset", datasetPath);
    const bool limitGiven = takeOption(args, "--limit", limit);
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
    const bool onnx = model->format == bonsai::Format::Onnx;
    if ((datasetGiven || limitGiven) && !onnx)
        throw UsageError("--dataset and --limit predict the accuracy of an ONNX classifier (language models: --text)");
    if (onnx && !datasetGiven && std::filesystem::exists(bonsai::defaultDatasetPath()))
        datasetPath = bonsai::defaultDatasetPath(); // as bonsai-cli eval

    // The data of the prediction, opened and counted before the plan: the file records it.
    std::vector<int32_t> tokens;
    std::unique_ptr<bonsai::LanguageModel> lm;
    bonsai::PerplexityOptions popt;
    if (!textPath.empty()) {
        popt.ctx = static_cast<int>(wholeNumber("--ctx", ctx, 1, 1 << 20));
        popt.maxChunks = wholeNumber("--chunks", chunks, 0, 1ll << 40);
        lm = std::make_unique<bonsai::LanguageModel>(*model);
        tokens = lm->tokenizer().encode(bonsai::readTextFile(textPath));
        options.calibration.push_back({textPath, "perplexity", 0, {}, popt.maxChunks, 0});
    }
    std::unique_ptr<bonsai::Dataset> data;
    std::unique_ptr<bonsai::Evaluator> evaluator;
    if (onnx && !datasetPath.empty()) {
        bonsai::EvalOptions eopt;
        eopt.limit = wholeNumber("--limit", limit, 0, 1ll << 40);
        eopt.quickSamples = 0;
        data = bonsai::openDataset(datasetPath);
        evaluator = std::make_unique<bonsai::Evaluator>(*model, *data, eopt);
        options.calibration.push_back({datasetPath, "accuracy", 0, {}, evaluator->sampleCount(), 0});
    }
    const bonsai::ExportPlan plan = bonsai::planExport(*model, configs, *format, options);

    // Only a plan that can be written has weights to predict the quality of.
    std::optional<bonsai::PerplexityResult> predicted;
    if (lm && plan.writable())
        predicted = lm->perplexity(tokens, plan.configs, popt);
    std::optional<AccuracyPrediction> accuracy;
    if (evaluator && plan.writable()) {
        const bonsai::EvalResult r = evaluator->evaluate(plan.configs);
        accuracy = AccuracyPrediction{r.metrics.top1, evaluator->reference().metrics.top1, r.samples};
    }
    const char* hint = nullptr;
    if (!plan.writable() && (lm || evaluator))
        hint = "no prediction while a tensor cannot be stored (the export would be refused)";
    else if (onnx && !evaluator)
        hint = "for a predicted accuracy, give --dataset PATH (a data set bonsai-cli eval reads)";
    else if (!onnx && !lm && bonsai::isLanguageModel(*model))
        hint = "for a predicted perplexity, give --text FILE";

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
        if (accuracy) {
            j["predicted"]["metric"] = "accuracy";
            j["predicted"]["value"] = accuracy->value;
            j["predicted"]["uncompressed"] = accuracy->uncompressed;
            j["predicted"]["samples"] = accuracy->samples;
            j["predicted"]["data"] = data->path();
        } else if (predicted) {
            j["predicted"]["metric"] = "perplexity";
            j["predicted"]["value"] = predicted->perplexity;
            j["predicted"]["uncompressed"] = predicted->basePerplexity;
            j["predicted"]["perplexity"] = predicted->perplexity;
            j["predicted"]["tokens"] = predicted->tokens;
            j["predicted"]["ctx"] = popt.ctx;
            j["predicted"]["kl"] = predicted->kl;
            j["predicted"]["base_perplexity"] = predicted->basePerplexity;
        }
        if (hint)
            j["prediction_hint"] = hint;
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
        if (accuracy)
            std::printf("predicted accuracy: %.2f%% (uncompressed %.2f%%) on %lld samples of %s\n", 100 * accuracy->value,
                        100 * accuracy->uncompressed, static_cast<long long>(accuracy->samples), data->path().c_str());
        if (hint)
            std::printf("prediction: %s\n", hint);
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
