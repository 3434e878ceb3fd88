#pragma once
// Layers grouped by a key, in order of each group's first layer; an empty key makes a group of
// its own (the solver's tied layers, the refinement's blocks).
#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace bonsai {

template <typename KeyOf>
std::vector<std::vector<size_t>> groupInOrder(size_t count, const KeyOf& keyOf)
{
    std::vector<std::vector<size_t>> groups;
    std::map<std::string, size_t> byKey;
    for (size_t i = 0; i < count; ++i) {
        const std::string key = keyOf(i);
        if (key.empty()) {
            groups.push_back({i});
            continue;
        }
        auto [it, added] = byKey.emplace(key, groups.size());
        if (added)
            groups.push_back({});
        groups[it->second].push_back(i);
    }
    return groups;
}

} // namespace bonsai
