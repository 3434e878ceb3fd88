// Sparsity kernels: magnitude pruning (exact radix selection on the float bit patterns), N:M
// masks, output-channel pruning and the sparsity part of storage sizes. See sparsity.h for the
// formulas and the tie rule (equal magnitude: the higher index is pruned first).
#include "bonsai/sparsity.h"

#include "bonsai/error.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>

namespace bonsai {

namespace {

// Sort key of |x|: for non-negative IEEE floats the bit pattern read as an unsigned integer is
// monotonic in the value, so clearing the sign bit gives an integer that orders like |x|
// (and -0 / +0 both give 0).
inline uint32_t magKey(float x)
{
    uint32_t b;
    std::memcpy(&b, &x, sizeof b);
    return b & 0x7FFFFFFFu;
}

inline float keyToFloat(uint32_t k)
{
    float f;
    std::memcpy(&f, &k, sizeof f);
    return f;
}

constexpr uint32_t kHiBins = 1u << 15; // upper 16 bits of a 31-bit key: 15 significant bits
constexpr uint32_t kLoBins = 1u << 16;

std::string fractionText(double s)
{
    return std::to_string(s);
}

} // namespace

uint64_t pruneCount(uint64_t n, double s)
{
    if (!(s >= 0.0 && s < 1.0))
        throw Error("sparsity fraction must be in [0, 1), got " + fractionText(s));
    return static_cast<uint64_t>(std::floor(s * static_cast<double>(n) + 0.5));
}

void applyMask(const float* w, uint64_t n, const KeepMask& mask, float* out)
{
    if (mask.size() != n)
        throw Error("mask has " + std::to_string(mask.size()) + " entries for " + std::to_string(n) +
                    " weights");
    const int64_t sn = static_cast<int64_t>(n);
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < sn; ++i)
        out[i] = mask[i] ? w[i] : 0.0f;
}

uint64_t keptCount(const KeepMask& mask)
{
    const int64_t n = static_cast<int64_t>(mask.size());
    const uint8_t* m = mask.data();
    uint64_t kept = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : kept)
    for (int64_t i = 0; i < n; ++i)
        kept += m[i] != 0;
    return kept;
}

// ------------------------------------------------------------------------------------------
// Magnitude pruning
// ------------------------------------------------------------------------------------------

GlobalThreshold findGlobalThreshold(std::span<const std::span<const float>> layers, double s)
{
    GlobalThreshold g;
    const size_t L = layers.size();
    for (const auto& l : layers)
        g.total += l.size();
    g.pruned = pruneCount(g.total, s);
    g.prunedPerLayer.assign(L, 0);
    g.tiesPrunedPerLayer.assign(L, 0);
    if (g.pruned == 0)
        return g;
    const uint64_t k = g.pruned; // 1-based rank of T in ascending order of |w|

    // Pass 1: histogram of the upper 16 key bits over all layers (per-thread, then merged).
    std::vector<uint64_t> hi(kHiBins, 0);
#pragma omp parallel
    {
        std::vector<uint64_t> local(kHiBins, 0);
        for (const auto& layer : layers) {
            const float* w = layer.data();
            const int64_t n = static_cast<int64_t>(layer.size());
#pragma omp for schedule(static) nowait
            for (int64_t i = 0; i < n; ++i)
                ++local[magKey(w[i]) >> 16];
        }
#pragma omp critical
        for (uint32_t b = 0; b < kHiBins; ++b)
            hi[b] += local[b];
    }
    uint64_t less = 0;
    uint32_t bHi = 0;
    while (less + hi[bHi] < k)
        less += hi[bHi++];

    // Pass 2: histogram of the lower 16 bits of the weights in bin bHi.
    std::vector<uint64_t> lo(kLoBins, 0);
#pragma omp parallel
    {
        std::vector<uint64_t> local(kLoBins, 0);
        for (const auto& layer : layers) {
            const float* w = layer.data();
            const int64_t n = static_cast<int64_t>(layer.size());
#pragma omp for schedule(static) nowait
            for (int64_t i = 0; i < n; ++i) {
                const uint32_t key = magKey(w[i]);
                if ((key >> 16) == bHi)
                    ++local[key & 0xFFFFu];
            }
        }
#pragma omp critical
        for (uint32_t b = 0; b < kLoBins; ++b)
            lo[b] += local[b];
    }
    uint32_t bLo = 0;
    while (less + lo[bLo] < k)
        less += lo[bLo++];
    const uint32_t tKey = (bHi << 16) | bLo;
    g.threshold = keyToFloat(tKey);
    uint64_t tiesLeft = k - less; // ties (|w| == T) to prune, 1 .. lo[bLo]

    // Pass 3: per layer #{|w| < T} and #{|w| == T}; ties are pruned from the last layer back.
    std::vector<uint64_t> lessPer(L, 0), eqPer(L, 0);
    for (size_t l = 0; l < L; ++l) {
        const float* w = layers[l].data();
        const int64_t n = static_cast<int64_t>(layers[l].size());
        uint64_t cl = 0, ce = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : cl, ce)
        for (int64_t i = 0; i < n; ++i) {
            const uint32_t key = magKey(w[i]);
            cl += key < tKey;
            ce += key == tKey;
        }
        lessPer[l] = cl;
        eqPer[l] = ce;
    }
    for (size_t l = L; l-- > 0;) {
        const uint64_t t = std::min(tiesLeft, eqPer[l]);
        g.tiesPrunedPerLayer[l] = t;
        g.prunedPerLayer[l] = lessPer[l] + t;
        tiesLeft -= t;
    }
    return g;
}

