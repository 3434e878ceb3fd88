#pragma once
// Internals of the exporters: each format builds its file writer and the plan together, so
// the plan's sizes are those of the file written.
#include "bonsai/export.h"
#include "bonsai/llm.h"
#include "bonsai/provenance.h"

namespace bonsai {
class GgufFileWriter;
}

namespace bonsai::detail {

// `provenance`: recorded in the file as bonsai.provenance; nullptr for planning (a record of
// the same length with zero digests).
ExportPlan buildGguf(const Model& model, const std::vector<LayerConfig>& configs, const ExportOptions& options,
                     GgufFileWriter& writer, const Provenance* provenance = nullptr);
// The tokenizer.ggml.* metadata of the Hugging Face folder `dir`'s tokenizer (gguf_export_vocab.cpp):
// tokenizer.model (SentencePiece) when present, as Tokenizer::forModel prefers, else a byte-level
// BPE tokenizer.json. Throws FileError naming the file and field it cannot export.
void addGgufTokenizer(GgufFileWriter& writer, const Model& model, const std::string& dir, const LlmConfig& c,
                      std::vector<std::string>& notes);
// The rope_freqs.weight values of "llama3" RoPE scaling (c.ropeFactor > 0): per frequency the
// divisor llama.cpp applies, as llama.cpp's converter computes them.
std::vector<float> llama3RopeFactors(const LlmConfig& c);
// The provenance an export records (digests of the model's files unless hash is false).
Provenance exportProvenance(const Model& model, ExportFormat format, const ExportOptions& options, bool hash,
                            const ProgressFn& progress = {});
// The ONNX export of a classifier, serialized into `bytes`.
ExportPlan buildOnnx(const Model& model, const std::vector<LayerConfig>& configs, const ExportOptions& options,
                     std::string& bytes, const Provenance* provenance = nullptr);
// The safetensors export's layout, made with its plan and written by writeSafetensors.
struct SafetensorsOut {
    struct Tensor {
        int tensor, layer; // Model::tensors / Model::layers index (-1: no layer)
        DType dtype;       // stored type
        uint64_t offset, bytes;
    };
    std::vector<Tensor> tensors;
    std::string header; // JSON, padded to a multiple of 8
    uint64_t dataBytes = 0;
    std::vector<std::pair<std::string, std::string>> extraFiles; // config.json, tokenizer files
};
ExportPlan buildSafetensors(const Model& model, const std::vector<LayerConfig>& configs, const ExportOptions& options,
                            SafetensorsOut& out, const Provenance* provenance = nullptr);
// Writes the checkpoint folder `folder` through a new folder beside it, renamed into place.
void writeSafetensors(const Model& model, const std::vector<LayerConfig>& configs, const SafetensorsOut& out,
                      const std::string& folder, const ProgressFn& progress);
// The GGUF plan's weight types as llama-quantize's tensor-type file, in `text`.
ExportPlan buildTensorTypes(const Model& model, const std::vector<LayerConfig>& configs, const ExportOptions& options,
                            std::string& text);

} // namespace bonsai::detail
