#pragma once
// Internals of the language-model forward pass (core/src/llm*.cpp).
#include "bonsai/compress.h"
#include "bonsai/llm.h"
#include "bonsai/tokenizer.h"

#include "common/eigen.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bonsai {


// The linear layers of one block, as indices into Model::layers (Q..Down), and its norms and
// biases (as float vectors read once).
struct LlmBlock {
    int layer[7] = {-1, -1, -1, -1, -1, -1, -1}; // q k v o gate up down
    std::vector<float> attnNorm, mlpNorm;
    std::vector<float> qBias, kBias, vBias;
};
enum BlockLinear { kQ = 0, kK, kV, kO, kGate, kUp, kDown };

// One sequence of a batch: [BOS] + chunk[0 .. len-2] as input, chunk as targets.
struct LlmSeq {
    int64_t chunk = 0;
    int64_t offset = 0; // first row of the batch's activations
    int64_t len = 0;
    std::vector<int32_t> input;
    std::vector<int32_t> target; // empty for logits()
};

// Weights as the forward pass sees them: uncompressed (read from the mapped file) or compressed
// by the engine as `configs` say. Compressed weights are kept while they fit in the cache
// budget (and always for calibrated layers); others are rebuilt on each use.
class LlmWeights {
public:
    LlmWeights(const Model& model, const std::vector<LayerConfig>* configs, uint64_t cacheBudget);

    // rows x cols float weights of a model layer (row-major, output channels first). The
    // pointer stays valid until the next call with the same scratch vector.
    const float* get(int layer, std::vector<float>& scratch);
    // One row of the embedding layer (reads only that row when the layer is unchanged).
    void embeddingRow(int layer, int64_t row, int64_t cols, float* dst, std::vector<float>& scratch);

    bool compressed(int layer) const;
    bool anyCompressed() const { return anyCompressed_; }
    bool needsCalibration(int layer) const;
    const LayerConfig* config(int layer) const;
    // Stores the weights a calibrated method produced (kept regardless of the budget).
    void putCalibrated(int layer, std::vector<float> weights, const LayerResult& result);
    bool hasCached(int layer) const { return cache_.count(layer) != 0; }
    // The layer's mask under global-scope unstructured sparsity, or nullptr.
    const std::vector<uint8_t>* globalMask(int layer) const
    {
        auto it = globalMasks_.find(static_cast<size_t>(layer));
        return it == globalMasks_.end() ? nullptr : &it->second;
    }

    uint64_t compressedBytes(); // every layer (compressing those not seen yet)
    std::vector<std::string> notes;

private:
    void record(int layer, const LayerResult& r);
    const Model& model_;
    const std::vector<LayerConfig>* configs_;
    uint64_t budget_, cachedBytes_ = 0;
    bool anyCompressed_ = false;
    std::map<int, std::vector<float>> cache_;
    std::map<int, uint64_t> bits_;
    std::map<size_t, std::vector<uint8_t>> globalMasks_;
};

struct LanguageModel::Impl {
    const Model& model;
    LlmConfig cfg;
    std::unique_ptr<Tokenizer> tokenizer;
    int32_t bos = -1;
    int embedLayer = -1, headLayer = -1; // Model::layers indices (head = embed when tied)
    std::vector<float> finalNorm;
    std::vector<LlmBlock> blocks;
    std::vector<float> invFreq; // headDim / 2

    explicit Impl(const Model& m);

    // Embeds the batch's inputs (T x hidden).
    RowMat embed(const std::vector<LlmSeq>& seqs, int64_t T, LlmWeights& w) const;
    // Runs every block and the final norm in place on x. `calibrate`, when given, is called
    // with each group of linear layers (indices into LlmBlock::layer) and their common input
    // before they are used (GPTQ/AWQ calibration).
    using CalibrateFn = std::function<void(int block, const std::vector<int>& group, const RowMat& input)>;
    // With firstBlock > 0, x holds the input of that block and the earlier ones are skipped
    // (an incremental run after a change in that block or later).
    void blocksForward(const std::vector<LlmSeq>& seqs, RowMat& x, LlmWeights& w,
                       const CalibrateFn& calibrate, const std::function<void(int block)>& afterBlock,
                       int64_t firstBlock = 0) const;
    // Logits of rows [offset, offset+len) of the final hidden states.
    RowMat headLogits(const RowMat& x, int64_t offset, int64_t len, const float* head) const;
};

// RMS normalisation of each row of x times `weight` into out (sums of squares in double).
void llmRmsNorm(const RowMat& x, const std::vector<float>& weight, double eps, RowMat& out);

// Rotary embedding of the `heads` heads (hd values each) of one row at one position, cosP/sinP
// holding that position's hd / 2 values.
void llmRopeRow(float* row, int64_t heads, int64_t hd, const float* cosP, const float* sinP, RopeStyle style);
// Softmax over row[0, seen) in place; row[seen, len) set to 0 (a causal attention row).
void llmSoftmaxPrefix(float* row, int64_t seen, int64_t len);

// Sequences for chunks [first, last) of `tokens` (chunks of ctx): [BOS] + chunk[0 .. len-2]
// as inputs, the chunk as targets; T receives the total rows.
std::vector<LlmSeq> makeLlmSeqs(const std::vector<int32_t>& tokens, int64_t ctx, int64_t first, int64_t last,
                                int32_t bos, int64_t& T);

struct LlmRowStats {
    double nll = 0;     // summed over the rows
    double baseNll = 0;
    double kl = 0;      // summed KL(base || compressed), nats
    int64_t agree = 0;  // rows whose top-1 matches the base's
};
// Log-softmax statistics of one sequence's logits: NLL of the targets and, against base
// logits when given, KL(base || compressed) and top-1 agreement.
LlmRowStats scoreLlmRows(const RowMat& logits, const RowMat* base, const std::vector<int32_t>& target);

// GPTQ/AWQ calibration of the compressed weights on calibration sequences (llm_calibrate.cpp).
void calibrateLlm(const LanguageModel::Impl& m, LlmWeights& w, const std::vector<LlmSeq>& seqs,
                  int64_t tokens, const std::function<void(int block)>& afterBlock);

} // namespace bonsai
