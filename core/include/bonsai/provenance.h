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
    std::string role;   // "model"
    uint64_t bytes = 0;
    std::string sha256; // lower-case hex
};

// Data a result was calibrated or measured on: a file (a text) or a data set's folder. The
// digest of a folder is the SHA-256 of the listing `sha256sum` prints for its files (every
// regular file below it, by relative path in byte order: "HEX  sub/name\n" per file), and
// bytes their total size.
struct ProvenanceCalibration {
    std::string path;   // absolute
    std::string use;    // "gptq", "awq", "gptq, awq" (calibration), "perplexity", "accuracy" (the prediction)
    uint64_t bytes = 0;
    std::string sha256; // lower-case hex
    int64_t samples = 0; // samples (classifiers) or chunks (language models) taken; 0: all
    uint64_t seed = 0;   // 0: the first `samples`, in order
};

struct Provenance {
    std::string tool;    // "bonsai 0.1.0"
    std::string created; // UTC, "2026-12-02T07:15:00Z"
    std::vector<ProvenanceFile> files;
    std::vector<ProvenanceCalibration> calibration; // JSON key "calibration"; empty: none
    std::vector<std::string> options; // how it was made ("accept mapping", "format gguf", ...)

    std::string toJson() const; // one line, keys in a fixed order
    static Provenance fromJson(const std::string& json, const std::string& source); // FileError
};

// The files a model was read from: the file or the shards, external data, and the folder's
// config.json and tokenizer files.
std::vector<std::string> modelFiles(const Model& model);

// The SHA-256 and size of a calibration file or folder (see ProvenanceCalibration); progress
// over its bytes, Cancelled when it says so; FileError when it cannot be read.
std::string calibrationDigest(const std::string& path, uint64_t* bytes = nullptr, const ProgressFn& progress = {});

// The provenance of a result made from `model` (and calibration data: path, use, samples and
// seed given, bytes and sha256 filled in): hashes every file (progress over their bytes;
// Cancelled when it says so). With hash = false the digests are 64 zeros: same length, for
// planning the size of a file before writing it.
Provenance makeProvenance(const Model& model, const std::vector<ProvenanceCalibration>& calibration = {},
                          bool hash = true, const ProgressFn& progress = {});

// The provenance a recipe (.json, key "provenance"), a GGUF export or a safetensors export's
// folder (key bonsai.provenance) records; FileError naming the file when it records none.
Provenance readRecordedProvenance(const std::string& path);

struct VerifyResult {
    bool ok = true;
    std::vector<std::string> lines; // "model.safetensors: matches", "config.json: differs (...)"
};
// Compares the recorded files of the model's role with the files of `model` by name, size
// and SHA-256, and each recorded calibration data at its recorded path, or at
// `calibrationPath` when given (the data of the record of that file name, else the first):
// "calibration PATH: matches", "differs (...)" or "missing".
VerifyResult verifyProvenance(const Provenance& recorded, const Model& model, const std::string& calibrationPath = {});

} // namespace bonsai
