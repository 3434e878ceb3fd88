#pragma once
// Sparsity kernels of the compression engine: magnitude pruning (per layer and with one global
// threshold over several layers), N:M semi-structured pruning, whole-output-channel pruning,
// and the sparsity part of the storage size.
//
// Matrices are row-major views of `rows` x `cols` floats where rows are output channels and
// cols is everything else (for a conv weight [out, in, kh, kw] the caller flattens to
// [out, in * kh * kw]). Inputs must be finite (no NaN / infinity); -0 and +0 have the same
// magnitude.
//
// Keep masks (KeepMask) hold one byte per weight of the row-major matrix, rows * cols bytes:
// 1 = the weight is kept, 0 = it is pruned (set to zero).
//
// Counts: a fraction s of n items prunes exactly round(s * n) of them, where round() is
// floor(s * n + 0.5) evaluated in double (halves round up; see pruneCount). Fractions must be
// in [0, 1); anything else (or NaN) throws bonsai::Error.
//
// Ties, one rule for every method: among weights (or rows) of equal magnitude (or norm), the
// one with the HIGHER index is pruned first, i.e. the lower index survives. For the global
// threshold the index is the position in the concatenation of the layers in the order given
// (layer 0 first), so ties are pruned from the last layer backwards. "Equal" means bit-equal
// |w| (float) or bit-equal computed norm (double).
//
// Threading: the kernels are OpenMP-parallel over elements or rows and use the calling
// thread's OpenMP team size.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace bonsai {

// One byte per weight, row-major: 1 = keep, 0 = pruned.
using KeepMask = std::vector<uint8_t>;

// round(s * n) = floor(s * n + 0.5) in double. Throws bonsai::Error unless 0 <= s < 1.
uint64_t pruneCount(uint64_t n, double s);

// out[i] = mask[i] ? w[i] : 0 for i < n. `out` may be the same pointer as `w` (in place).
void applyMask(const float* w, uint64_t n, const KeepMask& mask, float* out);

// Number of kept weights (ones) in a mask.
uint64_t keptCount(const KeepMask& mask);

// ------------------------------------------------------------------------------------------
// Unstructured magnitude pruning
// ------------------------------------------------------------------------------------------

// Prunes exactly k = round(s * n) of the n = rows * cols weights: those first in the order
// (|w| ascending, index descending). Equivalently, with T the k-th smallest magnitude, every
// |w| < T is pruned, every |w| > T kept, and of the weights with |w| == T the ones with the
// highest indices are pruned until the count is k.
// Implemented as the global threshold over a single layer (see below): O(n) time, no copy.
KeepMask magnitudeMask(const float* w, uint64_t rows, uint64_t cols, double s);

// ------------------------------------------------------------------------------------------
// Global magnitude threshold over several layers
// ------------------------------------------------------------------------------------------

// The single threshold of a global magnitude pruning at fraction s over layers with
// N = sum of their sizes weights: exactly k = round(s * N) weights are pruned in total.
struct GlobalThreshold {
    // T: the magnitude of the largest pruned weight (the k-th smallest |w| over all layers);
    // 0 when k == 0. Every |w| < T is pruned and every |w| > T kept.
    float threshold = 0;
    uint64_t total = 0;  // N
    uint64_t pruned = 0; // k
    // Per layer, in the order given:
    std::vector<uint64_t> prunedPerLayer;     // weights pruned in each layer (sum = k)
    std::vector<uint64_t> tiesPrunedPerLayer; // of those, how many have |w| == T exactly
};

// Finds the threshold by an exact two-level radix selection on the bit patterns of |w| (for
// non-negative floats the IEEE bit pattern, read as an unsigned integer, orders like the
// value):
//   pass 1: histogram of the upper 16 bits of bits(|w|) over all layers -> the bin holding the
//           k-th smallest magnitude;
//   pass 2: histogram of the lower 16 bits of the weights in that bin -> T exactly, together
//           with c< = #{|w| < T} and c= = #{|w| == T}; k - c< of the ties are pruned;
//   pass 3: per layer, #{|w| < T} and #{|w| == T}; the ties to prune are assigned from the
//           last layer backwards (the tie rule above).
// The layers are only read (three streaming passes, never concatenated or copied). Extra
// memory: 2^15 + 2^16 counters of 8 bytes per OpenMP thread (768 KiB per thread) plus
// O(number of layers). Throws bonsai::Error unless 0 <= s < 1.
GlobalThreshold findGlobalThreshold(std::span<const std::span<const float>> layers, double s);

// The keep mask of one layer under a global threshold: prune |w| < threshold and the last
// `tiesToPrune` weights (highest indices) with |w| == threshold; keep the rest. Call it with
// g.threshold and g.tiesPrunedPerLayer[i] to build layer i's mask when it is needed (the
// masks of all layers never have to exist at once). When tiesToPrune is 0 and threshold is
// 0 nothing is pruned. Throws bonsai::Error if the layer has fewer than tiesToPrune ties.
KeepMask thresholdMask(const float* w, uint64_t n, float threshold, uint64_t tiesToPrune);

struct GlobalPruneResult {
    GlobalThreshold threshold;
    std::vector<KeepMask> masks; // one per layer, in the order given
};

// findGlobalThreshold, then thresholdMask for every layer (all masks in memory: N bytes).
GlobalPruneResult globalMagnitudeMasks(std::span<const std::span<const float>> layers, double s);

