#pragma once
// Element counts of tensor shapes: one definition for the readers, the executor, training,
// evaluation and the data sets.
#include <cstdint>
#include <limits>
#include <optional>
#include <span>

namespace bonsai {

// Product of the dims (1 for a scalar). No checks: for shapes already validated.
int64_t numel(std::span<const int64_t> shape);

// More elements than any tensor a model file can hold (2^48): the default limit, under which
// a dim times a window, stride or small count still fits in 64 bits.
inline constexpr uint64_t kMaxShapeElements = uint64_t(1) << 48;

// Product of the dims, or nullopt when a dim is negative or the product of the non-zero dims
// would exceed `limit` (so an empty tensor cannot carry a dim that overflows arithmetic).
std::optional<uint64_t> checkedNumel(std::span<const int64_t> shape,
                                     uint64_t limit = kMaxShapeElements);

} // namespace bonsai
