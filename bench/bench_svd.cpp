// Rank-64 truncated SVD of a 4096 x 4096 float matrix: the randomized range finder
// (lowRankFactors' randomized path) against the exact path (Eigen's BDCSVD of the whole
// matrix), on 2 threads. Prints both times, the speed-up (target 20x) and the rank-64 error of
// the randomized factors relative to the optimal rank-64 error of the exact SVD (target:
// within 1%).
//
// The matrix has a realistic slowly decaying spectrum: W = P diag(s) Q^T + N with s_i = i^-0.5
// for i = 1..512, P and Q orthonormal 4096 x 512 (thin Q of Householder QRs of Gaussian
// matrices) and N Gaussian noise (sigma = 3e-4, whose singular values reach about
// 2 sigma sqrt(4096) = 0.038, near s_512 = 0.044), so the spectrum runs smoothly from the
// power law into a noise bulk. Building it costs one 4096 x 512 x 4096 product.
//
// Usage: bench_svd [size=4096] [rank=64] [threads=2]
#include "bench_util.h"

#include "bonsai/lowrank.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized" // GCC 12 false positive in AVX-512 headers
#include <Eigen/Dense>
#pragma GCC diagnostic pop

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

namespace {

using Mat = Eigen::MatrixXf;
using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Mat gaussian(Eigen::Index rows, Eigen::Index cols, uint64_t seed, float sigma)
{
    Mat m(rows, cols);
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> d(0.0f, sigma);
    for (Eigen::Index i = 0; i < m.size(); ++i)
        m.data()[i] = d(rng);
    return m;
}

Mat thinQ(const Mat& a)
{
    Eigen::HouseholderQR<Mat> qr(a);
    return qr.householderQ() * Mat::Identity(a.rows(), a.cols());
}

// ||W - U V||_F in double.
double truncationError(const std::vector<float>& w, const bonsai::LowRankFactors& f)
{
    std::vector<float> approx(w.size());
    bonsai::lowRankApproximation(f, approx.data());
    double e = 0;
    const int64_t n = static_cast<int64_t>(w.size());
#pragma omp parallel for simd reduction(+ : e)
    for (int64_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(w[i]) - approx[i];
        e += d * d;
    }
    return std::sqrt(e);
}

} // namespace

int main(int argc, char** argv)
{
    const Eigen::Index n = argc > 1 ? std::atol(argv[1]) : 4096;
    const uint64_t rank = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 64;
    const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
    omp_set_num_threads(threads);
    Eigen::setNbThreads(threads);
    const Eigen::Index k = std::min<Eigen::Index>(512, n);

    double t0 = bench::now();
    Eigen::VectorXf s(k);
    for (Eigen::Index i = 0; i < k; ++i)
        s[i] = 1.0f / std::sqrt(static_cast<float>(i + 1));
    const Mat p = thinQ(gaussian(n, k, 1, 1.0f));
    const Mat q = thinQ(gaussian(n, k, 2, 1.0f));
    RowMat w = gaussian(n, n, 3, 3e-4f); // noise, then + P diag(s) Q^T
    w.noalias() += p * s.asDiagonal() * q.transpose();
    const std::vector<float> wv(w.data(), w.data() + w.size());
    w.resize(0, 0);
    std::printf("matrix %ld x %ld (s_i = i^-0.5 for i <= %ld, plus noise), built in %.2f s; %d threads\n",
                static_cast<long>(n), static_cast<long>(n), static_cast<long>(k), bench::now() - t0, threads);

    // Randomized path (Auto picks it for this shape and rank): best of 3.
    bonsai::SvdOptions ropt;
    ropt.method = bonsai::SvdMethod::Randomized;
    double tRand = 1e30;
    bonsai::LowRankFactors fr;
    for (int rep = 0; rep < 3; ++rep) {
        t0 = bench::now();
        fr = bonsai::lowRankFactors(wv.data(), n, n, rank, ropt);
        tRand = std::min(tRand, bench::now() - t0);
    }
    const double errRand = truncationError(wv, fr);
    std::printf("randomized rank-%llu SVD (p = %u, q = %u): %.3f s (best of 3), error %.6f\n",
                static_cast<unsigned long long>(rank), ropt.oversampling, ropt.powerIterations, tRand, errRand);

    // Exact path: BDCSVD of the whole matrix (thin U and V), once.
    bonsai::SvdOptions eopt;
    eopt.method = bonsai::SvdMethod::Exact;
    t0 = bench::now();
    const bonsai::LowRankFactors fe = bonsai::lowRankFactors(wv.data(), n, n, rank, eopt);
    const double tExact = bench::now() - t0;
    const double errExact = truncationError(wv, fe);
    std::printf("exact BDCSVD (full, thin U and V):     %.3f s, optimal rank-%llu error %.6f\n", tExact,
                static_cast<unsigned long long>(rank), errExact);
    std::printf("tail from E - sum s_i^2 of the top %llu: %.6f\n", static_cast<unsigned long long>(rank),
                std::sqrt(std::max(0.0, fe.totalEnergy - fe.retainedEnergy)));

    std::printf("speed-up: %.1fx (target 20x)\n", tExact / tRand);
    std::printf("randomized error / optimal error: %.5f (%+.3f%%; target within 1%%)\n", errRand / errExact,
                100.0 * (errRand / errExact - 1.0));

    // Effect of the power iterations.
    std::printf("\n  q   time (s)   error / optimal\n");
    for (uint32_t pi = 0; pi <= 3; ++pi) {
        bonsai::SvdOptions o = ropt;
        o.powerIterations = pi;
        t0 = bench::now();
        const bonsai::LowRankFactors f = bonsai::lowRankFactors(wv.data(), n, n, rank, o);
        const double t = bench::now() - t0;
        std::printf("  %u   %8.3f   %.5f\n", pi, t, truncationError(wv, f) / errExact);
    }
    // The GUI's energy curve of a large layer: top-256 spectrum (randomized) plus exact E.
    t0 = bench::now();
    const bonsai::Spectrum sp = bonsai::singularSpectrum(wv.data(), n, n, 256);
    const double tSpec = bench::now() - t0;
    const std::vector<double> curve = bonsai::energyCurve(sp.values, sp.totalEnergy);
    std::printf("\nspectrum top %zu (%s): %.3f s; energy retained by rank 64: %.4f, by rank %zu: %.4f\n",
                sp.values.size(), sp.complete ? "complete" : "randomized", tSpec,
                curve.size() >= 64 ? curve[63] : curve.back(), curve.size(), curve.back());
    std::printf("peak RSS %.0f MB\n", bench::peakRssMB());
    return 0;
}
