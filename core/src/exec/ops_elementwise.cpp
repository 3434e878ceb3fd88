// Element-wise ops: activations and unary math, numpy-broadcasting binary arithmetic and
// comparisons, Where, Clip, variadic Max/Min/Sum/Mean.
#include "exec/onnx_exec_ops.h"

#include <cmath>
#include <functional>
#include <type_traits>

namespace bonsai::exec {
namespace {

// --- broadcasting ---

// out[idx] = f(a[ia], b[ib]) over the broadcast of a and b's shapes.
template <class TA, class TB, class TO, class F>
void broadcast2(const TA* a, const std::vector<int64_t>& sa, const TB* b,
                const std::vector<int64_t>& sb, TO* o, const std::vector<int64_t>& so, F f)
{
    const int64_t n = numel(so);
    const int64_t na = numel(sa), nb = numel(sb);
    if (n == 0)
        return;
    if (na == n && nb == n) {
#pragma omp parallel for if (n > kParallelMin)
        for (int64_t k = 0; k < n; ++k)
            o[k] = f(a[k], b[k]);
        return;
    }
    if (nb == 1) {
        const TB bv = b[0];
#pragma omp parallel for if (n > kParallelMin)
        for (int64_t k = 0; k < n; ++k)
            o[k] = f(a[na == n ? k : 0], bv);
        return;
    }
    if (na == 1) {
        const TA av = a[0];
#pragma omp parallel for if (n > kParallelMin)
        for (int64_t k = 0; k < n; ++k)
            o[k] = f(av, b[k]);
        return;
    }
    const auto stA = broadcastStrides(sa, so), stB = broadcastStrides(sb, so);
    const size_t r = so.size();
    const int64_t inner = so[r - 1];
    const int64_t ia = stA[r - 1], ib = stB[r - 1];
    const int64_t rows = n / inner;
#pragma omp parallel for if (n > kParallelMin)
    for (int64_t row = 0; row < rows; ++row) {
        // Offsets of this row in a and b.
        int64_t rem = row, offA = 0, offB = 0;
        for (size_t d = r - 1; d-- > 0;) {
            const int64_t idx = rem % so[d];
            rem /= so[d];
            offA += idx * stA[d];
            offB += idx * stB[d];
        }
        TO* dst = o + row * inner;
        const TA* pa = a + offA;
        const TB* pb = b + offB;
        for (int64_t k = 0; k < inner; ++k)
            dst[k] = f(pa[k * ia], pb[k * ib]);
    }
}

template <class T> const T* ptr(const Value& v) { return elems<T>(v).data(); }
template <class T> T* ptr(Value& v) { return elems<T>(v).data(); }

// --- unary float ops ---

template <class F> Kernel unaryFloat(F f)
{
    return [f](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = needFloat(in, 0, "X");
        prepare(out[0], Value::Type::Float, x.shape);
        const float* src = x.f.data();
        float* dst = out[0].f.data();
        const int64_t n = static_cast<int64_t>(x.f.size());
#pragma omp parallel for if (n > kParallelMin)
        for (int64_t k = 0; k < n; ++k)
            dst[k] = f(src[k]);
    };
}

// -x, wrapping for integers as two's complement does (-INT64_MIN is INT64_MIN), where the
// signed negation would overflow.
template <class T> T negate(T x)
{
    if constexpr (std::is_integral_v<T>)
        return static_cast<T>(std::make_unsigned_t<T>(0) - static_cast<std::make_unsigned_t<T>>(x));
    else
        return -x;
}

// Unary op on float or int64 (same function for both).
template <class F> Kernel unaryNumeric(F f)
{
    return [f](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = need(in, 0, "X");
        if (x.type == Value::Type::Bool)
            fail("input X must be numeric");
        prepare(out[0], x.type, x.shape);
        if (x.type == Value::Type::Float)
            for (size_t k = 0; k < x.f.size(); ++k)
                out[0].f[k] = static_cast<float>(f(x.f[k]));
        else
            for (size_t k = 0; k < x.i.size(); ++k)
                out[0].i[k] = static_cast<int64_t>(f(x.i[k]));
    };
}

float geluErf(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }
float geluTanh(float x)
{
    return 0.5f * x * (1.0f + std::tanh(0.79788456080286536f * (x + 0.044715f * x * x * x)));
}

Kernel makeGelu(PlanContext& c)
{
    const std::string approx = c.attrs.s("approximate", "none");
    if (approx == "tanh")
        return unaryFloat(geluTanh);
    if (approx != "none")
        throw Unsupported("approximate='" + approx + "'");
    return unaryFloat(geluErf);
}

Kernel makeLeakyRelu(PlanContext& c)
{
    const float alpha = c.attrs.f("alpha", 0.01f);
    return unaryFloat([alpha](float x) { return x < 0 ? alpha * x : x; });
}

Kernel makeHardSigmoid(PlanContext& c)
{
    const float alpha = c.attrs.f("alpha", 0.2f), beta = c.attrs.f("beta", 0.5f);
    return unaryFloat([=](float x) { return std::max(0.0f, std::min(1.0f, alpha * x + beta)); });
}

Kernel makeElu(PlanContext& c)
{
    const float alpha = c.attrs.f("alpha", 1.0f);
    return unaryFloat([=](float x) { return x < 0 ? alpha * (std::exp(x) - 1.0f) : x; });
}

Kernel makeSelu(PlanContext& c)
{
    const float alpha = c.attrs.f("alpha", 1.67326319217681884765625f);
    const float gamma = c.attrs.f("gamma", 1.05070102214813232421875f);
    return unaryFloat(
        [=](float x) { return x <= 0 ? gamma * (alpha * std::exp(x) - alpha) : gamma * x; });
}

Kernel makeThresholdedRelu(PlanContext& c)
{
    const float alpha = c.attrs.f("alpha", 1.0f);
    return unaryFloat([=](float x) { return x > alpha ? x : 0.0f; });
}

template <float (*F)(float)> Factory simple()
{
    return [](PlanContext& c) -> Kernel {
        if (c.opset < 6)
            c.attrs.ignore("consumed_inputs");
        // A lambda, not the function pointer: the call inlines and the loop vectorises.
        return unaryFloat([](float x) { return F(x); });
    };
}

float reluF(float x) { return x > 0 ? x : 0.0f; }
float sigmoidF(float x) { return 1.0f / (1.0f + std::exp(-x)); }
float tanhF(float x) { return std::tanh(x); }
float hardSwishF(float x) { return x * std::max(0.0f, std::min(1.0f, x / 6.0f + 0.5f)); }
float expF(float x) { return std::exp(x); }
float logF(float x) { return std::log(x); }
float sqrtF(float x) { return std::sqrt(x); }
float reciprocalF(float x) { return 1.0f / x; }
float floorF(float x) { return std::floor(x); }
float ceilF(float x) { return std::ceil(x); }
float erfF(float x) { return std::erf(x); }
float sinF(float x) { return std::sin(x); }
float cosF(float x) { return std::cos(x); }
float softplusF(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }
float softsignF(float x) { return x / (1.0f + std::fabs(x)); }
float roundF(float x) { return std::nearbyint(x); } // ties to even in the default mode
float tanF(float x) { return std::tan(x); }
float asinF(float x) { return std::asin(x); }
float acosF(float x) { return std::acos(x); }
float atanF(float x) { return std::atan(x); }
float sinhF(float x) { return std::sinh(x); }
float coshF(float x) { return std::cosh(x); }
float asinhF(float x) { return std::asinh(x); }
float acoshF(float x) { return std::acosh(x); }
float atanhF(float x) { return std::atanh(x); }

// IsNaN / IsInf: float in, bool out.
Kernel makeIsSpecial(PlanContext& c, bool nan)
{
    const bool neg = nan ? false : c.attrs.i("detect_negative", 1) != 0;
    const bool pos = nan ? false : c.attrs.i("detect_positive", 1) != 0;
    return [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = needFloat(in, 0, "X");
        prepare(out[0], Value::Type::Bool, x.shape);
        for (size_t k = 0; k < x.f.size(); ++k) {
            const float v = x.f[k];
            out[0].b[k] = nan ? std::isnan(v) : (std::isinf(v) && ((v > 0 && pos) || (v < 0 && neg)));
        }
    };
}

// --- binary ---

enum class Bin { Add, Sub, Mul, Div, Pow };

// f(x, y) for floats; for integers computed on the unsigned type, so it wraps.
template <class T, class F> T wrap(T x, T y, F f)
{
    if constexpr (std::is_integral_v<T>) {
        using U = std::make_unsigned_t<T>;
        return static_cast<T>(static_cast<U>(f(static_cast<U>(x), static_cast<U>(y))));
    } else {
        return f(x, y);
    }
}

Kernel makeBinary(PlanContext& c, Bin op)
{
    if (c.opset < 7) {
        // Legacy explicit broadcast attributes: broadcast=1 with axis aligns b at `axis`.
        if (c.attrs.has("axis"))
            throw Unsupported("legacy axis broadcast");
        c.attrs.ignore("broadcast");
        c.attrs.ignore("consumed_inputs");
    }
    return [op](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& a = need(in, 0, "A");
        const Value& b = need(in, 1, "B");
        const auto so = broadcastShapes(a.shape, b.shape);
        if (op == Bin::Pow) {
            // Result has A's type; exponent may be float or int64.
            if (a.type == Value::Type::Bool || b.type == Value::Type::Bool)
                fail("Pow needs numeric inputs");
            prepare(out[0], a.type, so);
            visitType(b.type, [&](auto tb) {
                using TB = typename decltype(tb)::type;
                if (a.type == Value::Type::Float)
                    broadcast2(ptr<float>(a), a.shape, ptr<TB>(b), b.shape, ptr<float>(out[0]), so,
                               [](float x, TB y) {
                                   return static_cast<float>(std::pow(x, static_cast<float>(y)));
                               });
                else
                    broadcast2(ptr<int64_t>(a), a.shape, ptr<TB>(b), b.shape, ptr<int64_t>(out[0]),
                               so, [](int64_t x, TB y) {
                                   return saturatingCast<int64_t>(
                                       std::pow(static_cast<double>(x), static_cast<double>(y)));
                               });
            });
            return;
        }
        if (a.type != b.type)
            fail("inputs have different types (" + std::string(valueTypeName(a.type)) + ", " +
                 std::string(valueTypeName(b.type)) + ")");
        if (a.type == Value::Type::Bool)
            fail("arithmetic on bool tensors");
        prepare(out[0], a.type, so);
        visitType(a.type, [&](auto tag) {
            using T = typename decltype(tag)::type;
            const T* pa = ptr<T>(a);
            const T* pb = ptr<T>(b);
            T* po = ptr<T>(out[0]);
            switch (op) {
            // int64 arithmetic wraps around (two's complement) instead of overflowing.
            case Bin::Add: broadcast2(pa, a.shape, pb, b.shape, po, so, [](T x, T y) { return wrap<T>(x, y, std::plus<>()); }); break;
            case Bin::Sub: broadcast2(pa, a.shape, pb, b.shape, po, so, [](T x, T y) { return wrap<T>(x, y, std::minus<>()); }); break;
            case Bin::Mul: broadcast2(pa, a.shape, pb, b.shape, po, so, [](T x, T y) { return wrap<T>(x, y, std::multiplies<>()); }); break;
            case Bin::Div:
                if constexpr (std::is_same_v<T, float>) {
                    broadcast2(pa, a.shape, pb, b.shape, po, so, [](T x, T y) { return x / y; });
                } else {
                    for (size_t k = 0; k < b.numel(); ++k)
                        if (pb[k] == 0)
                            fail("integer division by zero");
                    broadcast2(pa, a.shape, pb, b.shape, po, so, [](T x, T y) {
                        // The one quotient int64 cannot hold wraps too.
                        return x == std::numeric_limits<T>::min() && y == T(-1) ? x : T(x / y);
                    });
                }
                break;
            default: break;
            }
        });
    };
}

enum class Cmp { Equal, Less, Greater, LessEq, GreaterEq, And, Or, Xor };

Kernel makeCompare(PlanContext& c, Cmp op)
{
    if (c.opset < 7) {
        if (c.attrs.has("axis"))
            throw Unsupported("legacy axis broadcast");
        c.attrs.ignore("broadcast");
    }
    return [op](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& a = need(in, 0, "A");
        const Value& b = need(in, 1, "B");
        if (a.type != b.type)
            fail("inputs have different types");
        const auto so = broadcastShapes(a.shape, b.shape);
        prepare(out[0], Value::Type::Bool, so);
        uint8_t* po = out[0].b.data();
        visitType(a.type, [&](auto tag) {
            using T = typename decltype(tag)::type;
            const T* pa = ptr<T>(a);
            const T* pb = ptr<T>(b);
            const auto run = [&](auto f) { broadcast2(pa, a.shape, pb, b.shape, po, so, f); };
            switch (op) {
            case Cmp::Equal: run([](T x, T y) { return uint8_t(x == y); }); break;
            case Cmp::Less: run([](T x, T y) { return uint8_t(x < y); }); break;
            case Cmp::Greater: run([](T x, T y) { return uint8_t(x > y); }); break;
            case Cmp::LessEq: run([](T x, T y) { return uint8_t(x <= y); }); break;
            case Cmp::GreaterEq: run([](T x, T y) { return uint8_t(x >= y); }); break;
            case Cmp::And: run([](T x, T y) { return uint8_t(x && y); }); break;
            case Cmp::Or: run([](T x, T y) { return uint8_t(x || y); }); break;
            case Cmp::Xor: run([](T x, T y) { return uint8_t(bool(x) != bool(y)); }); break;
            }
        });
    };
}

Kernel makeNot(PlanContext&)
{
    return [](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = need(in, 0, "X");
        if (x.type != Value::Type::Bool)
            fail("Not needs a bool input");
        prepare(out[0], Value::Type::Bool, x.shape);
        for (size_t k = 0; k < x.b.size(); ++k)
            out[0].b[k] = !x.b[k];
    };
}

Kernel makeWhere(PlanContext&)
{
    return [](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& c = need(in, 0, "condition");
        const Value& x = need(in, 1, "X");
        const Value& y = need(in, 2, "Y");
        if (c.type != Value::Type::Bool || x.type != y.type)
            fail("Where needs a bool condition and X, Y of one type");
        const auto so = broadcastShapes(broadcastShapes(c.shape, x.shape), y.shape);
        const auto sc = broadcastStrides(c.shape, so), sx = broadcastStrides(x.shape, so),
                   sy = broadcastStrides(y.shape, so);
        prepare(out[0], x.type, so);
        const int64_t n = numel(so);
        visitType(x.type, [&](auto tag) {
            using T = typename decltype(tag)::type;
            const T* px = ptr<T>(x);
            const T* py = ptr<T>(y);
            T* po = ptr<T>(out[0]);
            const uint8_t* pc = c.b.data();
            if (so.empty()) {
                if (n)
                    po[0] = pc[0] ? px[0] : py[0];
                return;
            }
            // Row by row along the last axis; the offsets of the next row by one odometer step.
            const size_t r = so.size();
            const int64_t len = so[r - 1], ic = sc[r - 1], ix = sx[r - 1], iy = sy[r - 1];
            std::vector<int64_t> idx(r, 0);
            int64_t oc = 0, ox = 0, oy = 0;
            for (int64_t k = 0; k < n; k += len) {
                for (int64_t j = 0; j < len; ++j)
                    po[k + j] = pc[oc + j * ic] ? px[ox + j * ix] : py[oy + j * iy];
                for (size_t d = r - 1; d-- > 0;) {
                    oc += sc[d];
                    ox += sx[d];
                    oy += sy[d];
                    if (++idx[d] < so[d])
                        break;
                    oc -= sc[d] * so[d];
                    ox -= sx[d] * so[d];
                    oy -= sy[d] * so[d];
                    idx[d] = 0;
                }
            }
        });
    };
}

// Max, Min, Sum, Mean over any number of broadcasting inputs.
enum class Var { Max, Min, Sum, Mean };

Kernel makeVariadic(PlanContext& c, Var op)
{
    if (c.opset < 6)
        c.attrs.ignore("consumed_inputs");
    return [op](const std::vector<const Value*>& in, std::vector<Value>& out) {
        if (in.empty() || !in[0])
            fail("needs at least one input");
        const Value& first = *in[0];
        if (first.type == Value::Type::Bool || (op == Var::Mean && first.type != Value::Type::Float))
            fail("unsupported input type");
        std::vector<int64_t> so = first.shape;
        for (size_t k = 1; k < in.size(); ++k) {
            const Value& v = need(in, k, "data");
            if (v.type != first.type)
                fail("inputs have different types");
            so = broadcastShapes(so, v.shape);
        }
        visitType(first.type, [&](auto tag) {
            using T = typename decltype(tag)::type;
            Value acc;
            prepare(acc, first.type, so);
            std::vector<T> zero(1, T(0));
            broadcast2(ptr<T>(first), first.shape, zero.data(), std::vector<int64_t>{}, ptr<T>(acc), so,
                       [](T x, T) { return x; });
            for (size_t k = 1; k < in.size(); ++k) {
                const Value& v = *in[k];
                Value next;
                prepare(next, first.type, so);
                const auto f = [op](T x, T y) -> T {
                    switch (op) {
                    case Var::Max: return std::isnan(static_cast<double>(y)) || y > x ? y : x;
                    case Var::Min: return std::isnan(static_cast<double>(y)) || y < x ? y : x;
                    default: return wrap<T>(x, y, std::plus<>());
                    }
                };
                broadcast2(ptr<T>(acc), so, ptr<T>(v), v.shape, ptr<T>(next), so, f);
                acc = std::move(next);
            }
            if constexpr (std::is_same_v<T, float>)
                if (op == Var::Mean)
                    for (auto& x : acc.f)
                        x /= static_cast<float>(in.size());
            out[0] = std::move(acc);
        });
    };
}

Kernel makeClip(PlanContext& c)
{
    if (c.opset < 11) {
        const float lo = c.attrs.f("min", -std::numeric_limits<float>::infinity());
        const float hi = c.attrs.f("max", std::numeric_limits<float>::infinity());
        if (c.opset < 6)
            c.attrs.ignore("consumed_inputs");
        return unaryFloat([=](float x) { return std::min(hi, std::max(lo, x)); });
    }
    return [](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = need(in, 0, "input");
        if (x.type == Value::Type::Bool)
            fail("Clip needs a numeric input");
        prepare(out[0], x.type, x.shape);
        visitType(x.type, [&](auto tag) {
            using T = typename decltype(tag)::type;
            T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
            if constexpr (std::is_same_v<T, float>) {
                lo = -std::numeric_limits<float>::infinity();
                hi = std::numeric_limits<float>::infinity();
            }
            if (in.size() > 1 && in[1])
                lo = saturatingCast<T>(scalarOf(*in[1], "min"));
            if (in.size() > 2 && in[2])
                hi = saturatingCast<T>(scalarOf(*in[2], "max"));
            const auto& src = elems<T>(x);
            auto& dst = elems<T>(out[0]);
            for (size_t k = 0; k < src.size(); ++k)
                dst[k] = std::min(hi, std::max(lo, src[k]));
        });
    };
}

Kernel makePRelu(PlanContext& c)
{
    if (c.opset < 7)
        throw Unsupported("legacy PRelu broadcast");
    return [](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = needFloat(in, 0, "X");
        const Value& s = needFloat(in, 1, "slope");
        const auto so = broadcastShapes(x.shape, s.shape);
        prepare(out[0], Value::Type::Float, so);
        broadcast2(x.f.data(), x.shape, s.f.data(), s.shape, out[0].f.data(), so,
                   [](float v, float a) { return v < 0 ? a * v : v; });
    };
}

} // namespace

void addElementwiseOps(Registry& r)
{
    r["Relu"] = simple<reluF>();
    r["Sigmoid"] = simple<sigmoidF>();
    r["Tanh"] = simple<tanhF>();
    r["HardSwish"] = simple<hardSwishF>();
    r["Exp"] = simple<expF>();
    r["Log"] = simple<logF>();
    r["Sqrt"] = simple<sqrtF>();
    r["Reciprocal"] = simple<reciprocalF>();
    r["Floor"] = simple<floorF>();
    r["Ceil"] = simple<ceilF>();
    r["Erf"] = simple<erfF>();
    r["Sin"] = simple<sinF>();
    r["Cos"] = simple<cosF>();
    r["Softplus"] = simple<softplusF>();
    r["Softsign"] = simple<softsignF>();
    r["Round"] = simple<roundF>();
    r["Tan"] = simple<tanF>();
    r["Asin"] = simple<asinF>();
    r["Acos"] = simple<acosF>();
    r["Atan"] = simple<atanF>();
    r["Sinh"] = simple<sinhF>();
    r["Cosh"] = simple<coshF>();
    r["Asinh"] = simple<asinhF>();
    r["Acosh"] = simple<acoshF>();
    r["Atanh"] = simple<atanhF>();
    r["IsNaN"] = [](PlanContext& c) { return makeIsSpecial(c, true); };
    r["IsInf"] = [](PlanContext& c) { return makeIsSpecial(c, false); };
    r["Abs"] = [](PlanContext& c) -> Kernel {
        if (c.opset < 6)
            c.attrs.ignore("consumed_inputs");
        return unaryNumeric([](auto x) { return x < 0 ? negate(x) : x; });
    };
    r["Neg"] = [](PlanContext& c) -> Kernel {
        if (c.opset < 6)
            c.attrs.ignore("consumed_inputs");
        return unaryNumeric([](auto x) { return negate(x); });
    };
    r["Sign"] = [](PlanContext&) -> Kernel {
        return unaryNumeric([](auto x) { return decltype(x)((x > 0) - (x < 0)); });
    };
    r["Gelu"] = makeGelu;
    r["LeakyRelu"] = makeLeakyRelu;
    r["HardSigmoid"] = makeHardSigmoid;
    r["Elu"] = makeElu;
    r["Selu"] = makeSelu;
    r["ThresholdedRelu"] = makeThresholdedRelu;
    r["PRelu"] = makePRelu;
    r["Clip"] = makeClip;
    r["Add"] = [](PlanContext& c) { return makeBinary(c, Bin::Add); };
    r["Sub"] = [](PlanContext& c) { return makeBinary(c, Bin::Sub); };
    r["Mul"] = [](PlanContext& c) { return makeBinary(c, Bin::Mul); };
    r["Div"] = [](PlanContext& c) { return makeBinary(c, Bin::Div); };
    r["Pow"] = [](PlanContext& c) { return makeBinary(c, Bin::Pow); };
    r["Equal"] = [](PlanContext& c) { return makeCompare(c, Cmp::Equal); };
    r["Less"] = [](PlanContext& c) { return makeCompare(c, Cmp::Less); };
    r["Greater"] = [](PlanContext& c) { return makeCompare(c, Cmp::Greater); };
    r["LessOrEqual"] = [](PlanContext& c) { return makeCompare(c, Cmp::LessEq); };
    r["GreaterOrEqual"] = [](PlanContext& c) { return makeCompare(c, Cmp::GreaterEq); };
    r["And"] = [](PlanContext& c) { return makeCompare(c, Cmp::And); };
    r["Or"] = [](PlanContext& c) { return makeCompare(c, Cmp::Or); };
    r["Xor"] = [](PlanContext& c) { return makeCompare(c, Cmp::Xor); };
    r["Not"] = makeNot;
    r["Where"] = makeWhere;
    r["Max"] = [](PlanContext& c) { return makeVariadic(c, Var::Max); };
    r["Min"] = [](PlanContext& c) { return makeVariadic(c, Var::Min); };
    r["Sum"] = [](PlanContext& c) { return makeVariadic(c, Var::Sum); };
    r["Mean"] = [](PlanContext& c) { return makeVariadic(c, Var::Mean); };
}

} // namespace bonsai::exec
