// GPTQ (Frantar et al., "GPTQ: Accurate Post-Training Quantization for Generative
// Pre-trained Transformers", 2022), following the reference implementation's
// GPTQ.fasterquant: Cholesky factor of the inverse Hessian, columns in blocks with the
// updates inside a block applied eagerly and the rest of the matrix updated once per block
// (one GEMM), error compensation err = (w - q) / [H^-1]_ii.
//
// The quantization grid is fakeQuantInt's (quant_int_impl.h): the same range rule, FP16
// scales, rounding and clamping, so the codes fit exactly the storage fakeQuantInt counts.
//  - per tensor / per channel: scales from the original weights;
//  - groups: a group's scales are computed from the current (already compensated) weights
//    when the column loop enters the group, as the reference does. Blocks are aligned to
//    groups (a block is a whole number of groups, or one group when groups are wider than a
//    block), so every column of a group has received all earlier updates at that moment;
//  - groups with act-order ("static groups"): scales of every group computed up front from the
//    original weights, so groups remain the contiguous column ranges fakeQuantInt stores.
#include "compress/gptq.h"

#include "bonsai/error.h"
#include "quant/quant_int_impl.h"

#include "common/eigen.h"

#include <Eigen/Cholesky>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace bonsai {

// ---------- Hessian ----------

HessianAccumulator::HessianAccumulator(int64_t cols) : cols_(cols)
{
    if (cols < 0)
        throw Error("Hessian: negative input width");
    sum_ = Eigen::MatrixXd::Zero(cols, cols);
}

void HessianAccumulator::add(const float* x, int64_t n)
{
    if (n <= 0 || cols_ == 0)
        return;
    constexpr int64_t kChunk = 1024; // bounded double copy of the rows
    for (int64_t b = 0; b < n; b += kChunk) {
        const int64_t len = std::min(kChunk, n - b);
        const Eigen::Map<const RowMat> xf(x + b * cols_, len, cols_);
        const Eigen::MatrixXd xd = xf.cast<double>();
        sum_.selfadjointView<Eigen::Lower>().rankUpdate(xd.transpose());
    }
    n_ += n;
}

Eigen::MatrixXd HessianAccumulator::hessian() const
{
    if (n_ == 0)
        return Eigen::MatrixXd::Zero(cols_, cols_);
    Eigen::MatrixXd h = sum_.selfadjointView<Eigen::Lower>();
    h *= 2.0 / static_cast<double>(n_);
    return h;
}

// ---------- GPTQ ----------

namespace {

// sum over rows of e^T H e / 2 for e = a - b (rows x cols, row-major).
double proxyError(const RowMat& a, const RowMat& b, const Eigen::MatrixXf& h)
{
    const RowMat e = a - b;
    const RowMat eh = e * h;
    return 0.5 * eh.cwiseProduct(e).cast<double>().sum();
}

} // namespace

