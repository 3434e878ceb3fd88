#pragma once
// Export: writes a compressed model in a format other runtimes load.
//
// planExport() is the pre-export check: for the chosen format, every tensor of the output with
// the type it is stored in and whether that is what its layer's configuration asked for
// (stored as configured; changed, and how; impossible, and why), the exact size of the file,
// and the configurations of exactly the weights that will be written (configs), which Bonsai
// evaluates to predict the exported model's quality. exportModel() writes what the plan says,
// atomically: a refused, failed or cancelled export leaves no file.
//
// GGUF (llama.cpp): Llama-family language models (llama, mistral, qwen2) from a Hugging Face
// folder (safetensors, config.json, and a SentencePiece tokenizer.model or a byte-level BPE
// tokenizer.json) or from a GGUF file. Metadata as llama.cpp's converter writes it (general.*,
// llama.* or qwen2.*, tokenizer.ggml.*), llama.cpp's tensor names, norms and biases in F32:
//  - llama/mistral: architecture "llama", the Q/K rows (and biases) permuted for its RoPE on
//    adjacent pairs; "llama3" rope_scaling as the rope_freqs.weight tensor (F32, the
//    converter's per-frequency divisors), linear scaling as llama.rope.scaling.type/factor;
//  - qwen2: architecture "qwen2", q/k/v biases, no permutation (NeoX RoPE); tied embeddings
//    (no lm_head) write no output.weight, as llama.cpp then uses token_embd;
//  - a byte-level BPE tokenizer.json as tokenizer.ggml.model "gpt2": its tokens at their ids
//    (added tokens CONTROL when special, USER_DEFINED otherwise; embedding rows beyond the
//    tokenizer as UNUSED "[PAD<id>]"), token types, merges, tokenizer.ggml.pre named after the
//    pre-tokenizer regex as llama.cpp knows it (GPT-2's "gpt-2", Llama 3's "llama-bpe",
//    Qwen2's "qwen2"; another regex, or ignore_merges unlike llama.cpp's for that name, is
//    refused), bos/eos as Bonsai evaluates the checkpoint (config.json over the tokenizer),
//    unknown/padding ids, add_bos_token (tokenizer_config.json, or a post-processor template
//    that adds BOS) and the chat template; Bonsai's GGUF reader tokenizes the export as the
//    tokenizer.json does.
// Other RoPE scalings (yarn, ...) are not read from config.json, and so not exported. Each
// weight is stored in the GGUF type its configuration chose, quantized by Bonsai's bit-exact
// block quantizers (bonsai/ggml_blocks.h), and the export's provenance (key bonsai.provenance: Bonsai's version, the source model's
// files with their SHA-256, the options, the calibration data; see bonsai/provenance.h).
// Settings GGUF cannot store are impossible unless ExportOptions::acceptMapping takes the
// nearest GGUF type the plan proposes: integer and NF4/FP8 precisions map to the block type of
// their width (int8 -> Q8_0, int4 -> Q4_0 / Q4_1 when asymmetric, ...); a K type on rows that
// are no multiple of 256 maps as llama-quantize does (Q2_K, Q3_K -> Q4_0; Q4_K -> Q5_0,
// Q5_K -> Q5_1, Q6_K -> Q8_0).
// GGUF tensors are dense: with the mapping accepted, pruned weights (unstructured, N:M,
// channels) are written densely as zeros in types whose blocks keep a zero exact (F32, F16,
// BF16, Q8_0, Q6_K, Q5_0, Q4_0, Q3_K; the file is not smaller); types with a minimum (Q4_1,
// Q5_1, Q2_K, Q4_K, Q5_K) are impossible; low rank is written densely as the F32 product U V
// (the factors' precision not applied).
//
// Tensor types (llama.cpp's `llama-quantize --tensor-type-file`): one `^name$=type` line per
// weight of the GGUF plan, so that llama-quantize, run on an unchanged (F32/F16) GGUF export,
// stores each weight in the type Bonsai's GGUF export would; the plan's notes give the command.
//
// ONNX (ONNX Runtime): classifiers read from ONNX, the source graph with each compressed
// weight replaced: INT2-INT8 per channel or per tensor as INT8/UINT8 codes with a
// DequantizeLinear (per axis, opset 13) whose output keeps the weight's name; group-wise
// integers as INT4/UINT4 (4 bits or less) or INT8/UINT8 blocks with DequantizeLinear's
// block_size (opset 21, IR 10: the model's opset is raised), a Conv's [out, in*kh*kw] groups
// stored as that 2-D tensor and reshaped to the Conv's shape; FP16 weights as a FLOAT16
// initializer and a Cast; pruned weights as zeros (no size gain). Low rank as two nodes: a
// Gemm as Gemm(x, V) then Gemm(., U) with the bias, a MatMul as two MatMuls, a Conv as a Conv
// of r filters with the layer's kernel, strides and pads, then a 1 x 1 Conv with the bias; the
// factors stored at the layer's precision. Channel pruning removes the channels from the graph:
// the layer's rows and bias entries, the entries of BatchNormalization nodes on the way, and the
// next layer's input channels (a Conv's, or a Gemm/MatMul's features after a Flatten; see
// channelRoute), which Bonsai's evaluation zeroes as well; a route through anything else (a
// residual Add, a Concat, the graph's output) is impossible. BatchNormalization after a Conv is
// folded into it (FP16 layers keep theirs: folding would round them again): the weights, or
// the integer codes' scales, times gamma / sqrt(var + eps), and the bias (b - mean) k + beta.
// Codes are checked to dequantize to exactly the evaluated values. NF4, FP8 and GGUF types are
// refused, as are clip-search, GPTQ and AWQ grids and channel pruning with low rank.
//
// Safetensors (Hugging Face transformers): a checkpoint folder (the output path) with
// model.safetensors holding every tensor, the compressed weights dequantized, at one float type
// (ExportOptions::floatType; F32 keeps the evaluated values exactly, F16/BF16 round them), the
// source folder's config.json (torch_dtype set) and tokenizer files; written as a new folder
// renamed into place.
//
// Safetensors packed (vLLM, transformers with compressed-tensors): the same folder with the
// integer-quantized Linear weights in compressed-tensors' pack-quantized layout and config.json's
// quantization_config saying so (quant_method "compressed-tensors", format "pack-quantized", one
// config group per scheme, the unquantized Linear layers and lm_head ignored). Per weight:
// <module>.weight_packed (int32 [out, ceil(in / (32/bits))], codes offset to unsigned and packed
// lowest bits first along the input axis), .weight_scale ([out, 1] per channel, [out, groups]
// per group, at the export's float type), .weight_zero_point (asymmetric only: int32, packed the
// same way along the output axis), .weight_shape (int64 [out, in]); everything else as floats,
// like the dense export. Codes are checked to dequantize, scale * (q - zero), to exactly the
// evaluated values; int2/int3 (int5-int7) codes go in 4-bit (8-bit) containers, per-tensor scales
// are repeated per channel (vLLM reads channel and group scales). FP8 E4M3 weights are stored as
// compressed-tensors' float-quantized: <module>.weight in F8_E4M3 and its .weight_scale ([out, 1]
// or [1]); with packed layers beside them the format is "mixed-precision", each config group
// naming its own. Embeddings and other non-Linear layers are stored dequantized; GPTQ/AWQ
// layers get round-to-nearest codes (the export takes no calibration data), said per layer.
// NF4, FP8 E5M2, GGUF types, low rank, and values on no single grid (clip search) are
// impossible; vLLM's limits (whole groups, one scheme for the layers it fuses) are noted.
//
// llm-compressor recipe: a YAML recipe (quant_stage: quant_modifiers:) with a
// QuantizationModifier for the round-to-nearest layers and a GPTQModifier for the GPTQ ones,
// config_groups of the schemes (num_bits, type, symmetric, strategy, group_size), targets and
// ignore, for llm-compressor to compress the source model again. llm-compressor computes its own
// scales (its symmetric grid is [-2^(b-1), 2^(b-1)-1] with scale max|w| / ((2^b - 1) / 2)), so the
// result is close to, not exactly, Bonsai's prediction. AWQ, sparsity, low rank, NF4 and GGUF
// types are impossible.
#include "bonsai/layer_config.h"
#include "bonsai/model.h"
#include "bonsai/progress.h"
#include "bonsai/provenance.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bonsai {