KeepMask thresholdMask(const float* w, uint64_t n, float threshold, uint64_t tiesToPrune)
{
    KeepMask mask(n);
    uint8_t* m = mask.data();
    const uint32_t tKey = magKey(threshold);
    const int64_t sn = static_cast<int64_t>(n);
    uint64_t ties = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : ties)
    for (int64_t i = 0; i < sn; ++i) {
        const uint32_t key = magKey(w[i]);
        m[i] = key >= tKey; // ties kept for now
        ties += key == tKey;
    }
    if (ties < tiesToPrune)
        throw Error("layer has " + std::to_string(ties) + " weights at the threshold, cannot prune " +
                    std::to_string(tiesToPrune) + " of them");
    // Prune the ties with the highest indices (the lower index survives).
    for (int64_t i = sn - 1; tiesToPrune > 0 && i >= 0; --i) {
        if (magKey(w[i]) == tKey) {
            m[i] = 0;
            --tiesToPrune;
        }
    }
    return mask;
}

GlobalPruneResult globalMagnitudeMasks(std::span<const std::span<const float>> layers, double s)
{
    GlobalPruneResult r;
    r.threshold = findGlobalThreshold(layers, s);
    r.masks.reserve(layers.size());
    for (size_t l = 0; l < layers.size(); ++l)
        r.masks.push_back(thresholdMask(layers[l].data(), layers[l].size(), r.threshold.threshold,
                                        r.threshold.tiesPrunedPerLayer[l]));
    return r;
}

KeepMask magnitudeMask(const float* w, uint64_t rows, uint64_t cols, double s)
{
    const std::span<const float> one(w, rows * cols);
    const GlobalThreshold g = findGlobalThreshold(std::span<const std::span<const float>>(&one, 1), s);
    return thresholdMask(w, rows * cols, g.threshold, g.tiesPrunedPerLayer[0]);
}

// ------------------------------------------------------------------------------------------
// N:M
// ------------------------------------------------------------------------------------------

namespace {

void checkNm(uint32_t n, uint32_t m)
{
    if (m < 2 || n < 1 || n >= m)
        throw Error("N:M sparsity needs 1 <= N < M, got " + std::to_string(n) + ":" + std::to_string(m));
}

// Marks in mask[0..len) the `keep` largest |x| of x[0..len) (ties: lower index kept).
// `scratch` has room for len indices.
inline void keepLargest(const float* x, uint32_t len, uint32_t keep, uint8_t* mask, uint32_t* scratch)
{
    if (len <= 16) {
        // rank_j = #{i : |x_i| > |x_j| or (|x_i| == |x_j| and i < j)}; keep rank_j < keep.
        for (uint32_t j = 0; j < len; ++j) {
            const uint32_t kj = magKey(x[j]);
            uint32_t rank = 0;
            for (uint32_t i = 0; i < len; ++i) {
                const uint32_t ki = magKey(x[i]);
                rank += (ki > kj) | ((ki == kj) & (i < j));
            }
            mask[j] = rank < keep;
        }
        return;
    }
    std::iota(scratch, scratch + len, 0u);
    std::fill(mask, mask + len, uint8_t(0));
    if (keep == 0)
        return;
    std::nth_element(scratch, scratch + (keep - 1), scratch + len, [x](uint32_t a, uint32_t b) {
        const uint32_t ka = magKey(x[a]), kb = magKey(x[b]);
        return ka > kb || (ka == kb && a < b);
    });
    for (uint32_t i = 0; i < keep; ++i)
        mask[scratch[i]] = 1;
}

} // namespace

