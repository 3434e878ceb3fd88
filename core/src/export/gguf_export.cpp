// GGUF export of Llama-family language models (see bonsai/export.h).
#include "bonsai/describe.h"
#include "bonsai/compress.h"
#include "bonsai/error.h"
#include "bonsai/export.h"
#include "bonsai/ggml_blocks.h"
#include "bonsai/half.h"
#include "bonsai/llm.h"
#include "export/export_impl.h"
#include "export/gguf_file.h"
#include "formats/gguf.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>

namespace bonsai::detail {

namespace {

namespace fs = std::filesystem;

// llama.cpp's llama_ftype of the type most weights are stored in.
uint32_t fileType(DType t)
{
    switch (t) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q4_0: return 2;
    case DType::Q4_1: return 3;
    case DType::Q8_0: return 7;
    case DType::Q5_0: return 8;
    case DType::Q5_1: return 9;
    case DType::Q2_K: return 10;
    case DType::Q3_K: return 12; // Q3_K_M
    case DType::Q4_K: return 15; // Q4_K_M
    case DType::Q5_K: return 17; // Q5_K_M
    case DType::Q6_K: return 18;
    case DType::BF16: return 32;
    default: return 0;
    }
}

// What GGUF stores for one layer's configuration on rows of `cols` values.
struct Choice {
    DType type = DType::F32;
    StoreStatus status = StoreStatus::AsConfigured;
    std::string reason;
    bool copy = false; // the source bytes as they are
    bool sparse = false; // pruned weights written densely (values from compressLayer)
};

// Types whose blocks store a zero exactly (no minimum: d * q with q = 0 for x = 0), so pruned
// weights written densely stay the zeros Bonsai evaluated.
bool keepsZeros(DType t)
{
    switch (t) {
    case DType::F32:
    case DType::F16:
    case DType::BF16:
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::Q5_0:
    case DType::Q3_K:
    case DType::Q6_K: return true;
    default: return false;
    }
}

Choice chooseDense(const LayerConfig& c, DType source, uint64_t cols, bool acceptMapping);

// llama-quantize's fallback for a K type on rows that are no multiple of 256 (llama.cpp's
// tensor_type_fallback): Q2_K and Q3_K take Q4_0, Q4_K Q5_0, Q5_K Q5_1, Q6_K Q8_0.
DType kFallback(DType t)
{
    switch (t) {
    case DType::Q4_K: return DType::Q5_0;
    case DType::Q5_K: return DType::Q5_1;
    case DType::Q6_K: return DType::Q8_0;
    default: return DType::Q4_0; // Q2_K, Q3_K
    }
}

// The block type nearest to a precision GGUF has no type for.
DType nearestType(const LayerConfig& c)
{
    switch (c.precision.kind) {
    case PrecisionKind::NF4: return DType::Q4_0;
    case PrecisionKind::FP8_E4M3:
    case PrecisionKind::FP8_E5M2: return DType::Q8_0;
    default: break;
    }
    const int bits = c.precision.bits;
    if (bits >= 6)
        return DType::Q8_0;
    if (bits == 5)
        return c.symmetric ? DType::Q5_0 : DType::Q5_1;
    return c.symmetric ? DType::Q4_0 : DType::Q4_1;
}

bool blocksFit(DType t, uint64_t cols) { return cols % dtypeInfo(t).blockElems == 0; }

// Sparsity: the pruned weights written densely, as zeros, when the type keeps them exact.
Choice choose(const LayerConfig& c, DType source, uint64_t cols, bool acceptMapping)
{
    if (c.hasRank()) { // the dense product U V, in F32: the evaluated values exactly
        Choice ch;
        ch.type = DType::F32;
        ch.sparse = true;
        std::string why = "low rank written densely as the F32 product U V (GGUF has no factor layout: the file is "
                          "larger than the factors)";
        if (c.precision.kind != PrecisionKind::FP32)
            why += "; the factors' " + shortPrecision(c) + " is not applied";
        ch.status = acceptMapping ? StoreStatus::Changed : StoreStatus::Impossible;
        ch.reason = acceptMapping ? why : why + " (accept the mapping to export it so)";
        return ch;
    }
    if (!c.hasSparsity())
        return chooseDense(c, source, cols, acceptMapping);
    LayerConfig dense = c;
    dense.sparsity = 0;
    dense.pattern = SparsityPattern::Unstructured;
    dense.n = dense.m = 0;
    Choice ch = chooseDense(dense, source, cols, true);
    ch.sparse = true;
    if (ch.copy && dtypeInfo(source).isQuantized) {
        ch.status = StoreStatus::Impossible;
        ch.reason = "pruning a " + std::string(dtypeName(source)) + " tensor would quantize it again: choose its type";
        return ch;
    }
    ch.copy = false;
    if (!keepsZeros(ch.type)) {
        ch.status = StoreStatus::Impossible;
        ch.reason = std::string(dtypeName(ch.type)) + " blocks have a minimum and do not keep pruned weights exactly "
                    "zero: choose Q8_0, Q6_K, Q5_0, Q4_0 or Q3_K";
        return ch;
    }
    const std::string why = std::string("pruned weights written densely as zeros (GGUF has no sparse layout: the "
                                        "file is not smaller)") + (ch.reason.empty() ? "" : "; " + ch.reason);
    ch.status = acceptMapping ? StoreStatus::Changed : StoreStatus::Impossible;
    ch.reason = acceptMapping ? why : why + " (accept the mapping to export it so)";
    return ch;
}

Choice chooseDense(const LayerConfig& c, DType source, uint64_t cols, bool acceptMapping)
{
    Choice ch;
    auto mapped = [&](DType t, std::string why) {
        // A mapped type whose blocks do not fit the rows falls back once more, to F16.
        if (!blocksFit(t, cols)) {
            why += "; its " + std::to_string(dtypeInfo(t).blockElems) + "-value blocks do not fit rows of " +
                   std::to_string(cols) + ", so F16";
            t = DType::F16;
        }
        ch.type = t;
        ch.status = acceptMapping ? StoreStatus::Changed : StoreStatus::Impossible;
        ch.reason = acceptMapping ? why : why + " (accept the mapping to export it so)";
    };
    switch (c.precision.kind) {
    case PrecisionKind::FP32:
        if (source == DType::F32 || source == DType::F16 || source == DType::BF16 || dtypeInfo(source).isQuantized) {
            ch.type = source;
            ch.copy = true;
        } else {
            mapped(DType::F32, std::string(dtypeName(source)) + " has no GGUF type here: F32");
        }
        return ch;
    case PrecisionKind::FP16: ch.type = DType::F16; return ch;
    case PrecisionKind::BF16: ch.type = DType::BF16; return ch;
    case PrecisionKind::Ggml: {
        const DType t = c.precision.ggml;
        if (blocksFit(t, cols)) {
            ch.type = t;
            ch.copy = t == source;
            return ch;
        }
        const DType f = kFallback(t);
        mapped(f, std::string(dtypeName(t)) + " needs rows of a multiple of " + std::to_string(dtypeInfo(t).blockElems) +
                      " values, these have " + std::to_string(cols) + ": " + std::string(dtypeName(f)) +
                      ", as llama-quantize falls back");
        return ch;
    }
    default: {
        const DType t = nearestType(c);
        mapped(t, "GGUF has no " + shortPrecision(c) + ": nearest type " + std::string(dtypeName(t)));
        return ch;
    }
    }
}

// The configuration that computes what a choice writes.
LayerConfig writtenConfig(const Choice& ch, const LayerConfig& configured)
{
    if (ch.status == StoreStatus::AsConfigured)
        return configured;
    LayerConfig c;
    if (ch.sparse) { // the sparsity as configured, the precision of the type written
        c = configured;
        c.precision = Precision{PrecisionKind::FP32};
        c.method = QuantMethod::RTN;
    }
    if (ch.copy)
        return c;
    if (ch.type == DType::F16)
        c.precision = Precision{PrecisionKind::FP16};
    else if (ch.type == DType::BF16)
        c.precision = Precision{PrecisionKind::BF16};
    else if (dtypeInfo(ch.type).isQuantized)
        c.precision = Precision{PrecisionKind::Ggml, 0, ch.type};
    return c;
}

// Rows of `rowBytes` bytes in HF order -> llama.cpp's order for RoPE on adjacent pairs
// (convert_hf_to_gguf's permute: rows [heads, 2, half] -> [heads, half, 2]).
void permuteRows(uint8_t* data, uint64_t rows, uint64_t rowBytes, int64_t heads)
{
    const uint64_t perHead = rows / static_cast<uint64_t>(heads), half = perHead / 2;
    std::vector<uint8_t> copy(data, data + rows * rowBytes);
    for (uint64_t h = 0; h < static_cast<uint64_t>(heads); ++h)
        for (uint64_t i = 0; i < half; ++i)
            for (uint64_t j = 0; j < 2; ++j)
                std::memcpy(data + (h * perHead + i * 2 + j) * rowBytes, copy.data() + (h * perHead + j * half + i) * rowBytes,
                            rowBytes);
}

// Writes the tensor's values in `type` (row by row along the last axis).
// `pruned`: the layer whose sparsity or low rank (of configuration `c`) is written densely.
void encode(const Model& model, int tensor, DType type, bool copy, uint8_t* dst, int pruned = -1,
            const LayerConfig& c = {})
{
    const TensorInfo& t = model.tensors[static_cast<size_t>(tensor)];
    if (copy) {
        std::memcpy(dst, t.data, t.nbytes);
        return;
    }
    std::vector<float> v;
    if (pruned >= 0) {
        LayerConfig sparsityOnly = c;
        sparsityOnly.precision = Precision{PrecisionKind::FP32};
        sparsityOnly.method = QuantMethod::RTN;
        compressLayer(model, pruned, sparsityOnly, &v);
    } else {
        v = model.readFloat(tensor);
    }
    const uint64_t n = v.size();
    switch (type) {
    case DType::F32: std::memcpy(dst, v.data(), n * 4); return;
    case DType::F16:
        for (uint64_t i = 0; i < n; ++i) {
            const uint16_t h = floatToFp16(v[i]);
            std::memcpy(dst + 2 * i, &h, 2);
        }
        return;
    case DType::BF16:
        for (uint64_t i = 0; i < n; ++i) {
            const uint16_t b = floatToBf16(v[i]);
            std::memcpy(dst + 2 * i, &b, 2);
        }
        return;
    default: {
        const uint64_t cols = t.shape.empty() ? n : static_cast<uint64_t>(t.shape.back());
        const uint64_t rows = n / cols, rowBytes = *storageBytes(type, cols);
#pragma omp parallel for schedule(dynamic, 16)
        for (int64_t r = 0; r < static_cast<int64_t>(rows); ++r)
            quantizeGgmlRow(type, v.data() + static_cast<uint64_t>(r) * cols, cols,
                            dst + static_cast<uint64_t>(r) * rowBytes);
    }
    }
}

// The folder of a Hugging Face checkpoint.
fs::path folderOf(const Model& model)
{
    std::error_code ec;
    const fs::path p(model.path);
    return fs::is_directory(p, ec) ? p : p.parent_path();
}

// llama.cpp's architecture of a Hugging Face model_type.
std::string ggufArchitecture(const Model& model, const LlmConfig& c)
{
    if (c.architecture == "llama" || c.architecture == "mistral")
        return "llama";
    if (c.architecture == "qwen2") {
        // llama.cpp's qwen2 graph takes the attention output as [hidden, hidden].
        if (c.heads * c.headDim != c.hidden)
            throw FileError(model.path, "qwen2 with " + std::to_string(c.heads) + " heads of " +
                                            std::to_string(c.headDim) + " (head_dim) != hidden_size " +
                                            std::to_string(c.hidden) + ": llama.cpp's qwen2 cannot load it");
        return "qwen2";
    }
    throw FileError(model.path, "GGUF export of '" + c.architecture + "' checkpoints is not supported yet (llama, "
                                "mistral and qwen2 are)");
}

// The hyperparameters as the converter writes them (TextModel.set_gguf_parameters, and
// LlamaModel's vocab_size and rope.dimension_count), with linear RoPE scaling; "llama3"
// scaling is the rope_freqs.weight tensor (llama3RopeFactors).
void addHfMetadata(GgufFileWriter& w, const Model& model, const std::string& arch, const LlmConfig& c,
                   std::vector<std::string>& notes)
{
    const fs::path dir = folderOf(model);
    w.addString("general.architecture", arch);
    w.addString("general.name", dir.filename().string());
    w.addU32(arch + ".context_length", static_cast<uint32_t>(c.maxPositions > 0 ? c.maxPositions : 2048));
    w.addU32(arch + ".embedding_length", static_cast<uint32_t>(c.hidden));
    w.addU32(arch + ".block_count", static_cast<uint32_t>(c.layers));
    w.addU32(arch + ".feed_forward_length", static_cast<uint32_t>(c.intermediate));
    if (arch == "llama")
        w.addU32(arch + ".rope.dimension_count", static_cast<uint32_t>(c.headDim));
    w.addU32(arch + ".attention.head_count", static_cast<uint32_t>(c.heads));
    w.addU32(arch + ".attention.head_count_kv", static_cast<uint32_t>(c.kvHeads));
    w.addF32(arch + ".attention.layer_norm_rms_epsilon", static_cast<float>(c.rmsEps));
    w.addF32(arch + ".rope.freq_base", static_cast<float>(c.ropeTheta));
    if (arch == "llama")
        w.addU32(arch + ".vocab_size", static_cast<uint32_t>(c.vocab));
    if (c.headDim * c.heads != c.hidden) {
        w.addU32(arch + ".attention.key_length", static_cast<uint32_t>(c.headDim));
        w.addU32(arch + ".attention.value_length", static_cast<uint32_t>(c.headDim));
    }
    if (c.ropeFactor < 0) {
        w.addString(arch + ".rope.scaling.type", "linear");
        w.addF32(arch + ".rope.scaling.factor", static_cast<float>(-c.ropeFactor));
        notes.push_back("RoPE: linear scaling by " + std::to_string(-c.ropeFactor));
    }
    addGgufTokenizer(w, model, dir.string(), c, notes);
}

} // namespace

