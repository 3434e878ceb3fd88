#pragma once
// A weight seen as a rows x cols matrix with rows = output channels: the output-channel axis
// moved first, the other axes flattened in order (Conv [out, in, kh, kw] -> [out, in*kh*kw];
// an ONNX MatMul [in, out] is transposed). Element (o, c, i) of the layout [outer, C, inner]
// is row c, column o * inner + i.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace bonsai {

struct AxisSplit {
    uint64_t outer = 1, channels = 1, inner = 1;
    uint64_t cols() const { return outer * inner; }
};

// The split of `shape` around the output-channel axis (clamped into range).
inline AxisSplit splitAtAxis(const std::vector<int64_t>& shape, int outAxis)
{
    const int axis = std::clamp(outAxis, 0, static_cast<int>(std::max<size_t>(shape.size(), 1)) - 1);
    AxisSplit s;
    for (size_t d = 0; d < shape.size(); ++d) {
        const auto v = static_cast<uint64_t>(shape[d]);
        if (static_cast<int>(d) < axis) s.outer *= v;
        else if (static_cast<int>(d) == axis) s.channels = v;
        else s.inner *= v;
    }
    return s;
}

// Weight layout -> channel-major matrix.
template <typename T>
void layoutToMatrix(const std::vector<int64_t>& shape, int outAxis, const T* in, T* out)
{
    const AxisSplit s = splitAtAxis(shape, outAxis);
    for (uint64_t o = 0; o < s.outer; ++o)
        for (uint64_t c = 0; c < s.channels; ++c)
            std::memcpy(&out[c * s.cols() + o * s.inner], &in[(o * s.channels + c) * s.inner], s.inner * sizeof(T));
}

// Channel-major matrix -> weight layout.
template <typename T>
void matrixToLayout(const std::vector<int64_t>& shape, int outAxis, const T* in, T* out)
{
    const AxisSplit s = splitAtAxis(shape, outAxis);
    for (uint64_t o = 0; o < s.outer; ++o)
        for (uint64_t c = 0; c < s.channels; ++c)
            std::memcpy(&out[(o * s.channels + c) * s.inner], &in[c * s.cols() + o * s.inner], s.inner * sizeof(T));
}

} // namespace bonsai