enum class ExportFormat : uint8_t { Gguf, TensorTypes, Onnx, Safetensors, SafetensorsPacked, LlmCompressor };
// "gguf", "tensor-types", "onnx", "safetensors", "safetensors-packed", "llm-compressor"
std::string_view exportFormatName(ExportFormat f);
std::optional<ExportFormat> parseExportFormat(std::string_view name);

enum class StoreStatus : uint8_t { AsConfigured, Changed, Impossible };
std::string_view storeStatusName(StoreStatus s); // "as configured", "changed", "impossible"

struct ExportTensorPlan {
    std::string source;      // tensor name in the model
    std::string target;      // name in the exported file
    int layer = -1;          // Model::layers index; -1 for tensors that are no layer (norms)
    std::string configured;  // the layer's precision ("q4_k", "int4", "fp32" = unchanged)
    std::string stored;      // the type written ("Q4_K", "F16", ...)
    StoreStatus status = StoreStatus::AsConfigured;
    std::string reason;      // how it changed, or why it is impossible
    uint64_t bytes = 0;      // data bytes in the file
};

struct ExportPlan {
    ExportFormat format = ExportFormat::Gguf;
    std::vector<ExportTensorPlan> tensors;
    std::vector<LayerConfig> configs; // per Model::layers entry: what is written, for evaluation
    uint64_t fileBytes = 0;           // the exact size of the file
    uint64_t metadataBytes = 0;       // of which header: metadata, tensor infos, alignment
    std::vector<std::string> notes;   // about the whole file (file type, tokenizer, ...)
    bool writable() const;            // no tensor is impossible
    // "layer 'x': reason" for every impossible tensor.
    std::vector<std::string> problems() const;
};

struct ExportOptions {
    bool acceptMapping = false; // store what GGUF cannot as the nearest type it can
    bool overwrite = false;     // replace an existing output file
    DType floatType = DType::F32; // safetensors (dense and packed): F32, F16 or BF16
    // Recorded in the file's provenance with their SHA-256: the data GPTQ/AWQ layers were
    // calibrated on, and the data the prediction of the check was measured on.
    std::vector<ProvenanceCalibration> calibration;
};

// The pre-export check. `configs` has one entry per Model::layers entry (empty: unchanged).
// Throws FileError naming the file when the model cannot be exported in this format at all
// (not a language model, no tokenizer, an unsupported architecture).
ExportPlan planExport(const Model& model, const std::vector<LayerConfig>& configs, ExportFormat format,
                      const ExportOptions& options = {});

// Writes the export to `path` (through a temporary file in its folder, renamed at the end).
// Throws Error listing the problems when the plan is not writable, FileError when `path`
// exists without options.overwrite or cannot be written, Cancelled when `progress` says so.
ExportPlan exportModel(const Model& model, const std::vector<LayerConfig>& configs, ExportFormat format,
                       const std::string& path, const ExportOptions& options = {},
                       const ProgressFn& progress = {});

} // namespace bonsai