uint32_t nmTailKeep(uint32_t n, uint32_t m, uint32_t len, NmTail tail)
{
    checkNm(n, m);
    if (len == 0 || len >= m)
        throw Error("partial N:M group length must be in [1, M), got " + std::to_string(len));
    switch (tail) {
    case NmTail::Reject:
        return 0;
    case NmTail::Pad:
        return std::min(n, len);
    case NmTail::Proportional:
        return static_cast<uint32_t>((static_cast<uint64_t>(n) * len + m - 1) / m);
    }
    return 0;
}

KeepMask nmMask(const float* w, uint64_t rows, uint64_t cols, uint32_t n, uint32_t m, NmTail tail)
{
    checkNm(n, m);
    const uint32_t tailLen = static_cast<uint32_t>(cols % m);
    if (tailLen != 0 && tail == NmTail::Reject)
        throw Error("N:M sparsity " + std::to_string(n) + ":" + std::to_string(m) + " needs the row length (" +
                    std::to_string(cols) + ") to be a multiple of " + std::to_string(m));
    const uint32_t tailKeep = tailLen ? nmTailKeep(n, m, tailLen, tail) : 0;
    const uint64_t fullGroups = cols / m;
    KeepMask mask(rows * cols);
    const int64_t sr = static_cast<int64_t>(rows);
#pragma omp parallel
    {
        std::vector<uint32_t> scratch(m);
#pragma omp for schedule(static)
        for (int64_t r = 0; r < sr; ++r) {
            const float* row = w + static_cast<uint64_t>(r) * cols;
            uint8_t* mrow = mask.data() + static_cast<uint64_t>(r) * cols;
            for (uint64_t g = 0; g < fullGroups; ++g)
                keepLargest(row + g * m, m, n, mrow + g * m, scratch.data());
            if (tailLen)
                keepLargest(row + fullGroups * m, tailLen, tailKeep, mrow + fullGroups * m, scratch.data());
        }
    }
    return mask;
}

// ------------------------------------------------------------------------------------------
// Channels
// ------------------------------------------------------------------------------------------

ChannelPruneResult selectChannels(const float* w, uint64_t rows, uint64_t cols, double s, ChannelNorm norm)
{
    const uint64_t k = pruneCount(rows, s);
    ChannelPruneResult r;
    r.norms.assign(rows, 0.0);
    const int64_t sr = static_cast<int64_t>(rows);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < sr; ++i) {
        const float* row = w + static_cast<uint64_t>(i) * cols;
        double acc = 0;
        if (norm == ChannelNorm::L1) {
#pragma omp simd reduction(+ : acc)
            for (uint64_t j = 0; j < cols; ++j)
                acc += std::fabs(static_cast<double>(row[j]));
        } else {
#pragma omp simd reduction(+ : acc)
            for (uint64_t j = 0; j < cols; ++j)
                acc += static_cast<double>(row[j]) * row[j];
        }
        // The square root is monotonic, so ranking by it equals ranking by the squared norm.
        r.norms[i] = norm == ChannelNorm::L1 ? acc : std::sqrt(acc);
    }
    // Removal order: norm ascending, then index descending (the lower index survives).
    std::vector<uint64_t> order(rows);
    std::iota(order.begin(), order.end(), uint64_t(0));
    std::sort(order.begin(), order.end(), [&](uint64_t a, uint64_t b) {
        return r.norms[a] < r.norms[b] || (r.norms[a] == r.norms[b] && a > b);
    });
    r.removedRows.assign(order.begin(), order.begin() + static_cast<int64_t>(k));
    r.keptRows.assign(order.begin() + static_cast<int64_t>(k), order.end());
    std::sort(r.removedRows.begin(), r.removedRows.end());
    std::sort(r.keptRows.begin(), r.keptRows.end());
    return r;
}

