#pragma once
// The sensitivity cache on disk: one JSON file per model and calibration (data, protocol and
// the reference configuration), holding the measured cells by layer and configuration, so
// that a search reuses them across budgets and across runs of the program. A cache file that
// cannot be read is ignored (and replaced on the next save); it is written atomically.
#include "bonsai/model.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace bonsai {

struct CachedCell {
    uint64_t bytes = 0;
    double estimate = 0, kl = 0, metric = 0;
};

class SensitivityCache {
public:
    // dir empty: no cache (find finds nothing, save does nothing).
    SensitivityCache(std::string dir, std::string modelHash, std::string calibrationKey);
    std::optional<CachedCell> find(const std::string& key) const;
    void put(const std::string& key, const CachedCell& cell);
    // Writes the file if anything changed; FileError when it cannot.
    void save();
    const std::string& path() const { return path_; }
    size_t size() const { return cells_.size(); }

private:
    std::string dir_, path_, model_, calibration_;
    std::map<std::string, CachedCell> cells_;
    bool dirty_ = false;
};

// The SHA-256 of a model's files (bonsai/provenance.h modelFiles), remembered in `cacheDir`
// by path, size and modification time so a large checkpoint is hashed once.
std::string modelDigest(const Model& model, const std::string& cacheDir);

} // namespace bonsai
