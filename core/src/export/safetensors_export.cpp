// Safetensors export of a Hugging Face checkpoint (see bonsai/export.h): the compressed
// weights dequantized at one float type, with the folder's config.json and tokenizer files,
// written as a new checkpoint folder; for the packed export with the integer (FP8) Linear
// weights in compressed-tensors' pack-quantized (float-quantized) layout (packed_export.cpp).
#include "bonsai/compress.h"
#include "bonsai/describe.h"
#include "bonsai/error.h"
#include "bonsai/half.h"
#include "common/atomic_file.h"
#include "common/json_fault.h"
#include "common/regular_file.h"
#include "export/export_impl.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>

namespace bonsai::detail {

namespace fs = std::filesystem;

namespace {

const char* const kCopied[] = {"tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                               "generation_config.json"};

std::string stName(DType t)
{
    switch (t) {
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    default: return "F32";
    }
}

std::string torchName(DType t)
{
    switch (t) {
    case DType::F16: return "float16";
    case DType::BF16: return "bfloat16";
    default: return "float32";
    }
}

fs::path folderOf(const Model& model)
{
    std::error_code ec;
    const fs::path p(model.path);
    return fs::is_directory(p, ec) ? p : p.parent_path();
}

} // namespace

ExportPlan buildSafetensors(const Model& model, const std::vector<LayerConfig>& configs, const ExportOptions& options,
                            ExportFormat format, SafetensorsOut& out, const Provenance* provenance)
{
    if (model.format != Format::Safetensors)
        throw FileError(model.path, "the " + std::string(exportFormatName(format)) +
                                        " export writes Hugging Face checkpoints read from safetensors (this model is " +
                                        std::string(formatName(model.format)) + ")");
    const bool packedFormat = format == ExportFormat::SafetensorsPacked;
    const DType dtype = options.floatType;
    if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16)
        throw Error("the safetensors export writes F32, F16 or BF16");
    ExportPlan plan;
    plan.format = format;
    plan.configs.assign(model.layers.size(), LayerConfig{});
    std::vector<PackedScheme> schemes(model.layers.size());
    std::vector<bool> packed(model.layers.size(), false);
    std::vector<int> layerOf(model.tensors.size(), -1);
    for (size_t l = 0; l < model.layers.size(); ++l)
        layerOf[static_cast<size_t>(model.layers[l].weight)] = static_cast<int>(l);

