#pragma once
// Low-rank kernels of the compression engine: truncated SVD W ~= U V of a weight matrix, the
// singular-value spectrum for the energy curve, and the storage trade-off of a rank.
//
// Matrices are row-major views of `rows` x `cols` floats where rows are output channels and
// cols is everything else (a conv weight [out, in, kh, kw] is flattened to [out, in*kh*kw]).
// Inputs must be finite. Arithmetic is float (Eigen), energies are accumulated in double.
//
// Notation: W = P diag(s) Q^T is the SVD with s_1 >= s_2 >= ... >= s_min(rows, cols) >= 0,
// W_r = P_r diag(s_1..s_r) Q_r^T the rank-r truncation. By Eckart-Young it is the best rank-r
// approximation, with ||W - W_r||_F^2 = sum_{i > r} s_i^2. Total energy E = ||W||_F^2 =
// sum_ij w_ij^2 = sum_i s_i^2, always computed from W itself (in double), never from a
// (possibly truncated) spectrum.
//
// Two SVD paths:
//  - exact: Eigen::BDCSVD (divide and conquer; never JacobiSVD, which is far too slow for
//    weight matrices) of the whole matrix.
//  - randomized (Halko, Martinsson & Tropp 2011, "Finding structure with randomness",
//    algorithms 4.4 + 5.1), for a target rank r with oversampling p and q power iterations,
//    l = min(r + p, min(rows, cols)):
//      Omega = cols x l standard Gaussian (seeded; deterministic on every platform)
//      Y = W Omega,                Q = thinQ(Y)
//      repeat q times:  Z = W^T Q, Q' = thinQ(Z);  Y = W Q', Q = thinQ(Y)
//      B = Q^T W (l x cols),       B = Ub diag(s) Vb^T  (BDCSVD of the small matrix)
//      P ~= Q Ub, s, Q ~= Vb, keeping the first r.
//    thinQ() is the thin Q factor of a Householder QR (re-orthonormalisation after every
//    product keeps float power iterations stable). The singular values it returns are those of
//    Q Q^T W, so each is <= the true s_i (interlacing): energy-based ranks chosen from them are
//    never smaller than the exact ones.
//  Auto picks exact when min(rows, cols) <= SvdOptions::exactMaxDim (512) or when
//  4 * l > min(rows, cols) (a large rank: the randomized path saves little and is inexact).
//
// Threading: the products and factorizations are Eigen's, parallel through OpenMP (the calling
// thread's team size, Eigen::setNbThreads / OMP_NUM_THREADS); the norms are OpenMP loops.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace bonsai {

enum class SvdMethod : uint8_t { Auto, Exact, Randomized };

// How the singular values are put into the factors (W_r = U V either way).
enum class FactorSplit : uint8_t {
    FoldIntoU, // U = P_r diag(s_r),        V = Q_r^T
    Balanced,  // U = P_r diag(sqrt(s_r)),  V = diag(sqrt(s_r)) Q_r^T  (similar ranges in U
               // and V, which suits quantizing them separately)
};

struct SvdOptions {
    SvdMethod method = SvdMethod::Auto;
    uint32_t oversampling = 10;   // p (randomized)
    uint32_t powerIterations = 2; // q (randomized)
    uint64_t seed = 0x5EED0B0A5A1ULL; // of the Gaussian test matrix (randomized)
    uint64_t exactMaxDim = 512;   // Auto: exact when min(rows, cols) <= exactMaxDim
    FactorSplit split = FactorSplit::Balanced;
};

// True when `opt` leads to the exact path for a rank-`rank` target (see Auto above).
bool usesExactSvd(uint64_t rows, uint64_t cols, uint64_t rank, const SvdOptions& opt = {});

// E = sum_i w_i^2 over n floats, accumulated in double (OpenMP reduction).
double frobeniusEnergy(const float* w, uint64_t n);

// A rank-r factorization W ~= U V.
struct LowRankFactors {
    uint64_t rows = 0, cols = 0, rank = 0;
    std::vector<float> u; // rows x rank, row-major (row i = output channel i)
    std::vector<float> v; // rank x cols, row-major
    std::vector<double> singularValues; // s_1..s_r, descending (randomized: estimates)
    double totalEnergy = 0;    // E = ||W||_F^2, from W
    double retainedEnergy = 0; // sum_{i <= r} s_i^2 (of the values above)
    bool exact = false;        // which SVD path produced it
    FactorSplit split = FactorSplit::Balanced;
};

