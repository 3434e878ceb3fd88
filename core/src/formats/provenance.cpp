#include "bonsai/provenance.h"

#include "bonsai/error.h"
#include "bonsai/model.h"
#include "bonsai/sha256.h"
#include "common/json_fault.h"
#include "formats/gguf.h"
#include "formats/onnx_model.h"

#include <onnx/onnx-ml.pb.h>

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
    if (!calibration.empty()) {
        auto& cl = j["calibration"] = nlohmann::ordered_json::array();
        for (const auto& c : calibration)
            cl.push_back({{"path", c.path},
                          {"use", c.use},
                          {"bytes", c.bytes},
                          {"sha256", c.sha256},
                          {"samples", c.samples},
                          {"seed", c.seed}});
    }
    j["options"] = options;
    return j.dump();
}

Provenance Provenance::fromJson(const std::string& json, const std::string& source)
{
    Provenance p;
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(json);
    } catch (const nlohmann::json::exception& e) {
        throw FileError(source, "bad provenance record: not valid JSON: " + jsonFault(e));
    }
    // The field being read, named when it is missing or has the wrong type.
    std::string field = "the record";
    auto fault = [&](const std::string& what) { return FileError(source, "bad provenance record: " + what); };
    auto get = [&](const nlohmann::json& o, const std::string& at, const char* key) -> const nlohmann::json& {
        field = at + key;
        return o.at(key);
    };
    // A byte count: a non-negative integer (a float or a negative number is refused).
    auto bytes = [&](const nlohmann::json& o, const std::string& at) -> uint64_t {
        const auto n = jsonInt64(get(o, at, "bytes"));
        if (!n || *n < 0)
            throw fault("field '" + field + "' must be a non-negative integer, not " + o.at("bytes").dump());
        return static_cast<uint64_t>(*n);
    };
    // The objects of the array j[key], each as `at` names it ("files[3].").
    auto objects = [&](const char* key, const auto& each) {
        field = key;
        const auto& a = j.at(key);
        if (!a.is_array())
            throw fault("field '" + field + "' must be an array");
        for (size_t i = 0; i < a.size(); ++i) {
            field = std::string(key) + "[" + std::to_string(i) + "]";
            if (!a[i].is_object())
                throw fault("field '" + field + "' must be an object");
            each(a[i], field + ".");
        }
    };
    try {
        if (!j.is_object())
            throw fault("not a JSON object");
        p.tool = get(j, "", "tool").get<std::string>();
        p.created = get(j, "", "created").get<std::string>();
        objects("files", [&](const nlohmann::json& f, const std::string& at) {
            ProvenanceFile pf;
            pf.path = get(f, at, "path").get<std::string>();
            pf.role = get(f, at, "role").get<std::string>();
            pf.bytes = bytes(f, at);
            pf.sha256 = get(f, at, "sha256").get<std::string>();
            p.files.push_back(std::move(pf));
        });
        if (j.contains("calibration"))
            objects("calibration", [&](const nlohmann::json& c, const std::string& at) {
                ProvenanceCalibration pc;
                pc.path = get(c, at, "path").get<std::string>();
                pc.use = get(c, at, "use").get<std::string>();
                pc.bytes = bytes(c, at);
                pc.sha256 = get(c, at, "sha256").get<std::string>();
                field = at + "samples";
                if (c.contains("samples")) {
                    const auto n = jsonInt64(c["samples"]);
                    if (!n || *n < 0)
                        throw fault("field '" + field + "' must be a non-negative integer, not " + c["samples"].dump());
                    pc.samples = *n;
                }
                field = at + "seed";
                if (c.contains("seed")) {
                    const auto s = jsonUint64(c["seed"]);
                    if (!s)
                        throw fault("field '" + field + "' must be a non-negative integer, not " + c["seed"].dump());
                    pc.seed = *s;
                }
                p.calibration.push_back(std::move(pc));
            });
        if (j.contains("options"))
            p.options = get(j, "", "options").get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception& e) {
        throw FileError(source, "bad provenance record: field '" + field + "': " + jsonFault(e));
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

namespace {

// The regular files below a folder, by relative path in byte order (a file: itself, "").
std::vector<std::pair<std::string, std::string>> dataFiles(const std::string& path)
{
    std::error_code ec;
    std::vector<std::pair<std::string, std::string>> out; // relative, absolute
    if (fs::is_regular_file(path, ec))
        return {{std::string(), path}};
    if (!fs::is_directory(path, ec))
        throw FileError(path, "no such file or folder");
    for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec))
            out.emplace_back(fs::relative(it->path(), path, ec).generic_string(), it->path().string());
    if (ec)
        throw FileError(path, "cannot list the folder: " + ec.message());
    std::sort(out.begin(), out.end());
    return out;
}

uint64_t dataBytes(const std::string& path)
{
    uint64_t total = 0;
    std::error_code ec;
    for (const auto& [rel, abs] : dataFiles(path))
        total += fs::file_size(abs, ec);
    return total;
}

} // namespace

