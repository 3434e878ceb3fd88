#pragma once
// The fault nlohmann::json describes, for FileError messages: its exception text without the
// "[json.exception.<kind>.<id>] " prefix, which means nothing to a user.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bonsai {

inline std::string jsonFault(const nlohmann::json::exception& e)
{
    std::string_view what = e.what();
    if (what.substr(0, 16) == "[json.exception.") {
        const size_t close = what.find("] ");
        if (close != std::string_view::npos)
            what.remove_prefix(close + 2);
    }
    return std::string(what);
}

// The value as an integer when it is one that fits int64_t; nullopt for anything else. A float
// (even 2.0 or 1e300) is no id, count or size: nlohmann's get<int64_t>() would convert it, and
// out of range that conversion is undefined.
inline std::optional<int64_t> jsonInt64(const nlohmann::json& v)
{
    if (v.is_number_unsigned()) {
        const uint64_t u = v.get<uint64_t>();
        return u <= uint64_t(INT64_MAX) ? std::optional<int64_t>(static_cast<int64_t>(u)) : std::nullopt;
    }
    if (v.is_number_integer())
        return v.get<int64_t>();
    return std::nullopt;
}

// The value as an unsigned integer (a non-negative integer of at most 2^64 - 1); nullopt for
// anything else, floats and negative numbers included.
inline std::optional<uint64_t> jsonUint64(const nlohmann::json& v)
{
    if (v.is_number_unsigned())
        return v.get<uint64_t>();
    if (v.is_number_integer() && v.get<int64_t>() >= 0)
        return static_cast<uint64_t>(v.get<int64_t>());
    return std::nullopt;
}

} // namespace bonsai
