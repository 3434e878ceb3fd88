#pragma once
// Internal interface between the ONNX executor (onnx_exec.cpp) and the op families
// (ops_*.cpp). Each op has a factory that parses the node's attributes once, at planning
// time, and returns a kernel; a factory throws Unsupported for attributes or attribute values
// the engine does not implement, so the planner can list them instead of computing wrong
// answers. Kernels throw Error on bad runtime inputs (types, shapes).
#include "bonsai/onnx_exec.h"
#include "bonsai/shape.h"
#include "common/parallel.h"
#include "exec/window.h"
#include "formats/onnx_attrs.h"

#include <onnx/onnx-ml.pb.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace bonsai::exec {

struct Unsupported : std::runtime_error {
    using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail(const std::string& msg) { throw Error(msg); }

using Kernel = std::function<void(const std::vector<const Value*>& in, std::vector<Value>& out)>;

struct PlanContext {
    const onnx::NodeProto& node;
    int opset;
    OnnxAttrs attrs; // the planner rejects nodes with attributes their factory did not read
    // Value of input k when it is a model tensor (an initializer or Constant), else nullptr.
    std::function<const Value*(size_t)> constant;
    bool deploy = false; // ExecOptions::deploy
    bool onednn = true;  // ExecOptions::onednn

    bool hasInput(size_t k) const
    {
        return k < static_cast<size_t>(node.input_size()) && !node.input(static_cast<int>(k)).empty();
    }
    bool hasOutput(size_t k) const
    {
        return k < static_cast<size_t>(node.output_size()) && !node.output(static_cast<int>(k)).empty();
    }
    size_t numInputs() const { return static_cast<size_t>(node.input_size()); }
    size_t numOutputs() const { return static_cast<size_t>(node.output_size()); }
};

using Factory = Kernel (*)(PlanContext&);
using Registry = std::unordered_map<std::string, Factory>;

void addElementwiseOps(Registry& r); // ops_elementwise.cpp
void addNnOps(Registry& r);          // ops_nn.cpp: Conv, Gemm, MatMul
void addPoolOps(Registry& r);        // ops_pool.cpp
void addNormOps(Registry& r);        // ops_norm.cpp: normalizations, softmax, reductions
void addShapeOps(Registry& r);       // ops_shape.cpp
void addDataOps(Registry& r);        // ops_data.cpp: Gather, Pad, Slice, Split, Concat, ...

// Work the planner folds into a Conv, in this order: a following BatchNormalization (folded
// into the weights and bias: its scale, bias, mean and var are the fused node's inputs 3..6),
// an Add of another value (a residual: input `addAt`, numpy-broadcast to the output), a Relu,
// then a 2-D MaxPool without padding, dilation or ceil_mode (kernel kh x kw, strides sh, sw).
struct ConvEpilogue {
    bool bn = false;
    float bnEpsilon = 1e-5f;
    bool add = false;
    size_t addAt = 0;
    bool relu = false;
    bool pool = false;
    int64_t kh = 1, kw = 1, sh = 1, sw = 1;
};
Kernel makeFusedConv(PlanContext& c, const ConvEpilogue& e); // ops_nn.cpp

// The node's window attributes (readWindowAttrs); Unsupported for an auto_pad the engine does
// not know.
WindowAttrs planWindowAttrs(PlanContext& c, bool pooling); // ops_pool.cpp

// Max pooling of one [H, W] plane without padding into [OH, OW].
inline void maxPool2d(const float* src, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t sh,
                      int64_t sw, int64_t OH, int64_t OW, float* dst)
{
    (void)H;
    if (kh == 2 && kw == 2 && sh == 2 && sw == 2) {
        for (int64_t oy = 0; oy < OH; ++oy) {
            const float* r0 = src + 2 * oy * W;
            const float* r1 = r0 + W;
            float* d = dst + oy * OW;
            for (int64_t ox = 0; ox < OW; ++ox)
                d[ox] = std::max(std::max(r0[2 * ox], r0[2 * ox + 1]), std::max(r1[2 * ox], r1[2 * ox + 1]));
        }
        return;
    }
    for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
            float m = src[oy * sh * W + ox * sw];
            for (int64_t ky = 0; ky < kh; ++ky) {
                const float* row = src + (oy * sh + ky) * W + ox * sw;
                for (int64_t kx = 0; kx < kw; ++kx)
                    m = std::max(m, row[kx]);
            }
            dst[oy * OW + ox] = m;
        }
}

// --- value helpers ---

template <class T> constexpr Value::Type typeOf()
{
    if constexpr (std::is_same_v<T, float>)
        return Value::Type::Float;
    else if constexpr (std::is_same_v<T, int64_t>)
        return Value::Type::Int64;
    else
        return Value::Type::Bool;
}

template <class T> std::vector<T>& elems(Value& v)
{
    if constexpr (std::is_same_v<T, float>)
        return v.f;
    else if constexpr (std::is_same_v<T, int64_t>)
        return v.i;
    else
        return v.b;
}
template <class T> const std::vector<T>& elems(const Value& v)
{
    return elems<T>(const_cast<Value&>(v));
}