std::vector<float> compactRows(const float* w, uint64_t rows, uint64_t cols, std::span<const uint64_t> keptRows)
{
    for (size_t i = 0; i < keptRows.size(); ++i)
        if (keptRows[i] >= rows || (i > 0 && keptRows[i] <= keptRows[i - 1]))
            throw Error("kept rows must be ascending and below " + std::to_string(rows));
    std::vector<float> out(keptRows.size() * cols);
    const int64_t n = static_cast<int64_t>(keptRows.size());
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i)
        std::copy_n(w + keptRows[i] * cols, cols, out.data() + static_cast<uint64_t>(i) * cols);
    return out;
}

std::vector<float> compactInputChannels(const float* w, uint64_t rows, uint64_t cols, uint64_t inChannels,
                                        std::span<const uint64_t> keptChannels)
{
    if (inChannels == 0 || cols % inChannels != 0)
        throw Error("row length " + std::to_string(cols) + " is not a multiple of the " +
                    std::to_string(inChannels) + " input channels");
    for (size_t i = 0; i < keptChannels.size(); ++i)
        if (keptChannels[i] >= inChannels || (i > 0 && keptChannels[i] <= keptChannels[i - 1]))
            throw Error("kept input channels must be ascending and below " + std::to_string(inChannels));
    const uint64_t k = cols / inChannels;
    const uint64_t outCols = keptChannels.size() * k;
    std::vector<float> out(rows * outCols);
    const int64_t sr = static_cast<int64_t>(rows);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < sr; ++r) {
        const float* src = w + static_cast<uint64_t>(r) * cols;
        float* dst = out.data() + static_cast<uint64_t>(r) * outCols;
        for (size_t c = 0; c < keptChannels.size(); ++c)
            std::copy_n(src + keptChannels[c] * k, k, dst + c * k);
    }
    return out;
}

// ------------------------------------------------------------------------------------------
// Storage
// ------------------------------------------------------------------------------------------

uint64_t SparseStorage::totalBits(const std::function<uint64_t(uint64_t)>& valueBits) const
{
    return overheadBits + valueBits(keptValues);
}

uint64_t SparseStorage::totalBits(uint64_t bitsPerValue, uint64_t scaleBits) const
{
    return overheadBits + keptValues * bitsPerValue + scaleBits;
}

SparseStorage unstructuredStorage(uint64_t n, uint64_t pruned)
{
    if (pruned > n)
        throw Error("cannot prune " + std::to_string(pruned) + " of " + std::to_string(n) + " weights");
    SparseStorage st;
    st.keptValues = n - pruned;
    st.overheadBits = n;
    return st;
}

uint32_t nmIndexBits(uint32_t m)
{
    uint32_t b = 0;
    while ((uint64_t(1) << b) < m)
        ++b;
    return b;
}

SparseStorage nmStorage(uint64_t rows, uint64_t cols, uint32_t n, uint32_t m, NmTail tail)
{
    checkNm(n, m);
    const uint32_t tailLen = static_cast<uint32_t>(cols % m);
    if (tailLen != 0 && tail == NmTail::Reject)
        throw Error("N:M sparsity " + std::to_string(n) + ":" + std::to_string(m) + " needs the row length (" +
                    std::to_string(cols) + ") to be a multiple of " + std::to_string(m));
    const uint64_t perRow = (cols / m) * n + (tailLen ? nmTailKeep(n, m, tailLen, tail) : 0);
    SparseStorage st;
    st.keptValues = rows * perRow;
    st.overheadBits = st.keptValues * nmIndexBits(m);
    return st;
}

SparseStorage channelStorage(uint64_t keptRows, uint64_t cols)
{
    SparseStorage st;
    st.keptValues = keptRows * cols;
    st.keptRows = keptRows;
    st.cols = cols;
    return st;
}

} // namespace bonsai