    nlohmann::ordered_json header;
    uint64_t offset = 0;
    out.tensors.clear();
    for (size_t k = 0; k < model.tensors.size(); ++k) {
        const TensorInfo& t = model.tensors[k];
        ExportTensorPlan tp;
        tp.source = tp.target = t.name;
        tp.layer = layerOf[k];
        const bool isFloat = dtypeInfo(t.dtype).isFloat;
        const DType stored = isFloat ? dtype : t.dtype;
        tp.stored = isFloat ? stName(dtype) : std::string(dtypeName(t.dtype));
        if (tp.layer >= 0) {
            LayerConfig c = static_cast<size_t>(tp.layer) < configs.size() ? configs[static_cast<size_t>(tp.layer)]
                                                                            : LayerConfig{};
            tp.configured = describe(c);
            // (the packed layout says so in planPackedLayer)
            const std::string uncalibrated = packedFormat ? std::string() : withoutCalibration(c);
            plan.configs[static_cast<size_t>(tp.layer)] = c;
            std::vector<PackedTensor> parts;
            const bool linear = model.layers[static_cast<size_t>(tp.layer)].op == "Linear";
            LayerConfig written = c;
            if (packedFormat && linear &&
                planPackedLayer(model, tp.layer, written, dtype, tp, parts, schemes[size_t(tp.layer)])) {
                packed[static_cast<size_t>(tp.layer)] = tp.status != StoreStatus::Impossible;
                plan.configs[static_cast<size_t>(tp.layer)] = written;
                for (const PackedTensor& e : parts) {
                    header[e.name] = {{"dtype", std::string(dtypeName(e.dtype))},
                                      {"shape", e.shape},
                                      {"data_offsets", {offset, offset + e.bytes}}};
                    out.tensors.push_back({static_cast<int>(k), tp.layer, e.dtype, offset, e.bytes, e.part});
                    offset += e.bytes;
                }
                plan.tensors.push_back(std::move(tp));
                continue;
            }
            const PrecisionKind kind = c.precision.kind;
            const bool floatPrecision = kind == PrecisionKind::FP32 || kind == PrecisionKind::FP16 || kind == PrecisionKind::BF16;
            if (!c.isIdentity() && dtype != DType::F32) {
                tp.status = StoreStatus::Changed;
                tp.reason = "dequantized, then rounded to " + stName(dtype) + " (F32 keeps the evaluated values exactly)";
            } else if (!c.isIdentity() && packedFormat && !floatPrecision) {
                tp.status = StoreStatus::Changed;
                tp.reason = "dequantized (the evaluated values exactly, at full size): compressed-tensors' layouts "
                            "store Linear weights only";
            } else if (!c.isIdentity()) {
                tp.reason = "dequantized: stored dense at full size";
            }
            if (!uncalibrated.empty()) {
                tp.status = StoreStatus::Changed;
                tp.reason = uncalibrated + "; " + tp.reason;
            }
        } else {
            tp.configured = "—";
        }
        const auto bytes = storageBytes(stored, t.numel);
        if (!bytes || (!isFloat && dtypeInfo(t.dtype).isQuantized))
            throw FileError(model.path, "tensor '" + t.name + "' of type " + std::string(dtypeName(t.dtype)) +
                                            " has no safetensors encoding");
        tp.bytes = *bytes;
        header[t.name] = {{"dtype", isFloat ? stName(dtype) : std::string(dtypeName(t.dtype))},
                          {"shape", t.shape},
                          {"data_offsets", {offset, offset + tp.bytes}}};
        out.tensors.push_back({static_cast<int>(k), tp.layer, stored, offset, tp.bytes});
        offset += tp.bytes;
        plan.tensors.push_back(std::move(tp));
    }
    header["__metadata__"] = {{"format", "pt"}};
    out.header = header.dump();
    out.dataBytes = offset;
    setSafetensorsProvenance(out, plan,
                             provenance ? *provenance : exportProvenance(model, format, options, false));