// Calls f(std::type_identity<T>{}) with T the element type of t.
template <class F> decltype(auto) visitType(Value::Type t, F&& f)
{
    switch (t) {
    case Value::Type::Float: return f(std::type_identity<float>{});
    case Value::Type::Int64: return f(std::type_identity<int64_t>{});
    default: return f(std::type_identity<uint8_t>{});
    }
}

// Largest tensor the executor computes, a value or a kernel's scratch buffer: 2^30 bytes.
// Shapes come from the file (Reshape, Expand, Tile, ConstantOfShape, Range, Pad, attributes),
// so every allocation they size is checked against it first.
inline constexpr uint64_t kMaxTensorBytes = uint64_t(1) << 30;

// Element count of `shape` for elements of `elemBytes` bytes; Error naming `what` and the
// shape when a dim is negative or the tensor would be larger than kMaxTensorBytes.
inline size_t checkedElements(const std::vector<int64_t>& shape, size_t elemBytes,
                              const char* what = "output")
{
    const auto n = checkedNumel(shape, kMaxTensorBytes / elemBytes);
    if (!n)
        fail(std::string(what) + " shape " + shapeString(shape) +
             " has a negative dim or more than " + std::to_string(kMaxTensorBytes / elemBytes) +
             " elements of " + std::to_string(elemBytes) + " bytes");
    return static_cast<size_t>(*n);
}

inline size_t elementBytes(Value::Type t)
{
    return t == Value::Type::Float ? sizeof(float) : t == Value::Type::Int64 ? sizeof(int64_t) : 1;
}

// Sets type and shape and sizes the element vector (keeping its capacity); the other
// vectors are cleared. Error when the shape is negative or too large (checkedElements).
inline void prepare(Value& v, Value::Type t, std::vector<int64_t> shape)
{
    const size_t n = checkedElements(shape, elementBytes(t));
    v.type = t;
    v.shape = std::move(shape);
    v.f.clear();
    v.i.clear();
    v.b.clear();
    switch (t) {
    case Value::Type::Float: v.f.resize(n); break;
    case Value::Type::Int64: v.i.resize(n); break;
    case Value::Type::Bool: v.b.resize(n); break;
    }
}

inline const Value& need(const std::vector<const Value*>& in, size_t k, const char* what)
{
    if (k >= in.size() || !in[k])
        fail(std::string("missing input ") + what);
    return *in[k];
}

inline const Value& needFloat(const std::vector<const Value*>& in, size_t k, const char* what)
{
    const Value& v = need(in, k, what);
    if (v.type != Value::Type::Float)
        fail(std::string("input ") + what + " must be float, not " +
             std::string(valueTypeName(v.type)));
    return v;
}

template <class T> T saturatingCast(double v);

// The elements of an int64 (or float: truncated and saturated, NaN as 0) tensor as int64.
inline std::vector<int64_t> toInts(const Value& v)
{
    if (v.type == Value::Type::Int64)
        return v.i;
    if (v.type == Value::Type::Float) {
        std::vector<int64_t> r(v.f.size());
        for (size_t k = 0; k < r.size(); ++k)
            r[k] = saturatingCast<int64_t>(v.f[k]);
        return r;
    }
    return std::vector<int64_t>(v.b.begin(), v.b.end());
}

// v as T: float as is; integers rounded toward zero and clamped to T's range (NaN: 0).
template <class T> T saturatingCast(double v)
{
    if constexpr (std::is_same_v<T, float>) {
        return static_cast<float>(v);
    } else {
        if (!(v == v))
            return T(0);
        const double lo = static_cast<double>(std::numeric_limits<T>::lowest());
        const double hi = static_cast<double>(std::numeric_limits<T>::max());
        if (v <= lo)
            return std::numeric_limits<T>::lowest();
        if (v >= hi)
            return std::numeric_limits<T>::max();
        return static_cast<T>(v);
    }
}

inline double scalarOf(const Value& v, const char* what)
{
    if (v.numel() != 1)
        fail(std::string(what) + " must have one element, it has shape " + shapeString(v.shape));
    switch (v.type) {
    case Value::Type::Float: return v.f[0];
    case Value::Type::Int64: return static_cast<double>(v.i[0]);
    default: return v.b[0];
    }
}

inline int64_t normAxis(int64_t axis, int64_t rank, const char* what = "axis")
{
    if (axis < -rank || axis >= rank)
        fail(std::string(what) + " " + std::to_string(axis) + " is out of range for rank " +
             std::to_string(rank));
    return axis < 0 ? axis + rank : axis;
}

// Numpy broadcast of two shapes; Error when incompatible.
std::vector<int64_t> broadcastShapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

// Strides of `in` (right-aligned to out's rank) with 0 for broadcast dimensions.
std::vector<int64_t> broadcastStrides(const std::vector<int64_t>& in, const std::vector<int64_t>& out);

} // namespace bonsai::exec
