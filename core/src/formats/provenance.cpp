#include "bonsai/provenance.h"

#include "bonsai/error.h"
#include "bonsai/model.h"
#include "bonsai/sha256.h"
#include "formats/gguf.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>
#include <filesystem>

namespace bonsai {

namespace fs = std::filesystem;

std::string_view bonsaiVersion() { return BONSAI_VERSION; }

std::string Provenance::toJson() const
{
    nlohmann::ordered_json j;
    j["tool"] = tool;
    j["created"] = created;
    auto& fl = j["files"] = nlohmann::ordered_json::array();
    for (const auto& f : files)
        fl.push_back({{"path", f.path}, {"role", f.role}, {"bytes", f.bytes}, {"sha256", f.sha256}});
    if (calibrationSamples > 0) {
        j["calibration_samples"] = calibrationSamples;
        j["seed"] = seed;
    }
    j["options"] = options;
    return j.dump();
}

Provenance Provenance::fromJson(const std::string& json, const std::string& source)
{
    Provenance p;
    try {
        const auto j = nlohmann::json::parse(json);
        p.tool = j.at("tool").get<std::string>();
        p.created = j.at("created").get<std::string>();
        for (const auto& f : j.at("files"))
            p.files.push_back({f.at("path").get<std::string>(), f.at("role").get<std::string>(),
                               f.at("bytes").get<uint64_t>(), f.at("sha256").get<std::string>()});
        p.calibrationSamples = j.value("calibration_samples", int64_t(0));
        p.seed = j.value("seed", uint64_t(0));
        if (j.contains("options"))
            p.options = j.at("options").get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception& e) {
        throw FileError(source, std::string("bad provenance record: ") + e.what());
    }
    return p;
}

std::vector<std::string> modelFiles(const Model& model)
{
    std::vector<std::string> out;
    std::error_code ec;
    const fs::path p = fs::absolute(model.path, ec);
    const bool dir = fs::is_directory(p, ec);
    if (!dir && fs::is_regular_file(p, ec))
        out.push_back(p.string());
    for (const auto& f : model.files)
        out.push_back(fs::absolute(f->path(), ec).string());
    const fs::path folder = dir ? p : p.parent_path();
    if (model.format == Format::Safetensors)
        for (const char* name : {"config.json", "tokenizer.model", "tokenizer.json", "tokenizer_config.json",
                                 "generation_config.json", "model.safetensors.index.json"})
            if (fs::is_regular_file(folder / name, ec))
                out.push_back((folder / name).string());
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

Provenance makeProvenance(const Model& model, const std::vector<std::string>& calibrationFiles, bool hash,
                          const ProgressFn& progress)
{
    Provenance p;
    p.tool = "bonsai " + std::string(bonsaiVersion());
    char stamp[32];
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
    p.created = stamp;
    std::vector<std::pair<std::string, std::string>> todo;
    for (const auto& f : modelFiles(model))
        todo.emplace_back(f, "model");
    for (const auto& f : calibrationFiles)
        todo.emplace_back(fs::absolute(f).string(), "calibration");
    uint64_t total = 0, done = 0;
    std::error_code ec;
    for (const auto& [path, role] : todo)
        total += fs::file_size(path, ec);
    for (const auto& [path, role] : todo) {
        ProvenanceFile f;
        f.path = path;
        f.role = role;
        f.bytes = fs::file_size(path, ec);
        if (ec)
            throw FileError(path, "cannot read its size: " + ec.message());
        f.sha256 = hash ? sha256File(path) : std::string(64, '0');
        done += f.bytes;
        if (hash && total)
            reportProgress(progress, double(done) / double(total));
        p.files.push_back(std::move(f));
    }
    return p;
}

Provenance readRecordedProvenance(const std::string& path)
{
    std::string json;
    if (path.size() > 5 && path.substr(path.size() - 5) == ".json") {
        const auto file = MappedFile::open(path);
        try {
            const auto j = nlohmann::json::parse(file->data(), file->data() + file->size());
            if (j.is_object() && j.contains("provenance"))
                json = j["provenance"].dump();
        } catch (const nlohmann::json::exception& e) {
            throw FileError(path, std::string("not valid JSON: ") + e.what());
        }
    } else {
        const auto model = Model::open(path);
        if (const GgufMetadata* md = ggufMetadata(*model))
            json = md->getString("bonsai.provenance").value_or("");
    }
    if (json.empty())
        throw FileError(path, "records no provenance (the recipes and exports Bonsai writes do)");
    return Provenance::fromJson(json, path);
}

VerifyResult verifyProvenance(const Provenance& recorded, const Model& model)
{
    VerifyResult r;
    std::vector<std::string> present = modelFiles(model);
    auto name = [](const std::string& path) { return fs::path(path).filename().string(); };
    std::error_code ec;
    for (const auto& f : recorded.files) {
        std::string path;
        if (f.role == "model") {
            for (const auto& q : present)
                if (name(q) == name(f.path))
                    path = q;
            if (path.empty()) {
                r.ok = false;
                r.lines.push_back(name(f.path) + ": missing from " + model.path);
                continue;
            }
        } else {
            path = f.path;
            if (!fs::is_regular_file(path, ec)) {
                r.ok = false;
                r.lines.push_back(f.path + " (" + f.role + "): missing");
                continue;
            }
        }
        const uint64_t bytes = fs::file_size(path, ec);
        const std::string label = f.role == "model" ? name(f.path) : f.path + " (" + f.role + ")";
        if (bytes != f.bytes) {
            r.ok = false;
            r.lines.push_back(label + ": differs (" + std::to_string(bytes) + " bytes, recorded " +
                              std::to_string(f.bytes) + ")");
            continue;
        }
        const std::string digest = sha256File(path);
        if (digest != f.sha256) {
            r.ok = false;
            r.lines.push_back(label + ": differs (SHA-256 " + digest.substr(0, 12) + "…, recorded " +
                              f.sha256.substr(0, 12) + "…)");
        } else {
            r.lines.push_back(label + ": matches (SHA-256 " + digest.substr(0, 12) + "…)");
        }
    }
    for (const auto& q : present) {
        const bool known = std::any_of(recorded.files.begin(), recorded.files.end(),
                                       [&](const ProvenanceFile& f) { return f.role == "model" && name(f.path) == name(q); });
        if (!known)
            r.lines.push_back(name(q) + ": not recorded (new in " + model.path + ")");
    }
    return r;
}

} // namespace bonsai
