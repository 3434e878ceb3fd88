// Data movement ops: Gather, Concat, Split, Slice, Pad, Tile.
#include "exec/axis_walk.h"
#include "exec/onnx_exec_ops.h"

#include <algorithm>
#include <cstring>

namespace bonsai::exec {
namespace {

// Largest pad accepted (either sign): more than any value's dims, small enough not to overflow.
constexpr int64_t kMaxPad = int64_t(1) << 40;

// Copies a strided view of src into dst (row-major, out dims `oshape`): the input offset of
// an element is base + sum(idx[d] * st[d]). One step of index arithmetic per innermost row;
// a row of stride 1 is one copy.
template <class T>
void copyStrided(const T* src, T* dst, const std::vector<int64_t>& oshape, const std::vector<int64_t>& st,
                 int64_t base)
{
    const int64_t n = numel(oshape);
    if (n == 0)
        return;
    if (oshape.empty()) {
        dst[0] = src[base];
        return;
    }
    const size_t r = oshape.size();
    const int64_t len = oshape[r - 1], step = st[r - 1];
    std::vector<int64_t> idx(r, 0);
    int64_t off = base;
    for (int64_t k = 0; k < n; k += len) {
        if (step == 1)
            std::copy_n(src + off, len, dst + k);
        else
            for (int64_t j = 0; j < len; ++j)
                dst[k + j] = src[off + j * step];
        for (size_t d = r - 1; d-- > 0;) {
            ++idx[d];
            off += st[d];
            if (idx[d] < oshape[d])
                break;
            off -= st[d] * idx[d];
            idx[d] = 0;
        }
    }
}

std::vector<int64_t> stridesOf(const std::vector<int64_t>& shape)
{
    std::vector<int64_t> st(shape.size(), 1);
    for (size_t k = shape.size(); k-- > 1;)
        st[k - 1] = st[k] * shape[k];
    return st;
}

Kernel makeGather(PlanContext& c)
{
    const int64_t axisAttr = c.attrs.i("axis", 0);
    return [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& data = need(in, 0, "data");
        const Value& indices = need(in, 1, "indices");
        if (indices.type != Value::Type::Int64)
            fail("indices must be integers");
        const int64_t r = static_cast<int64_t>(data.shape.size());
        if (r == 0)
            fail("data must have rank >= 1");
        const auto axis = static_cast<size_t>(normAxis(axisAttr, r));
        std::vector<int64_t> oshape(data.shape.begin(), data.shape.begin() + static_cast<int64_t>(axis));
        oshape.insert(oshape.end(), indices.shape.begin(), indices.shape.end());
        oshape.insert(oshape.end(), data.shape.begin() + static_cast<int64_t>(axis) + 1, data.shape.end());
        int64_t outer = 1, inner = 1;
        for (size_t k = 0; k < data.shape.size(); ++k)
            if (k < axis)
                outer *= data.shape[k];
            else if (k > axis)
                inner *= data.shape[k];
        const int64_t dim = data.shape[axis];
        const int64_t ni = static_cast<int64_t>(indices.numel());
        std::vector<int64_t> idx(indices.i);
        for (auto& v : idx) {
            if (v < -dim || v >= dim)
                fail("index " + std::to_string(v) + " is out of range for axis size " + std::to_string(dim));
            if (v < 0)
                v += dim;
        }
        prepare(out[0], data.type, oshape);
        visitType(data.type, [&](auto tag) {
            using T = typename decltype(tag)::type;
            const T* src = elems<T>(data).data();
            T* dst = elems<T>(out[0]).data();
            if (inner == 1) {
                for (int64_t o = 0; o < outer; ++o)
                    for (int64_t j = 0; j < ni; ++j)
                        dst[o * ni + j] = src[o * dim + idx[static_cast<size_t>(j)]];
                return;
            }
            for (int64_t o = 0; o < outer; ++o)
                for (int64_t j = 0; j < ni; ++j)
                    std::copy_n(src + (o * dim + idx[static_cast<size_t>(j)]) * inner, inner,
                                dst + (o * ni + j) * inner);
        });
    };
}

Kernel makeConcat(PlanContext& c)
{
    if (!c.attrs.has("axis") && c.opset >= 4)
        throw Unsupported("missing axis");
    const int64_t axisAttr = c.attrs.i("axis", 1);
    return [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& first = need(in, 0, "inputs");
        const int64_t r = static_cast<int64_t>(first.shape.size());
        const auto axis = static_cast<size_t>(normAxis(axisAttr, r));
        std::vector<int64_t> oshape = first.shape;
        oshape[axis] = 0;
        for (size_t k = 0; k < in.size(); ++k) {
            const Value& v = need(in, k, "inputs");
            bool ok = v.type == first.type && v.shape.size() == first.shape.size();
            for (size_t d = 0; ok && d < v.shape.size(); ++d)
                ok = d == axis || v.shape[d] == first.shape[d];
            if (!ok)
                fail("input " + std::to_string(k) + " " + shapeString(v.shape) +
                     " does not concatenate with " + shapeString(first.shape) + " on axis " +
                     std::to_string(axis));
            oshape[axis] += v.shape[axis];
        }
        int64_t outer = 1, inner = 1;
        for (size_t d = 0; d < oshape.size(); ++d)
            if (d < axis)
                outer *= oshape[d];
            else if (d > axis)
                inner *= oshape[d];
        prepare(out[0], first.type, oshape);
        visitType(first.type, [&](auto tag) {
            using T = typename decltype(tag)::type;
            T* dst = elems<T>(out[0]).data();
            const int64_t orow = oshape[axis] * inner;
            int64_t at = 0;
            for (const Value* v : in) {
                const int64_t row = v->shape[axis] * inner;
                const T* src = elems<T>(*v).data();
                for (int64_t o = 0; o < outer; ++o)
                    std::copy_n(src + o * row, row, dst + o * orow + at);
                at += row;
            }
        });
    };
}

Kernel makeSplit(PlanContext& c)
{
    const int64_t axisAttr = c.attrs.i("axis", 0);
    const bool fromInput = c.opset >= 13;
    const std::vector<int64_t> attrSplit = fromInput ? std::vector<int64_t>{} : c.attrs.ints("split");
    if (c.opset >= 18)
        c.attrs.i("num_outputs", 0); // the node's output count says the same
    return [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = need(in, 0, "input");
        const int64_t r = static_cast<int64_t>(x.shape.size());
        const auto axis = static_cast<size_t>(normAxis(axisAttr, r));
        const int64_t dim = x.shape[axis];
        std::vector<int64_t> split = attrSplit;
        if (fromInput && in.size() > 1 && in[1])
            split = toInts(*in[1]);
        const auto n = static_cast<int64_t>(out.size());
        if (n < 1)
            fail("Split needs at least one output");
        if (split.empty()) {
            const int64_t chunk = (dim + n - 1) / n;
            for (int64_t k = 0; k < n; ++k)
                split.push_back(std::max<int64_t>(0, std::min(chunk, dim - k * chunk)));
        }
        int64_t total = 0;
        for (auto s : split) {
            if (s < 0 || s > dim)
                fail("split " + shapeString(split) + " has a part outside [0, " +
                     std::to_string(dim) + "]");
            total += s;
        }
        if (static_cast<int64_t>(split.size()) != n || total != dim)
            fail("split " + shapeString(split) + " does not divide axis size " + std::to_string(dim) +
                 " into " + std::to_string(n) + " outputs");
        int64_t outer = 1, inner = 1;
        for (size_t d = 0; d < x.shape.size(); ++d)
            if (d < axis)
                outer *= x.shape[d];
            else if (d > axis)
                inner *= x.shape[d];
        int64_t at = 0;
        for (int64_t k = 0; k < n; ++k) {
            std::vector<int64_t> oshape = x.shape;
            oshape[axis] = split[static_cast<size_t>(k)];
            Value& o = out[static_cast<size_t>(k)];
            prepare(o, x.type, oshape);
            const int64_t row = oshape[axis] * inner;
            visitType(x.type, [&](auto tag) {
                using T = typename decltype(tag)::type;
                const T* src = elems<T>(x).data();
                T* dst = elems<T>(o).data();
                for (int64_t q = 0; q < outer; ++q)
                    std::copy_n(src + q * dim * inner + at, row, dst + q * row);
            });
            at += row;
        }
    };
}

Kernel makeSlice(PlanContext& c)
{
    const bool legacy = c.opset < 10;
    std::vector<int64_t> aStarts, aEnds, aAxes;
    if (legacy) {
        aStarts = c.attrs.ints("starts");
        aEnds = c.attrs.ints("ends");
        aAxes = c.attrs.ints("axes");
    }
    return [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = need(in, 0, "data");
        std::vector<int64_t> starts = aStarts, ends = aEnds, axes = aAxes, steps;
        if (!legacy) {
            starts = toInts(need(in, 1, "starts"));
            ends = toInts(need(in, 2, "ends"));
            if (in.size() > 3 && in[3])
                axes = toInts(*in[3]);
            if (in.size() > 4 && in[4])
                steps = toInts(*in[4]);
        }
        const int64_t r = static_cast<int64_t>(x.shape.size());
        if (axes.empty())
            for (size_t k = 0; k < starts.size(); ++k)
                axes.push_back(static_cast<int64_t>(k));
        if (steps.empty())
            steps.assign(starts.size(), 1);
        if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
            fail("starts, ends, axes and steps differ in length");
        std::vector<int64_t> st0(static_cast<size_t>(r), 0), step(static_cast<size_t>(r), 1),
            oshape = x.shape;
        std::vector<bool> seen(static_cast<size_t>(r), false);
        for (size_t k = 0; k < starts.size(); ++k) {
            const auto a = static_cast<size_t>(normAxis(axes[k], r));
            if (seen[a])
                fail("axes repeat an axis");
            seen[a] = true;
            const int64_t dim = x.shape[a], s = steps[k];
            if (s == 0)
                fail("step is 0");
            int64_t b = starts[k], e = ends[k];
            if (b < 0)
                b += dim;
            if (e < 0)
                e += dim;
            // Starts and ends are clamped to the axis; a step longer than the axis takes one
            // element, as a step of the axis length does (so strides cannot overflow).
            const int64_t m = s > 0 ? std::min(s, std::max<int64_t>(dim, 1))
                                    : -std::min(-(s + 1), std::max<int64_t>(dim, 1) - 1) - 1;
            if (m > 0) {
                b = std::clamp<int64_t>(b, 0, dim);
                e = std::clamp<int64_t>(e, 0, dim);
                oshape[a] = e > b ? (e - b - 1) / m + 1 : 0;
            } else {
                b = std::clamp<int64_t>(b, 0, dim - 1);
                e = std::clamp<int64_t>(e, -1, dim - 1);
                oshape[a] = b > e ? (b - e - 1) / -m + 1 : 0;
            }
            st0[a] = b;
            step[a] = m;
        }
        const auto inSt = stridesOf(x.shape);
        int64_t base = 0;
        std::vector<int64_t> st(static_cast<size_t>(r));
        for (size_t d = 0; d < static_cast<size_t>(r); ++d) {
            if (oshape[d] > 0)
                base += st0[d] * inSt[d];
            st[d] = step[d] * inSt[d];
        }
        prepare(out[0], x.type, oshape);
        visitType(x.type, [&](auto tag) {
            using T = typename decltype(tag)::type;
            copyStrided(elems<T>(x).data(), elems<T>(out[0]).data(), oshape, st, base);
        });
    };
}

Kernel makePad(PlanContext& c)
{
    const std::string mode = c.attrs.s("mode", "constant");
    if (mode != "constant" && mode != "reflect" && mode != "edge")
        throw Unsupported("mode='" + mode + "'");
    const bool legacy = c.opset < 11;
    std::vector<int64_t> aPads;
    float aValue = 0;
    if (legacy) {
        aPads = c.attrs.ints(c.opset < 2 ? "paddings" : "pads");
        aValue = c.attrs.f("value", 0.0f);
    }
    return [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = need(in, 0, "data");
        const int64_t r = static_cast<int64_t>(x.shape.size());
        std::vector<int64_t> pads = legacy ? aPads : toInts(need(in, 1, "pads"));
        double value = aValue;
        if (!legacy && in.size() > 2 && in[2] && in[2]->numel() > 0)
            value = scalarOf(*in[2], "constant_value");
        if (!legacy && in.size() > 3 && in[3]) {
            // opset 18: pads cover only the listed axes.
            const auto axes = toInts(*in[3]);
            if (pads.size() != 2 * axes.size())
                fail("pads must have two entries per axis");
            std::vector<int64_t> full(static_cast<size_t>(2 * r), 0);
            for (size_t k = 0; k < axes.size(); ++k) {
                const auto a = static_cast<size_t>(normAxis(axes[k], r));
                full[a] = pads[k];
                full[a + static_cast<size_t>(r)] = pads[k + axes.size()];
            }
            pads = full;
        }
        if (static_cast<int64_t>(pads.size()) != 2 * r)
            fail("pads has " + std::to_string(pads.size()) + " entries for rank " + std::to_string(r));
        for (const int64_t p : pads)
            if (p < -kMaxPad || p > kMaxPad)
                fail("pad " + std::to_string(p) + " is outside [-" + std::to_string(kMaxPad) +
                     ", " + std::to_string(kMaxPad) + "]");
        std::vector<int64_t> oshape(static_cast<size_t>(r));
        for (size_t d = 0; d < static_cast<size_t>(r); ++d) {
            oshape[d] = x.shape[d] + pads[d] + pads[d + static_cast<size_t>(r)];
            if (oshape[d] < 0)
                fail("pads make a negative dim");
            if (mode != "constant" && x.shape[d] == 0 && oshape[d] > 0)
                fail("cannot " + mode + "-pad an empty axis");
        }
        prepare(out[0], x.type, oshape);
        const auto inSt = stridesOf(x.shape);
        std::vector<AxisMap> axes(static_cast<size_t>(r));
        for (size_t d = 0; d < axes.size(); ++d) {
            AxisMap& a = axes[d];
            a.kind = mode == "constant" ? AxisMap::Kind::Constant
                     : mode == "edge" || x.shape[d] == 1 ? AxisMap::Kind::Edge
                                                          : AxisMap::Kind::Reflect;
            a.n = x.shape[d];
            a.out = oshape[d];
            a.before = pads[d];
            a.stride = inSt[d];
        }
        visitType(x.type, [&](auto tag) {
            using T = typename decltype(tag)::type;
            walkAxes(axes, elems<T>(x).data(), elems<T>(out[0]).data(), saturatingCast<T>(value));
        });
    };
}

Kernel makeTile(PlanContext&)
{
    return [](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = need(in, 0, "input");
        const auto reps = toInts(need(in, 1, "repeats"));
        if (reps.size() != x.shape.size())
            fail("repeats must have one entry per axis");
        std::vector<int64_t> oshape(x.shape.size());
        for (size_t d = 0; d < oshape.size(); ++d) {
            const int64_t most = static_cast<int64_t>(kMaxTensorBytes) / std::max<int64_t>(x.shape[d], 1);
            if (reps[d] < 0 || reps[d] > most)
                fail("repeats " + shapeString(reps) + ": entry " + std::to_string(d) +
                     " is outside [0, " + std::to_string(most) + "]");
            oshape[d] = x.shape[d] * reps[d];
        }
        prepare(out[0], x.type, oshape);
        const auto axes = wrapAxes(x.shape, oshape);
        visitType(x.type, [&](auto tag) {
            using T = typename decltype(tag)::type;
            walkAxes(axes, elems<T>(x).data(), elems<T>(out[0]).data());
        });
    };
}

} // namespace

void addDataOps(Registry& r)
{
    r["Gather"] = makeGather;
    r["Concat"] = makeConcat;
    r["Split"] = makeSplit;
    r["Slice"] = makeSlice;
    r["Pad"] = makePad;
    r["Tile"] = makeTile;
}

} // namespace bonsai::exec
