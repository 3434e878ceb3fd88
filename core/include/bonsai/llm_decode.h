#pragma once
// Token-by-token generation for Llama-family language models: a KV cache, a batched prefill of
// the prompt and one-token decode steps, on the packed low-bit kernels (bonsai/kernels.h).
//
// Weights are bound once, per linear layer:
//  - unchanged GGUF Q8_0 / Q4_0 / Q4_K / Q6_K / F32 tensors are used in place from the mapped
//    file (resident weight memory = the file's blocks, no float copy);
//  - a recipe's Q8_0 / Q4_0 / Q4_K / Q6_K precision is quantized once into owned blocks (the
//    same bit-exact quantizer as the fake quantization);
//  - a recipe's integer precision (2..8 bits, per channel or groups of multiples of 32) is
//    packed once into codes and scales recovered from the fake-quantized weights (INT8 codes
//    for 5..8 bits, 4-bit codes for 2..4 bits);
//  - anything else (F16/BF16 checkpoints, other formats, sparsity without an integer grid,
//    low rank) becomes FP32 rows.
// The logits of a decode step equal LanguageModel::logits at that position up to float
// summation order (FP32 weights) or the int8 rounding of the activations (quantized weights).
#include "bonsai/kernels.h"
#include "bonsai/layer_config.h"
#include "bonsai/llm.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bonsai {

struct DecodeOptions {
    int64_t maxContext = 0; // positions kept in the KV cache (0: the model's, at most 4096)
    int64_t batch = 1;      // sequences decoded together
    // Quantized weights dotted with float activations (dequantized rows) instead of int8
    // activations: slower, for checking.
    bool floatActivations = false;
    // Token ids for GPTQ/AWQ layers' calibration (chunks of 128, as perplexity takes them).
    std::vector<int32_t> calibrationTokens;
};

// The packed kernel LlmDecoder binds for a weight of `cols` columns configured as `c` (a
// configuration that changes the weights): a GGUF block type with a kernel (no sparsity or low
// rank), INT8 codes for 5..8-bit or 4-bit codes for 2..4-bit integer precision (no low rank;
// per channel or groups of whole 32-element blocks; `group` columns share a scale), else F32
// rows. Integer codes bind only when the fake-quantized weights lie on such a grid (the
// decoder keeps F32 rows otherwise).
struct DecodeKernel {
    PackedFormat format = PackedFormat::F32;
    int64_t group = 0; // INT8 / INT4: columns per scale
};
DecodeKernel decodeKernel(const LayerConfig& c, int64_t cols);

// Where the time of the forward passes went (seconds, summed since the last resetTimes()).
struct DecodeTimes {
    static constexpr int kParts = 10;
    // q k v o gate up down (all blocks), head, attention (scores, softmax, values, RoPE, cache),
    // other (embedding, norms, SiLU, residuals).
    std::array<double, kParts> seconds{};
    // Each linear layer's share of the parts above, by Model::layers index (0 for layers that
    // did not run; sized on the first pass).
    std::vector<double> layerSeconds;
    static const char* partName(int i); // "attn.q", ..., "head", "attention", "other"
    double total() const;
};

class LlmDecoder {
public:
    // Binds the weights of `lm` compressed as `configs` say (one per Model::layers entry;
    // empty: unchanged). Throws bonsai::Error for calibrated layers without calibration tokens.
    LlmDecoder(const LanguageModel& lm, const std::vector<LayerConfig>& configs = {},
               const DecodeOptions& options = {});
    ~LlmDecoder();
    LlmDecoder(const LlmDecoder&) = delete;
    LlmDecoder& operator=(const LlmDecoder&) = delete;

    // Feeds ids (batch x len, row-major: the same number of new tokens for every sequence) at
    // the current position. Returns the logits (vocab each) of each sequence's last new
    // position (batch x vocab), or with allLogits of every new position (batch * len x vocab).
    // Throws bonsai::Error when the cache would overflow or an id is outside the vocabulary.
    std::vector<float> forward(const std::vector<int32_t>& ids, bool allLogits = false);
    void reset(); // empties the cache
    int64_t position() const;
    int64_t batch() const;
    int64_t maxContext() const;

    uint64_t weightBytes() const; // resident bytes of the bound linear weights
    uint64_t cacheBytes() const;  // the KV cache
    std::string weightSummary() const; // "Q4_K: 97 layers, Q6_K: 16 layers"
    const std::vector<std::string>& notes() const; // layers kept as FP32, and why

    const DecodeTimes& times() const;
    void resetTimes();

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

} // namespace bonsai
