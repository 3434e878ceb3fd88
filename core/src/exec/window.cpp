#include "exec/window.h"

#include "bonsai/error.h"
#include "formats/onnx_attrs.h"

#include <algorithm>

namespace bonsai {

// Columns [Cg * kernel, P] of one group of one image (zero outside the input).
void im2col(const float* xin, int64_t Cg, const Window& g, float* dst)
{
    for (int64_t ci = 0; ci < Cg; ++ci)
        for (int64_t kz = 0; kz < g.k[0]; ++kz)
            for (int64_t ky = 0; ky < g.k[1]; ++ky)
                for (int64_t kx = 0; kx < g.k[2]; ++kx)
                    for (int64_t oz = 0; oz < g.out[0]; ++oz) {
                        const int64_t iz = oz * g.s[0] - g.pb[0] + kz * g.d[0];
                        for (int64_t oy = 0; oy < g.out[1]; ++oy) {
                            const int64_t iy = oy * g.s[1] - g.pb[1] + ky * g.d[1];
                            if (iz < 0 || iz >= g.in[0] || iy < 0 || iy >= g.in[1]) {
                                std::fill(dst, dst + g.out[2], 0.0f);
                                dst += g.out[2];
                                continue;
                            }
                            const float* row = xin + ((ci * g.in[0] + iz) * g.in[1] + iy) * g.in[2];
                            const int64_t x0 = kx * g.d[2] - g.pb[2];
                            for (int64_t ox = 0; ox < g.out[2]; ++ox) {
                                const int64_t ix = ox * g.s[2] + x0;
                                *dst++ = ix >= 0 && ix < g.in[2] ? row[ix] : 0.0f;
                            }
                        }
                    }
}

WindowAttrs readWindowAttrs(OnnxAttrs& attrs, bool pooling)
{
    WindowAttrs a;
    a.autoPad = attrs.s("auto_pad", "NOTSET");
    a.kernel = attrs.ints("kernel_shape", 1, kMaxWindowAttr);
    a.strides = attrs.ints("strides", 1, kMaxWindowAttr);
    a.pads = attrs.ints("pads", 0, kMaxWindowAttr);
    a.dilations = attrs.ints("dilations", 1, kMaxWindowAttr);
    if (pooling)
        a.ceilMode = attrs.i("ceil_mode", 0) != 0;
    return a;
}

Window makeWindow(const WindowAttrs& a, std::span<const int64_t> in, std::span<const int64_t> k,
                  bool pooling)
{
    const int64_t sr = static_cast<int64_t>(in.size());
    if (sr < 1 || sr > 3 || k.size() != in.size())
        throw Error("1 to 3 spatial dims are supported");
    if ((!a.strides.empty() && static_cast<int64_t>(a.strides.size()) != sr) ||
        (!a.dilations.empty() && static_cast<int64_t>(a.dilations.size()) != sr) ||
        (!a.pads.empty() && static_cast<int64_t>(a.pads.size()) != 2 * sr) ||
        (!a.kernel.empty() && static_cast<int64_t>(a.kernel.size()) != sr))
        throw Error("attribute lengths do not match the " + std::to_string(sr) + " spatial dims");
    Window w;
    for (int64_t q = 0; q < 3; ++q) {
        const int64_t j = q - (3 - sr);
        if (j < 0)
            continue;
        const auto uj = static_cast<size_t>(j);
        w.in[q] = in[uj];
        w.k[q] = k[uj];
        if (!a.kernel.empty() && a.kernel[uj] != k[uj])
            throw Error("kernel_shape does not match W");
        w.s[q] = a.strides.empty() ? 1 : a.strides[uj];
        w.d[q] = a.dilations.empty() ? 1 : a.dilations[uj];
        w.pb[q] = a.pads.empty() ? 0 : a.pads[uj];
        w.pe[q] = a.pads.empty() ? 0 : a.pads[uj + static_cast<size_t>(sr)];
        const int64_t ext = (w.k[q] - 1) * w.d[q] + 1;
        if (a.autoPad == "SAME_UPPER" || a.autoPad == "SAME_LOWER") {
            w.out[q] = (w.in[q] + w.s[q] - 1) / w.s[q];
            const int64_t total = std::max<int64_t>(0, (w.out[q] - 1) * w.s[q] + ext - w.in[q]);
            w.pb[q] = a.autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
            w.pe[q] = total - w.pb[q];
            continue;
        }
        if (a.autoPad == "VALID")
            w.pb[q] = w.pe[q] = 0;
        const int64_t span = w.in[q] + w.pb[q] + w.pe[q] - ext;
        if (span < 0) {
            if (pooling)
                throw Error("the pooling window is larger than the padded input");
            w.out[q] = 0;
            continue;
        }
        const bool ceil = pooling && a.ceilMode;
        w.out[q] = (ceil ? (span + w.s[q] - 1) / w.s[q] : span / w.s[q]) + 1;
        // A window may not start in the end padding (PyTorch / ONNX Runtime rule).
        if (ceil && (w.out[q] - 1) * w.s[q] >= w.in[q] + w.pb[q])
            --w.out[q];
    }
    return w;
}

} // namespace bonsai
