// Shape and type ops: Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Shape, Size, Cast,
// CastLike, Identity, Dropout (inference), Constant, ConstantOfShape, Expand, Range.
#include "exec/axis_walk.h"
#include "exec/onnx_exec_ops.h"

#include "bonsai/half.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace bonsai::exec {
namespace {

// Copies x into out with a new shape (same element count).
void reshaped(const Value& x, std::vector<int64_t> shape, Value& out)
{
    const auto n = checkedNumel(shape);
    if (!n || *n != x.numel())
        fail("cannot reshape " + shapeString(x.shape) + " to " + shapeString(shape));
    prepare(out, x.type, std::move(shape));
    visitType(x.type, [&](auto tag) {
        using T = typename decltype(tag)::type;
        std::copy(elems<T>(x).begin(), elems<T>(x).end(), elems<T>(out).begin());
    });
}

Kernel makeReshape(PlanContext& c)
{
    const bool allowZero = c.attrs.i("allowzero", 0) != 0;
    std::vector<int64_t> attrShape;
    const bool legacy = c.opset < 5;
    if (legacy) {
        attrShape = c.attrs.ints("shape");
        c.attrs.ignore("consumed_inputs");
    }
    return [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = need(in, 0, "data");
        std::vector<int64_t> shape = legacy ? attrShape : toInts(need(in, 1, "shape"));
        uint64_t known = 1;
        int infer = -1;
        for (size_t k = 0; k < shape.size(); ++k) {
            if (shape[k] == 0 && !allowZero) {
                if (k >= x.shape.size())
                    fail("shape " + shapeString(shape) + " copies a dim that " +
                         shapeString(x.shape) + " does not have");
                shape[k] = x.shape[k];
            }
            if (shape[k] == -1) {
                if (infer >= 0)
                    fail("shape " + shapeString(shape) + " has more than one -1");
                infer = static_cast<int>(k);
            } else if (shape[k] < 0) {
                fail("invalid shape " + shapeString(shape));
            } else if (known != 0 && static_cast<uint64_t>(shape[k]) > uint64_t(INT64_MAX) / known) {
                fail("cannot reshape " + shapeString(x.shape) + " to " + shapeString(shape));
            } else {
                known *= static_cast<uint64_t>(shape[k]);
            }
        }
        if (infer >= 0) {
            if (known == 0 || x.numel() % known)
                fail("cannot reshape " + shapeString(x.shape) + " to " + shapeString(shape));
            shape[static_cast<size_t>(infer)] = static_cast<int64_t>(x.numel() / known);
        }
        reshaped(x, shape, out[0]);
    };
}

Kernel makeFlatten(PlanContext& c)
{
    const int64_t axisAttr = c.attrs.i("axis", 1);
    return [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = need(in, 0, "input");
        const int64_t r = static_cast<int64_t>(x.shape.size());
        const int64_t axis = axisAttr < 0 ? axisAttr + r : axisAttr;
        if (axis < 0 || axis > r)
            fail("axis " + std::to_string(axisAttr) + " is out of range for rank " + std::to_string(r));
        int64_t a = 1, b = 1;
        for (int64_t k = 0; k < r; ++k)
            (k < axis ? a : b) *= x.shape[static_cast<size_t>(k)];
        reshaped(x, {a, b}, out[0]);
    };
}

Kernel makeTranspose(PlanContext& c)
{
    const std::vector<int64_t> permAttr = c.attrs.ints("perm");
    return [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = need(in, 0, "data");
        const size_t r = x.shape.size();
        std::vector<int64_t> perm = permAttr;
        if (perm.empty())
            for (size_t k = r; k-- > 0;)
                perm.push_back(static_cast<int64_t>(k));
        if (perm.size() != r)
            fail("perm has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(r));
        std::vector<int64_t> inStride(r, 1), oshape(r), st(r);
        for (size_t k = r; k-- > 1;)
            inStride[k - 1] = inStride[k] * x.shape[k];
        std::vector<bool> seen(r, false);
        for (size_t k = 0; k < r; ++k) {
            const int64_t p = normAxis(perm[k], static_cast<int64_t>(r), "perm entry");
            if (seen[static_cast<size_t>(p)])
                fail("perm repeats an axis");
            seen[static_cast<size_t>(p)] = true;
            oshape[k] = x.shape[static_cast<size_t>(p)];
            st[k] = inStride[static_cast<size_t>(p)];
        }
        prepare(out[0], x.type, oshape);
        const int64_t n = static_cast<int64_t>(x.numel());
        visitType(x.type, [&](auto tag) {
            using T = typename decltype(tag)::type;
            const T* src = elems<T>(x).data();
            T* dst = elems<T>(out[0]).data();
            if (r == 0) {
                if (n)
                    dst[0] = src[0];
                return;
            }
            std::vector<int64_t> idx(r, 0);
            int64_t off = 0;
            const int64_t last = oshape[r - 1], lastSt = st[r - 1];
            for (int64_t k = 0; k < n; k += last) {
                for (int64_t j = 0; j < last; ++j)
                    dst[k + j] = src[off + j * lastSt];
                for (size_t d = r - 1; d-- > 0;) {
                    ++idx[d];
                    off += st[d];
                    if (idx[d] < oshape[d])
                        break;
                    off -= st[d] * idx[d];
                    idx[d] = 0;
                }
            }
        });
    };
}

// Axes from the attribute (before `since`) or from input 1.
std::vector<int64_t> axesOf(const std::vector<const Value*>& in, bool fromInput,
                            const std::vector<int64_t>& attr)
{
    if (!fromInput)
        return attr;
    return in.size() > 1 && in[1] ? toInts(*in[1]) : std::vector<int64_t>{};
}

Kernel makeSqueeze(PlanContext& c)
{
    const bool fromInput = c.opset >= 13;
    const std::vector<int64_t> attr = fromInput ? std::vector<int64_t>{} : c.attrs.ints("axes");
    return [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = need(in, 0, "data");
        const auto axes = axesOf(in, fromInput, attr);
        const int64_t r = static_cast<int64_t>(x.shape.size());
        std::vector<bool> drop(static_cast<size_t>(r), false);
        if (axes.empty())
            for (int64_t k = 0; k < r; ++k)
                drop[static_cast<size_t>(k)] = x.shape[static_cast<size_t>(k)] == 1;
        for (auto a : axes) {
            const auto k = static_cast<size_t>(normAxis(a, r));
            if (x.shape[k] != 1)
                fail("cannot squeeze axis " + std::to_string(a) + " of " + shapeString(x.shape));
            drop[k] = true;
        }
        std::vector<int64_t> shape;
        for (int64_t k = 0; k < r; ++k)
            if (!drop[static_cast<size_t>(k)])
                shape.push_back(x.shape[static_cast<size_t>(k)]);
        reshaped(x, shape, out[0]);
    };
}

Kernel makeUnsqueeze(PlanContext& c)
{
    const bool fromInput = c.opset >= 13;
    const std::vector<int64_t> attr = fromInput ? std::vector<int64_t>{} : c.attrs.ints("axes");
    return [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = need(in, 0, "data");
        const auto axes = axesOf(in, fromInput, attr);
        const int64_t r = static_cast<int64_t>(x.shape.size() + axes.size());
        std::vector<bool> ins(static_cast<size_t>(r), false);
        for (auto a : axes) {
            const auto k = static_cast<size_t>(normAxis(a, r));
            if (ins[k])
                fail("axes repeat an axis");
            ins[k] = true;
        }
        std::vector<int64_t> shape;
        size_t src = 0;
        for (int64_t k = 0; k < r; ++k)
            shape.push_back(ins[static_cast<size_t>(k)] ? 1 : x.shape.at(src++));
        reshaped(x, shape, out[0]);
    };
}

Kernel makeShape(PlanContext& c)
{
    const int64_t startAttr = c.attrs.i("start", 0);
    const bool hasEnd = c.attrs.has("end");
    const int64_t endAttr = c.attrs.i("end", 0);
    return [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = need(in, 0, "data");
        const int64_t r = static_cast<int64_t>(x.shape.size());
        const auto clampAxis = [r](int64_t a) { return std::clamp(a < 0 ? a + r : a, int64_t(0), r); };
        const int64_t s = clampAxis(startAttr), e = hasEnd ? clampAxis(endAttr) : r;
        std::vector<int64_t> v;
        for (int64_t k = s; k < e; ++k)
            v.push_back(x.shape[static_cast<size_t>(k)]);
        out[0] = Value::ints({static_cast<int64_t>(v.size())}, v);
    };
}

Kernel makeSize(PlanContext&)
{
    return [](const std::vector<const Value*>& in, std::vector<Value>& out) {
        out[0] = Value::ints({}, {static_cast<int64_t>(need(in, 0, "data").numel())});
    };
}

// Converts x to the given ONNX data type (as the engine's value type).
void castTo(const Value& x, int32_t to, Value& out)
{
    using TP = onnx::TensorProto;
    const size_t n = x.numel();
    const auto get = [&](size_t k) -> double {
        switch (x.type) {
        case Value::Type::Float: return x.f[k];
        case Value::Type::Int64: return static_cast<double>(x.i[k]);
        default: return x.b[k];
        }
    };
    switch (to) {
    case TP::FLOAT:
    case TP::DOUBLE:
    case TP::FLOAT16:
    case TP::BFLOAT16:
        prepare(out, Value::Type::Float, x.shape);
        for (size_t k = 0; k < n; ++k) {
            float v = static_cast<float>(get(k));
            if (to == TP::FLOAT16)
                v = fp16ToFloat(floatToFp16(v));
            else if (to == TP::BFLOAT16)
                v = bf16ToFloat(floatToBf16(v));
            out.f[k] = v;
        }
        return;
    case TP::BOOL:
        prepare(out, Value::Type::Bool, x.shape);
        for (size_t k = 0; k < n; ++k)
            out.b[k] = get(k) != 0;
        return;
    default: break;
    }
    prepare(out, Value::Type::Int64, x.shape);
    for (size_t k = 0; k < n; ++k) {
        int64_t v;
        if (x.type == Value::Type::Int64) {
            v = x.i[k];
        } else {
            const double d = std::trunc(get(k));
            v = std::isfinite(d) && std::fabs(d) < 9.2e18 ? static_cast<int64_t>(d) : 0;
        }
        switch (to) {
        case TP::INT32: v = static_cast<int32_t>(v); break;
        case TP::INT16: v = static_cast<int16_t>(v); break;
        case TP::INT8: v = static_cast<int8_t>(v); break;
        case TP::UINT8: v = static_cast<uint8_t>(v); break;
        case TP::UINT16: v = static_cast<uint16_t>(v); break;
        case TP::UINT32: v = static_cast<uint32_t>(v); break;
        default: break;
        }
        out.i[k] = v;
    }
}

bool castable(int64_t to)
{
    using TP = onnx::TensorProto;
    switch (to) {
    case TP::FLOAT: case TP::DOUBLE: case TP::FLOAT16: case TP::BFLOAT16: case TP::BOOL:
    case TP::INT64: case TP::INT32: case TP::INT16: case TP::INT8:
    case TP::UINT8: case TP::UINT16: case TP::UINT32: case TP::UINT64:
        return true;
    default: return false;
    }
}

Kernel makeCast(PlanContext& c)
{
    const int64_t to = c.attrs.i("to", 0);
    c.attrs.i("saturate", 1); // only affects float8 targets, which are rejected below
    if (!castable(to))
        throw Unsupported("cast to data type " + std::to_string(to));
    return [to](const std::vector<const Value*>& in, std::vector<Value>& out) {
        castTo(need(in, 0, "input"), static_cast<int32_t>(to), out[0]);
    };
}

Kernel makeCastLike(PlanContext&)
{
    return [](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& target = need(in, 1, "target_type");
        const int32_t to = target.type == Value::Type::Float   ? onnx::TensorProto::FLOAT
                           : target.type == Value::Type::Int64 ? onnx::TensorProto::INT64
                                                               : onnx::TensorProto::BOOL;
        castTo(need(in, 0, "input"), to, out[0]);
    };
}

Kernel makeIdentity(PlanContext&)
{
    return [](const std::vector<const Value*>& in, std::vector<Value>& out) {
        out[0] = need(in, 0, "input");
    };
}

Kernel makeDropout(PlanContext& c)
{
    c.attrs.ignore("seed");
    if (c.opset < 12)
        c.attrs.f("ratio", 0.5f); // irrelevant at inference
    if (c.opset < 7) {
        c.attrs.ignore("consumed_inputs");
        if (c.attrs.i("is_test", 0) == 0)
            throw Unsupported("is_test=0 (training)");
    }
    if (c.hasInput(2)) {
        const Value* t = c.constant(2);
        if (!t || scalarOf(*t, "training_mode") != 0)
            throw Unsupported("training_mode that is not a constant false");
    }
    const bool boolMask = c.opset >= 10;
    return [boolMask](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = need(in, 0, "data");
        out[0] = x;
        if (out.size() > 1) {
            if (boolMask) {
                prepare(out[1], Value::Type::Bool, x.shape);
                std::fill(out[1].b.begin(), out[1].b.end(), uint8_t(1));
            } else {
                prepare(out[1], Value::Type::Float, x.shape);
                std::fill(out[1].f.begin(), out[1].f.end(), 1.0f);
            }
        }
    };
}

// The single value of a one-element TensorProto attribute (ConstantOfShape's `value`).
Value scalarTensor(const onnx::TensorProto& t)
{
    using TP = onnx::TensorProto;
    const auto n = checkedNumel(std::span(t.dims().data(), static_cast<size_t>(t.dims().size())));
    if (!n || *n != 1)
        throw Unsupported("value must have one element");
    const std::string& raw = t.raw_data();
    const auto one = [](int count) {
        if (count != 1)
            throw Unsupported("malformed value tensor");
    };
    const auto rawAs = [&](auto zero) {
        decltype(zero) v{};
        if (raw.size() != sizeof v)
            throw Unsupported("malformed value tensor");
        std::memcpy(&v, raw.data(), sizeof v);
        return v;
    };
    switch (t.data_type()) {
    case TP::FLOAT:
        if (!t.has_raw_data())
            one(t.float_data_size());
        return Value::floats({1}, {t.has_raw_data() ? rawAs(0.0f) : t.float_data(0)});
    case TP::DOUBLE:
        if (!t.has_raw_data())
            one(t.double_data_size());
        return Value::floats({1}, {static_cast<float>(t.has_raw_data() ? rawAs(0.0) : t.double_data(0))});
    case TP::INT64:
        if (!t.has_raw_data())
            one(t.int64_data_size());
        return Value::ints({1}, {t.has_raw_data() ? rawAs(int64_t(0)) : t.int64_data(0)});
    case TP::INT32:
        if (!t.has_raw_data())
            one(t.int32_data_size());
        return Value::ints({1}, {t.has_raw_data() ? rawAs(int32_t(0)) : t.int32_data(0)});
    case TP::BOOL:
        if (!t.has_raw_data())
            one(t.int32_data_size());
        return Value::bools({1}, {uint8_t((t.has_raw_data() ? rawAs(uint8_t(0)) : t.int32_data(0)) != 0)});
    default: throw Unsupported("value of data type " + std::to_string(t.data_type()));
    }
}

Kernel makeConstantOfShape(PlanContext& c)
{
    const auto* a = c.attrs.find("value");
    const Value v = a ? scalarTensor(a->t()) : Value::floats({1}, {0.0f});
    return [v](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const auto shape = toInts(need(in, 0, "input"));
        for (auto d : shape)
            if (d < 0)
                fail("negative dim in " + shapeString(shape));
        prepare(out[0], v.type, shape);
        visitType(v.type, [&](auto tag) {
            using T = typename decltype(tag)::type;
            std::fill(elems<T>(out[0]).begin(), elems<T>(out[0]).end(), elems<T>(v)[0]);
        });
    };
}

Kernel makeConstant(PlanContext& c)
{
    // Constants the reader turned into model tensors never reach here; what does is a value
    // type the reader skipped (sparse, strings).
    for (const char* a : {"value", "value_float", "value_floats", "value_int", "value_ints",
                          "sparse_value", "value_string", "value_strings"})
        c.attrs.ignore(a);
    throw Unsupported("value kind not supported (sparse or string)");
}

Kernel makeExpand(PlanContext&)
{
    return [](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = need(in, 0, "input");
        const auto so = broadcastShapes(x.shape, toInts(need(in, 1, "shape")));
        prepare(out[0], x.type, so);
        const auto axes = wrapAxes(x.shape, so);
        visitType(x.type, [&](auto tag) {
            using T = typename decltype(tag)::type;
            walkAxes(axes, elems<T>(x).data(), elems<T>(out[0]).data());
        });
    };
}

Kernel makeRange(PlanContext&)
{
    return [](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& s = need(in, 0, "start");
        const double start = scalarOf(s, "start"), limit = scalarOf(need(in, 1, "limit"), "limit"),
                     delta = scalarOf(need(in, 2, "delta"), "delta");
        if (delta == 0 || !std::isfinite(delta) || !std::isfinite(start) || !std::isfinite(limit))
            fail("start " + std::to_string(start) + ", limit " + std::to_string(limit) +
                 " and delta " + std::to_string(delta) + " must be finite, delta not 0");
        if (s.type == Value::Type::Bool)
            fail("start must be a number, not bool");
        const double count = std::max(0.0, std::ceil((limit - start) / delta));
        const double most = static_cast<double>(kMaxTensorBytes / elementBytes(s.type));
        if (!(count <= most))
            fail("start " + std::to_string(start) + ", limit " + std::to_string(limit) +
                 " and delta " + std::to_string(delta) + " make more than " +
                 std::to_string(static_cast<uint64_t>(most)) + " elements");
        const auto n = static_cast<int64_t>(count);
        prepare(out[0], s.type, {n});
        // Integers wrap as two's complement rather than overflow (deltas beyond int64 are
        // refused by the count above when they matter).
        const auto idelta = static_cast<uint64_t>(saturatingCast<int64_t>(delta));
        for (int64_t k = 0; k < n; ++k) {
            if (s.type == Value::Type::Float)
                out[0].f[static_cast<size_t>(k)] = static_cast<float>(s.f[0] + static_cast<float>(k) * static_cast<float>(delta));
            else
                out[0].i[static_cast<size_t>(k)] = static_cast<int64_t>(
                    static_cast<uint64_t>(s.i[0]) + static_cast<uint64_t>(k) * idelta);
        }
    };
}

} // namespace

void addShapeOps(Registry& r)
{
    r["Reshape"] = makeReshape;
    r["Flatten"] = makeFlatten;
    r["Transpose"] = makeTranspose;
    r["Squeeze"] = makeSqueeze;
    r["Unsqueeze"] = makeUnsqueeze;
    r["Shape"] = makeShape;
    r["Size"] = makeSize;
    r["Cast"] = makeCast;
    r["CastLike"] = makeCastLike;
    r["Identity"] = makeIdentity;
    r["Dropout"] = makeDropout;
    r["Constant"] = makeConstant;
    r["ConstantOfShape"] = makeConstantOfShape;
    r["Expand"] = makeExpand;
    r["Range"] = makeRange;
}

} // namespace bonsai::exec
