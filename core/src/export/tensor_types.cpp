// llama-quantize's tensor-type file from the GGUF plan (see bonsai/export.h).
#include "export/export_impl.h"
#include "export/gguf_file.h"

#include <cctype>

namespace bonsai::detail {

namespace {

// A tensor name as a regular expression matching exactly it (llama-quantize searches with
// std::regex and lower-cases the pattern).
std::string exactPattern(const std::string& name)
{
    std::string out = "^";
    for (char c : name) {
        if (std::string_view(".[]{}()*+?^$|\\").find(c) != std::string_view::npos)
            out += '\\';
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out + "$";
}

std::string lower(std::string s)
{
    for (char& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

} // namespace

ExportPlan buildTensorTypes(const Model& model, const std::vector<LayerConfig>& configs, const ExportOptions& options,
                            std::string& text)
{
    GgufFileWriter unused;
    ExportPlan plan = buildGguf(model, configs, options, unused);
    plan.format = ExportFormat::TensorTypes;
    text.clear();
    std::string mainType;
    for (const ExportTensorPlan& t : plan.tensors) {
        if (t.layer < 0)
            continue; // norms: llama-quantize keeps 1-D tensors in F32
        text += exactPattern(t.target) + "=" + lower(t.stored) + "\n";
    }
    for (const std::string& n : plan.notes)
        if (n.rfind("file type: mostly ", 0) == 0)
            mainType = n.substr(18);
    plan.notes.clear();
    plan.notes.push_back("use: llama-quantize --tensor-type-file THIS_FILE MODEL-F32.gguf OUT.gguf " + mainType +
                         " (MODEL-F32.gguf: bonsai-cli export MODEL --format gguf, without a recipe)");
    plan.fileBytes = text.size(); // the tensors' bytes stay those of the GGUF llama-quantize makes
    plan.metadataBytes = 0;
    return plan;
}

} // namespace bonsai::detail
