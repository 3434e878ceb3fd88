#pragma once
// The fault nlohmann::json describes, for FileError messages: its exception text without the
// "[json.exception.<kind>.<id>] " prefix, which means nothing to a user.
#include <nlohmann/json.hpp>

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

} // namespace bonsai
