// Backward passes of Conv (im2col / col2im + Eigen GEMM, OpenMP across the batch), Gemm,
// MatMul and broadcast sums.
#include "train/grad.h"

#include "bonsai/error.h"
#include "bonsai/shape.h"

#include "common/eigen.h"

#include <omp.h>

#include <algorithm>

namespace bonsai::grad {
namespace {


// The adjoint of im2col: adds each column entry back to the input element it came from.
void col2im(const float* src, int64_t Cg, const Window& g, float* dxin)
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
                                src += g.out[2];
                                continue;
                            }
                            float* row = dxin + ((ci * g.in[0] + iz) * g.in[1] + iy) * g.in[2];
                            const int64_t x0 = kx * g.d[2] - g.pb[2];
                            for (int64_t ox = 0; ox < g.out[2]; ++ox, ++src) {
                                const int64_t ix = ox * g.s[2] + x0;
                                if (ix >= 0 && ix < g.in[2])
                                    row[ix] += *src;
                            }
                        }
                    }
}

int threadsFor(int64_t work)
{
    if (omp_in_parallel() || work < 2)
        return 1;
    return static_cast<int>(std::min<int64_t>(omp_get_max_threads(), work));
}

} // namespace

void convBackward(const ConvShape& s, const float* x, const float* w, const float* dy, float* dx,
                  float* dw, float* db)
{
    const Window& g = s.win;
    const int64_t N = s.N, C = s.C, M = s.M, G = s.G;
    const int64_t Cg = C / G, Mg = M / G, inSp = g.inSize(), P = g.outSize();
    const int64_t Kg = Cg * g.k[0] * g.k[1] * g.k[2];
    if (N == 0 || P == 0 || M == 0)
        return;
    const bool pointwise = g.k[0] * g.k[1] * g.k[2] == 1 && g.s[0] * g.s[1] * g.s[2] == 1 &&
                           g.pb[0] == 0 && g.pb[1] == 0 && g.pb[2] == 0 && P == inSp;
    const int T = threadsFor(N);
    // Per-thread weight and bias gradients, summed in thread order afterwards.
    std::vector<std::vector<float>> tdw(static_cast<size_t>(dw ? T : 0)), tdb(static_cast<size_t>(db ? T : 0));
#pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num();
        std::vector<float> col, dcol;
        float* mydw = nullptr;
        double* mydb = nullptr;
        std::vector<double> dbacc;
        if (dw) {
            tdw[static_cast<size_t>(t)].assign(static_cast<size_t>(M * Kg), 0.0f);
            mydw = tdw[static_cast<size_t>(t)].data();
        }
        if (db) {
            dbacc.assign(static_cast<size_t>(M), 0.0);
            mydb = dbacc.data();
        }
#pragma omp for schedule(static)
        for (int64_t n = 0; n < N; ++n)
            for (int64_t gi = 0; gi < G; ++gi) {
                const float* xin = x + (n * C + gi * Cg) * inSp;
                const float* dyg = dy + (n * M + gi * Mg) * P;
                const ConstRowMap dY(dyg, Mg, P);
                if (mydw) {
                    const float* cols = xin;
                    if (!pointwise) {
                        col.resize(static_cast<size_t>(Kg * P));
                        im2col(xin, Cg, g, col.data());
                        cols = col.data();
                    }
                    RowMap(mydw + gi * Mg * Kg, Mg, Kg).noalias() += dY * ConstRowMap(cols, Kg, P).transpose();
                }
                if (mydb)
                    for (int64_t m = 0; m < Mg; ++m) {
                        double acc = 0;
                        for (int64_t p = 0; p < P; ++p)
                            acc += dyg[m * P + p];
                        mydb[gi * Mg + m] += acc;
                    }
                if (dx) {
                    float* dxg = dx + (n * C + gi * Cg) * inSp;
                    const ConstRowMap wg(w + gi * Mg * Kg, Mg, Kg);
                    if (pointwise) {
                        RowMap(dxg, Kg, P).noalias() += wg.transpose() * dY;
                    } else {
                        dcol.resize(static_cast<size_t>(Kg * P));
                        RowMap(dcol.data(), Kg, P).noalias() = wg.transpose() * dY;
                        col2im(dcol.data(), Cg, g, dxg);
                    }
                }
            }
        if (db) {
            tdb[static_cast<size_t>(t)].resize(static_cast<size_t>(M));
            for (int64_t m = 0; m < M; ++m)
                tdb[static_cast<size_t>(t)][static_cast<size_t>(m)] = static_cast<float>(dbacc[static_cast<size_t>(m)]);
        }
    }
    for (int t = 0; t < T; ++t) {
        if (dw)
            for (int64_t k = 0; k < M * Kg; ++k)
                dw[k] += tdw[static_cast<size_t>(t)][static_cast<size_t>(k)];
        if (db)
            for (int64_t m = 0; m < M; ++m)
                db[m] += tdb[static_cast<size_t>(t)][static_cast<size_t>(m)];
    }
}