std::string calibrationDigest(const std::string& path, uint64_t* bytes, const ProgressFn& progress)
{
    const auto files = dataFiles(path);
    const uint64_t total = dataBytes(path);
    if (bytes)
        *bytes = total;
    std::string listing;
    uint64_t done = 0;
    std::error_code ec;
    for (const auto& [rel, abs] : files) {
        const uint64_t n = fs::file_size(abs, ec);
        const std::string digest = sha256File(abs, [&](double f) {
            return !progress || !total || progress(double(done) / double(total) + f * double(n) / double(total));
        });
        if (rel.empty())
            return digest;
        listing += digest + "  " + rel + "\n";
        done += n;
    }
    return sha256Hex(listing);
}

Provenance makeProvenance(const Model& model, const std::vector<ProvenanceCalibration>& calibration, bool hash,
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
    const std::vector<std::string> files = modelFiles(model);
    uint64_t total = 0, done = 0;
    std::error_code ec;
    for (const auto& f : files)
        total += fs::file_size(f, ec);
    for (const auto& c : calibration)
        total += dataBytes(fs::absolute(c.path).string());
    // Progress over all the bytes; `n` are the bytes of the file being hashed.
    auto within = [&](uint64_t n) {
        return [&, n](double f) {
            return !progress || !total || progress((double(done) + f * double(n)) / double(total));
        };
    };
    for (const auto& path : files) {
        ProvenanceFile f;
        f.path = path;
        f.role = "model";
        f.bytes = fs::file_size(path, ec);
        if (ec)
            throw FileError(path, "cannot read its size: " + ec.message());
        f.sha256 = hash ? sha256File(path, within(f.bytes)) : std::string(64, '0');
        done += f.bytes;
        p.files.push_back(std::move(f));
    }
    for (ProvenanceCalibration c : calibration) {
        c.path = fs::absolute(c.path).string();
        c.bytes = dataBytes(c.path);
        c.sha256 = hash ? calibrationDigest(c.path, nullptr, within(c.bytes)) : std::string(64, '0');
        done += c.bytes;
        p.calibration.push_back(std::move(c));
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
            throw FileError(path, "not valid JSON: " + jsonFault(e));
        }
    } else {
        const auto model = Model::open(path);
        if (const GgufMetadata* md = ggufMetadata(*model))
            json = md->getString("bonsai.provenance").value_or("");
        else if (const onnx::ModelProto* proto = onnxProto(*model)) { // metadata_props, whole
            for (const auto& p : proto->metadata_props())
                if (p.key() == "bonsai.provenance")
                    json = p.value();
        } else if (model->format == Format::Safetensors) // the header's __metadata__, kept whole
            for (const auto& [key, value] : model->metadata)
                if (key == "bonsai.provenance")
                    json = value;
    }
    if (json.empty())
        throw FileError(path, "records no provenance (the recipes and exports Bonsai writes do)");
    return Provenance::fromJson(json, path);
}

namespace {

void verifyCalibration(const Provenance& recorded, const std::string& given, VerifyResult& r)
{
    if (recorded.calibration.empty()) {
        if (!given.empty())
            r.lines.push_back("calibration " + given + ": none recorded (the record names no calibration data)");
        return;
    }
    size_t chosen = 0; // the record --calibration stands for: the one of its file name, else the first
    const std::string givenName = fs::path(given).filename().string();
    for (size_t i = 0; i < recorded.calibration.size(); ++i)
        if (!given.empty() && fs::path(recorded.calibration[i].path).filename().string() == givenName) {
            chosen = i;
            break;
        }
    std::error_code ec;
    for (size_t i = 0; i < recorded.calibration.size(); ++i) {
        const ProvenanceCalibration& c = recorded.calibration[i];
        const std::string path = !given.empty() && i == chosen ? given : c.path;
        const std::string label = "calibration " + path + " (" + c.use + ")";
        if (!fs::exists(path, ec)) {
            r.ok = false;
            r.lines.push_back(label + ": missing");
            continue;
        }
        uint64_t bytes = 0;
        const std::string digest = calibrationDigest(path, &bytes);
        if (digest != c.sha256) {
            r.ok = false;
            r.lines.push_back(label + ": differs (SHA-256 " + digest.substr(0, 12) + "…, " + std::to_string(bytes) +
                              " bytes; recorded " + c.sha256.substr(0, 12) + "…, " + std::to_string(c.bytes) + " bytes)");
        } else {
            r.lines.push_back(label + ": matches (SHA-256 " + digest.substr(0, 12) + "…)");
        }
    }
}

} // namespace

VerifyResult verifyProvenance(const Provenance& recorded, const Model& model, const std::string& calibrationPath)
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
            r.ok = false;
            r.lines.push_back(name(f.path) + ": unknown role '" + f.role + "'");
            continue;
        }
        const uint64_t bytes = fs::file_size(path, ec);
        const std::string label = name(f.path);
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
    verifyCalibration(recorded, calibrationPath, r);
    return r;
}

} // namespace bonsai
