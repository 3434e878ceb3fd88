// Truncated SVD (exact BDCSVD or randomized range finder), spectrum, energy curve and the
// storage trade-off of a rank. See lowrank.h for the formulas.
#include "bonsai/lowrank.h"

#include "bonsai/error.h"

#include "common/eigen.h"

#include <Eigen/Dense>
#include <Eigen/SVD>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace bonsai {

namespace {

using Mat = Eigen::MatrixXf;

__extension__ typedef unsigned __int128 u128;

// splitmix64: a tiny, well-mixed, fully specified generator, so the Gaussian test matrix is the
// same on every platform and standard library (std::normal_distribution is not).
struct SplitMix64 {
    uint64_t state;
    uint64_t next()
    {
        uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    // Uniform in (0, 1]: 53 random bits.
    double uniform() { return (static_cast<double>(next() >> 11) + 1.0) * 0x1.0p-53; }
};

// rows x cols standard Gaussian matrix (Box-Muller, both outputs used), column-major order.
Mat gaussianMatrix(Eigen::Index rows, Eigen::Index cols, uint64_t seed)
{
    Mat m(rows, cols);
    SplitMix64 rng{seed};
    float* p = m.data();
    const Eigen::Index n = rows * cols;
    constexpr double kTwoPi = 6.283185307179586476925;
    for (Eigen::Index i = 0; i < n; i += 2) {
        const double r = std::sqrt(-2.0 * std::log(rng.uniform()));
        const double t = kTwoPi * rng.uniform();
        p[i] = static_cast<float>(r * std::cos(t));
        if (i + 1 < n)
            p[i + 1] = static_cast<float>(r * std::sin(t));
    }
    return m;
}

// Replaces y (m x l, m >= l) by the thin Q factor of its Householder QR (orthonormal columns
// spanning the same space).
void orthonormalize(Mat& y)
{
    Eigen::HouseholderQR<Mat> qr(y);
    y = qr.householderQ() * Mat::Identity(y.rows(), y.cols());
}

// The first r singular triplets of some SVD, ready to be written as factors.
struct Svd {
    Mat p;                 // rows x k (k >= r), left singular vectors
    Mat q;                 // cols x k, right singular vectors
    Eigen::VectorXf s;     // k values, descending
};

Svd exactSvd(const float* w, uint64_t rows, uint64_t cols)
{
    const Mat a = ConstRowMap(w, static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
    Eigen::BDCSVD<Mat> svd(a, Eigen::ComputeThinU | Eigen::ComputeThinV);
    return {svd.matrixU(), svd.matrixV(), svd.singularValues()};
}

// Randomized SVD with l = min(rank + p, min(rows, cols)) columns (HMT algorithms 4.4 + 5.1).
// withVectors = false returns only the values (the small SVD skips its vectors; p, q empty).
Svd randomizedSvd(const float* w, uint64_t rows, uint64_t cols, uint64_t rank, const SvdOptions& opt,
                  bool withVectors)
{
    const ConstRowMap a(w, static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
    const uint64_t minDim = std::min(rows, cols);
    const auto l = static_cast<Eigen::Index>(std::min<uint64_t>(rank + opt.oversampling, minDim));
    Mat y(a.rows(), l);
    y.noalias() = a * gaussianMatrix(a.cols(), l, opt.seed);
    orthonormalize(y);
    Mat z(a.cols(), l);
    for (uint32_t it = 0; it < opt.powerIterations; ++it) {
        z.noalias() = a.transpose() * y;
        orthonormalize(z);
        y.noalias() = a * z;
        orthonormalize(y);
    }
    Mat b(l, a.cols());
    b.noalias() = y.transpose() * a;
    Svd out;
    if (!withVectors) {
        Eigen::BDCSVD<Mat> svd(b);
        out.s = svd.singularValues();
        return out;
    }
    Eigen::BDCSVD<Mat> svd(b, Eigen::ComputeThinU | Eigen::ComputeThinV);
    out.p.noalias() = y * svd.matrixU();
    out.q = svd.matrixV();
    out.s = svd.singularValues();
    return out;
}

// Writes the first `rank` triplets of `svd` into factors.
LowRankFactors makeFactors(const Svd& svd, uint64_t rows, uint64_t cols, uint64_t rank, double total,
                           bool exact, FactorSplit split)
{
    LowRankFactors f;
    f.rows = rows;
    f.cols = cols;
    f.rank = rank;
    f.totalEnergy = total;
    f.exact = exact;
    f.split = split;
    f.u.resize(rows * rank);
    f.v.resize(rank * cols);
    f.singularValues.resize(rank);
    const auto r = static_cast<Eigen::Index>(rank);
    for (Eigen::Index i = 0; i < r; ++i) {
        const double s = std::max(0.0f, svd.s[i]);
        f.singularValues[i] = s;
        f.retainedEnergy += s * s;
    }
    if (rank == 0)
        return f;
    Eigen::VectorXf uScale(r), vScale(r);
    for (Eigen::Index i = 0; i < r; ++i) {
        const float s = static_cast<float>(f.singularValues[i]);
        uScale[i] = split == FactorSplit::FoldIntoU ? s : std::sqrt(s);
        vScale[i] = split == FactorSplit::FoldIntoU ? 1.0f : std::sqrt(s);
    }
    Eigen::Map<RowMat> u(f.u.data(), static_cast<Eigen::Index>(rows), r);
    Eigen::Map<RowMat> v(f.v.data(), r, static_cast<Eigen::Index>(cols));
    u = svd.p.leftCols(r) * uScale.asDiagonal();
    v = vScale.asDiagonal() * svd.q.leftCols(r).transpose();
    return f;
}

std::string withSeparators(uint64_t v)
{
    const std::string d = std::to_string(v);
    std::string s;
    for (size_t i = 0; i < d.size(); ++i) {
        if (i > 0 && (d.size() - i) % 3 == 0)
            s += ',';
        s += d[i];
    }
    return s;
}

} // namespace

bool usesExactSvd(uint64_t rows, uint64_t cols, uint64_t rank, const SvdOptions& opt)
{
    switch (opt.method) {
    case SvdMethod::Exact:
        return true;
    case SvdMethod::Randomized:
        return false;
    case SvdMethod::Auto:
        break;
    }
    const uint64_t minDim = std::min(rows, cols);
    const uint64_t l = std::min<uint64_t>(rank + opt.oversampling, minDim);
    return minDim <= opt.exactMaxDim || 4 * l > minDim;
}

double frobeniusEnergy(const float* w, uint64_t n)
{
    const int64_t sn = static_cast<int64_t>(n);
    double acc = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : acc)
    for (int64_t i = 0; i < sn; ++i)
        acc += static_cast<double>(w[i]) * w[i];
    return acc;
}

LowRankFactors lowRankFactors(const float* w, uint64_t rows, uint64_t cols, uint64_t rank, const SvdOptions& opt)
{
    const uint64_t minDim = std::min(rows, cols);
    if (rank > minDim)
        throw Error("rank " + std::to_string(rank) + " exceeds min(rows, cols) = " + std::to_string(minDim));
    const double total = frobeniusEnergy(w, rows * cols);
    if (rank == 0 || minDim == 0)
        return makeFactors(Svd{}, rows, cols, 0, total, true, opt.split);
    const bool exact = usesExactSvd(rows, cols, rank, opt);
    const Svd svd = exact ? exactSvd(w, rows, cols) : randomizedSvd(w, rows, cols, rank, opt, true);
    return makeFactors(svd, rows, cols, rank, total, exact, opt.split);
}

LowRankFactors lowRankFactorsForEnergy(const float* w, uint64_t rows, uint64_t cols, double energy,
                                       const SvdOptions& opt)
{
    if (!(energy >= 0.0 && energy <= 1.0))
        throw Error("retained energy fraction must be in [0, 1], got " + std::to_string(energy));
    const uint64_t minDim = std::min(rows, cols);
    const double total = frobeniusEnergy(w, rows * cols);
    if (energy == 0.0 || minDim == 0 || total == 0.0)
        return makeFactors(Svd{}, rows, cols, 0, total, true, opt.split);

    auto pick = [&](const Svd& svd, bool complete) {
        std::vector<double> s(static_cast<size_t>(svd.s.size()));
        for (size_t i = 0; i < s.size(); ++i)
            s[i] = std::max(0.0f, svd.s[static_cast<Eigen::Index>(i)]);
        return rankForEnergy(s, total, energy, complete);
    };
    // Randomized targets 32, 64, 128, ... while Auto (or a forced method) keeps the randomized
    // path. A forced randomized run always ends: once l reaches min(rows, cols) the projection
    // is the whole range of W, the values are complete and pick() always answers.
    for (uint64_t target = 32; !usesExactSvd(rows, cols, target, opt); target *= 2) {
        const Svd svd = randomizedSvd(w, rows, cols, target, opt, true);
        const bool complete = static_cast<uint64_t>(svd.s.size()) == minDim;
        // Otherwise only the first `target` estimates are trusted (the oversampled tail is poor).
        Svd head;
        head.s = svd.s.head(static_cast<Eigen::Index>(std::min<uint64_t>(target, svd.s.size())));
        if (const auto r = pick(complete ? svd : head, complete))
            return makeFactors(svd, rows, cols, *r, total, false, opt.split);
    }
    const Svd svd = exactSvd(w, rows, cols);
    return makeFactors(svd, rows, cols, *pick(svd, true), total, true, opt.split);
}

void lowRankApproximation(const LowRankFactors& f, float* out)
{
    const auto rows = static_cast<Eigen::Index>(f.rows), cols = static_cast<Eigen::Index>(f.cols);
    const auto r = static_cast<Eigen::Index>(f.rank);
    Eigen::Map<RowMat> o(out, rows, cols);
    if (r == 0) {
        o.setZero();
        return;
    }
    const Eigen::Map<const RowMat> u(f.u.data(), rows, r), v(f.v.data(), r, cols);
    o.noalias() = u * v;
}

Spectrum singularSpectrum(const float* w, uint64_t rows, uint64_t cols, uint64_t topK, const SvdOptions& opt)
{
    Spectrum sp;
    sp.rows = rows;
    sp.cols = cols;
    sp.totalEnergy = frobeniusEnergy(w, rows * cols);
    const uint64_t minDim = std::min(rows, cols);
    if (minDim == 0)
        return sp;
    const uint64_t k = std::min(topK, minDim);
    Eigen::VectorXf s;
    if (usesExactSvd(rows, cols, k, opt)) {
        const Mat a = ConstRowMap(w, static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
        s = Eigen::BDCSVD<Mat>(a).singularValues();
        sp.complete = true;
    } else {
        s = randomizedSvd(w, rows, cols, k, opt, false).s.head(static_cast<Eigen::Index>(k));
        sp.complete = k == minDim;
    }
    sp.values.resize(static_cast<size_t>(s.size()));
    for (size_t i = 0; i < sp.values.size(); ++i)
        sp.values[i] = std::max(0.0f, s[static_cast<Eigen::Index>(i)]);
    return sp;
}

std::vector<double> energyCurve(std::span<const double> s, double total)
{
    std::vector<double> c(s.size(), 0.0);
    if (total <= 0)
        return c;
    double acc = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        acc += s[i] * s[i];
        c[i] = acc / total;
    }
    return c;
}

std::optional<uint64_t> rankForEnergy(std::span<const double> s, double total, double energy, bool complete)
{
    if (energy <= 0)
        return 0;
    const double target = energy * total;
    double acc = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        acc += s[i] * s[i];
        if (acc >= target)
            return i + 1;
    }
    if (complete)
        return s.size();
    return std::nullopt;
}

FactorShapes factorShapes(uint64_t rows, uint64_t cols, uint64_t rank)
{
    return {rows, rank, rank, cols};
}

bool rankSaves(uint64_t rows, uint64_t cols, uint64_t rank)
{
    return static_cast<u128>(rank) * (static_cast<u128>(rows) + cols) < static_cast<u128>(rows) * cols;
}

uint64_t maxSavingRank(uint64_t rows, uint64_t cols)
{
    const u128 num = static_cast<u128>(rows) * cols, den = static_cast<u128>(rows) + cols;
    if (den == 0)
        return 0;
    const u128 c = (num + den - 1) / den; // ceil
    return c == 0 ? 0 : static_cast<uint64_t>(c - 1);
}

std::string rankSavingText(uint64_t rows, uint64_t cols, uint64_t rank)
{
    const uint64_t dense = rows * cols;
    const uint64_t stored = rank * (rows + cols);
    const uint64_t maxRank = maxSavingRank(rows, cols);
    std::string t = "Rank " + std::to_string(rank) + " stores " + std::to_string(rank) + " x (" +
                    std::to_string(rows) + " + " + std::to_string(cols) + ") = " + withSeparators(stored) +
                    " values instead of " + withSeparators(dense);
    const std::string range = maxRank == 0 ? "no rank saves storage for this shape"
                                           : "ranks up to " + std::to_string(maxRank) + " save storage";
    if (rankSaves(rows, cols, rank)) {
        char pct[32];
        std::snprintf(pct, sizeof pct, "%.1f%%", dense ? 100.0 * static_cast<double>(stored) / dense : 0.0);
        t += " (" + std::string(pct) + " of the dense matrix); " + range + ".";
    } else {
        t += ", which is not smaller than the dense matrix; " +
             (maxRank == 0 ? range : "only " + range) + ".";
    }
    return t;
}

} // namespace bonsai