std::vector<float> llama3RopeFactors(const LlmConfig& c)
{
    // LlamaModel.generate_extra_tensors: per frequency of the unscaled RoPE, its divisor.
    std::vector<float> out;
    for (int64_t i = 0; i < c.headDim / 2; ++i)
        out.push_back(static_cast<float>(c.llama3RopeDivisor(1.0 / std::pow(c.ropeTheta, double(2 * i) / double(c.headDim)))));
    return out;
}

Provenance exportProvenance(const Model& model, ExportFormat format, const ExportOptions& options, bool hash,
                            const ProgressFn& progress)
{
    Provenance p = makeProvenance(model, options.calibration, hash, progress);
    p.options.push_back("format " + std::string(exportFormatName(format)));
    if (options.acceptMapping)
        p.options.push_back("accept mapping");
    return p;
}

ExportPlan buildGguf(const Model& model, const std::vector<LayerConfig>& configs, const ExportOptions& options,
                     GgufFileWriter& w, const Provenance* provenance)
{
    if (!isLanguageModel(model))
        throw FileError(model.path, "GGUF export takes a Llama-family language model (this is no language model)");
    const LlmConfig c = LlmConfig::fromModel(model);
    const GgufMetadata* source = ggufMetadata(model);
    const std::string arch = source ? c.architecture : ggufArchitecture(model, c);
    // llama's RoPE on adjacent pairs: Hugging Face Q/K rows (weights and biases) permuted, per
    // head; qwen2 keeps the NeoX layout.
    const bool permute = !source && arch == "llama";
    if (!source && c.ropeFactor > 0 && arch != "llama")
        throw FileError(model.path, "llama3 RoPE scaling (rope_scaling) of a '" + arch + "' model: llama.cpp reads "
                                    "its rope_freqs.weight for llama only");

    ExportPlan plan;
    plan.format = ExportFormat::Gguf;
    plan.configs.assign(model.layers.size(), LayerConfig{});

    // Metadata first: the file type key needs the weights' types, so it is added last.
    if (source) {
        for (const auto& [key, value] : source->kv)
            if (key != "general.file_type" && key != "general.quantization_version" && key != "general.alignment" &&
                key != "bonsai.provenance")
                w.addValue(key, value);
        plan.notes.push_back("metadata and tokenizer copied from " + model.path);
    } else {
        addHfMetadata(w, model, arch, c, plan.notes);
    }

    // "llama3" RoPE scaling: the frequency divisors llama.cpp's llama graph reads.
    if (!source && c.ropeFactor > 0) {
        auto factors = std::make_shared<std::vector<float>>(llama3RopeFactors(c));
        ExportTensorPlan tp;
        tp.source = "rope_scaling of config.json";
        tp.target = "rope_freqs.weight";
        tp.configured = "—";
        tp.stored = "F32";
        tp.bytes = factors->size() * 4;
        w.addTensor(tp.target, {static_cast<int64_t>(factors->size())}, *ggmlTypeId(DType::F32), tp.bytes,
                    [factors](uint8_t* dst) { std::memcpy(dst, factors->data(), factors->size() * 4); });
        plan.tensors.push_back(std::move(tp));
        plan.notes.push_back("RoPE: llama3 scaling (factor " + std::to_string(c.ropeFactor) + ") as rope_freqs.weight");
    }

    std::vector<int> layerOf(model.tensors.size(), -1);
    for (size_t l = 0; l < model.layers.size(); ++l)
        layerOf[static_cast<size_t>(model.layers[l].weight)] = static_cast<int>(l);

    std::vector<uint64_t> typeCount(static_cast<size_t>(DType::Count), 0);
    for (size_t k = 0; k < model.tensors.size(); ++k) {
        const TensorInfo& t = model.tensors[k];
        ExportTensorPlan tp;
        tp.source = t.name;
        const auto name = source ? std::optional<std::string>(t.name) : ggufTensorName(t.name);
        if (!name) {
            if (t.name.find("rotary_emb.inv_freq") != std::string::npos)
                continue; // llama.cpp computes it from rope.freq_base
            throw FileError(model.path, "tensor '" + t.name + "' has no llama.cpp name: the GGUF export knows the "
                                        "Llama layout only");
        }
        tp.target = *name;
        const int layer = layerOf[k];
        tp.layer = layer;
        const uint64_t cols = t.shape.empty() ? t.numel : static_cast<uint64_t>(t.shape.back());
        Choice ch;
        if (layer >= 0) {
            const LayerConfig& lc = static_cast<size_t>(layer) < configs.size() ? configs[static_cast<size_t>(layer)]
                                                                                  : LayerConfig{};
            tp.configured = shortPrecision(lc);
            ch = choose(lc, t.dtype, cols, options.acceptMapping);
            plan.configs[static_cast<size_t>(layer)] = writtenConfig(ch, lc);
        } else {
            // Norms and biases: F32, as llama.cpp's converter writes 1-D tensors.
            ch.type = DType::F32;
            ch.copy = t.dtype == DType::F32;
            tp.configured = "—";
        }
        tp.stored = std::string(dtypeName(ch.type));
        tp.status = ch.status;
        tp.reason = ch.reason;
        const auto typeId = ggmlTypeId(ch.type);
        const auto bytes = storageBytes(ch.type, t.numel);
        if (!typeId || !bytes)
            throw Error("tensor '" + t.name + "': no GGUF encoding for " + tp.stored);
        tp.bytes = *bytes;
        if (t.shape.size() >= 2)
            ++typeCount[static_cast<size_t>(ch.type)];

        int64_t permuteHeads = 0;
        if (permute) {
            const auto info = llmLayerInfo(t.name);
            if (info && info->role == LlmRole::Q)
                permuteHeads = c.heads;
            else if (info && info->role == LlmRole::K)
                permuteHeads = c.kvHeads;
        }
        const DType type = ch.type;
        const bool copy = ch.copy;
        const int pruned = ch.sparse ? layer : -1;
        const LayerConfig prunedConfig = pruned >= 0 ? plan.configs[static_cast<size_t>(layer)] : LayerConfig{};
        // A bias permutes as a column of one-value rows.
        const uint64_t rows = t.shape.size() >= 2 ? t.numel / std::max<uint64_t>(cols, 1) : t.numel;
        const uint64_t rowBytes = tp.bytes / std::max<uint64_t>(rows, 1);
        w.addTensor(tp.target, t.shape, *typeId, tp.bytes,
                    [&model, k, type, copy, permuteHeads, rows, rowBytes, pruned, prunedConfig](uint8_t* dst) {
            encode(model, static_cast<int>(k), type, copy, dst, pruned, prunedConfig);
            if (permuteHeads > 0)
                permuteRows(dst, rows, rowBytes, permuteHeads);
        });
        plan.tensors.push_back(std::move(tp));
    }

    DType main = DType::F32;
    for (size_t t = 0; t < typeCount.size(); ++t)
        if (typeCount[t] > typeCount[static_cast<size_t>(main)])
            main = static_cast<DType>(t);
    w.addU32("general.file_type", fileType(main));
    w.addU32("general.quantization_version", 2);
    w.addString("bonsai.provenance", (provenance ? *provenance : exportProvenance(model, ExportFormat::Gguf, options, false)).toJson());
    plan.notes.push_back("file type: mostly " + std::string(dtypeName(main)));
    plan.fileBytes = w.fileBytes();
    uint64_t data = 0;
    for (const auto& tp : plan.tensors)
        data += tp.bytes;
    plan.metadataBytes = plan.fileBytes - data;
    return plan;
}

} // namespace bonsai::detail
