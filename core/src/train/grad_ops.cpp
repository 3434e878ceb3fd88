// Backward passes of Relu, pooling, BatchNormalization (training mode) and the softmax
// cross-entropy loss (with optional soft targets).
#include "train/grad.h"
#include "common/parallel.h"

#include "bonsai/error.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace bonsai::grad {

void reluBackward(int64_t n, const float* x, const float* dy, float* dx)
{
#pragma omp parallel for if (n > kParallelLight) schedule(static)
    for (int64_t k = 0; k < n; ++k)
        if (x[k] > 0.0f)
            dx[k] += dy[k];
}

void maxPoolBackward(int64_t planes, const Window& w, const float* x, const float* dy, float* dx)
{
    const int64_t inSp = w.inSize(), outSp = w.outSize();
    if (w.in[0] == 1 && w.k[0] == 1 && w.d[1] == 1 && w.d[2] == 1 && w.pb[1] == 0 && w.pb[2] == 0 &&
        (w.out[1] - 1) * w.s[1] + w.k[1] <= w.in[1] && (w.out[2] - 1) * w.s[2] + w.k[2] <= w.in[2]) {
        // 2-D windows entirely inside the input.
        const int64_t W = w.in[2];
#pragma omp parallel for if (planes * outSp > kParallelWindows) schedule(static)
        for (int64_t p = 0; p < planes; ++p) {
            const float* src = x + p * inSp;
            const float* g = dy + p * outSp;
            float* dst = dx + p * inSp;
            for (int64_t oy = 0; oy < w.out[1]; ++oy)
                for (int64_t ox = 0; ox < w.out[2]; ++ox) {
                    const int64_t base = oy * w.s[1] * W + ox * w.s[2];
                    int64_t at = base;
                    float best = src[base];
                    for (int64_t ky = 0; ky < w.k[1]; ++ky)
                        for (int64_t kx = 0; kx < w.k[2]; ++kx) {
                            const int64_t off = base + ky * W + kx;
                            if (src[off] > best) {
                                best = src[off];
                                at = off;
                            }
                        }
                    dst[at] += g[oy * w.out[2] + ox];
                }
        }
        return;
    }
#pragma omp parallel for if (planes * outSp > kParallelWindows) schedule(static)
    for (int64_t p = 0; p < planes; ++p) {
        const float* src = x + p * inSp;
        const float* g = dy + p * outSp;
        float* dst = dx + p * inSp;
        for (int64_t oz = 0; oz < w.out[0]; ++oz)
            for (int64_t oy = 0; oy < w.out[1]; ++oy)
                for (int64_t ox = 0; ox < w.out[2]; ++ox) {
                    const int64_t z0 = oz * w.s[0] - w.pb[0], y0 = oy * w.s[1] - w.pb[1],
                                  x0 = ox * w.s[2] - w.pb[2];
                    float best = -std::numeric_limits<float>::infinity();
                    int64_t at = -1;
                    for (int64_t kz = 0; kz < w.k[0]; ++kz) {
                        const int64_t iz = z0 + kz * w.d[0];
                        if (iz < 0 || iz >= w.in[0])
                            continue;
                        for (int64_t ky = 0; ky < w.k[1]; ++ky) {
                            const int64_t iy = y0 + ky * w.d[1];
                            if (iy < 0 || iy >= w.in[1])
                                continue;
                            for (int64_t kx = 0; kx < w.k[2]; ++kx) {
                                const int64_t ix = x0 + kx * w.d[2];
                                if (ix < 0 || ix >= w.in[2])
                                    continue;
                                const int64_t off = (iz * w.in[1] + iy) * w.in[2] + ix;
                                if (at < 0 || src[off] > best) {
                                    best = src[off];
                                    at = off;
                                }
                            }
                        }
                    }
                    if (at >= 0)
                        dst[at] += g[(oz * w.out[1] + oy) * w.out[2] + ox];
                }
    }
}

