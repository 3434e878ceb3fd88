#pragma once
// Text formatting for the CLI tables.
#include <cstdint>
#include <string>
#include <vector>

namespace cli {
std::string shapeText(const std::vector<int64_t>& shape);
std::string groupDigits(uint64_t v);
std::string humanBytes(uint64_t bytes);
} // namespace cli
