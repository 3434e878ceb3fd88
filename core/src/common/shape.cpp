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
    // The product of the non-zero dims is held to the limit too: an empty tensor such as
    // [0, 2^63-1] would otherwise pass, and its other dims overflow the arithmetic of every
    // operator that multiplies them (window sizes, strides, im2col rows).
    uint64_t n = 1;
    bool empty = false;
    for (int64_t d : shape) {
        if (d < 0)
            return std::nullopt;
        const auto ud = static_cast<uint64_t>(d);
        if (ud == 0) {
            empty = true;
            continue;
        }
        if (n > limit / ud)
            return std::nullopt;
        n *= ud;
    }
    return empty ? 0 : n;
}

} // namespace bonsai