void avgPoolBackward(int64_t planes, const Window& w, bool countIncludePad, const float* dy, float* dx)
{
    const int64_t inSp = w.inSize(), outSp = w.outSize();
#pragma omp parallel for if (planes * outSp > kParallelWindows) schedule(static)
    for (int64_t p = 0; p < planes; ++p) {
        const float* g = dy + p * outSp;
        float* dst = dx + p * inSp;
        for (int64_t oz = 0; oz < w.out[0]; ++oz)
            for (int64_t oy = 0; oy < w.out[1]; ++oy)
                for (int64_t ox = 0; ox < w.out[2]; ++ox) {
                    const int64_t st[3] = {oz * w.s[0] - w.pb[0], oy * w.s[1] - w.pb[1],
                                           ox * w.s[2] - w.pb[2]};
                    // The forward divisor: valid elements, or the window clipped to the
                    // padded extent.
                    int64_t lo[3], hi[3], cnt = 1, div = 1;
                    for (int q = 0; q < 3; ++q) {
                        lo[q] = std::max<int64_t>(st[q], 0);
                        hi[q] = std::min(st[q] + w.k[q], w.in[q]);
                        cnt *= std::max<int64_t>(0, hi[q] - lo[q]);
                        div *= std::max<int64_t>(0, std::min(st[q] + w.k[q], w.in[q] + w.pe[q]) -
                                                        std::max(st[q], -w.pb[q]));
                    }
                    if (!countIncludePad)
                        div = cnt;
                    if (div <= 0 || cnt <= 0)
                        continue;
                    const float v = g[(oz * w.out[1] + oy) * w.out[2] + ox] / static_cast<float>(div);
                    for (int64_t iz = lo[0]; iz < hi[0]; ++iz)
                        for (int64_t iy = lo[1]; iy < hi[1]; ++iy)
                            for (int64_t ix = lo[2]; ix < hi[2]; ++ix)
                                dst[(iz * w.in[1] + iy) * w.in[2] + ix] += v;
                }
    }
}

void globalAvgPoolBackward(int64_t planes, int64_t spatial, const float* dy, float* dx)
{
    if (spatial <= 0)
        return;
    const float inv = 1.0f / static_cast<float>(spatial);
#pragma omp parallel for if (planes * spatial > kParallelLight) schedule(static)
    for (int64_t p = 0; p < planes; ++p) {
        const float v = dy[p] * inv;
        float* dst = dx + p * spatial;
        for (int64_t k = 0; k < spatial; ++k)
            dst[k] += v;
    }
}

void batchNormTrainForward(int64_t N, int64_t C, int64_t spatial, float eps, float momentum,
                           const float* x, const float* scale, const float* bias, float* y,
                           float* mean, float* invStd, float* runningMean, float* runningVar)
{
    const int64_t count = N * spatial;
    if (count == 0)
        throw Error("BatchNormalization in training mode needs at least one value per channel");
#pragma omp parallel for if (N * C * spatial > kParallelMin) schedule(static)
    for (int64_t c = 0; c < C; ++c) {
        double sum = 0;
        for (int64_t n = 0; n < N; ++n) {
            const float* src = x + (n * C + c) * spatial;
            for (int64_t k = 0; k < spatial; ++k)
                sum += src[k];
        }
        const double mu = sum / static_cast<double>(count);
        double sq = 0;
        for (int64_t n = 0; n < N; ++n) {
            const float* src = x + (n * C + c) * spatial;
            for (int64_t k = 0; k < spatial; ++k) {
                const double d = src[k] - mu;
                sq += d * d;
            }
        }
        const double var = sq / static_cast<double>(count);
        const float is = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
        const float m = static_cast<float>(mu);
        mean[c] = m;
        invStd[c] = is;
        const float mul = scale[c] * is, add = bias[c] - m * mul;
        for (int64_t n = 0; n < N; ++n) {
            const float* src = x + (n * C + c) * spatial;
            float* dst = y + (n * C + c) * spatial;
            for (int64_t k = 0; k < spatial; ++k)
                dst[k] = src[k] * mul + add;
        }
        if (runningMean)
            runningMean[c] = runningMean[c] * momentum + m * (1.0f - momentum);
        if (runningVar)
            runningVar[c] = runningVar[c] * momentum + static_cast<float>(var) * (1.0f - momentum);
    }
}

