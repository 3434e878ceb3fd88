// MaxPool, AveragePool (1-3 spatial dims), GlobalAveragePool, GlobalMaxPool.
#include "exec/onnx_exec_ops.h"

#include "exec/dnnl_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>

namespace bonsai::exec {
namespace {

struct PoolAttrs {
    bool isMax = true;
    WindowAttrs win; // kernel_shape, strides, pads, dilations, auto_pad, ceil_mode
    bool countIncludePad = false;
};

Kernel makePool(PlanContext& c, bool isMax)
{
    PoolAttrs a;
    a.isMax = isMax;
    a.win = planWindowAttrs(c, true);
    if (a.win.kernel.empty() || a.win.kernel.size() > 3)
        throw Unsupported("kernel_shape of " + std::to_string(a.win.kernel.size()) + " dims");
    if (isMax) {
        if (c.hasOutput(1))
            throw Unsupported("the Indices output");
        c.attrs.i("storage_order", 0); // only affects Indices
    } else {
        a.countIncludePad = c.attrs.i("count_include_pad", 0) != 0;
        for (auto d : a.win.dilations)
            if (d != 1)
                throw Unsupported("dilations in AveragePool");
    }
    const size_t sr = a.win.kernel.size();
    if ((!a.win.strides.empty() && a.win.strides.size() != sr) ||
        (!a.win.dilations.empty() && a.win.dilations.size() != sr) ||
        (!a.win.pads.empty() && a.win.pads.size() != 2 * sr))
        throw Unsupported("attribute lengths differ from kernel_shape");
    // As ONNX Runtime: a pad as large as the window would only add windows of padding (and
    // lets a huge kernel_shape loop over nothing but padding).
    for (size_t q = 0; q < a.win.pads.size(); ++q)
        if (a.win.pads[q] >= a.win.kernel[q % sr])
            throw Error("pads " + shapeString(a.win.pads) + " must be smaller than kernel_shape " +
                        shapeString(a.win.kernel));
    Kernel plain = [a](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = needFloat(in, 0, "X");
        const int64_t sr = static_cast<int64_t>(a.win.kernel.size());
        if (static_cast<int64_t>(x.shape.size()) != sr + 2)
            fail("X " + shapeString(x.shape) + " does not have " + std::to_string(sr) +
                 " spatial dims");
        const Window w = makeWindow(a.win, std::span(x.shape).subspan(2), a.win.kernel, true);
        const int64_t *inD = w.in, *k = w.k, *s = w.s, *d = w.d, *pb = w.pb, *pe = w.pe, *o = w.out;
        std::vector<int64_t> oshape = {x.shape[0], x.shape[1]};
        for (int64_t q = 3 - sr; q < 3; ++q)
            oshape.push_back(o[q]);
        prepare(out[0], Value::Type::Float, oshape);
        const int64_t planes = x.shape[0] * x.shape[1];
        const int64_t inSp = w.inSize(), outSp = w.outSize();
        const float* X = x.f.data();
        float* Y = out[0].f.data();
        if (a.isMax && sr == 2 && d[1] == 1 && d[2] == 1 && pb[1] == 0 && pb[2] == 0 &&
            (o[1] - 1) * s[1] + k[1] <= inD[1] && (o[2] - 1) * s[2] + k[2] <= inD[2]) {
            // Windows entirely inside the input: the plain 2-D kernel.
#pragma omp parallel for if (planes * outSp > kParallelMin / 4)
            for (int64_t p = 0; p < planes; ++p)
                maxPool2d(X + p * inSp, inD[1], inD[2], k[1], k[2], s[1], s[2], o[1], o[2], Y + p * outSp);
            return;
        }
#pragma omp parallel for if (planes * outSp > kParallelMin / 4)
        for (int64_t p = 0; p < planes; ++p) {
            const float* src = X + p * inSp;
            float* dst = Y + p * outSp;
            for (int64_t oz = 0; oz < o[0]; ++oz)
                for (int64_t oy = 0; oy < o[1]; ++oy)
                    for (int64_t ox = 0; ox < o[2]; ++ox) {
                        const int64_t z0 = oz * s[0] - pb[0], y0 = oy * s[1] - pb[1],
                                      x0 = ox * s[2] - pb[2];
                        float acc = a.isMax ? -std::numeric_limits<float>::infinity() : 0.0f;
                        int64_t cnt = 0;
                        for (int64_t kz = 0; kz < k[0]; ++kz) {
                            const int64_t iz = z0 + kz * d[0];
                            if (iz < 0 || iz >= inD[0])
                                continue;
                            for (int64_t ky = 0; ky < k[1]; ++ky) {
                                const int64_t iy = y0 + ky * d[1];
                                if (iy < 0 || iy >= inD[1])
                                    continue;
                                const float* row = src + (iz * inD[1] + iy) * inD[2];
                                for (int64_t kx = 0; kx < k[2]; ++kx) {
                                    const int64_t ix = x0 + kx * d[2];
                                    if (ix < 0 || ix >= inD[2])
                                        continue;
                                    if (a.isMax)
                                        acc = std::max(acc, row[ix]);
                                    else
                                        acc += row[ix];
                                    ++cnt;
                                }
                            }
                        }
                        if (!a.isMax) {
                            int64_t div = cnt;
                            if (a.countIncludePad) {
                                // Window clipped to the padded extent.
                                div = 1;
                                const int64_t st[3] = {z0, y0, x0};
                                for (int q = 0; q < 3; ++q) {
                                    const int64_t lo = std::max(st[q], -pb[q]);
                                    const int64_t hi = std::min(st[q] + k[q], inD[q] + pe[q]);
                                    div *= std::max<int64_t>(0, hi - lo);
                                }
                            }
                            acc = div > 0 ? acc / static_cast<float>(div) : 0.0f;
                        }
                        dst[(oz * o[1] + oy) * o[2] + ox] = acc;
                    }
        }
    };
    return c.onednn ? makeDnnlPool(a.win, a.isMax, a.countIncludePad, std::move(plain)) : plain;
}

Kernel makeGlobalPool(bool isMax)
{
    return [isMax](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = needFloat(in, 0, "X");
        if (x.shape.size() < 2)
            fail("X must have rank >= 2");
        std::vector<int64_t> oshape = {x.shape[0], x.shape[1]};
        oshape.resize(x.shape.size(), 1);
        prepare(out[0], Value::Type::Float, oshape);
        const int64_t planes = x.shape[0] * x.shape[1];
        const int64_t sp = planes ? static_cast<int64_t>(x.numel()) / planes : 0;
#pragma omp parallel for if (planes * sp > kParallelMin)
        for (int64_t p = 0; p < planes; ++p) {
            const float* src = x.f.data() + p * sp;
            double acc = isMax ? -std::numeric_limits<double>::infinity() : 0.0;
            for (int64_t k = 0; k < sp; ++k)
                acc = isMax ? std::max(acc, static_cast<double>(src[k])) : acc + src[k];
            out[0].f[static_cast<size_t>(p)] =
                static_cast<float>(isMax ? acc : acc / static_cast<double>(sp));
        }
    };
}

} // namespace

WindowAttrs planWindowAttrs(PlanContext& c, bool pooling)
{
    WindowAttrs a = readWindowAttrs(c.attrs, pooling);
    if (a.autoPad != "NOTSET" && a.autoPad != "SAME_UPPER" && a.autoPad != "SAME_LOWER" &&
        a.autoPad != "VALID")
        throw Unsupported("auto_pad='" + a.autoPad + "'");
    return a;
}

void addPoolOps(Registry& r)
{
    r["MaxPool"] = [](PlanContext& c) { return makePool(c, true); };
    r["AveragePool"] = [](PlanContext& c) { return makePool(c, false); };
    r["GlobalAveragePool"] = [](PlanContext&) { return makeGlobalPool(false); };
    r["GlobalMaxPool"] = [](PlanContext&) { return makeGlobalPool(true); };
}

} // namespace bonsai::exec
