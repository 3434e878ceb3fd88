// llm-compressor recipe export (see bonsai/export.h): the configured quantization as the YAML
// recipe llm-compressor's oneshot reads, a QuantizationModifier for round-to-nearest layers and
// a GPTQModifier for GPTQ ones, each with the config groups of its schemes.
#include "bonsai/describe.h"
#include "bonsai/error.h"
#include "export/export_impl.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <sstream>

namespace bonsai::detail {

namespace {

// One config group: QuantizationArgs of the weights, and the modifier that applies them.
struct Scheme {
    bool gptq = false;
    int bits = 4;
    bool isFloat = false; // FP8 E4M3 (compressed-tensors' float type)
    bool symmetric = true;
    Granularity granularity = Granularity::PerChannel;
    uint32_t group = 0;
    bool mse = false;     // clip search: llm-compressor's mse observer
    bool operator==(const Scheme&) const = default;
};

std::string quoted(const std::string& s) { return nlohmann::json(s).dump(); } // YAML reads JSON strings

std::string flowList(const std::vector<std::string>& items)
{
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i)
        out += (i ? ", " : "") + quoted(items[i]);
    return out + "]";
}

std::string strategyName(Granularity g)
{
    return g == Granularity::PerTensor ? "tensor" : g == Granularity::Group ? "group" : "channel";
}

} // namespace

