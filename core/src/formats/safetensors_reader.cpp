// safetensors reader: single files, directories of shards, and *.safetensors.index.json.
//
// Layout: u64 little-endian header length N, N bytes of JSON, then the data buffer. Each
// JSON entry gives dtype, shape and data_offsets [begin, end) relative to the buffer.
// Opening maps the file and parses the header only.
#include "bonsai/error.h"
#include "bonsai/model.h"
#include "bonsai/readers.h"
#include "common/json_fault.h"
#include "common/regular_file.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

namespace bonsai {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr uint64_t kMaxHeader = 100ull << 20; // the format's own limit (100 MB)

void readShard(Model& model, const std::string& path, const std::set<std::string>* wanted,
               bool takeMetadata)
{
    auto file = MappedFile::open(path);
    const uint64_t size = file->size();
    if (size < 8)
        throw FileError(path, "truncated: " + std::to_string(size) +
                                  " bytes, too short for a safetensors header");
    uint64_t n = 0;
    std::memcpy(&n, file->data(), 8);
    if (n > kMaxHeader)
        throw FileError(path, "header length " + std::to_string(n) +
                                  " exceeds the 100 MB limit (not a safetensors file?)");
    if (n > size - 8)
        throw FileError(path, "truncated: header needs " + std::to_string(n) +
                                  " bytes but the file has " + std::to_string(size - 8) + " after the length");
    const char* text = reinterpret_cast<const char*>(file->data() + 8);
    json header;
    try {
        header = json::parse(text, text + n);
    } catch (const json::exception& e) {
        throw FileError(path, "bad header JSON: " + jsonFault(e));
    }
    if (!header.is_object())
        throw FileError(path, "bad header: the JSON is not an object");
    const uint64_t dataStart = 8 + n;
    const uint64_t dataSize = size - dataStart;

    struct Range { uint64_t begin, end; std::string name; };
    std::vector<Range> ranges;
    std::vector<TensorInfo> pending;
    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string& name = it.key();
        const json& e = it.value();
        if (name == "__metadata__") {
            if (!e.is_object())
                throw FileError(path, "__metadata__ is not an object");
            if (takeMetadata)
                for (auto m = e.begin(); m != e.end(); ++m)
                    model.metadata.emplace_back(m.key(), m->is_string() ? m->get<std::string>() : m->dump());
            continue;
        }
        auto fault = [&](const std::string& what) { return FileError(path, "tensor '" + name + "': " + what); };
        if (!e.is_object())
            throw fault("entry is not an object");
        if (!e.contains("dtype") || !e["dtype"].is_string())
            throw fault("missing or non-string \"dtype\"");
        if (!e.contains("shape") || !e["shape"].is_array())
            throw fault("missing or non-array \"shape\"");
        if (!e.contains("data_offsets") || !e["data_offsets"].is_array() || e["data_offsets"].size() != 2)
            throw fault("\"data_offsets\" must be an array of two integers");
        const std::string dt = e["dtype"].get<std::string>();
        auto dtype = dtypeFromName(dt);
        if (!dtype || dtypeInfo(*dtype).isQuantized)
            throw fault("unknown dtype \"" + dt + "\"");
        TensorInfo t;
        t.name = name;
        t.dtype = *dtype;
        if (e["shape"].size() > 16)
            throw fault("shape has " + std::to_string(e["shape"].size()) + " dimensions");
        for (const json& d : e["shape"]) {
            if (!d.is_number_integer())
                throw fault("shape entries must be integers");
            if (d.is_number_unsigned() ? d.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX) : d.get<int64_t>() < 0)
                throw fault("shape entry " + d.dump() + " is out of range");
            t.shape.push_back(d.get<int64_t>());
        }
        const json& off = e["data_offsets"];
        if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
            throw fault("data_offsets must be non-negative integers");
        const uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
        if (b > en)
            throw fault("data_offsets begin " + std::to_string(b) + " is after end " + std::to_string(en));
        if (en > dataSize)
            throw fault("data_offsets end " + std::to_string(en) + " is beyond the data buffer of " +
                        std::to_string(dataSize) + " bytes (truncated file?)");
        if (wanted && !wanted->count(name))
            continue;
        t.nbytes = en - b;
        t.data = file->data() + dataStart + b;
        t.file = path;
        t.fileOffset = dataStart + b;
        if (model.findTensor(name) >= 0)
            throw fault("appears in more than one shard");
        ranges.push_back({b, en, name});
        pending.push_back(std::move(t));
    }
    // Keep the file's storage order (the JSON object order is not preserved by the parser).
    std::sort(pending.begin(), pending.end(),
              [](const TensorInfo& a, const TensorInfo& b) { return a.fileOffset < b.fileOffset; });
    for (auto& t : pending)
        model.addTensor(std::move(t));
    std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
    for (size_t i = 1; i < ranges.size(); ++i)
        if (ranges[i].begin < ranges[i - 1].end)
            throw FileError(path, "tensors '" + ranges[i - 1].name + "' and '" + ranges[i].name +
                                      "' overlap in the data buffer");
    model.files.push_back(std::move(file));
}