void gemmBackward(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                  const float* a, const float* b, const float* dy, float* da, float* db,
                  const std::vector<int64_t>& cShape, float* dc)
{
    const ConstRowMap dY(dy, M, N);
    if (da && K > 0) {
        // d op(A) = alpha * dY * op(B)^T  [M, K]
        if (!ta) {
            RowMap dA(da, M, K);
            if (!tb)
                dA.noalias() += alpha * dY * ConstRowMap(b, K, N).transpose();
            else
                dA.noalias() += alpha * dY * ConstRowMap(b, N, K);
        } else {
            RowMap dA(da, K, M);
            if (!tb)
                dA.noalias() += alpha * ConstRowMap(b, K, N) * dY.transpose();
            else
                dA.noalias() += alpha * ConstRowMap(b, N, K).transpose() * dY.transpose();
        }
    }
    if (db && K > 0) {
        // d op(B) = alpha * op(A)^T * dY  [K, N]
        if (!tb) {
            RowMap dB(db, K, N);
            if (!ta)
                dB.noalias() += alpha * ConstRowMap(a, M, K).transpose() * dY;
            else
                dB.noalias() += alpha * ConstRowMap(a, K, M) * dY;
        } else {
            RowMap dB(db, N, K);
            if (!ta)
                dB.noalias() += alpha * dY.transpose() * ConstRowMap(a, M, K);
            else
                dB.noalias() += alpha * dY.transpose() * ConstRowMap(a, K, M).transpose();
        }
    }
    if (dc) {
        if (beta == 1.0f) {
            unbroadcastAdd({M, N}, dy, cShape, dc);
        } else {
            std::vector<float> scaled(dy, dy + M * N);
            for (auto& v : scaled)
                v *= beta;
            unbroadcastAdd({M, N}, scaled.data(), cShape, dc);
        }
    }
}

void matmulBackward(const std::vector<int64_t>& aShape, const std::vector<int64_t>& bShape,
                    const float* a, const float* b, const float* dy, float* da, float* db)
{
    if (aShape.size() < 2 || bShape.size() < 2)
        throw Error("MatMul backward needs inputs of rank >= 2");
    const int64_t M = aShape[aShape.size() - 2], K = aShape.back(), N = bShape.back();
    int64_t nbA = 1, nbB = 1;
    for (size_t k = 0; k + 2 < aShape.size(); ++k)
        nbA *= aShape[k];
    for (size_t k = 0; k + 2 < bShape.size(); ++k)
        nbB *= bShape[k];
    if (bShape.size() == 2) {
        // One shared B: a single GEMM over all rows of A.
        const ConstRowMap dY(dy, nbA * M, N);
        if (da)
            RowMap(da, nbA * M, K).noalias() += dY * ConstRowMap(b, K, N).transpose();
        if (db)
            RowMap(db, K, N).noalias() += ConstRowMap(a, nbA * M, K).transpose() * dY;
        return;
    }
    if (aShape.size() != bShape.size() ||
        !std::equal(aShape.begin(), aShape.end() - 2, bShape.begin()) || nbA != nbB)
        throw Error("MatMul backward supports equal batch dims or a 2-D B only");
    for (int64_t i = 0; i < nbA; ++i) {
        const ConstRowMap dY(dy + i * M * N, M, N);
        if (da)
            RowMap(da + i * M * K, M, K).noalias() += dY * ConstRowMap(b + i * K * N, K, N).transpose();
        if (db)
            RowMap(db + i * K * N, K, N).noalias() += ConstRowMap(a + i * M * K, M, K).transpose() * dY;
    }
}

void unbroadcastAdd(const std::vector<int64_t>& yShape, const float* dy,
                    const std::vector<int64_t>& xShape, float* dx)
{
    const int64_t n = numel(yShape);
    if (xShape == yShape) {
        for (int64_t k = 0; k < n; ++k)
            dx[k] += dy[k];
        return;
    }
    const size_t r = yShape.size();
    if (xShape.size() > r)
        throw Error("a broadcast input has a higher rank than the output");
    // Stride of x along each output axis (0 where x is broadcast).
    std::vector<int64_t> st(r, 0);
    int64_t stride = 1;
    for (size_t k = 0; k < xShape.size(); ++k) {
        const size_t xi = xShape.size() - 1 - k, yi = r - 1 - k;
        if (xShape[xi] != 1 && xShape[xi] != yShape[yi])
            throw Error("shapes do not broadcast");
        st[yi] = xShape[xi] == 1 ? 0 : stride;
        stride *= xShape[xi];
    }
    std::vector<int64_t> idx(r, 0);
    int64_t off = 0;
    for (int64_t k = 0; k < n; ++k) {
        dx[off] += dy[k];
        for (size_t ax = r; ax-- > 0;) {
            off += st[ax];
            if (++idx[ax] < yShape[ax])
                break;
            off -= st[ax] * yShape[ax];
            idx[ax] = 0;
        }
    }
}

} // namespace bonsai::grad
