#pragma once
// Provenance of an export or a recipe: the Bonsai version that made it, when, and the files it
// came from (the model's files and the calibration data), each with its size and SHA-256, so
// that `bonsai-cli verify` can tell later whether a model and its data are the ones recorded.
#include "bonsai/progress.h"

#include <cstdint>
#include <string>
#include <vector>

namespace bonsai {

class Model;

std::string_view bonsaiVersion(); // "0.1.0"

struct ProvenanceFile {
    std::string path;   // as opened (absolute)
    std::string role;   // "model", "calibration"
    uint64_t bytes = 0;
    std::string sha256; // lower-case hex
};

struct Provenance {
    std::string tool;    // "bonsai 0.1.0"
    std::string created; // UTC, "2026-12-02T07:15:00Z"
    std::vector<ProvenanceFile> files;
    int64_t calibrationSamples = 0; // 0: no calibration data
    uint64_t seed = 0;
    std::vector<std::string> options; // how it was made ("accept mapping", "format gguf", ...)

    std::string toJson() const; // one line, keys in a fixed order
    static Provenance fromJson(const std::string& json, const std::string& source); // FileError
};

// The files a model was read from: the file or the shards, external data, and the folder's
// config.json and tokenizer files.
std::vector<std::string> modelFiles(const Model& model);

// The provenance of a result made from `model` (and calibration files, if any): hashes every
// file (progress over their bytes; Cancelled when it says so). With hash = false the digests
// are 64 zeros: same length, for planning the size of a file before writing it.
Provenance makeProvenance(const Model& model, const std::vector<std::string>& calibrationFiles, bool hash = true,
                          const ProgressFn& progress = {});

// The provenance a recipe (.json, key "provenance") or a GGUF export (key bonsai.provenance)
// records; FileError naming the file when it records none.
Provenance readRecordedProvenance(const std::string& path);

struct VerifyResult {
    bool ok = true;
    std::vector<std::string> lines; // "model.safetensors: matches", "config.json: differs (...)"
};
// Compares the recorded files of the model's role with the files of `model` by name, size
// and SHA-256; calibration files are checked at their recorded paths.
VerifyResult verifyProvenance(const Provenance& recorded, const Model& model);

} // namespace bonsai
