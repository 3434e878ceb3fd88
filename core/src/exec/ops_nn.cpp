// Conv (im2col + Eigen GEMM, direct for depthwise), Gemm and MatMul.
#include "exec/onnx_exec_ops.h"

#include "exec/dnnl_ops.h"

#include "common/eigen.h"

#include <omp.h>

#include <algorithm>
#include <limits>
#include <span>

namespace bonsai::exec {
namespace {


// C[M,N] = alpha * op(A) * op(B) (+ C when accumulate). A is [M,K] ([K,M] when ta), B is
// [K,N] ([N,K] when tb); all row-major.
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          const float* B, bool accumulate, float* C)
{
    RowMap c(C, M, N);
    const auto go = [&](const auto& a, const auto& b) {
        if (accumulate)
            c.noalias() += alpha * a * b;
        else if (alpha == 1.0f)
            c.noalias() = a * b;
        else
            c.noalias() = alpha * a * b;
    };
    if (!ta && !tb)
        go(ConstRowMap(A, M, K), ConstRowMap(B, K, N));
    else if (ta && !tb)
        go(ConstRowMap(A, K, M).transpose(), ConstRowMap(B, K, N));
    else if (!ta && tb)
        go(ConstRowMap(A, M, K), ConstRowMap(B, N, K).transpose());
    else
        go(ConstRowMap(A, K, M).transpose(), ConstRowMap(B, N, K).transpose());
}

// --- Conv ---

struct ConvAttrs {
    WindowAttrs win; // kernel_shape, strides, pads, dilations, auto_pad
    int64_t group = 1;
};

Kernel makeConv(PlanContext& c, ConvEpilogue e)
{
    ConvAttrs a;
    a.win = planWindowAttrs(c, false);
    a.group = c.attrs.i("group", 1, 1, std::numeric_limits<int32_t>::max());
    Kernel plain = [a, e](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& x = needFloat(in, 0, "X");
        const Value& w = needFloat(in, 1, "W");
        const Value* bias = in.size() > 2 ? in[2] : nullptr;
        const size_t r = x.shape.size();
        if (r < 3 || r > 5 || w.shape.size() != r)
            fail("Conv needs X and W of rank 3 to 5 (X " + shapeString(x.shape) + ", W " +
                 shapeString(w.shape) + ")");
        const int64_t sr = static_cast<int64_t>(r) - 2;
        const int64_t N = x.shape[0], C = x.shape[1], M = w.shape[0], G = a.group;
        if (C % G || M % G || w.shape[1] * G != C)
            fail("W " + shapeString(w.shape) + " does not fit X " + shapeString(x.shape) +
                 " with group " + std::to_string(G));
        if (bias && (bias->type != Value::Type::Float || bias->numel() != static_cast<size_t>(M)))
            fail("B must be a float tensor of " + std::to_string(M) + " elements");
        const Window g = makeWindow(a.win, std::span(x.shape).subspan(2), std::span(w.shape).subspan(2), false);
        std::vector<int64_t> oshape = {N, M};
        for (int64_t j = 0; j < sr; ++j)
            oshape.push_back(g.out[3 - sr + j]);
        // Fused max pooling (2-D, no padding) of the activated conv output.
        int64_t poolH = 0, poolW = 0;
        if (e.pool) {
            if (sr != 2)
                fail("the fused MaxPool needs a 2-D convolution");
            if (g.out[1] < e.kh || g.out[2] < e.kw)
                fail("the pooling window is larger than the input");
            poolH = (g.out[1] - e.kh) / e.sh + 1;
            poolW = (g.out[2] - e.kw) / e.sw + 1;
            oshape[2] = poolH;
            oshape[3] = poolW;
        }
        prepare(out[0], Value::Type::Float, oshape);
        const int64_t Cg = C / G, Mg = M / G;
        const int64_t inSp = g.inSize();
        const int64_t P = g.outSize();
        const int64_t Kg = Cg * g.k[0] * g.k[1] * g.k[2];
        const bool pointwise = g.k[0] * g.k[1] * g.k[2] == 1 && g.s[0] == 1 && g.s[1] == 1 &&
                               g.s[2] == 1 && g.pb[0] == 0 && g.pb[1] == 0 && g.pb[2] == 0 &&
                               P == inSp;
        const bool depthwise = Cg == 1 && Mg == 1;
        // Scratch sizes are checked here: an Error inside the parallel region would terminate.
        const size_t colElems = pointwise || depthwise ? 0 : checkedElements({Kg, P}, sizeof(float), "im2col buffer");
        const size_t tmpElems = e.pool ? checkedElements({M, P}, sizeof(float), "pooling buffer") : 0;
        const float* X = x.f.data();
        const float* W = w.f.data();
        const float* B = bias ? bias->f.data() : nullptr;
        // A folded BatchNormalization: scaled weights, a new bias.
        std::vector<float> bnScale, bnBias, wFolded;
        if (e.bn) {
            foldBatchNorm(bias, needFloat(in, 3, "scale"), needFloat(in, 4, "B"), needFloat(in, 5, "input_mean"),
                          needFloat(in, 6, "input_var"), e.bnEpsilon, M, bnScale, bnBias);
            wFolded.resize(w.f.size());
            const size_t per = w.f.size() / static_cast<size_t>(std::max<int64_t>(M, 1));
            for (size_t k = 0; k < wFolded.size(); ++k)
                wFolded[k] = w.f[k] * bnScale[k / per];
            W = wFolded.data();
            B = bnBias.data();
        }
        // A folded residual Add: the other operand broadcast to the convolution's output.
        const float* R = nullptr;
        std::vector<float> expanded;
        if (e.add) {
            const Value& other = needFloat(in, e.addAt, "the Add's other operand");
            std::vector<int64_t> ys = {N, M};
            for (int64_t j = 0; j < sr; ++j)
                ys.push_back(g.out[3 - sr + j]);
            if (broadcastShapes(other.shape, ys) != ys)
                fail("the Add's operand " + shapeString(other.shape) + " does not broadcast to " + shapeString(ys));
            if (other.shape == ys) {
                R = other.f.data();
            } else {
                expanded.resize(checkedElements(ys, sizeof(float), "Add buffer"));
                const auto st = broadcastStrides(other.shape, ys);
                for (size_t k = 0; k < expanded.size(); ++k) {
                    size_t rem = k, off = 0;
                    for (size_t d = ys.size(); d-- > 0;) {
                        off += (rem % static_cast<size_t>(ys[d])) * static_cast<size_t>(st[d]);
                        rem /= static_cast<size_t>(ys[d]);
                    }
                    expanded[k] = other.f[off];
                }
                R = expanded.data();
            }
        }
        float* Y = out[0].f.data();
        if (P == 0 || N == 0 || M == 0)
            return;

        // One image: all groups, then the fused activation and pooling while it is in cache.
        const auto image = [&](int64_t n, std::vector<float>& col, std::vector<float>& tmp) {
            float* yimg = Y + n * M * P;
            if (e.pool) {
                tmp.resize(tmpElems);
                yimg = tmp.data();
            }
            for (int64_t gi = 0; gi < G; ++gi) {
                const float* xin = X + (n * C + gi * Cg) * inSp;
                float* yout = yimg + gi * Mg * P;
                const float* wg = W + gi * Mg * Kg;
                if (depthwise) {
                    const float bv = B ? B[gi] : 0.0f;
                    for (int64_t oz = 0; oz < g.out[0]; ++oz)
                        for (int64_t oy = 0; oy < g.out[1]; ++oy)
                            for (int64_t ox = 0; ox < g.out[2]; ++ox) {
                                float acc = bv;
                                for (int64_t kz = 0; kz < g.k[0]; ++kz) {
                                    const int64_t iz = oz * g.s[0] - g.pb[0] + kz * g.d[0];
                                    if (iz < 0 || iz >= g.in[0])
                                        continue;
                                    for (int64_t ky = 0; ky < g.k[1]; ++ky) {
                                        const int64_t iy = oy * g.s[1] - g.pb[1] + ky * g.d[1];
                                        if (iy < 0 || iy >= g.in[1])
                                            continue;
                                        const float* row = xin + (iz * g.in[1] + iy) * g.in[2];
                                        const float* wr = wg + (kz * g.k[1] + ky) * g.k[2];
                                        for (int64_t kx = 0; kx < g.k[2]; ++kx) {
                                            const int64_t ix = ox * g.s[2] - g.pb[2] + kx * g.d[2];
                                            if (ix >= 0 && ix < g.in[2])
                                                acc += row[ix] * wr[kx];
                                        }
                                    }
                                }
                                yout[(oz * g.out[1] + oy) * g.out[2] + ox] = acc;
                            }
                    continue;
                }
                const float* cols = xin;
                if (!pointwise) {
                    col.resize(colElems);
                    im2col(xin, Cg, g, col.data());
                    cols = col.data();
                }
                gemm(false, false, Mg, P, Kg, 1.0f, wg, cols, false, yout);
                if (B)
                    for (int64_t m = 0; m < Mg; ++m) {
                        const float bv = B[gi * Mg + m];
                        float* row = yout + m * P;
                        for (int64_t p = 0; p < P; ++p)
                            row[p] += bv;
                    }
            }
            if (R)
                for (int64_t k = 0; k < M * P; ++k)
                    yimg[k] += R[n * M * P + k];
            if (e.relu)
                for (int64_t k = 0; k < M * P; ++k)
                    yimg[k] = std::max(yimg[k], 0.0f);
            if (e.pool)
                for (int64_t m = 0; m < M; ++m)
                    maxPool2d(yimg + m * P, g.out[1], g.out[2], e.kh, e.kw, e.sh, e.sw, poolH, poolW,
                              Y + (n * M + m) * poolH * poolW);
        };
        if (N > 1 && omp_get_max_threads() > 1 && !omp_in_parallel()) {
#pragma omp parallel
            {
                std::vector<float> col, tmp;
#pragma omp for schedule(dynamic, 1)
                for (int64_t n = 0; n < N; ++n)
                    image(n, col, tmp);
            }
        } else {
            std::vector<float> col, tmp;
            for (int64_t n = 0; n < N; ++n)
                image(n, col, tmp);
        }
    };
    return c.onednn ? makeDnnlConv(a.win, a.group, e, c.deploy, std::move(plain)) : plain;
}

// --- Gemm ---

Kernel makeGemm(PlanContext& c)
{
    const float alpha = c.attrs.f("alpha", 1.0f), beta = c.attrs.f("beta", 1.0f);
    const bool ta = c.attrs.i("transA", 0) != 0, tb = c.attrs.i("transB", 0) != 0;
    if (c.opset < 7)
        c.attrs.ignore("broadcast");
    Kernel plain = [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& A = needFloat(in, 0, "A");
        const Value& B = needFloat(in, 1, "B");
        const Value* C = in.size() > 2 ? in[2] : nullptr;
        if (A.shape.size() != 2 || B.shape.size() != 2)
            fail("Gemm needs 2-D A and B (A " + shapeString(A.shape) + ", B " +
                 shapeString(B.shape) + ")");
        const int64_t M = ta ? A.shape[1] : A.shape[0], K = ta ? A.shape[0] : A.shape[1];
        const int64_t Kb = tb ? B.shape[1] : B.shape[0], N = tb ? B.shape[0] : B.shape[1];
        if (K != Kb)
            fail("inner dimensions differ (A " + shapeString(A.shape) + ", B " +
                 shapeString(B.shape) + ")");
        prepare(out[0], Value::Type::Float, {M, N});
        float* Y = out[0].f.data();
        bool acc = false;
        if (C && beta != 0.0f) {
            if (C->type != Value::Type::Float)
                fail("C must be float");
            const auto so = broadcastShapes(C->shape, {M, N});
            if (so != std::vector<int64_t>{M, N})
                fail("C " + shapeString(C->shape) + " does not broadcast to [" +
                     std::to_string(M) + ", " + std::to_string(N) + "]");
            const auto st = broadcastStrides(C->shape, so);
            for (int64_t i = 0; i < M; ++i)
                for (int64_t j = 0; j < N; ++j)
                    Y[i * N + j] = beta * C->f[static_cast<size_t>(i * st[0] + j * st[1])];
            acc = true;
        }
        if (K == 0) {
            if (!acc)
                std::fill(out[0].f.begin(), out[0].f.end(), 0.0f);
            return;
        }
        gemm(ta, tb, M, N, K, alpha, A.f.data(), B.f.data(), acc, Y);
    };
    return c.onednn ? makeDnnlGemm(alpha, beta, ta, tb, c.deploy, std::move(plain)) : plain;
}

// --- MatMul ---

Kernel makeMatMul(PlanContext& c)
{
    Kernel plain = [](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value& A = needFloat(in, 0, "A");
        const Value& B = needFloat(in, 1, "B");
        if (A.shape.empty() || B.shape.empty())
            fail("MatMul inputs must not be scalars");
        std::vector<int64_t> sa = A.shape, sb = B.shape;
        const bool vecA = sa.size() == 1, vecB = sb.size() == 1;
        if (vecA)
            sa.insert(sa.begin(), 1);
        if (vecB)
            sb.push_back(1);
        const int64_t M = sa[sa.size() - 2], K = sa.back(), N = sb.back();
        if (sb[sb.size() - 2] != K)
            fail("inner dimensions differ (A " + shapeString(A.shape) + ", B " +
                 shapeString(B.shape) + ")");
        const std::vector<int64_t> ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
        const auto batch = broadcastShapes(ba, bb);
        std::vector<int64_t> oshape = batch;
        if (!vecA)
            oshape.push_back(M);
        if (!vecB)
            oshape.push_back(N);
        prepare(out[0], Value::Type::Float, oshape);
        float* Y = out[0].f.data();
        const int64_t nb = numel(batch);
        if (nb == 0 || M == 0 || N == 0)
            return;
        if (K == 0) {
            std::fill(out[0].f.begin(), out[0].f.end(), 0.0f);
            return;
        }
        // B shared by every batch and A contiguous: one GEMM over all rows.
        if (numel(bb) == 1 && numel(ba) == nb) {
            gemm(false, false, nb * M, N, K, 1.0f, A.f.data(), B.f.data(), false, Y);
            return;
        }
        const auto stA = broadcastStrides(ba, batch), stB = broadcastStrides(bb, batch);
        const auto offset = [&](int64_t b, const std::vector<int64_t>& st) {
            int64_t rem = b, off = 0;
            for (size_t d = batch.size(); d-- > 0;) {
                off += (rem % batch[d]) * st[d];
                rem /= batch[d];
            }
            return off;
        };
        const bool par = nb > 1 && omp_get_max_threads() > 1 && !omp_in_parallel();
#pragma omp parallel for if (par) schedule(dynamic, 1)
        for (int64_t b = 0; b < nb; ++b)
            gemm(false, false, M, N, K, 1.0f, A.f.data() + offset(b, stA) * M * K,
                 B.f.data() + offset(b, stB) * K * N, false, Y + b * M * N);
    };
    return c.onednn ? makeDnnlMatMul(c.deploy, std::move(plain)) : plain;
}

} // namespace

Kernel makeFusedConv(PlanContext& c, const ConvEpilogue& e)
{
    return makeConv(c, e);
}

void addNnOps(Registry& r)
{
    r["Conv"] = [](PlanContext& c) { return makeConv(c, {}); };
    r["Gemm"] = makeGemm;
    r["MatMul"] = makeMatMul;
}

} // namespace bonsai::exec
