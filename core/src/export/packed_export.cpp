// compressed-tensors' pack-quantized layout (see bonsai/export.h): the integer codes of a
// Linear weight packed into int32 words, with its scales, zero points and shape (FP8 E4M3
// weights as float-quantized: the codes and their scales), and the quantization_config that
// tells transformers and vLLM how to read them. The rest of the folder
// is the safetensors export's (safetensors_export.cpp).
#include "bonsai/describe.h"
#include "bonsai/half.h"
#include "export/export_impl.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <map>

namespace bonsai::detail {

namespace {

uint64_t ceilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// compressed-tensors stores signed codes offset by 2^(bits-1); Bonsai's symmetric codes are
// signed, its asymmetric codes (and zero points) unsigned already: (q - z) is the same.
uint32_t unsignedCode(int8_t q, bool symmetric, int bits)
{
    return symmetric ? static_cast<uint32_t>(int(q) + (1 << (bits - 1))) : static_cast<uint32_t>(static_cast<uint8_t>(q));
}

void putFloat(float v, DType t, uint8_t* dst)
{
    if (t == DType::F32) {
        std::memcpy(dst, &v, 4);
    } else {
        const uint16_t h = t == DType::F16 ? floatToFp16(v) : floatToBf16(v);
        std::memcpy(dst, &h, 2);
    }
}

std::string join(const std::vector<std::string>& parts)
{
    std::string out;
    for (const auto& p : parts)
        out += (out.empty() ? "" : "; ") + p;
    return out;
}

} // namespace

int packedBits(int bits) { return bits <= 4 ? 4 : 8; }

bool planPackedLayer(const Model& model, int layer, LayerConfig& c, DType floatType, ExportTensorPlan& tp,
                     std::vector<PackedTensor>& tensors, PackedScheme& scheme)
{
    tensors.clear();
    const Layer& l = model.layers[static_cast<size_t>(layer)];
    const TensorInfo& t = model.tensors[static_cast<size_t>(l.weight)];
    auto impossible = [&](const std::string& why) {
        tp.status = StoreStatus::Impossible;
        tp.reason = why;
        return true;
    };
    const bool fp8 = c.precision.kind == PrecisionKind::FP8_E4M3;
    switch (c.precision.kind) {
    case PrecisionKind::Int:
    case PrecisionKind::FP8_E4M3: break;
    case PrecisionKind::NF4:
    case PrecisionKind::FP8_E5M2:
    case PrecisionKind::Ggml:
        return impossible(shortPrecision(c) + " has no compressed-tensors encoding Bonsai writes (integer codes of "
                                              "2-8 bits packed, FP8 E4M3)");
    default: return false; // floats: stored dense
    }
    if (c.hasRank())
        return impossible("low rank: compressed-tensors stores one dense matrix per Linear layer");
    if (t.shape.size() != 2 || l.outAxis != 0)
        return impossible("the weight is no [out, in] matrix");
    if (fp8 && c.granularity == Granularity::Group)
        return impossible("FP8 with group-wise scales: Bonsai's FP8 has per-tensor or per-channel scales");
    IntCodes codes;
    Fp8Codes fcodes;
    const std::vector<float> values = reconstructLayer(model, layer, c);
    const std::string why = fp8 ? fp8Codes(model, layer, c, values, fcodes) : intCodes(model, layer, c, values, codes);
    if (!why.empty())
        return impossible(why + ": not exported to compressed-tensors yet");
    const int bits = fp8 ? 8 : packedBits(c.precision.bits);
    const uint64_t pf = 32 / static_cast<uint64_t>(bits);
    scheme = {bits, fp8 || c.symmetric, !fp8 && c.granularity == Granularity::Group ? c.groupSize : 0, fp8,
              fp8 && c.granularity == Granularity::PerTensor};
    std::vector<std::string> changes, notes;
    if (!fp8 && c.precision.bits != bits)
        changes.push_back("int" + std::to_string(c.precision.bits) + " codes in " + std::to_string(bits) +
                          "-bit fields (the same values; the file is not smaller)");
    if (!fp8 && c.granularity == Granularity::PerTensor)
        changes.push_back("one scale per tensor, stored on every row (strategy channel, which vLLM reads)");
    if (c.hasSparsity())
        changes.push_back("pruned weights stored as zero codes (no sparse layout: the file is not smaller)");
    const std::vector<float>& scales = fp8 ? fcodes.scale : codes.scale;
    if (const std::string why = withoutCalibration(c); !why.empty())
        changes.push_back(why);
    if (floatType == DType::BF16)
        for (float s : scales)
            if (bf16ToFloat(floatToBf16(s)) != s) {
                changes.push_back("scales rounded to BF16 (F16 or F32 keep Bonsai's FP16 scales exactly)");
                break;
            }
    if (scheme.group && codes.cols % scheme.group != 0 && codes.groups > 1)
        notes.push_back("the last group of each row is partial (" + std::to_string(codes.cols) + " inputs, groups of " +
                        std::to_string(scheme.group) + "): transformers reads it, vLLM's kernels need whole groups");
    if (l.name == "lm_head")
        notes.push_back("a packed lm_head: transformers reads it; vLLM keeps lm_head unquantized (its own layer "
                        "type there), so set it to fp32 for vLLM");
    const uint64_t fsize = floatType == DType::F32 ? 4 : 2;
    if (fp8) {
        const auto rows = static_cast<int64_t>(fcodes.rows), cols = static_cast<int64_t>(fcodes.cols);
        tensors.push_back({l.name + ".weight", DType::F8_E4M3, {rows, cols}, fcodes.rows * fcodes.cols, PackedPart::Fp8});
        tensors.push_back({l.name + ".weight_scale", floatType,
                           scheme.perTensor ? std::vector<int64_t>{1} : std::vector<int64_t>{rows, 1},
                           fsize * fcodes.scale.size(), PackedPart::Scale});
        tp.target = l.name + ".weight";
        tp.stored = std::string("FP8 E4M3, ") + (scheme.perTensor ? "per tensor" : "per channel");
    } else {
        const auto rows = static_cast<int64_t>(codes.rows), groups = static_cast<int64_t>(codes.groups);
        const uint64_t words = ceilDiv(codes.cols, pf), zeroWords = ceilDiv(codes.rows, pf);
        tensors.push_back({l.name + ".weight_packed", DType::I32, {rows, int64_t(words)}, 4 * codes.rows * words,
                           PackedPart::Packed});
        tensors.push_back({l.name + ".weight_scale", floatType, {rows, groups}, fsize * codes.rows * codes.groups,
                           PackedPart::Scale});
        if (!c.symmetric)
            tensors.push_back({l.name + ".weight_zero_point", DType::I32, {int64_t(zeroWords), groups},
                               4 * zeroWords * codes.groups, PackedPart::ZeroPoint});
        tensors.push_back({l.name + ".weight_shape", DType::I64, {2}, 16, PackedPart::Shape});
        tp.target = l.name + ".weight_packed";
        tp.stored = "int" + std::to_string(bits) + " packed, " +
                    (scheme.group ? "groups of " + std::to_string(scheme.group) : std::string("per channel")) +
                    (c.symmetric ? "" : ", zero points");
    }
    tp.bytes = 0;
    for (const auto& e : tensors)
        tp.bytes += e.bytes;
    if (!changes.empty())
        tp.status = StoreStatus::Changed;
    changes.insert(changes.end(), notes.begin(), notes.end());
    tp.reason = join(changes);
    return true;
}

void fillPacked(const Model& model, int layer, const LayerConfig& c, PackedPart part, DType floatType,
                PackedCache& cache, std::vector<uint8_t>& out)
{
    const bool fp8 = c.precision.kind == PrecisionKind::FP8_E4M3;
    if (cache.layer != layer) {
        cache.codes = {};
        cache.fp8 = {};
        const std::vector<float> values = reconstructLayer(model, layer, c);
        (void)(fp8 ? fp8Codes(model, layer, c, values, cache.fp8) : intCodes(model, layer, c, values, cache.codes));
        cache.layer = layer;
    }
    const IntCodes& k = cache.codes;
    const int bits = packedBits(c.precision.bits);
    const uint64_t pf = 32 / static_cast<uint64_t>(bits);
    auto putWord = [&](uint64_t index, uint32_t w) { std::memcpy(out.data() + 4 * index, &w, 4); };
    switch (part) {
    case PackedPart::Packed: {
        const uint64_t words = ceilDiv(k.cols, pf);
        for (uint64_t r = 0; r < k.rows; ++r)
            for (uint64_t w = 0; w < words; ++w) {
                uint32_t word = 0;
                for (uint64_t i = 0; i < pf && w * pf + i < k.cols; ++i)
                    word |= unsignedCode(k.q[r * k.cols + w * pf + i], c.symmetric, bits) << (bits * i);
                putWord(r * words + w, word);
            }
        break;
    }
    case PackedPart::Scale: {
        const size_t fsize = floatType == DType::F32 ? 4 : 2;
        const std::vector<float>& scale = fp8 ? cache.fp8.scale : k.scale;
        for (size_t i = 0; i < scale.size(); ++i)
            putFloat(scale[i], floatType, out.data() + fsize * i);
        break;
    }
    case PackedPart::Fp8: std::memcpy(out.data(), cache.fp8.q.data(), cache.fp8.q.size()); break;
    case PackedPart::ZeroPoint: {
        for (uint64_t w = 0; w < ceilDiv(k.rows, pf); ++w)
            for (uint64_t g = 0; g < k.groups; ++g) {
                uint32_t word = 0;
                for (uint64_t i = 0; i < pf && w * pf + i < k.rows; ++i)
                    word |= unsignedCode(k.zero[(w * pf + i) * k.groups + g], false, bits) << (bits * i);
                putWord(w * k.groups + g, word);
            }
        break;
    }
    case PackedPart::Shape: {
        const int64_t shape[2] = {int64_t(k.rows), int64_t(k.cols)};
        std::memcpy(out.data(), shape, 16);
        break;
    }
    case PackedPart::None: break;
    }
}

void schemeTargets(const Model& model, const std::vector<int>& schemeOf, int schemes,
                   std::vector<std::vector<std::string>>& targets, std::vector<std::string>& ignore)
{
    targets.assign(static_cast<size_t>(schemes), {});
    ignore.clear();
    bool headQuantized = false;
    for (size_t l = 0; l < model.layers.size(); ++l) {
        const Layer& layer = model.layers[l];
        const int s = l < schemeOf.size() ? schemeOf[l] : -1;
        if (s >= 0) {
            targets[static_cast<size_t>(s)].push_back(layer.name);
            headQuantized |= layer.name == "lm_head";
        } else if (layer.op == "Linear") {
            ignore.push_back(layer.name);
        }
    }
    // A tied lm_head has no weight of its own, but transformers and vLLM build a Linear for it.
    if (!headQuantized && std::find(ignore.begin(), ignore.end(), "lm_head") == ignore.end())
        ignore.push_back("lm_head");
    if (schemes == 1)
        targets[0] = {"Linear"};
}

std::vector<std::string> fusedSchemeNotes(const Model& model, const std::vector<PackedScheme>& schemeOfLayer,
                                          const std::vector<bool>& packed)
{
    std::map<std::string, size_t> index;
    for (size_t l = 0; l < model.layers.size(); ++l)
        index[model.layers[l].name] = l;
    // What vLLM fuses into one layer (the sibling modules' suffixes).
    const std::vector<std::vector<std::string>> fused = {{"q_proj", "k_proj", "v_proj"}, {"gate_proj", "up_proj"}};
    std::vector<std::string> mixed;
    for (const auto& [name, l] : index)
        for (const auto& set : fused) {
            const std::string suffix = "." + set[0];
            if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
                continue;
            const std::string stem = name.substr(0, name.size() - set[0].size());
            for (size_t k = 1; k < set.size(); ++k) {
                const auto it = index.find(stem + set[k]);
                if (it == index.end())
                    continue;
                const size_t o = it->second;
                if (packed[l] != packed[o] || (packed[l] && !(schemeOfLayer[l] == schemeOfLayer[o]))) {
                    mixed.push_back(stem + "{" + set[0] + ", " + set[k] + "}");
                    break;
                }
            }
        }
    if (mixed.empty())
        return {};
    return {"vLLM fuses q/k/v_proj and gate/up_proj into one layer each and needs one scheme per fused layer; " +
            std::to_string(mixed.size()) + " differ (" + mixed.front() + (mixed.size() > 1 ? ", ..." : "") +
            "): transformers reads the folder, vLLM refuses it"};
}

std::string packedQuantizationConfig(const Model& model, const std::vector<PackedScheme>& schemeOfLayer,
                                     const std::vector<bool>& packed)
{
    std::vector<PackedScheme> schemes;
    std::vector<int> schemeOf(model.layers.size(), -1);
    for (size_t l = 0; l < model.layers.size(); ++l) {
        if (!packed[l])
            continue;
        auto it = std::find(schemes.begin(), schemes.end(), schemeOfLayer[l]);
        if (it == schemes.end())
            it = schemes.insert(schemes.end(), schemeOfLayer[l]);
        schemeOf[l] = static_cast<int>(it - schemes.begin());
    }
    std::vector<std::vector<std::string>> targets;
    std::vector<std::string> ignore;
    schemeTargets(model, schemeOf, static_cast<int>(schemes.size()), targets, ignore);
    nlohmann::ordered_json groups = nlohmann::ordered_json::object();
    for (size_t s = 0; s < schemes.size(); ++s) {
        const PackedScheme& p = schemes[s];
        nlohmann::ordered_json w;
        w["num_bits"] = p.bits;
        w["type"] = p.fp8 ? "float" : "int";
        w["symmetric"] = p.symmetric;
        w["group_size"] = p.group ? nlohmann::ordered_json(p.group) : nlohmann::ordered_json();
        w["strategy"] = p.group ? "group" : p.perTensor ? "tensor" : "channel";
        w["block_structure"] = nullptr;
        w["dynamic"] = false;
        w["actorder"] = nullptr;
        w["observer"] = "minmax";
        w["observer_kwargs"] = nlohmann::ordered_json::object();
        nlohmann::ordered_json g;
        g["targets"] = targets[s];
        g["weights"] = w;
        g["input_activations"] = nullptr;
        g["output_activations"] = nullptr;
        g["format"] = p.fp8 ? "float-quantized" : "pack-quantized";
        groups["group_" + std::to_string(s)] = g;
    }
    const bool anyFp8 = std::any_of(schemes.begin(), schemes.end(), [](const PackedScheme& p) { return p.fp8; });
    const bool allFp8 = std::all_of(schemes.begin(), schemes.end(), [](const PackedScheme& p) { return p.fp8; });
    nlohmann::ordered_json q;
    q["quant_method"] = "compressed-tensors";
    q["format"] = allFp8 ? "float-quantized" : anyFp8 ? "mixed-precision" : "pack-quantized";
    q["quantization_status"] = "compressed";
    q["config_groups"] = groups;
    q["ignore"] = ignore;
    q["kv_cache_scheme"] = nullptr;
    q["global_compression_ratio"] = nullptr;
    q["sparsity_config"] = nlohmann::ordered_json::object();
    q["transform_config"] = nlohmann::ordered_json::object();
    return q.dump();
}

} // namespace bonsai::detail
