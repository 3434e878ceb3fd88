#pragma once
// Brute force for the budget search's solver tests: every combination of one candidate per
// group of layers (tied layers share one), the best by `value` among those whose summed
// `cost` fits the capacity.
#include "bonsai/search.h"

#include <functional>
#include <limits>
#include <vector>

namespace testutil {

struct Brute {
    double value = std::numeric_limits<double>::infinity();
    std::vector<int> choice; // per group
};

inline Brute bruteForce(const bonsai::SensitivityTable& t, const std::vector<std::vector<size_t>>& groups,
                        const std::function<double(size_t, size_t)>& cost,
                        const std::function<double(size_t, size_t)>& value, double capacity,
                        const std::vector<int>& pins = {})
{
    Brute best;
    const size_t C = t.candidates.size();
    std::vector<int> pick(groups.size(), 0);
    for (;;) {
        double c = 0, v = 0;
        bool ok = true;
        for (size_t g = 0; g < groups.size() && ok; ++g)
            for (size_t l : groups[g]) {
                const size_t k = static_cast<size_t>(pick[g]);
                if (!t.cells[l][k].applicable || (l < pins.size() && pins[l] >= 0 && pins[l] != pick[g])) {
                    ok = false;
                    break;
                }
                c += cost(l, k);
                v += value(l, k);
            }
        if (ok && c <= capacity * (1 + 1e-12) && v < best.value) {
            best.value = v;
            best.choice = pick;
        }
        size_t g = 0;
        while (g < groups.size() && ++pick[g] == static_cast<int>(C))
            pick[g++] = 0;
        if (g == groups.size())
            break;
    }
    return best;
}

// Every layer its own group.
inline std::vector<std::vector<size_t>> singles(size_t n)
{
    std::vector<std::vector<size_t>> g;
    for (size_t i = 0; i < n; ++i)
        g.push_back({i});
    return g;
}

} // namespace testutil
