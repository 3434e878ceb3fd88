#pragma once
// Language models of the Llama family (Llama 1-3, Mistral, Qwen2/Qwen2.5) from a Hugging Face
// checkpoint folder (config.json + safetensors) or a GGUF file: configuration, the grouping
// of their layers, an FP32 forward pass with compressed weights, and perplexity.
//
// The forward pass works layer-major over a batch of chunks: every linear layer's weights are
// taken from the compression engine (or read from the mapped file when unchanged) once per
// batch, used for every token of the batch and dropped, so that memory stays near the
// checkpoint's mapped size plus one layer plus the batch's activations.
#include "bonsai/layer_config.h"
#include "bonsai/model.h"
#include "bonsai/progress.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bonsai {

class Tokenizer;

// ---------------------------------------------------------------------------------------
// Layer grouping (works on names alone: Hugging Face and GGUF conventions)
// ---------------------------------------------------------------------------------------

enum class LlmRole : uint8_t {
    Embedding, // model.embed_tokens / token_embd
    AttnNorm,  // input_layernorm / attn_norm
    Q, K, V, O,
    MlpNorm,   // post_attention_layernorm / ffn_norm
    Gate, Up, Down,
    FinalNorm, // model.norm / output_norm
    Head,      // lm_head / output
};

struct LlmLayerInfo {
    int block = -1;      // transformer block index, -1 for embeddings, final norm and head
    LlmRole role = LlmRole::Embedding;
    std::string group;   // "Embeddings", "Block 3", "Output head"
    std::string part;    // "attention" / "mlp" / "" (for embeddings and head)
    std::string label;   // short: "q_proj", "k_proj", ..., "gate_proj", "embed_tokens", "lm_head"
};

// The role of a tensor or layer name ("model.layers.3.self_attn.q_proj(.weight)",
// "blk.3.attn_q(.weight)", ...); nullopt for names that are not part of a Llama-family model.
std::optional<LlmLayerInfo> llmLayerInfo(std::string_view name);
std::string_view llmRoleName(LlmRole r); // "attn.q", "mlp.down", "embeddings", "head", ...
// llama.cpp's name of a Llama-family tensor ("model.layers.3.self_attn.q_proj.weight" ->
// "blk.3.attn_q.weight"; GGUF names stay as they are); nullopt for other names.
std::optional<std::string> ggufTensorName(std::string_view name);

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

enum class RopeStyle : uint8_t {
    Neox,       // Hugging Face rotate-half: pairs (i, i + d/2)
    Interleaved // GGUF "llama": pairs (2i, 2i + 1) (llama.cpp permutes Q/K when converting)
};

struct LlmConfig {
    std::string architecture; // "llama", "mistral", "qwen2"
    int64_t hidden = 0, intermediate = 0, layers = 0, heads = 0, kvHeads = 0, headDim = 0;
    int64_t vocab = 0, maxPositions = 0;
    double rmsEps = 1e-6, ropeTheta = 10000.0;
    RopeStyle rope = RopeStyle::Neox;
    // Llama 3.1 "llama3" rope scaling (factor 0: none).
    double ropeFactor = 0, ropeLowFreqFactor = 1, ropeHighFreqFactor = 4;
    int64_t ropeOriginalMaxPositions = 8192;
    bool tiedEmbeddings = false;
    bool attentionBias = false; // q/k/v biases (Qwen2)
    int32_t bosId = -1, eosId = -1;

    // "llama3" RoPE scaling (ropeFactor > 0): the number an inverse frequency `freq` of the
    // unscaled RoPE is divided by (1 for high frequencies, ropeFactor for low ones, a smooth
    // blend between), as Hugging Face applies it and llama.cpp reads it from rope_freqs.weight.
    double llama3RopeDivisor(double freq) const;

    // From config.json beside the safetensors, or from GGUF metadata. Throws FileError naming
    // the file and the missing or inconsistent key (also when the tensors do not match it).
    static LlmConfig fromModel(const Model& model);
    std::string describe() const; // "llama, 4 blocks, hidden 128, 4 heads (2 KV), vocab 1024"
};