// ------------------------------------------------------------------------------------------
// N:M semi-structured sparsity
// ------------------------------------------------------------------------------------------

// What to do when cols is not a multiple of M (each row ends with a group of len < M).
enum class NmTail : uint8_t {
    Reject,       // throw bonsai::Error (sparse tensor-core formats need cols % M == 0)
    Pad,          // as if the row were padded with zeros to a multiple of M: the partial
                  // group keeps min(N, len) weights (the padding is what gets pruned)
    Proportional, // the partial group keeps ceil(N * len / M) weights (same density)
};

// Weights kept in a partial group of `len` (1 <= len < M) weights under `tail`
// (0 for Reject: such a group is an error).
uint32_t nmTailKeep(uint32_t n, uint32_t m, uint32_t len, NmTail tail);

// N:M mask: each row is split into groups of M consecutive weights (the last group of a row
// may be shorter, see NmTail; groups never span rows) and each full group keeps its N
// largest |w| (ties: lower index kept). Requires 1 <= N < M (throws bonsai::Error otherwise,
// and for NmTail::Reject when cols % M != 0). Parallel over rows.
KeepMask nmMask(const float* w, uint64_t rows, uint64_t cols, uint32_t n, uint32_t m,
                NmTail tail = NmTail::Reject);

// ------------------------------------------------------------------------------------------
// Structured pruning of whole output channels (rows, conv filters)
// ------------------------------------------------------------------------------------------

enum class ChannelNorm : uint8_t {
    L1, // sum_j |w_ij|
    L2, // sqrt(sum_j w_ij^2)
};

struct ChannelPruneResult {
    std::vector<double> norms;          // per row (all rows), accumulated in double
    std::vector<uint64_t> keptRows;     // ascending
    std::vector<uint64_t> removedRows;  // ascending; these are also the input channels the
                                        // consuming layer loses (see compactInputChannels)
};

// Removes exactly round(s * rows) rows: those first in the order (norm ascending, index
// descending), i.e. the smallest norms, and on equal norms the higher row index goes first.
// keptRows is empty if s * rows rounds up to rows. Parallel over rows.
ChannelPruneResult selectChannels(const float* w, uint64_t rows, uint64_t cols, double s,
                                  ChannelNorm norm);

// The compacted matrix: the rows `keptRows` (ascending, each < rows) of w, in that order;
// keptRows.size() x cols floats, row-major.
std::vector<float> compactRows(const float* w, uint64_t rows, uint64_t cols,
                               std::span<const uint64_t> keptRows);

// For the layer that consumes the pruned one: its weight is rows x cols with
// cols = inChannels * k (k = kh * kw for a conv, 1 for a linear layer); keeps the input
// channels `keptChannels` (ascending, each < inChannels), i.e. the column blocks
// [c * k, (c + 1) * k). Returns rows x (keptChannels.size() * k) floats, row-major.
// Throws bonsai::Error if cols is not a multiple of inChannels.
std::vector<float> compactInputChannels(const float* w, uint64_t rows, uint64_t cols,
                                        uint64_t inChannels, std::span<const uint64_t> keptChannels);

// ------------------------------------------------------------------------------------------
// Storage sizes (sparsity part only)
// ------------------------------------------------------------------------------------------

// The sparsity part of a pruned matrix's storage: how many values are stored and how many
// bits of mask or indices locate them. The caller adds the precision part, e.g. through
// totalBits(): overheadBits + the bits of keptValues values (codes plus scales).
struct SparseStorage {
    uint64_t keptValues = 0;   // values stored
    uint64_t overheadBits = 0; // mask or index bits
    // For channel pruning: the stored dense matrix is keptRows x cols (for the caller's
    // per-channel / group quantization sizes); 0 for the other methods.
    uint64_t keptRows = 0;
    uint64_t cols = 0;

    // overheadBits + valueBits(keptValues).
    uint64_t totalBits(const std::function<uint64_t(uint64_t keptValues)>& valueBits) const;
    // overheadBits + keptValues * bitsPerValue + scaleBits.
    uint64_t totalBits(uint64_t bitsPerValue, uint64_t scaleBits = 0) const;
};

// Unstructured: a 1-bit mask per original weight plus the kept values:
//   keptValues = n - pruned, overheadBits = n.
SparseStorage unstructuredStorage(uint64_t n, uint64_t pruned);

// N:M: the kept values plus ceil(log2(M)) index bits per kept value:
//   keptValues = rows * (floor(cols / M) * N + tailKeep), overheadBits = keptValues *
//   ceil(log2(M)), with tailKeep = nmTailKeep(N, M, cols % M, tail) (0 when cols % M == 0).
// Throws bonsai::Error like nmMask for invalid N, M or a rejected tail.
SparseStorage nmStorage(uint64_t rows, uint64_t cols, uint32_t n, uint32_t m,
                        NmTail tail = NmTail::Reject);

// ceil(log2(m)) for m >= 1 (0 for m == 1): index bits per kept value of N:M.
uint32_t nmIndexBits(uint32_t m);

// Channels: only the kept rows are stored, densely, with no index overhead:
//   keptValues = keptRows * cols, overheadBits = 0.
SparseStorage channelStorage(uint64_t keptRows, uint64_t cols);

} // namespace bonsai