ExportPlan buildLlmCompressor(const Model& model, const std::vector<LayerConfig>& configs, const ExportOptions& options,
                              std::string& text, const Provenance* provenance)
{
    if (model.format != Format::Safetensors)
        throw FileError(model.path, "an llm-compressor recipe is for Hugging Face checkpoints read from safetensors "
                                    "(this model is " + std::string(formatName(model.format)) + ")");
    ExportPlan plan;
    plan.format = ExportFormat::LlmCompressor;
    plan.configs.assign(model.layers.size(), LayerConfig{});
    std::vector<Scheme> schemes;
    std::vector<int> schemeOf(model.layers.size(), -1);
    std::optional<LayerConfig> gptq; // the first GPTQ layer: the modifier's damping and act order
    int calibSamples = 0;
    for (size_t li = 0; li < model.layers.size(); ++li) {
        const Layer& l = model.layers[li];
        const LayerConfig c = li < configs.size() ? configs[li] : LayerConfig{};
        ExportTensorPlan tp;
        tp.source = model.tensors[static_cast<size_t>(l.weight)].name;
        tp.target = l.name;
        tp.layer = static_cast<int>(li);
        tp.configured = describe(c);
        tp.stored = "not quantized";
        auto impossible = [&](const std::string& why) {
            tp.status = StoreStatus::Impossible;
            tp.reason = why;
        };
        const PrecisionKind kind = c.precision.kind;
        const bool floatPrecision = kind == PrecisionKind::FP32 || kind == PrecisionKind::FP16 || kind == PrecisionKind::BF16;
        if (c.isIdentity()) {
            // unchanged: ignored (Linear) or no target at all
        } else if (c.hasRank()) {
            impossible("low rank: llm-compressor has no low-rank modifier");
        } else if (c.hasSparsity()) {
            impossible("sparsity: Bonsai's pruning is not llm-compressor's SparseGPTModifier; not written into the recipe");
        } else if (floatPrecision) {
            tp.status = StoreStatus::Changed;
            tp.reason = "not in the recipe (llm-compressor has no " + shortPrecision(c) +
                        " weight scheme): the layer keeps the checkpoint's float type";
        } else if (kind != PrecisionKind::Int && kind != PrecisionKind::FP8_E4M3) {
            impossible(shortPrecision(c) + " has no llm-compressor scheme (integers of 2-8 bits, FP8 E4M3)");
        } else if (l.op != "Linear") {
            impossible("llm-compressor's schemes quantize Linear layers (this is " + l.op + ")");
        } else if (kind == PrecisionKind::Int && c.method == QuantMethod::AWQ) {
            impossible("AWQ: Bonsai's per-channel search is not llm-compressor's AWQModifier (which smooths into the "
                       "previous layer); not written into the recipe");
        } else {
            Scheme s;
            s.gptq = kind == PrecisionKind::Int && c.method == QuantMethod::GPTQ;
            s.isFloat = kind == PrecisionKind::FP8_E4M3;
            s.bits = s.isFloat ? 8 : c.precision.bits;
            s.symmetric = s.isFloat || c.symmetric;
            s.granularity = c.granularity;
            s.group = c.granularity == Granularity::Group ? c.groupSize : 0;
            s.mse = c.clipSearch;
            std::vector<std::string> changes;
            if (s.gptq && gptq && (gptq->damping != c.damping || gptq->actOrder != c.actOrder)) {
                impossible("GPTQ with damping " + std::to_string(c.damping) + (c.actOrder ? ", act order" : "") +
                           ": the recipe's one GPTQModifier has damping " + std::to_string(gptq->damping) +
                           (gptq->actOrder ? ", act order" : "") + " (from an earlier layer)");
            } else {
                if (s.gptq && !gptq)
                    gptq = c;
                if (s.gptq)
                    calibSamples = std::max(calibSamples, c.calibSamples);
                if (s.mse)
                    changes.push_back("clip search: llm-compressor's mse observer searches clip ratios of its own");
                if (s.gptq && c.actOrder && s.granularity != Granularity::Group)
                    changes.push_back("act order without groups: llm-compressor orders columns only with groups, so "
                                      "this layer is quantized in column order");
                auto it = std::find(schemes.begin(), schemes.end(), s);
                if (it == schemes.end())
                    it = schemes.insert(schemes.end(), s);
                schemeOf[li] = static_cast<int>(it - schemes.begin());
                plan.configs[li] = c;
                tp.stored = "group_" + std::to_string(schemeOf[li]) + (s.gptq ? " (GPTQModifier)" : " (QuantizationModifier)");
                if (!changes.empty()) {
                    tp.status = StoreStatus::Changed;
                    tp.reason = changes.front() + (changes.size() > 1 ? "; " + changes.back() : "");
                } else {
                    tp.reason = "llm-compressor quantizes it again, with scales of its own (see the notes)";
                }
                if (!s.isFloat && s.bits != 4 && s.bits != 8)
                    tp.reason += "; vLLM's kernels serve 4 and 8 bits only";
            }
        }
        plan.tensors.push_back(std::move(tp));
    }

    std::vector<std::vector<std::string>> targets;
    std::vector<std::string> ignore;
    schemeTargets(model, schemeOf, static_cast<int>(schemes.size()), targets, ignore);
    std::ostringstream y;
    y << "# llm-compressor recipe written by Bonsai: oneshot(model=..., recipe=this file, dataset=...)\n";
    y << "# bonsai.provenance: "
      << (provenance ? *provenance : exportProvenance(model, ExportFormat::LlmCompressor, options, false)).toJson() << "\n";
    y << "quant_stage:\n  quant_modifiers:\n";
    if (schemes.empty())
        y << "    {}\n";
    for (const bool gptqModifier : {false, true}) {
        bool any = false;
        for (const Scheme& s : schemes)
            any |= s.gptq == gptqModifier;
        if (!any)
            continue;
        y << "    " << (gptqModifier ? "GPTQModifier" : "QuantizationModifier") << ":\n";
        if (gptqModifier) {
            y << "      dampening_frac: " << nlohmann::json(gptq->damping).dump() << "\n";
            // Bonsai's act order keeps the groups contiguous ("static groups"): llm-compressor's static.
            y << "      actorder: " << (gptq->actOrder ? "static" : "null") << "\n";
        }
        y << "      ignore: " << flowList(ignore) << "\n";
        y << "      config_groups:\n";
        for (size_t i = 0; i < schemes.size(); ++i) {
            const Scheme& s = schemes[i];
            if (s.gptq != gptqModifier)
                continue;
            y << "        group_" << i << ":\n";
            y << "          targets: " << flowList(targets[i]) << "\n";
            y << "          weights:\n";
            y << "            num_bits: " << s.bits << "\n";
            y << "            type: " << (s.isFloat ? "float" : "int") << "\n";
            y << "            symmetric: " << (s.symmetric ? "true" : "false") << "\n";
            y << "            strategy: " << strategyName(s.granularity) << "\n";
            if (s.group)
                y << "            group_size: " << s.group << "\n";
            y << "            dynamic: false\n";
            y << "            observer: " << (s.mse ? "mse" : "minmax") << "\n";
        }
    }
    text = y.str();
    plan.fileBytes = plan.metadataBytes = text.size();
    plan.notes.push_back("llm-compressor computes scales of its own when it runs the recipe (symmetric integers on "
                         "[-2^(b-1), 2^(b-1)-1] with scale max|w| / ((2^b - 1) / 2), scales in the model's float type; "
                         "Bonsai's on [-(2^(b-1)-1), 2^(b-1)-1], FP16 scales): the result is close to the prediction, "
                         "not exactly it. The safetensors-packed export stores Bonsai's own codes.");
    if (gptq)
        plan.notes.push_back("GPTQ: Bonsai calibrated on " + std::to_string(calibSamples) +
                             " samples; give oneshot as many (num_calibration_samples) of comparable text");
    if (schemes.empty())
        plan.notes.push_back("no layer is quantized: the recipe has no modifier");
    return plan;
}

} // namespace bonsai::detail