    // config.json with the stored type; the tokenizer files as they are.
    const fs::path dir = folderOf(model);
    std::error_code ec;
    out.extraFiles.clear();
    const fs::path config = dir / "config.json";
    if (fs::exists(fs::symlink_status(config, ec))) {
        requireInsideFolder(config.string(), dir.string());
        const std::string text = readRegularFile(config.string(), kMaxSideFileBytes, "config.json");
        nlohmann::ordered_json j;
        try {
            j = nlohmann::ordered_json::parse(text);
        } catch (const nlohmann::json::exception& e) {
            throw FileError(config.string(), "not valid JSON: " + jsonFault(e));
        }
        j["torch_dtype"] = torchName(dtype);
        if (packedFormat && std::find(packed.begin(), packed.end(), true) != packed.end()) {
            j["quantization_config"] = nlohmann::ordered_json::parse(packedQuantizationConfig(model, schemes, packed));
            for (std::string& n : fusedSchemeNotes(model, schemes, packed))
                plan.notes.push_back(std::move(n));
        } else if (packedFormat) {
            plan.notes.push_back("no layer is quantized (no integer or FP8 Linear layer): config.json has no "
                                 "quantization_config");
        }
        out.extraFiles.emplace_back("config.json", j.dump(2) + "\n");
    } else if (packedFormat) {
        throw FileError(config.string(), "is missing: the packed export writes its quantization_config into it");
    } else {
        plan.notes.push_back("no config.json beside the checkpoint: the export has none either");
    }
    for (const char* name : kCopied)
        if (fs::exists(fs::symlink_status(dir / name, ec))) {
            requireInsideFolder((dir / name).string(), dir.string());
            out.extraFiles.emplace_back(name, readRegularFile((dir / name).string(), kMaxSideFileBytes, name));
        }
    for (const auto& [name, text] : out.extraFiles)
        plan.notes.push_back("with " + name + " (" + std::to_string(text.size()) + " bytes)");
    return plan;
}

void setSafetensorsProvenance(SafetensorsOut& out, ExportPlan& plan, const Provenance& provenance)
{
    auto header = nlohmann::ordered_json::parse(out.header);
    header["__metadata__"]["bonsai.provenance"] = provenance.toJson();
    std::string h = header.dump();
    h.append((8 - h.size() % 8) % 8, ' ');
    out.header = std::move(h);
    plan.fileBytes = 8 + out.header.size() + out.dataBytes;
    plan.metadataBytes = 8 + out.header.size();
}

void writeSafetensors(const Model& model, const std::vector<LayerConfig>& configs, const ExportOptions& options,
                      const SafetensorsOut& out, const std::string& folder, const ProgressFn& progress)
{
    std::error_code ec;
    const fs::path target = fs::absolute(folder, ec);
    const fs::path parent = target.parent_path();
    if (!fs::is_directory(parent, ec))
        throw FileError(folder, "its parent folder does not exist");
    // A new folder beside the target, renamed into place when complete.
    std::string templ = (parent / (target.filename().string() + ".tmp-XXXXXX")).string();
    if (!mkdtemp(templ.data()))
        throw FileError(folder, std::string("cannot create a folder beside it: ") + std::strerror(errno));
    const fs::path tmp = templ;
    fs::permissions(tmp, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                             fs::perms::others_exec, ec); // mkdtemp makes it private
    struct Cleanup {
        fs::path p;
        bool keep = false;
        ~Cleanup()
        {
            std::error_code e;
            if (!keep)
                fs::remove_all(p, e);
        }
    } cleanup{tmp};

    AtomicFile f((tmp / "model.safetensors").string());
    uint64_t n = out.header.size();
    f.write(&n, 8);
    f.write(out.header.data(), out.header.size());
    std::vector<uint8_t> buffer;
    PackedCache cache;
    for (size_t i = 0; i < out.tensors.size(); ++i) {
        const auto& e = out.tensors[i];
        const TensorInfo& t = model.tensors[static_cast<size_t>(e.tensor)];
        buffer.assign(e.bytes, 0);
        if (e.part != PackedPart::None) {
            fillPacked(model, e.layer, configs[static_cast<size_t>(e.layer)], e.part, options.floatType, cache, buffer);
        } else if (!dtypeInfo(t.dtype).isFloat) {
            std::memcpy(buffer.data(), t.data, e.bytes);
        } else {
            std::vector<float> v;
            if (e.layer >= 0)
                compressLayer(model, e.layer,
                              static_cast<size_t>(e.layer) < configs.size() ? configs[static_cast<size_t>(e.layer)]
                                                                            : LayerConfig{},
                              &v);
            else
                v = model.readFloat(e.tensor);
            for (size_t j = 0; j < v.size(); ++j) {
                if (e.dtype == DType::F32) {
                    std::memcpy(buffer.data() + 4 * j, &v[j], 4);
                } else {
                    const uint16_t h = e.dtype == DType::F16 ? floatToFp16(v[j]) : floatToBf16(v[j]);
                    std::memcpy(buffer.data() + 2 * j, &h, 2);
                }
            }
        }
        f.write(buffer.data(), buffer.size());
        reportProgress(progress, 0.1 + 0.9 * double(i + 1) / double(out.tensors.size()));
    }
    f.commit();
    for (const auto& [name, text] : out.extraFiles)
        writeFileAtomically((tmp / name).string(), text);
    // Into place: an existing folder (overwrite) is moved aside first and removed after.
    fs::path old;
    if (fs::exists(target, ec)) {
        old = tmp.string() + ".old";
        fs::rename(target, old, ec);
        if (ec)
            throw FileError(folder, "cannot replace it: " + ec.message());
    }
    fs::rename(tmp, target, ec);
    if (ec) {
        std::error_code back;
        if (!old.empty())
            fs::rename(old, target, back);
        throw FileError(folder, "cannot move the export into place: " + ec.message());
    }
    cleanup.keep = true;
    if (!old.empty())
        fs::remove_all(old, ec);
}

} // namespace bonsai::detail