GptqStats gptqQuantize(float* w, int64_t rows, int64_t cols, const Eigen::MatrixXd& hessian,
                       const IntQuantConfig& config, const GptqOptions& options)
{
    intq::checkIntConfig(config);
    if (rows < 0 || cols < 0)
        throw Error("gptq: negative matrix size");
    if (hessian.rows() != cols || hessian.cols() != cols)
        throw Error("gptq: the Hessian is " + std::to_string(hessian.rows()) + " x " + std::to_string(hessian.cols()) +
                    " but the layer has " + std::to_string(cols) + " inputs");
    GptqStats st;
    if (rows == 0 || cols == 0)
        return st;

    IntQuantConfig cfg = config;
    cfg.clipSearch = false;
    const float qmax = intq::qmaxOf(cfg), qlo = intq::qloOf(cfg);
    const bool grouped = cfg.granularity == Granularity::Group;
    const int64_t gs = grouped ? static_cast<int64_t>(cfg.groupSize) : cols;
    const int64_t perRow = grouped ? (cols + gs - 1) / gs : 1;
    const bool staticGroups = grouped && options.actOrder;

    Eigen::Map<RowMat> wmap(w, rows, cols);
    const RowMat original = wmap;

    // Round to nearest, for the stats.
    RowMat rtn(rows, cols);
    fakeQuantInt(original.data(), static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), cfg, rtn.data());

    // Column order: act-order processes columns in decreasing diag(H) order.
    std::vector<int64_t> perm(static_cast<size_t>(cols));
    std::iota(perm.begin(), perm.end(), int64_t{0});
    if (options.actOrder)
        std::stable_sort(perm.begin(), perm.end(),
                         [&](int64_t a, int64_t b) { return hessian(a, a) > hessian(b, b); });

    // Damped Hessian in processing order; dead inputs (H_ii = 0) get H_ii = 1 so that the
    // factorisation exists: their columns neither receive nor pass on compensation (their row
    // and column of H are zero) and are simply rounded.
    Eigen::MatrixXd h(cols, cols);
    for (int64_t j = 0; j < cols; ++j)
        for (int64_t i = 0; i < cols; ++i)
            h(i, j) = hessian(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
    for (int64_t i = 0; i < cols; ++i)
        if (h(i, i) == 0)
            h(i, i) = 1;
    const double meanDiag = hessian.diagonal().mean();
    double lambda = options.damping * meanDiag;
    if (!(lambda >= 0) || !std::isfinite(lambda))
        lambda = 0;

    // Upper Cholesky factor U of (H + lambda I)^-1 (so H^-1 = U^T U): row i of U holds the
    // compensation coefficients of column i on the columns after it, U_ii its scale.
    RowMat u;
    bool ok = false;
    for (int attempt = 0; attempt < 16 && !ok; ++attempt) {
        Eigen::MatrixXd a = h;
        a.diagonal().array() += lambda;
        Eigen::LLT<Eigen::MatrixXd> llt(a);
        // A pivot that is tiny next to the largest means a numerically singular matrix (its
        // inverse would be noise): treated like a failed factorisation.
        const auto pivots = llt.matrixLLT().diagonal().array().square();
        if (llt.info() == Eigen::Success && pivots.minCoeff() > 1e-12 * pivots.maxCoeff()) {
            Eigen::MatrixXd inv = llt.solve(Eigen::MatrixXd::Identity(cols, cols));
            inv = 0.5 * (inv + inv.transpose());
            Eigen::LLT<Eigen::MatrixXd> l2(inv);
            if (l2.info() == Eigen::Success) {
                const Eigen::MatrixXd up = l2.matrixU();
                ok = up.allFinite() && (up.diagonal().array() > 0).all();
                if (ok)
                    u = up.cast<float>();
            }
        }
        if (!ok) {
            const double base = meanDiag > 0 ? meanDiag : 1.0;
            lambda = lambda > 0 ? lambda * 10 : 1e-6 * base;
            ++st.dampingRaises;
        }
    }
    if (!ok)
        throw Error("gptq: the Hessian is not positive definite even with damping " + std::to_string(lambda));
    st.damping = lambda;

    // Working copy in processing order.
    RowMat wp(rows, cols);
    for (int64_t j = 0; j < cols; ++j)
        wp.col(j) = original.col(perm[static_cast<size_t>(j)]);

    // Scales fixed up front: per tensor, per channel, static groups.
    const int64_t groupCount = static_cast<int64_t>(intGroupCount(static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), cfg));
    std::vector<intq::Params> params(static_cast<size_t>(groupCount));
    if (cfg.granularity == Granularity::PerTensor) {
        params[0] = intq::paramsFor(intq::rangeOf(original.data(), static_cast<uint64_t>(rows * cols)), 1.0f, cfg.symmetric, qmax);
    } else if (cfg.granularity == Granularity::PerChannel) {
        for (int64_t r = 0; r < rows; ++r)
            params[static_cast<size_t>(r)] = intq::paramsFor(intq::rangeOf(original.data() + r * cols, static_cast<uint64_t>(cols)),
                                                              1.0f, cfg.symmetric, qmax);
    } else if (staticGroups) {
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t g = 0; g < perRow; ++g) {
                const int64_t len = std::min(gs, cols - g * gs);
                params[static_cast<size_t>(r * perRow + g)] = intq::paramsFor(
                    intq::rangeOf(original.data() + r * cols + g * gs, static_cast<uint64_t>(len)), 1.0f, cfg.symmetric, qmax);
            }
    }

    // Block width: with dynamic groups a whole number of groups, so that a group never spans
    // a lazy (not yet applied) update.
    int64_t bw = std::max<int64_t>(1, options.blockSize);
    if (grouped && !staticGroups)
        bw = gs >= bw ? gs : (bw / gs) * gs;
    bw = std::min(bw, cols);

    RowMat err(rows, bw);
    for (int64_t i1 = 0; i1 < cols; i1 += bw) {
        const int64_t i2 = std::min(i1 + bw, cols), count = i2 - i1;
        // Rows are independent inside a block.
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; ++r) {
            float* wr = wp.data() + r * cols;
            float* er = err.data() + r * bw;
            intq::Params cur;
            for (int64_t i = 0; i < count; ++i) {
                const int64_t j = i1 + i;
                if (cfg.granularity == Granularity::PerTensor) {
                    cur = params[0];
                } else if (cfg.granularity == Granularity::PerChannel) {
                    cur = params[static_cast<size_t>(r)];
                } else if (staticGroups) {
                    cur = params[static_cast<size_t>(r * perRow + perm[static_cast<size_t>(j)] / gs)];
                } else if (j % gs == 0) {
                    const int64_t len = std::min(gs, cols - j);
                    cur = intq::paramsFor(intq::rangeOf(wr + j, static_cast<uint64_t>(len)), 1.0f, cfg.symmetric, qmax);
                    params[static_cast<size_t>(r * perRow + j / gs)] = cur;
                }
                const float x = wr[j];
                const float q = intq::quantValue(x, cur, qlo, qmax);
                const float* ur = u.data() + j * cols;
                const float e = (x - q) / ur[j];
                wr[j] = q;
                er[i] = e;
                for (int64_t k = j + 1; k < i2; ++k)
                    wr[k] -= e * ur[k];
            }
        }
        if (i2 < cols)
            wp.rightCols(cols - i2).noalias() -= err.leftCols(count) * u.block(i1, i2, count, cols - i2);
    }

    for (int64_t j = 0; j < cols; ++j)
        wmap.col(perm[static_cast<size_t>(j)]) = wp.col(j);

    st.scales.resize(params.size());
    st.zeros.resize(params.size());
    for (size_t k = 0; k < params.size(); ++k) {
        st.scales[k] = params[k].scale;
        st.zeros[k] = params[k].zero;
    }
    const Eigen::MatrixXf hf = hessian.cast<float>();
    const RowMat q = wmap;
    st.error = proxyError(original, q, hf);
    st.rtnError = proxyError(original, rtn, hf);
    return st;
}

} // namespace bonsai
