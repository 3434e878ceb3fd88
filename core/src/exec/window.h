#pragma once
// Convolution and pooling window geometry, and im2col: one definition for inference, training
// and calibration. Semantics are ONNX's (auto_pad, pads, strides, dilations, ceil_mode).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace bonsai {

// Convolution / pooling geometry of up to three spatial axes, padded to three (leading axes of
// size 1), as the executor computes it (auto_pad, pads, strides, dilations, ceil_mode).
struct Window {
    int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1};
    int64_t pb[3] = {0, 0, 0}, pe[3] = {0, 0, 0}, out[3] = {1, 1, 1};
    int64_t inSize() const { return in[0] * in[1] * in[2]; }
    int64_t outSize() const { return out[0] * out[1] * out[2]; }
};

// The im2col matrix [Cg * kernel, P] of one group of one image xin [Cg, in...]: row
// (c, kz, ky, kx), column = output position; zero where the window leaves the input.
void im2col(const float* xin, int64_t Cg, const Window& g, float* dst);

// Spatial attributes of a Conv or pooling node (empty vectors: ONNX defaults).
struct WindowAttrs {
    std::string autoPad = "NOTSET";
    std::vector<int64_t> kernel, strides, pads, dilations;
    bool ceilMode = false; // pooling only
};

class OnnxAttrs;

// Largest kernel_shape, strides, dilations and pads value accepted (kernel, strides and
// dilations are at least 1, pads at least 0): window arithmetic then cannot overflow.
inline constexpr int64_t kMaxWindowAttr = int64_t(1) << 20;

// Reads auto_pad, kernel_shape, strides, pads and dilations (pooling: also ceil_mode) of a
// node; Error for a value outside those ranges.
WindowAttrs readWindowAttrs(OnnxAttrs& attrs, bool pooling);

// Geometry for input spatial dims `in` and kernel dims `k` (Conv: from W; pooling: from
// kernel_shape). Throws Error when the attribute lengths do not match. Allocates nothing.
Window makeWindow(const WindowAttrs& a, std::span<const int64_t> in, std::span<const int64_t> k,
                  bool pooling);

} // namespace bonsai
