#include "bonsai/shape.h"

namespace bonsai {

int64_t numel(std::span<const int64_t> shape)
{
    int64_t n = 1;
    for (int64_t d : shape)
        n *= d;
    return n;
}

std::optional<uint64_t> checkedNumel(std::span<const int64_t> shape, uint64_t limit)
{
    uint64_t n = 1;
    for (int64_t d : shape) {
        if (d < 0)
            return std::nullopt;
        const auto ud = static_cast<uint64_t>(d);
        if (ud != 0 && n > limit / ud)
            return std::nullopt;
        n *= ud;
    }
    return n;
}

} // namespace bonsai
