#pragma once
// SHA-256 (FIPS 180-4), for the provenance of exports and recipes: which model files and
// calibration data a result came from.
#include "bonsai/progress.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace bonsai {

class Sha256 {
public:
    Sha256();
    void update(const void* data, size_t bytes);
    std::string hexDigest(); // lower-case, 64 characters; the object is spent afterwards

private:
    void block(const uint8_t* p);
    uint32_t h_[8];
    uint8_t buffer_[64];
    size_t used_ = 0;
    uint64_t total_ = 0;
};

std::string sha256Hex(std::string_view bytes);
// The digest of a whole file, read through a memory map in pieces (FileError naming it);
// progress over its bytes after each piece (Cancelled when it says so).
std::string sha256File(const std::string& path, const ProgressFn& progress = {});

} // namespace bonsai
