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

// Product of the dims, or nullopt when a dim is negative or the product would exceed `limit`.
std::optional<uint64_t> checkedNumel(std::span<const int64_t> shape,
                                     uint64_t limit = std::numeric_limits<uint64_t>::max());

} // namespace bonsai