// Rank-`rank` truncated SVD (0 <= rank <= min(rows, cols), else bonsai::Error).
LowRankFactors lowRankFactors(const float* w, uint64_t rows, uint64_t cols, uint64_t rank,
                              const SvdOptions& opt = {});

// Rank chosen by retained energy: the smallest r with sum_{i <= r} s_i^2 >= energy * E
// (0 <= energy <= 1, else bonsai::Error; energy 0 gives rank 0). Exact path: one full SVD.
// Randomized path: randomized SVDs with target 32, 64, 128, ... until the estimated values
// reach the energy, falling back to the exact path once the target is too large for Auto's
// rule (so a matrix whose energy is spread out ends on the exact path).
LowRankFactors lowRankFactorsForEnergy(const float* w, uint64_t rows, uint64_t cols, double energy,
                                       const SvdOptions& opt = {});

// out = U V, the rows x cols approximation (row-major). `out` must not alias u or v.
void lowRankApproximation(const LowRankFactors& f, float* out);

// ------------------------------------------------------------------------------------------
// Spectrum and energy curve (for the GUI)
// ------------------------------------------------------------------------------------------

struct Spectrum {
    uint64_t rows = 0, cols = 0;
    std::vector<double> values; // singular values, descending
    double totalEnergy = 0;     // E = ||W||_F^2 from W (exact even when values is truncated)
    bool complete = false;      // values holds all min(rows, cols) singular values (exact SVD)
};

// Exact path (see Auto, with rank = topK): all min(rows, cols) singular values by BDCSVD
// without vectors. Randomized path: the top min(topK, min(rows, cols)) values (estimates,
// each <= the true value).
Spectrum singularSpectrum(const float* w, uint64_t rows, uint64_t cols, uint64_t topK = 256,
                          const SvdOptions& opt = {});

// curve[i] = (sum_{j <= i} s_j^2) / total for i = 0 .. s.size() - 1 (values in index order;
// curve[i] is the energy retained by rank i + 1). All zeros when total == 0.
std::vector<double> energyCurve(std::span<const double> s, double total);

// The smallest r with sum_{i <= r} s_i^2 >= energy * total (0 for energy <= 0). When the
// given values never reach it: s.size() if `complete` (all singular values were given, the
// shortfall is rounding), else std::nullopt (a truncated spectrum cannot tell).
std::optional<uint64_t> rankForEnergy(std::span<const double> s, double total, double energy,
                                      bool complete);

// ------------------------------------------------------------------------------------------
// Storage trade-off
// ------------------------------------------------------------------------------------------

// Shapes of the factors, both row-major: U is rows x rank (its rows are the layer's output
// channels), V is rank x cols (its rows are the rank components). The caller quantizes U and
// V separately, each as its own rows x cols matrix; they store rank * (rows + cols) values.
struct FactorShapes {
    uint64_t uRows = 0, uCols = 0;
    uint64_t vRows = 0, vCols = 0;
    uint64_t values() const { return uRows * uCols + vRows * vCols; }
};
FactorShapes factorShapes(uint64_t rows, uint64_t cols, uint64_t rank);

// True when the factors are smaller than the dense matrix: rank * (rows + cols) < rows * cols,
// i.e. rank < rows * cols / (rows + cols) (exact integer arithmetic). A rank at or above that
// bound saves nothing.
bool rankSaves(uint64_t rows, uint64_t cols, uint64_t rank);

// The largest rank that saves storage: ceil(rows * cols / (rows + cols)) - 1 (0 if none).
uint64_t maxSavingRank(uint64_t rows, uint64_t cols);

// A sentence for the GUI, e.g. "Rank 64 stores 64 x (4096 + 4096) = 524,288 values instead of
// 16,777,216 (3.1% of the dense matrix); ranks up to 2047 save storage." or, when it does not
// save, "... which is not smaller than the dense matrix; only ranks up to 2047 save storage."
std::string rankSavingText(uint64_t rows, uint64_t cols, uint64_t rank);

} // namespace bonsai