// The bytes of a text file (for perplexity and calibration). Throws FileError naming the file
// when it cannot be read or is empty.
std::string readTextFile(const std::string& path);

// True when the model looks like a Llama-family language model (by tensor names).
bool isLanguageModel(const Model& model);

// ---------------------------------------------------------------------------------------
// Perplexity
// ---------------------------------------------------------------------------------------

struct PerplexityOptions {
    int ctx = 128;                 // tokens per chunk (scored tokens; the run is BOS + chunk)
    int64_t maxChunks = 0;         // evaluate only the first chunks (0: all)
    bool compareToBase = true;     // also run the uncompressed model for KL and agreement
    int64_t batchTokens = 2048;    // tokens per layer-major batch (memory vs progress)
    // Calibration for GPTQ/AWQ layers: token ids of the calibration text (chunks of ctx,
    // each run as BOS + chunk); empty: the first chunks of the evaluated text.
    std::vector<int32_t> calibrationTokens;
};

struct PerplexityProgress {
    std::string stage;          // "calibrating block 3/32", "evaluating"
    double fraction = 0;        // of the whole job
    int64_t chunksDone = 0, chunksTotal = 0;
    uint64_t tokensDone = 0;
    double perplexity = 0;      // running, over the chunks done
    double kl = 0;              // running mean KL(base || compressed), nats per token
    double agreement = 0;       // running top-1 agreement with the base model
    std::vector<double> chunkPerplexity; // per finished chunk (for the running chart)
};

struct PerplexityResult {
    double perplexity = 0;
    double nll = 0;             // mean negative log-likelihood, nats per token
    uint64_t tokens = 0;        // scored tokens
    int64_t chunks = 0;
    double kl = 0;              // mean KL divergence vs the uncompressed model (0 without it)
    double agreement = 1;       // top-1 agreement with the uncompressed model (1 without it)
    double basePerplexity = 0;  // of the uncompressed model (when compared)
    double seconds = 0;
    uint64_t originalBytes = 0, compressedBytes = 0;
    std::vector<double> chunkPerplexity;
    std::vector<std::string> notes; // e.g. which layers were calibrated, and on how many tokens
};

using PerplexityCallback = std::function<bool(const PerplexityProgress&)>; // false: cancel

class LanguageModel {
public:
    // Binds the model's tensors (Hugging Face or GGUF names) and its tokenizer. Throws
    // FileError naming the file and the fault (missing tensor, wrong shape, no tokenizer).
    explicit LanguageModel(const Model& model);
    ~LanguageModel();
    LanguageModel(const LanguageModel&) = delete;
    LanguageModel& operator=(const LanguageModel&) = delete;

    const LlmConfig& config() const;
    const Tokenizer& tokenizer() const;
    const Model& model() const;

    // Logits (ids.size() x vocab, row-major) of one sequence, with each model layer compressed
    // as `configs` says (one per Model::layers entry; empty: uncompressed). GPTQ/AWQ layers
    // calibrate on `calibrationTokens` (must not be empty then).
    std::vector<float> logits(const std::vector<int32_t>& ids,
                              const std::vector<LayerConfig>& configs = {},
                              const std::vector<int32_t>& calibrationTokens = {}) const;

    // Perplexity of `tokens` (the text's encoding without BOS) under the protocol: chunks of
    // options.ctx, each run as [BOS] + chunk, every chunk token scored. Throws Cancelled when
    // the callback answers false.
    PerplexityResult perplexity(const std::vector<int32_t>& tokens,
                                const std::vector<LayerConfig>& configs,
                                const PerplexityOptions& options = {},
                                const PerplexityCallback& progress = {}) const;

    struct Impl;
    const Impl& impl() const { return *impl_; } // internals (core/src/llm)

private:
    std::unique_ptr<Impl> impl_;
};

} // namespace bonsai