void readConfig(Model& model, const fs::path& dir)
{
    const fs::path cfg = dir / "config.json";
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(cfg, ec)))
        return;
    requireInsideFolder(cfg.string(), dir.string());
    const std::string text = readRegularFile(cfg.string(), kMaxSideFileBytes, "config.json");
    try {
        json j = json::parse(text);
        for (const char* key : {"model_type", "architectures", "hidden_size", "num_hidden_layers",
                                "num_attention_heads", "vocab_size", "torch_dtype"})
            if (j.contains(key))
                model.metadata.emplace_back(std::string("config.") + key,
                                            j[key].is_string() ? j[key].get<std::string>() : j[key].dump());
    } catch (const json::exception& e) {
        throw FileError(cfg.string(), "bad JSON: " + jsonFault(e));
    }
}

void readIndex(Model& model, const fs::path& indexPath)
{
    const std::string ip = indexPath.string();
    const std::string text = readRegularFile(ip, kMaxSideFileBytes, "index");
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        throw FileError(ip, "bad index JSON: " + jsonFault(e));
    }
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
        throw FileError(ip, "index has no \"weight_map\" object");
    std::map<std::string, std::set<std::string>> shards;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
        if (!it->is_string())
            throw FileError(ip, "weight_map entry '" + it.key() + "' is not a file name");
        const std::string shard = it->get<std::string>();
        if (shard.find('/') != std::string::npos || shard == ".." )
            throw FileError(ip, "shard name '" + shard + "' must be a plain file name");
        shards[shard].insert(it.key());
    }
    if (j.contains("metadata") && j["metadata"].is_object())
        for (auto m = j["metadata"].begin(); m != j["metadata"].end(); ++m)
            model.metadata.emplace_back(m.key(), m->is_string() ? m->get<std::string>() : m->dump());
    const fs::path dir = indexPath.parent_path();
    for (const auto& [shard, names] : shards) {
        const fs::path sp = dir / shard;
        std::error_code ec;
        if (!fs::exists(sp, ec))
            throw FileError(ip, "missing shard '" + shard + "'");
        requireInsideFolder(sp.string(), dir.string());
        readShard(model, sp.string(), &names, model.files.empty());
        for (const auto& n : names)
            if (model.findTensor(n) < 0)
                throw FileError(sp.string(), "tensor '" + n + "' listed in the index is not in this shard");
    }
    model.metadata.emplace_back("shards", std::to_string(shards.size()));
}

} // namespace

std::unique_ptr<Model> readSafetensors(const std::string& path)
{
    auto model = std::make_unique<Model>();
    model->format = Format::Safetensors;
    model->path = path;
    std::error_code ec;
    const fs::path p(path);
    if (fs::is_directory(p, ec)) {
        std::vector<fs::path> indexes, files;
        for (const auto& e : fs::directory_iterator(p, ec)) {
            const std::string fn = e.path().filename().string();
            if (fn.size() > 23 && fn.ends_with(".safetensors.index.json"))
                indexes.push_back(e.path());
            else if (fn.ends_with(".safetensors") && e.is_regular_file())
                files.push_back(e.path());
        }
        if (indexes.size() > 1)
            throw FileError(path, "directory holds more than one *.safetensors.index.json");
        if (!indexes.empty()) {
            readIndex(*model, indexes.front());
        } else {
            if (files.empty())
                throw FileError(path, "directory holds no .safetensors files");
            std::sort(files.begin(), files.end());
            for (const auto& f : files) {
                requireInsideFolder(f.string(), path);
                readShard(*model, f.string(), nullptr, true);
            }
        }
        readConfig(*model, p);
    } else if (path.ends_with(".json")) {
        readIndex(*model, p);
        readConfig(*model, p.parent_path());
    } else {
        readShard(*model, path, nullptr, true);
    }
    model->inferLayersFromNames();
    return model;
}

} // namespace bonsai
