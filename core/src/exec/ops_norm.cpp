// Normalizations (BatchNormalization in inference mode, LayerNormalization,
// InstanceNormalization), Softmax / LogSoftmax / Hardmax, and the Reduce* family.
#include "exec/onnx_exec_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace bonsai::exec {
namespace {

Kernel makeBatchNorm(PlanContext& c)
{
    const float eps = c.attrs.f("epsilon", 1e-5f);
    c.attrs.ignore("momentum");
    if (c.opset < 7) {
        c.attrs.ignore("consumed_inputs");
        if (c.attrs.i("is_test", 0) == 0 && c.hasOutput(1))
            throw Unsupported("training mode");
    }
    if (c.opset < 9 && c.attrs.i("spatial", 1) != 1)
        throw Unsupported("spatial=0");
    if (c.attrs.i("training_mode", 0) != 0)
        throw Unsupported("training_mode=1");
    for (size_t k = 1; k < c.numOutputs(); ++k)
        if (c.hasOutput(k))
            throw Unsupported("training outputs (running mean/var)");
    return [eps](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = needFloat(in, 0, "X");
        const Value& scale = needFloat(in, 1, "scale");
        const Value& bias = needFloat(in, 2, "B");
        const Value& mean = needFloat(in, 3, "input_mean");
        const Value& var = needFloat(in, 4, "input_var");
        if (x.shape.size() < 2)
            fail("X must have rank >= 2");
        const int64_t N = x.shape[0], C = x.shape[1];
        const int64_t sp = N * C != 0 ? static_cast<int64_t>(x.numel()) / (N * C) : 0;
        for (const Value* v : {&scale, &bias, &mean, &var})
            if (v->numel() != static_cast<size_t>(C))
                fail("scale, B, mean and var need " + std::to_string(C) + " elements");
        std::vector<float> mul(static_cast<size_t>(C)), add(static_cast<size_t>(C));
        for (int64_t ch = 0; ch < C; ++ch) {
            const auto k = static_cast<size_t>(ch);
            mul[k] = scale.f[k] / std::sqrt(var.f[k] + eps);
            add[k] = bias.f[k] - mean.f[k] * mul[k];
        }
        prepare(out[0], Value::Type::Float, x.shape);
#pragma omp parallel for if (static_cast<int64_t>(x.numel()) > kParallelMin)
        for (int64_t p = 0; p < N * C; ++p) {
            const auto ch = static_cast<size_t>(p % C);
            const float* src = x.f.data() + p * sp;
            float* dst = out[0].f.data() + p * sp;
            for (int64_t k = 0; k < sp; ++k)
                dst[k] = src[k] * mul[ch] + add[ch];
        }
    };
}

Kernel makeInstanceNorm(PlanContext& c)
{
    const float eps = c.attrs.f("epsilon", 1e-5f);
    if (c.opset < 6)
        c.attrs.ignore("consumed_inputs");
    return [eps](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = needFloat(in, 0, "input");
        const Value& scale = needFloat(in, 1, "scale");
        const Value& bias = needFloat(in, 2, "B");
        if (x.shape.size() < 3)
            fail("input must have rank >= 3");
        const int64_t N = x.shape[0], C = x.shape[1];
        if (scale.numel() != static_cast<size_t>(C) || bias.numel() != static_cast<size_t>(C))
            fail("scale and B need " + std::to_string(C) + " elements");
        const int64_t sp = N * C != 0 ? static_cast<int64_t>(x.numel()) / (N * C) : 0;
        prepare(out[0], Value::Type::Float, x.shape);
        for (int64_t p = 0; p < N * C; ++p) {
            const float* src = x.f.data() + p * sp;
            float* dst = out[0].f.data() + p * sp;
            double s = 0, s2 = 0;
            for (int64_t k = 0; k < sp; ++k)
                s += src[k];
            const double mu = s / static_cast<double>(sp);
            for (int64_t k = 0; k < sp; ++k)
                s2 += (src[k] - mu) * (src[k] - mu);
            const double inv = 1.0 / std::sqrt(s2 / static_cast<double>(sp) + eps);
            const auto ch = static_cast<size_t>(p % C);
            for (int64_t k = 0; k < sp; ++k)
                dst[k] = static_cast<float>((src[k] - mu) * inv * scale.f[ch] + bias.f[ch]);
        }
    };
}

Kernel makeLayerNorm(PlanContext& c)
{
    const int64_t axisAttr = c.attrs.i("axis", -1);
    const float eps = c.attrs.f("epsilon", 1e-5f);
    c.attrs.i("stash_type", 1); // statistics are computed in double either way
    return [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = needFloat(in, 0, "X");
        const Value& scale = needFloat(in, 1, "Scale");
        const Value* bias = in.size() > 2 ? in[2] : nullptr;
        const int64_t r = static_cast<int64_t>(x.shape.size());
        const int64_t axis = normAxis(axisAttr, r);
        int64_t outer = 1, inner = 1;
        for (int64_t k = 0; k < r; ++k)
            (k < axis ? outer : inner) *= x.shape[static_cast<size_t>(k)];
        const std::vector<int64_t> normShape(x.shape.begin() + axis, x.shape.end());
        const auto paramStrides = [&](const Value& p, const char* what) {
            if (p.type != Value::Type::Float ||
                broadcastShapes(p.shape, normShape) != normShape)
                fail(std::string(what) + " " + shapeString(p.shape) +
                     " does not broadcast to the normalized shape " + shapeString(normShape));
            return p.numel() == static_cast<size_t>(inner);
        };
        const bool fullScale = paramStrides(scale, "Scale");
        const bool fullBias = bias ? paramStrides(*bias, "B") : true;
        if (!fullScale && scale.numel() != 1)
            fail("Scale must have the normalized shape or one element");
        if (bias && !fullBias && bias->numel() != 1)
            fail("B must have the normalized shape or one element");
        prepare(out[0], Value::Type::Float, x.shape);
        std::vector<int64_t> statShape = x.shape;
        for (int64_t k = axis; k < r; ++k)
            statShape[static_cast<size_t>(k)] = 1;
        if (out.size() > 1)
            prepare(out[1], Value::Type::Float, statShape);
        if (out.size() > 2)
            prepare(out[2], Value::Type::Float, statShape);
#pragma omp parallel for if (static_cast<int64_t>(x.numel()) > kParallelMin)
        for (int64_t o = 0; o < outer; ++o) {
            const float* src = x.f.data() + o * inner;
            float* dst = out[0].f.data() + o * inner;
            double s = 0, s2 = 0;
            for (int64_t k = 0; k < inner; ++k)
                s += src[k];
            const double mu = s / static_cast<double>(inner);
            for (int64_t k = 0; k < inner; ++k)
                s2 += (src[k] - mu) * (src[k] - mu);
            const double inv = 1.0 / std::sqrt(s2 / static_cast<double>(inner) + eps);
            for (int64_t k = 0; k < inner; ++k) {
                const float sc = scale.f[fullScale ? static_cast<size_t>(k) : 0];
                const float b = bias ? bias->f[fullBias ? static_cast<size_t>(k) : 0] : 0.0f;
                dst[k] = static_cast<float>((src[k] - mu) * inv) * sc + b;
            }
            if (out.size() > 1 && !out[1].f.empty())
                out[1].f[static_cast<size_t>(o)] = static_cast<float>(mu);
            if (out.size() > 2 && !out[2].f.empty())
                out[2].f[static_cast<size_t>(o)] = static_cast<float>(inv);
        }
    };
}

enum class SoftKind { Softmax, LogSoftmax, Hardmax };

Kernel makeSoftmax(PlanContext& c, SoftKind kind)
{
    const bool legacy = c.opset < 13;
    const int64_t axisAttr = c.attrs.i("axis", legacy ? 1 : -1);
    return [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = needFloat(in, 0, "input");
        const int64_t r = static_cast<int64_t>(x.shape.size());
        const int64_t axis = normAxis(axisAttr, std::max<int64_t>(r, 1));
        // [outer, D, inner]: legacy semantics flatten everything from axis on into D.
        int64_t outer = 1, D = 1, inner = 1;
        for (int64_t k = 0; k < r; ++k) {
            const int64_t d = x.shape[static_cast<size_t>(k)];
            if (k < axis)
                outer *= d;
            else if (k == axis || legacy)
                D *= d;
            else
                inner *= d;
        }
        prepare(out[0], Value::Type::Float, x.shape);
        const float* X = x.f.data();
        float* Y = out[0].f.data();
#pragma omp parallel for if (static_cast<int64_t>(x.numel()) > kParallelMin)
        for (int64_t o = 0; o < outer; ++o)
            for (int64_t i = 0; i < inner; ++i) {
                const float* src = X + o * D * inner + i;
                float* dst = Y + o * D * inner + i;
                float mx = -std::numeric_limits<float>::infinity();
                int64_t arg = 0;
                for (int64_t k = 0; k < D; ++k)
                    if (src[k * inner] > mx) {
                        mx = src[k * inner];
                        arg = k;
                    }
                if (kind == SoftKind::Hardmax) {
                    for (int64_t k = 0; k < D; ++k)
                        dst[k * inner] = k == arg ? 1.0f : 0.0f;
                    continue;
                }
                double sum = 0;
                for (int64_t k = 0; k < D; ++k)
                    sum += std::exp(static_cast<double>(src[k * inner] - mx));
                if (kind == SoftKind::Softmax) {
                    const double inv = 1.0 / sum;
                    for (int64_t k = 0; k < D; ++k)
                        dst[k * inner] =
                            static_cast<float>(std::exp(static_cast<double>(src[k * inner] - mx)) * inv);
                } else {
                    const double ls = std::log(sum);
                    for (int64_t k = 0; k < D; ++k)
                        dst[k * inner] = static_cast<float>(src[k * inner] - mx - ls);
                }
            }
    };
}

// --- reductions ---

enum class Red { Mean, Sum, Max, Min, Prod, L1, L2, SumSquare, LogSum, LogSumExp };

Kernel makeReduce(PlanContext& c, Red op)
{
    // ReduceSum takes axes as an input from opset 13, the others from opset 18.
    const int inputSince = op == Red::Sum ? 13 : 18;
    const bool axesInput = c.opset >= inputSince;
    const std::vector<int64_t> attrAxes = axesInput ? std::vector<int64_t>{} : c.attrs.ints("axes");
    const bool keepdims = c.attrs.i("keepdims", 1) != 0;
    const bool noop = axesInput && c.attrs.i("noop_with_empty_axes", 0) != 0;
    return [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = need(in, 0, "data");
        if (x.type == Value::Type::Bool)
            fail("cannot reduce a bool tensor");
        std::vector<int64_t> axes = attrAxes;
        if (axesInput && in.size() > 1 && in[1])
            axes = toInts(*in[1]);
        const int64_t r = static_cast<int64_t>(x.shape.size());
        if (axes.empty() && noop) {
            out[0] = x;
            return;
        }
        std::vector<bool> red(static_cast<size_t>(r), axes.empty());
        for (auto a : axes)
            red[static_cast<size_t>(normAxis(a, r))] = true;
        std::vector<int64_t> oshape, keptShape;
        for (int64_t k = 0; k < r; ++k) {
            const auto d = x.shape[static_cast<size_t>(k)];
            keptShape.push_back(red[static_cast<size_t>(k)] ? 1 : d);
            if (!red[static_cast<size_t>(k)] || keepdims)
                oshape.push_back(red[static_cast<size_t>(k)] ? 1 : d);
        }
        const int64_t on = numel(keptShape);
        const int64_t n = static_cast<int64_t>(x.numel());
        const int64_t cnt = on ? n / on : 0;
        double init = 0;
        if (op == Red::Max)
            init = -std::numeric_limits<double>::infinity();
        else if (op == Red::Min)
            init = std::numeric_limits<double>::infinity();
        else if (op == Red::Prod)
            init = 1;
        std::vector<double> acc(static_cast<size_t>(on), init);
        // Output offset of every input element via strides (0 along reduced axes).
        const auto st = broadcastStrides(keptShape, x.shape);
        std::vector<double> lse; // LogSumExp: max per output for stability
        const auto elem = [&](int64_t k) {
            return x.type == Value::Type::Float ? static_cast<double>(x.f[static_cast<size_t>(k)])
                                                : static_cast<double>(x.i[static_cast<size_t>(k)]);
        };
        const auto forEach = [&](auto f) {
            std::vector<int64_t> idx(static_cast<size_t>(r), 0);
            int64_t off = 0;
            for (int64_t k = 0; k < n; ++k) {
                f(k, off);
                for (int64_t d = r - 1; d >= 0; --d) {
                    const auto du = static_cast<size_t>(d);
                    ++idx[du];
                    off += st[du];
                    if (idx[du] < x.shape[du])
                        break;
                    off -= st[du] * idx[du];
                    idx[du] = 0;
                }
            }
        };
        if (op == Red::LogSumExp) {
            lse.assign(static_cast<size_t>(on), -std::numeric_limits<double>::infinity());
            forEach([&](int64_t k, int64_t o) { lse[static_cast<size_t>(o)] = std::max(lse[static_cast<size_t>(o)], elem(k)); });
        }
        forEach([&](int64_t k, int64_t o) {
            const double v = elem(k);
            double& a = acc[static_cast<size_t>(o)];
            switch (op) {
            case Red::Max: a = std::max(a, v); break;
            case Red::Min: a = std::min(a, v); break;
            case Red::Prod: a *= v; break;
            case Red::L1: a += std::fabs(v); break;
            case Red::L2:
            case Red::SumSquare: a += v * v; break;
            case Red::LogSumExp: a += std::exp(v - lse[static_cast<size_t>(o)]); break;
            default: a += v; break;
            }
        });
        for (int64_t o = 0; o < on; ++o) {
            double& a = acc[static_cast<size_t>(o)];
            switch (op) {
            case Red::Mean: a = cnt ? a / static_cast<double>(cnt) : std::nan(""); break;
            case Red::L2: a = std::sqrt(a); break;
            case Red::LogSum: a = std::log(a); break;
            case Red::LogSumExp: a = std::log(a) + lse[static_cast<size_t>(o)]; break;
            default: break;
            }
        }
        prepare(out[0], x.type, oshape);
        for (int64_t o = 0; o < on; ++o) {
            if (x.type == Value::Type::Float)
                out[0].f[static_cast<size_t>(o)] = static_cast<float>(acc[static_cast<size_t>(o)]);
            else
                out[0].i[static_cast<size_t>(o)] = saturatingCast<int64_t>(acc[static_cast<size_t>(o)]); // NaN: 0
        }
    };
}

// ArgMax / ArgMin along one axis (int64 indices; first or last of equal extremes).
Kernel makeArg(PlanContext& c, bool isMax)
{
    const int64_t axisAttr = c.attrs.i("axis", 0);
    const bool keepdims = c.attrs.i("keepdims", 1) != 0;
    const bool last = c.attrs.i("select_last_index", 0) != 0;
    return [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = need(in, 0, "data");
        if (x.type == Value::Type::Bool)
            fail("ArgMax/ArgMin need a numeric input");
        const int64_t r = static_cast<int64_t>(x.shape.size());
        const auto axis = static_cast<size_t>(normAxis(axisAttr, r));
        int64_t outer = 1, inner = 1;
        for (size_t k = 0; k < x.shape.size(); ++k)
            if (k < axis)
                outer *= x.shape[k];
            else if (k > axis)
                inner *= x.shape[k];
        const int64_t D = x.shape[axis];
        if (D == 0)
            fail("cannot take ArgMax/ArgMin of an empty axis");
        std::vector<int64_t> oshape = x.shape;
        if (keepdims)
            oshape[axis] = 1;
        else
            oshape.erase(oshape.begin() + static_cast<int64_t>(axis));
        prepare(out[0], Value::Type::Int64, oshape);
        visitType(x.type, [&](auto tag) {
            using T = typename decltype(tag)::type;
            const T* src = elems<T>(x).data();
            for (int64_t o = 0; o < outer; ++o)
                for (int64_t i = 0; i < inner; ++i) {
                    const T* p = src + o * D * inner + i;
                    int64_t best = 0;
                    for (int64_t k = 1; k < D; ++k) {
                        const T v = p[k * inner], b = p[best * inner];
                        const bool better = isMax ? (last ? v >= b : v > b) : (last ? v <= b : v < b);
                        if (better)
                            best = k;
                    }
                    out[0].i[static_cast<size_t>(o * inner + i)] = best;
                }
        });
    };
}

} // namespace

