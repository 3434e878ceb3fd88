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
// The reconstructed weight of a layer (compressLayer, in the weight's own layout).
std::vector<float> reconstructLayer(const Model& model, int layer, const LayerConfig& c);
// Exports take no calibration data: a GPTQ/AWQ configuration is written (and predicted) with
// round-to-nearest codes. Sets c.method to RTN and returns the reason, or "" when unchanged.
std::string withoutCalibration(LayerConfig& c);
// Integer codes with their scales and zero points (per tensor, per channel or per group of
// `group` values along a row of the weight's matrix form) that dequantize, (q - zero) * scale,
// to exactly `values` (the layer's evaluated weight, integer precision); or the reason why not.
struct IntCodes {
    uint64_t rows = 0, cols = 0, group = 0, groups = 0; // groups per row
    std::vector<int8_t> q;      // matrix form, rows x cols (uint8 bytes when asymmetric)
    std::vector<float> scale;   // rows x groups (per tensor: every entry the same)
    std::vector<int8_t> zero;   // rows x groups (uint8 bytes; 0 when symmetric)
};
std::string intCodes(const Model& model, int layer, const LayerConfig& c, const std::vector<float>& values, IntCodes& out);
// The same for a matrix: `pre` before the precision step and `values` after it, both
// out.rows x out.cols (set by the caller).
std::string intCodesOf(const LayerConfig& c, const std::vector<float>& pre, const std::vector<float>& values,
                       IntCodes& out);
// FP8 E4M3 codes and their scales (per row, or one per tensor) that dequantize, code * scale,
// to exactly `values` (the layer's evaluated weight, FP8 E4M3 precision); or the reason why not.
struct Fp8Codes {
    uint64_t rows = 0, cols = 0;
    std::vector<uint8_t> q;   // matrix form, rows x cols
    std::vector<float> scale; // rows entries, or 1 per tensor
};
std::string fp8Codes(const Model& model, int layer, const LayerConfig& c, const std::vector<float>& values, Fp8Codes& out);
// The ONNX export of a classifier, serialized into `bytes`.
ExportPlan buildOnnx(const Model& model, const std::vector<LayerConfig>& configs, const ExportOptions& options,
                     std::string& bytes, const Provenance* provenance = nullptr);
// compressed-tensors' pack-quantized layout (packed_export.cpp; FP8 E4M3 weights in its
// float-quantized one): the tensors of one packed Linear weight, its scheme (one config group
// per distinct scheme), and what the safetensors export writes for each.
enum class PackedPart : uint8_t { None, Packed, Scale, ZeroPoint, Shape, Fp8 };
struct PackedTensor {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    uint64_t bytes;
    PackedPart part;
};
struct PackedScheme {
    int bits = 4;          // 4 or 8 (the field width)
    bool symmetric = true;
    uint64_t group = 0;    // 0: per channel (or per tensor, FP8)
    bool fp8 = false;      // FP8 E4M3 weights (float-quantized) instead of packed integers
    bool perTensor = false; // FP8: one scale
    bool operator==(const PackedScheme&) const = default;
};
int packedBits(int bits); // the field width codes of `bits` bits are stored in
// Plans a layer of the packed export: false when it is no integer layer (stored as floats);
// true with `tensors` and `scheme` when packed (`c` becomes the configuration written), or with
// tp impossible and the reason.
bool planPackedLayer(const Model& model, int layer, LayerConfig& c, DType floatType, ExportTensorPlan& tp,
                     std::vector<PackedTensor>& tensors, PackedScheme& scheme);
struct PackedCache { // the codes of the layer whose parts are being written
    int layer = -1;
    IntCodes codes;
    Fp8Codes fp8;
};
// The bytes of one part (out is sized to it).
void fillPacked(const Model& model, int layer, const LayerConfig& c, PackedPart part, DType floatType,
                PackedCache& cache, std::vector<uint8_t>& out);
// compressed-tensors' targets per scheme (schemeOf: per Model::layers entry, -1 unquantized):
// ["Linear"] for a single scheme, the module names otherwise; ignore: the unquantized Linear
// layers, and lm_head unless it is quantized.
void schemeTargets(const Model& model, const std::vector<int>& schemeOf, int schemes,
                   std::vector<std::vector<std::string>>& targets, std::vector<std::string>& ignore);
// Notes on sibling layers vLLM fuses (q/k/v_proj, gate/up_proj) whose schemes differ.
std::vector<std::string> fusedSchemeNotes(const Model& model, const std::vector<PackedScheme>& schemeOfLayer,
                                          const std::vector<bool>& packed);
// config.json's quantization_config (JSON text) for the packed layers.
std::string packedQuantizationConfig(const Model& model, const std::vector<PackedScheme>& schemeOfLayer,
                                     const std::vector<bool>& packed);

// The safetensors export's layout, made with its plan and written by writeSafetensors.
struct SafetensorsOut {
    struct Tensor {
        int tensor, layer; // Model::tensors / Model::layers index (-1: no layer)
        DType dtype;       // stored type
        uint64_t offset, bytes;
        PackedPart part = PackedPart::None; // a part of a packed weight, or the tensor itself
    };
    std::vector<Tensor> tensors;
    std::string header; // JSON, padded to a multiple of 8
    uint64_t dataBytes = 0;
    std::vector<std::pair<std::string, std::string>> extraFiles; // config.json, tokenizer files
};
// `format`: Safetensors (dense) or SafetensorsPacked.
ExportPlan buildSafetensors(const Model& model, const std::vector<LayerConfig>& configs, const ExportOptions& options,
                            ExportFormat format, SafetensorsOut& out, const Provenance* provenance = nullptr);
// Records `provenance` in the header (the plan's sizes follow): the export's, after the check.
void setSafetensorsProvenance(SafetensorsOut& out, ExportPlan& plan, const Provenance& provenance);
// Writes the checkpoint folder `folder` through a new folder beside it, renamed into place.
void writeSafetensors(const Model& model, const std::vector<LayerConfig>& configs, const ExportOptions& options,
                      const SafetensorsOut& out, const std::string& folder, const ProgressFn& progress);
// The llm-compressor recipe (YAML) for the configured layers, in `text`.
ExportPlan buildLlmCompressor(const Model& model, const std::vector<LayerConfig>& configs, const ExportOptions& options,
                              std::string& text, const Provenance* provenance = nullptr);
// The GGUF plan's weight types as llama-quantize's tensor-type file, in `text`.
ExportPlan buildTensorTypes(const Model& model, const std::vector<LayerConfig>& configs, const ExportOptions& options,
                            std::string& text);

} // namespace bonsai::detail
