#include "search/sensitivity_cache.h"

#include "bonsai/error.h"
#include "bonsai/provenance.h"
#include "bonsai/sha256.h"
#include "common/atomic_file.h"
#include "common/json_fault.h"
#include "common/regular_file.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <system_error>

namespace bonsai {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kCacheVersion = 1;
constexpr uint64_t kMaxCacheFile = uint64_t(256) << 20;

json readJson(const std::string& path)
{
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        return {};
    try {
        return json::parse(readRegularFile(path, kMaxCacheFile, "sensitivity cache"));
    } catch (const std::exception&) {
        return {}; // unreadable or not JSON: ignored, replaced on the next save
    }
}

void writeJson(const std::string& dir, const std::string& path, const json& j)
{
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
        throw FileError(dir, "cannot create the cache folder: " + ec.message());
    writeFileAtomically(path, j.dump());
}

} // namespace

SensitivityCache::SensitivityCache(std::string dir, std::string modelHash, std::string calibrationKey)
    : dir_(std::move(dir)), model_(std::move(modelHash)), calibration_(std::move(calibrationKey))
{
    if (dir_.empty())
        return;
    path_ = (fs::path(dir_) / (sha256Hex(model_ + "\n" + calibration_).substr(0, 32) + ".json")).string();
    const json j = readJson(path_);
    // Anything but this version's record for this model and calibration is ignored (numbers and
    // strings read only once their type is checked: a float version is no version).
    const auto text = [&](const char* key) { return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : ""; };
    if (!j.is_object() || !j.contains("bonsai_sensitivity") || jsonInt64(j["bonsai_sensitivity"]) != kCacheVersion ||
        text("model") != model_ || text("calibration") != calibration_ || !j.contains("cells") ||
        !j["cells"].is_object())
        return;
    for (auto it = j["cells"].begin(); it != j["cells"].end(); ++it) {
        const json& c = it.value();
        if (!c.is_array() || c.size() != 4 || !c[0].is_number_unsigned() || !c[1].is_number() || !c[2].is_number() ||
            !c[3].is_number())
            continue;
        cells_[it.key()] = {c[0].get<uint64_t>(), c[1].get<double>(), c[2].get<double>(), c[3].get<double>()};
    }
}

std::optional<CachedCell> SensitivityCache::find(const std::string& key) const
{
    auto it = cells_.find(key);
    if (it == cells_.end())
        return std::nullopt;
    return it->second;
}

void SensitivityCache::put(const std::string& key, const CachedCell& cell)
{
    if (dir_.empty())
        return;
    cells_[key] = cell;
    dirty_ = true;
}

void SensitivityCache::save()
{
    if (dir_.empty() || !dirty_)
        return;
    json j;
    j["bonsai_sensitivity"] = kCacheVersion;
    j["model"] = model_;
    j["calibration"] = calibration_;
    json& cells = j["cells"] = json::object();
    for (const auto& [k, c] : cells_)
        cells[k] = json::array({c.bytes, c.estimate, c.kl, c.metric});
    writeJson(dir_, path_, j);
    dirty_ = false;
}

std::string modelDigest(const Model& model, const std::string& cacheDir)
{
    const auto files = modelFiles(model);
    std::string stamp;
    for (const auto& f : files) {
        std::error_code ec;
        const auto size = fs::file_size(f, ec);
        const auto time = fs::last_write_time(f, ec).time_since_epoch().count();
        stamp += fs::absolute(f).string() + " " + std::to_string(size) + " " + std::to_string(time) + "\n";
    }
    const std::string stampKey = sha256Hex(stamp);
    const std::string indexPath = cacheDir.empty() ? std::string() : (fs::path(cacheDir) / "models.json").string();
    json index = indexPath.empty() ? json() : readJson(indexPath);
    if (!index.is_object())
        index = json::object();
    if (auto it = index.find(stampKey); it != index.end() && it->is_string() && it->get<std::string>().size() == 64)
        return it->get<std::string>();
    Sha256 all;
    for (const auto& f : files) {
        const std::string d = sha256File(f) + " " + fs::path(f).filename().string() + "\n";
        all.update(d.data(), d.size());
    }
    const std::string digest = all.hexDigest();
    if (!indexPath.empty()) {
        if (index.size() > 1000)
            index = json::object();
        index[stampKey] = digest;
        try {
            writeJson(cacheDir, indexPath, index);
        } catch (const Error&) {
            // The memo is only a shortcut: without it the model is hashed again next time.
        }
    }
    return digest;
}

} // namespace bonsai