void addNormOps(Registry& r)
{
    r["ArgMax"] = [](PlanContext& c) { return makeArg(c, true); };
    r["ArgMin"] = [](PlanContext& c) { return makeArg(c, false); };
    r["BatchNormalization"] = makeBatchNorm;
    r["InstanceNormalization"] = makeInstanceNorm;
    r["LayerNormalization"] = makeLayerNorm;
    r["Softmax"] = [](PlanContext& c) { return makeSoftmax(c, SoftKind::Softmax); };
    r["LogSoftmax"] = [](PlanContext& c) { return makeSoftmax(c, SoftKind::LogSoftmax); };
    r["Hardmax"] = [](PlanContext& c) { return makeSoftmax(c, SoftKind::Hardmax); };
    r["ReduceMean"] = [](PlanContext& c) { return makeReduce(c, Red::Mean); };
    r["ReduceSum"] = [](PlanContext& c) { return makeReduce(c, Red::Sum); };
    r["ReduceMax"] = [](PlanContext& c) { return makeReduce(c, Red::Max); };
    r["ReduceMin"] = [](PlanContext& c) { return makeReduce(c, Red::Min); };
    r["ReduceProd"] = [](PlanContext& c) { return makeReduce(c, Red::Prod); };
    r["ReduceL1"] = [](PlanContext& c) { return makeReduce(c, Red::L1); };
    r["ReduceL2"] = [](PlanContext& c) { return makeReduce(c, Red::L2); };
    r["ReduceSumSquare"] = [](PlanContext& c) { return makeReduce(c, Red::SumSquare); };
    r["ReduceLogSum"] = [](PlanContext& c) { return makeReduce(c, Red::LogSum); };
    r["ReduceLogSumExp"] = [](PlanContext& c) { return makeReduce(c, Red::LogSumExp); };
}

} // namespace bonsai::exec
