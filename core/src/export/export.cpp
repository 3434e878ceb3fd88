#include "bonsai/export.h"

#include "bonsai/error.h"
#include "export/export_impl.h"
#include "export/gguf_file.h"
#include "common/atomic_file.h"

#include <filesystem>

namespace bonsai {

namespace {

std::string refusal(const ExportPlan& plan)
{
    std::string msg = "cannot export to " + std::string(exportFormatName(plan.format)) + " as configured:";
    for (const std::string& p : plan.problems())
        msg += "\n  " + p;
    return msg;
}

} // namespace

std::string_view exportFormatName(ExportFormat f)
{
    switch (f) {
    case ExportFormat::Gguf: return "gguf";
    case ExportFormat::TensorTypes: return "tensor-types";
    case ExportFormat::Onnx: return "onnx";
    case ExportFormat::Safetensors: return "safetensors";
    case ExportFormat::SafetensorsPacked: return "safetensors-packed";
    case ExportFormat::LlmCompressor: return "llm-compressor";
    }
    return "?";
}

std::optional<ExportFormat> parseExportFormat(std::string_view name)
{
    if (name == "gguf")
        return ExportFormat::Gguf;
    if (name == "tensor-types")
        return ExportFormat::TensorTypes;
    if (name == "onnx")
        return ExportFormat::Onnx;
    if (name == "safetensors")
        return ExportFormat::Safetensors;
    if (name == "safetensors-packed")
        return ExportFormat::SafetensorsPacked;
    if (name == "llm-compressor")
        return ExportFormat::LlmCompressor;
    return std::nullopt;
}

std::string_view storeStatusName(StoreStatus s)
{
    switch (s) {
    case StoreStatus::AsConfigured: return "as configured";
    case StoreStatus::Changed: return "changed";
    case StoreStatus::Impossible: return "impossible";
    }
    return "?";
}

bool ExportPlan::writable() const
{
    for (const auto& t : tensors)
        if (t.status == StoreStatus::Impossible)
            return false;
    return true;
}

std::vector<std::string> ExportPlan::problems() const
{
    std::vector<std::string> out;
    for (const auto& t : tensors)
        if (t.status == StoreStatus::Impossible)
            out.push_back("layer '" + t.source + "': " + t.reason);
    return out;
}

ExportPlan planExport(const Model& model, const std::vector<LayerConfig>& configs, ExportFormat format,
                      const ExportOptions& options)
{
    switch (format) {
    case ExportFormat::Gguf: {
        GgufFileWriter w;
        return detail::buildGguf(model, configs, options, w);
    }
    case ExportFormat::TensorTypes: {
        std::string text;
        return detail::buildTensorTypes(model, configs, options, text);
    }
    case ExportFormat::Onnx: {
        std::string bytes;
        return detail::buildOnnx(model, configs, options, bytes);
    }
    case ExportFormat::Safetensors:
    case ExportFormat::SafetensorsPacked: {
        detail::SafetensorsOut out;
        return detail::buildSafetensors(model, configs, options, format, out);
    }
    case ExportFormat::LlmCompressor: {
        std::string text;
        return detail::buildLlmCompressor(model, configs, options, text);
    }
    }
    throw Error("unknown export format");
}

ExportPlan exportModel(const Model& model, const std::vector<LayerConfig>& configs, ExportFormat format,
                       const std::string& path, const ExportOptions& options, const ProgressFn& progress)
{
    std::error_code ec;
    if (!options.overwrite && std::filesystem::exists(path, ec))
        throw FileError(path, "exists already (overwrite it with --force)");
    const bool folder = format == ExportFormat::Safetensors || format == ExportFormat::SafetensorsPacked;
    if (!folder && std::filesystem::is_directory(path, ec))
        throw FileError(path, "is a folder, not a file name");
    switch (format) {
    case ExportFormat::Gguf: {
        {
            GgufFileWriter check; // refuse before hashing the model's files
            const ExportPlan plan = detail::buildGguf(model, configs, options, check);
            if (!plan.writable())
                throw Error(refusal(plan));
        }
        // The first tenth of the progress: the digests of the source files.
        const Provenance prov = detail::exportProvenance(model, ExportFormat::Gguf, options, true, [&](double f) {
            return !progress || progress(0.1 * f);
        });
        GgufFileWriter w;
        ExportPlan plan = detail::buildGguf(model, configs, options, w, &prov);
        w.write(path, [&](size_t done, size_t total) {
            return !progress || progress(0.1 + 0.9 * static_cast<double>(done) / static_cast<double>(total));
        });
        return plan;
    }
    case ExportFormat::TensorTypes: {
        std::string text;
        ExportPlan plan = detail::buildTensorTypes(model, configs, options, text);
        if (!plan.writable())
            throw Error(refusal(plan));
        writeFileAtomically(path, text);
        return plan;
    }
    case ExportFormat::Onnx: {
        std::string bytes;
        if (const ExportPlan check = detail::buildOnnx(model, configs, options, bytes); !check.writable())
            throw Error(refusal(check));
        const Provenance prov = detail::exportProvenance(model, ExportFormat::Onnx, options, true, [&](double f) {
            return !progress || progress(0.5 * f);
        });
        ExportPlan plan = detail::buildOnnx(model, configs, options, bytes, &prov);
        reportProgress(progress, 0.9);
        writeFileAtomically(path, bytes);
        return plan;
    }
    case ExportFormat::Safetensors:
    case ExportFormat::SafetensorsPacked: {
        detail::SafetensorsOut out;
        ExportPlan plan = detail::buildSafetensors(model, configs, options, format, out);
        if (!plan.writable())
            throw Error(refusal(plan));
        // The plan stands (the packed check computed every layer's codes); only the provenance is added.
        const Provenance prov = detail::exportProvenance(model, format, options, true,
                                                         [&](double f) { return !progress || progress(0.1 * f); });
        detail::setSafetensorsProvenance(out, plan, prov);
        detail::writeSafetensors(model, configs, options, out, path, progress);
        return plan;
    }
    case ExportFormat::LlmCompressor: {
        std::string text;
        if (const ExportPlan check = detail::buildLlmCompressor(model, configs, options, text); !check.writable())
            throw Error(refusal(check));
        const Provenance prov = detail::exportProvenance(model, format, options, true, [&](double f) {
            return !progress || progress(0.9 * f);
        });
        ExportPlan plan = detail::buildLlmCompressor(model, configs, options, text, &prov);
        writeFileAtomically(path, text);
        reportProgress(progress, 1.0);
        return plan;
    }
    }
    throw Error("unknown export format");
}

} // namespace bonsai
