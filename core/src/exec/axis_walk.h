#pragma once
// Outputs made of input elements placed axis by axis (Pad, Tile, Expand), built in runs: along
// each axis, a range of output indices reads the input and the rest is a constant or repeats
// of that range, copied in blocks. The cost is the bytes written plus one step per input row
// read, never a computation per output element, so an output near the allocation cap made
// from a small input (a Pad of 2^16 on a 1x1 tensor, a Tile of a single element) is as fast
// as filling its memory.
#include <algorithm>
#include <cstdint>
#include <vector>

namespace bonsai::exec {

// How the output indices of one axis map to the input's indices along it.
struct AxisMap {
    enum class Kind {
        Constant, // outside the input: the fill value
        Edge,     // outside the input: its first or last element
        Reflect,  // mirrored about the first and last element (period 2 (n - 1))
        Wrap,     // repeated with period n (Tile, and Expand of a size-1 axis)
    };
    Kind kind = Kind::Constant;
    int64_t n = 0;      // input extent (>= 1 unless Constant)
    int64_t out = 0;    // output extent
    int64_t before = 0; // output index of input index 0 (a negative value crops)
    int64_t stride = 0; // input stride of the axis, in elements

    // Input index read by output index i (within [lo(), hi()) for Constant).
    int64_t source(int64_t i) const
    {
        const int64_t x = i - before;
        switch (kind) {
        case Kind::Constant: return x;
        case Kind::Edge: return std::clamp<int64_t>(x, 0, n - 1);
        case Kind::Wrap: return ((x % n) + n) % n;
        case Kind::Reflect: break;
        }
        const int64_t p = period();
        const int64_t r = ((x % p) + p) % p;
        return r < n ? r : p - r;
    }
    // Output indices the input supplies; those before and after are the fill value (Constant)
    // or copies of blocks in this range.
    int64_t lo() const
    {
        switch (kind) {
        case Kind::Constant: return std::clamp<int64_t>(before, 0, out);
        case Kind::Edge: return std::clamp<int64_t>(before, 0, out - 1);
        default: return std::clamp<int64_t>(before, 0, std::max<int64_t>(out - period(), 0));
        }
    }
    int64_t hi() const
    {
        switch (kind) {
        case Kind::Constant: return std::clamp<int64_t>(before + n, lo(), out);
        case Kind::Edge: return std::clamp<int64_t>(before + n, lo() + 1, out);
        default: return std::min(lo() + period(), out);
        }
    }
    // Output blocks outside [lo, hi) repeat with this period (in blocks of the axis).
    int64_t period() const
    {
        return kind == Kind::Edge ? 1 : kind == Kind::Reflect ? 2 * (n - 1) : n;
    }
};

namespace detail {

// Elements [from, to) of `base` continue the pattern of period `period` that ends at `from`
// (elements [from - period, from) are written), copied in doubling chunks.
template <class T> void repeatForward(T* base, int64_t from, int64_t to, int64_t period)
{
    const int64_t start = from - period;
    while (from < to) {
        const int64_t len = std::min(from - start, to - from);
        std::copy_n(base + start, len, base + from);
        from += len;
    }
}

// Elements [0, to) of `base` continue backwards the pattern of period `period` that starts at
// `to` (elements [to, to + period) are written).
template <class T> void repeatBackward(T* base, int64_t to, int64_t period)
{
    const int64_t end = to + period;
    while (to > 0) {
        const int64_t known = end - to, len = std::min(known, to);
        std::copy_n(base + to - len + known, len, base + to - len);
        to -= len;
    }
}

// Writes the output slab of axis d (its extent times `block[d]` elements) at dst, reading the
// input from src (already offset for the outer axes).
template <class T>
void walkAxis(const std::vector<AxisMap>& axes, const std::vector<int64_t>& block, size_t d,
              const T* src, T* dst, T fill)
{
    const AxisMap& a = axes[d];
    const int64_t b = block[d], lo = a.lo(), hi = a.hi();
    if (d + 1 == axes.size()) {
        // Innermost: the indices reading the input in order are one copy, the rest one by one.
        const int64_t c0 = std::clamp<int64_t>(a.before, lo, hi);
        const int64_t c1 = std::clamp<int64_t>(a.before + a.n, c0, hi);
        for (int64_t i = lo; i < c0; ++i)
            dst[i] = src[a.source(i) * a.stride];
        if (c1 <= c0)
            ; // nothing read in order (an empty input has no data pointer to offset)
        else if (a.stride == 1)
            std::copy_n(src + (c0 - a.before), c1 - c0, dst + c0);
        else
            for (int64_t i = c0; i < c1; ++i)
                dst[i] = src[(i - a.before) * a.stride];
        for (int64_t i = c1; i < hi; ++i)
            dst[i] = src[a.source(i) * a.stride];
    } else {
        for (int64_t i = lo; i < hi; ++i)
            walkAxis(axes, block, d + 1, src ? src + a.source(i) * a.stride : src, dst + i * b, fill);
    }
    if (a.kind == AxisMap::Kind::Constant) {
        std::fill_n(dst, lo * b, fill);
        std::fill_n(dst + hi * b, (a.out - hi) * b, fill);
    } else {
        repeatBackward(dst, lo * b, a.period() * b);
        repeatForward(dst + 0, hi * b, a.out * b, std::min(a.period(), hi) * b);
    }
}

} // namespace detail

// The axes of repeating `in` (right-aligned, missing leading axes of extent 1) to `out`, each
// output extent a multiple of the input's: Tile, and Expand (input extents 1 or the output's).
inline std::vector<AxisMap> wrapAxes(const std::vector<int64_t>& in, const std::vector<int64_t>& out)
{
    std::vector<AxisMap> axes(out.size());
    int64_t stride = 1;
    for (size_t k = out.size(); k-- > 0;) {
        const size_t lead = out.size() - in.size();
        AxisMap& a = axes[k];
        a.kind = AxisMap::Kind::Wrap;
        a.n = k < lead ? 1 : in[k - lead];
        a.out = out[k];
        a.stride = stride;
        stride *= a.n;
    }
    return axes;
}

// Fills dst (the output, extents axes[k].out, row-major) from src.
template <class T> void walkAxes(const std::vector<AxisMap>& axes, const T* src, T* dst, T fill = T())
{
    std::vector<int64_t> block(axes.size(), 1);
    for (size_t k = axes.size(); k-- > 0;) {
        if (axes[k].out == 0)
            return;
        if (k > 0)
            block[k - 1] = block[k] * axes[k].out;
    }
    if (axes.empty()) {
        dst[0] = src[0];
        return;
    }
    detail::walkAxis(axes, block, 0, src, dst, fill);
}

} // namespace bonsai::exec