void batchNormTrainBackward(int64_t N, int64_t C, int64_t spatial, const float* x,
                            const float* scale, const float* mean, const float* invStd,
                            const float* dy, float* dx, float* dscale, float* dbias)
{
    const int64_t count = N * spatial;
    if (count == 0)
        return;
#pragma omp parallel for if (N * C * spatial > kParallelMin) schedule(static)
    for (int64_t c = 0; c < C; ++c) {
        const float m = mean[c], is = invStd[c];
        double sdy = 0, sdyx = 0;
        for (int64_t n = 0; n < N; ++n) {
            const float* src = x + (n * C + c) * spatial;
            const float* g = dy + (n * C + c) * spatial;
            for (int64_t k = 0; k < spatial; ++k) {
                sdy += g[k];
                sdyx += static_cast<double>(g[k]) * ((src[k] - m) * is);
            }
        }
        if (dbias)
            dbias[c] += static_cast<float>(sdy);
        if (dscale)
            dscale[c] += static_cast<float>(sdyx);
        if (!dx)
            continue;
        // dx = scale * invStd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat))
        const float k1 = scale[c] * is;
        const float mdy = static_cast<float>(sdy / static_cast<double>(count));
        const float mdyx = static_cast<float>(sdyx / static_cast<double>(count));
        for (int64_t n = 0; n < N; ++n) {
            const float* src = x + (n * C + c) * spatial;
            const float* g = dy + (n * C + c) * spatial;
            float* dst = dx + (n * C + c) * spatial;
            for (int64_t k = 0; k < spatial; ++k) {
                const float xh = (src[k] - m) * is;
                dst[k] += k1 * (g[k] - mdy - xh * mdyx);
            }
        }
    }
}

double softmaxCrossEntropy(int64_t N, int64_t K, const float* z, const int64_t* labels, float* dz,
                           const float* teacher, double alpha, double temperature)
{
    if (N <= 0 || K <= 0)
        return 0.0;
    if (!teacher)
        alpha = 0.0;
    if (temperature <= 0)
        throw Error("the distillation temperature must be positive");
    double total = 0;
    std::vector<double> p(static_cast<size_t>(K)), ps(static_cast<size_t>(K)), pt(static_cast<size_t>(K));
    const double invN = 1.0 / static_cast<double>(N);
    // Softmax of v / T in double into out; returns log of the normaliser (with the max).
    const auto softmax = [K](const float* v, double T, std::vector<double>& out) {
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t k = 0; k < K; ++k)
            mx = std::max(mx, static_cast<double>(v[k]) / T);
        double s = 0;
        for (int64_t k = 0; k < K; ++k)
            s += (out[static_cast<size_t>(k)] = std::exp(static_cast<double>(v[k]) / T - mx));
        for (int64_t k = 0; k < K; ++k)
            out[static_cast<size_t>(k)] /= s;
        return mx + std::log(s);
    };
    for (int64_t n = 0; n < N; ++n) {
        const float* zn = z + n * K;
        float* dn = dz + n * K;
        const int64_t y = labels ? labels[n] : -1;
        if (alpha < 1.0 && (y < 0 || y >= K))
            throw Error("label " + std::to_string(y) + " of sample " + std::to_string(n) +
                        " is outside [0, " + std::to_string(K) + ")");
        const double lse = softmax(zn, 1.0, p);
        double loss = 0;
        for (int64_t k = 0; k < K; ++k)
            dn[k] = 0.0f;
        if (alpha < 1.0) {
            loss += (1.0 - alpha) * (lse - static_cast<double>(zn[y]));
            for (int64_t k = 0; k < K; ++k)
                dn[k] = static_cast<float>((1.0 - alpha) * (p[static_cast<size_t>(k)] - (k == y ? 1.0 : 0.0)) * invN);
        }
        if (alpha > 0.0) {
            const double T = temperature;
            const double lses = softmax(zn, T, ps);
            const double lset = softmax(teacher + n * K, T, pt);
            double kl = 0;
            for (int64_t k = 0; k < K; ++k) {
                const auto u = static_cast<size_t>(k);
                if (pt[u] > 0)
                    kl += pt[u] * ((teacher[n * K + k] / T - lset) - (zn[k] / T - lses));
                dn[k] += static_cast<float>(alpha * T * (ps[u] - pt[u]) * invN);
            }
            loss += alpha * T * T * kl;
        }
        total += loss;
    }
    return total * invN;
}

} // namespace bonsai::grad
