// GGUF export of Llama-family language models (see bonsai/export.h).
#include "bonsai/describe.h"
#include "bonsai/error.h"
#include "bonsai/export.h"
#include "bonsai/ggml_blocks.h"
#include "bonsai/half.h"
#include "bonsai/llm.h"
#include "export/export_impl.h"
#include "export/gguf_file.h"
#include "formats/gguf.h"
#include "tokenizer/spm.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

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
};

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

Choice choose(const LayerConfig& c, DType source, uint64_t cols, bool acceptMapping)
{
    Choice ch;
    if (c.hasSparsity() || c.hasRank()) {
        ch.status = StoreStatus::Impossible;
        ch.reason = std::string("GGUF stores dense tensors: ") + (c.hasRank() ? "low rank" : "sparsity") +
                    " cannot be kept (clear it, or export to another format)";
        return ch;
    }
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
void encode(const Model& model, int tensor, DType type, bool copy, uint8_t* dst)
{
    const TensorInfo& t = model.tensors[static_cast<size_t>(tensor)];
    if (copy) {
        std::memcpy(dst, t.data, t.nbytes);
        return;
    }
    const std::vector<float> v = model.readFloat(tensor);
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

void addHfMetadata(GgufFileWriter& w, const Model& model, const LlmConfig& c, std::vector<std::string>& notes)
{
    const fs::path dir = folderOf(model);
    const fs::path spmPath = dir / "tokenizer.model";
    std::error_code ec;
    if (!fs::is_regular_file(spmPath, ec))
        throw FileError(dir.string(), "GGUF export needs the SentencePiece tokenizer.model beside the checkpoint "
                                      "(byte-level BPE tokenizer.json is not exported yet)");
    std::ifstream in(spmPath, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    std::string error;
    const auto vocab = spm::parseModelProto(bytes.str(), error);
    if (!vocab)
        throw FileError(spmPath.string(), error);
    if (static_cast<int64_t>(vocab->pieces.size()) != c.vocab)
        throw FileError(spmPath.string(), "holds " + std::to_string(vocab->pieces.size()) +
                                              " pieces, the model's embedding " + std::to_string(c.vocab) + " rows");

    const std::string arch = "llama";
    w.addString("general.architecture", arch);
    w.addString("general.name", dir.filename().string());
    w.addU32(arch + ".context_length", static_cast<uint32_t>(c.maxPositions > 0 ? c.maxPositions : 2048));
    w.addU32(arch + ".embedding_length", static_cast<uint32_t>(c.hidden));
    w.addU32(arch + ".block_count", static_cast<uint32_t>(c.layers));
    w.addU32(arch + ".feed_forward_length", static_cast<uint32_t>(c.intermediate));
    w.addU32(arch + ".rope.dimension_count", static_cast<uint32_t>(c.headDim));
    w.addU32(arch + ".attention.head_count", static_cast<uint32_t>(c.heads));
    w.addU32(arch + ".attention.head_count_kv", static_cast<uint32_t>(c.kvHeads));
    w.addF32(arch + ".attention.layer_norm_rms_epsilon", static_cast<float>(c.rmsEps));
    w.addF32(arch + ".rope.freq_base", static_cast<float>(c.ropeTheta));
    w.addU32(arch + ".vocab_size", static_cast<uint32_t>(c.vocab));
    if (c.headDim * c.heads != c.hidden) {
        w.addU32(arch + ".attention.key_length", static_cast<uint32_t>(c.headDim));
        w.addU32(arch + ".attention.value_length", static_cast<uint32_t>(c.headDim));
    }

    std::vector<int32_t> types;
    for (spm::PieceType t : vocab->types)
        types.push_back(static_cast<int32_t>(t));
    w.addString("tokenizer.ggml.model", "llama");
    w.addString("tokenizer.ggml.pre", "default");
    w.addStrings("tokenizer.ggml.tokens", vocab->pieces);
    w.addF32s("tokenizer.ggml.scores", vocab->scores);
    w.addI32s("tokenizer.ggml.token_type", types);
    const int32_t bos = c.bosId >= 0 ? c.bosId : vocab->bosId, eos = c.eosId >= 0 ? c.eosId : vocab->eosId;
    if (bos >= 0)
        w.addU32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(bos));
    if (eos >= 0)
        w.addU32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(eos));
    if (vocab->unkId >= 0)
        w.addU32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(vocab->unkId));
    if (vocab->padId >= 0)
        w.addU32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(vocab->padId));
    // The normalizer (llama.cpp applies none for "llama" vocabularies and ignores these keys;
    // Bonsai reads them, so that its own exports tokenize as the checkpoint did).
    w.addBool("tokenizer.ggml.add_space_prefix", vocab->addDummyPrefix);
    w.addBool("tokenizer.ggml.remove_extra_whitespaces", vocab->removeExtraWhitespaces);
    if (!vocab->precompiledCharsmap.empty())
        w.addU8s("tokenizer.ggml.precompiled_charsmap", vocab->precompiledCharsmap);
    w.addBool("tokenizer.ggml.add_bos_token", true);
    w.addBool("tokenizer.ggml.add_eos_token", false);
    notes.push_back("tokenizer: SentencePiece from " + spmPath.string() + " (" + std::to_string(vocab->pieces.size()) +
                    " pieces)");
}

} // namespace

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
    if (!source && c.architecture != "llama" && c.architecture != "mistral")
        throw FileError(model.path, "GGUF export of '" + c.architecture + "' checkpoints is not supported yet (llama and "
                                    "mistral are)");
    if (!source && c.ropeFactor != 0)
        throw FileError(model.path, "GGUF export of llama3 RoPE scaling is not supported yet");

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
        addHfMetadata(w, model, c, plan.notes);
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

        // llama's RoPE on adjacent pairs: Hugging Face Q/K rows permuted, per head.
        int64_t permuteHeads = 0;
        if (!source) {
            const auto info = llmLayerInfo(t.name);
            if (info && info->role == LlmRole::Q)
                permuteHeads = c.heads;
            else if (info && info->role == LlmRole::K)
                permuteHeads = c.kvHeads;
        }
        const DType type = ch.type;
        const bool copy = ch.copy;
        const uint64_t rowBytes = tp.bytes / (t.numel / std::max<uint64_t>(cols, 1));
        const uint64_t rows = t.numel / std::max<uint64_t>(cols, 1);
        w.addTensor(tp.target, t.shape, *typeId, tp.bytes, [&model, k, type, copy, permuteHeads, rows, rowBytes](uint8_t* dst) {
            encode(model, static_cast<int>(k), type, copy, dst);
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
