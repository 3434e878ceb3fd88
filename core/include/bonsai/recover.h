#pragma once
// Recovery after compression: short training runs that win back the accuracy a compression
// recipe costs, on an ONNX classifier the Trainer can train (train.h).
//
//  - Finetune: starts from the compressed weights (compressLayer's reconstruction of every
//    layer of the recipe), pins pruned weights at zero and removed channels removed (masks),
//    trains them as float values with cross-entropy. A quantizing recipe is applied after
//    training only (recoverNotes says so): at low bit widths re-rounding the trained values
//    undoes most of what the training changed; Qat and Distill train through it.
//  - Qat (quantization-aware training): every layer whose precision quantizes keeps latent
//    float weights that start from the uncompressed model; the forward pass uses the layer's
//    configured fake quantization of them (the quantize.h kernel at the layer's precision and
//    granularity, as compressLayer applies it to a dense matrix; only the kept rows of a layer
//    whose channels are pruned), gradients pass straight through (STE); sparsity masks are
//    kept. A layer the recipe does not quantize starts from its compressed values, as in
//    Finetune. Rank reduction is not simulated during training (it is applied at the end).
//  - Distill: the student trains exactly as in Qat (same start values, same fake-quantized
//    forward pass, same masks), with the uncompressed model as teacher: its logits (inference
//    mode, computed once for every training sample) enter the loss
//    alpha * T^2 * KL(softmax(z_t / T) || softmax(z_s / T)) + (1 - alpha) * CE, where z_s and
//    the cross-entropy are those of the fake-quantized student. With alpha = 0 it is Qat.
//  - Lottery: iterative magnitude pruning with rewinding. Round i of k prunes the prunable
//    weights (the weights of every layer of the model) to s_i = 1 - (1 - target)^(i / k) with
//    ONE GLOBAL magnitude threshold (exactly round(s_i * N) of the N weights; masks only grow),
//    rewinds the surviving weights to the rewind point (the given model's weights, or the
//    weights after `rewindStep` training steps of the dense model from there) and retrains.
//    The recipe's precision and rank still apply to the result; its sparsity settings are
//    replaced by the lottery masks.
//
// Every method ends by applying the configured compression to the trained weights (same masks,
// same removed channels), so the result holds exactly the values the recipe stores; the
// accuracies after each epoch / round and at the end are measured on those values.
// Core code: no Qt; progress and cancellation through ProgressFn (throws Cancelled).
#include "bonsai/dataset.h"
#include "bonsai/layer_config.h"
#include "bonsai/model.h"
#include "bonsai/progress.h"
#include "bonsai/train.h"

#include <cstdint>
#include <optional>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace bonsai {

enum class RecoverMethod { Finetune, Qat, Distill, Lottery };

std::string recoverMethodName(RecoverMethod m); // "finetune", "qat", "distill", "lottery"
std::optional<RecoverMethod> parseRecoverMethod(std::string_view name);

struct RecoverEpoch {
    int round = 0;          // lottery round (1..k), 0 otherwise
    int epoch = 0;          // 1-based within the run
    double loss = 0;        // mean training loss
    double trainAccuracy = 0;
    double testAccuracy = -1; // compressed result after this epoch (-1: not measured)
    int64_t steps = 0;
    double seconds = 0;
};

struct RecoverOptions {
    RecoverMethod method = RecoverMethod::Finetune;
    int epochs = 1;           // per training run (each lottery round is one run)
    int64_t steps = 0;        // > 0: at most this many optimizer steps per run
    double lr = 1e-4;         // Adam
    int64_t batch = 64;
    uint64_t seed = kDefaultTrainSeed; // mini-batch order
    double temperature = 4.0; // Distill
    double alpha = 0.7;       // Distill: weight of the KL term
    int rounds = 3;           // Lottery: k
    double targetSparsity = 0.8; // Lottery: final fraction of pruned prunable weights
    int64_t rewindStep = 0;   // Lottery: 0 rewinds to the given weights, > 0 to that step
    int64_t limit = 0;        // training samples used (0: all)
    int64_t evalLimit = 0;    // test samples used for accuracies (0: all)
    bool evalEachEpoch = true; // test accuracy after every epoch (else only per round / at the end)
    // Called on the training thread after every recorded epoch (live curves); may be empty.
    std::function<void(const RecoverEpoch&)> onEpoch;
};


struct RecoverRound {
    int round = 0;            // 1..k
    double sparsity = 0;      // pruned / prunable
    uint64_t pruned = 0, prunable = 0;
    double accuracy = 0;      // test accuracy after retraining (compressed)
};

struct RecoverResult {
    RecoverMethod method = RecoverMethod::Finetune;
    double accuracyBefore = 0; // the recipe applied to the given model, no training
    double accuracyAfter = 0;  // the result (weights below)
    std::vector<RecoverEpoch> epochs;
    std::vector<RecoverRound> rounds;
    double seconds = 0;
    WeightMap weights;          // every trained parameter and buffer, compressed as configured
    std::vector<std::string> notes; // recoverNotes(method, configs)
};

// What `method` does with the recipe that a user may not expect, one sentence each (empty:
// nothing to say): Finetune and Lottery train float weights, so a quantizing recipe is only
// applied after training ("finetune trains float weights; the recipe's INT2 quantization is
// applied after training - use qat or distill to train through it"); no method simulates
// rank reduction during training.
std::vector<std::string> recoverNotes(RecoverMethod method, const std::vector<LayerConfig>& configs);

// Runs a recovery. `configs`: one per model layer (resolveConfigs). Throws Error when the
// model is not ONNX, cannot be trained (the message lists ops without a backward pass), when
// a configuration cannot apply to its layer, or on bad options; FileError for data that does
// not fit the model; Cancelled when `progress` answers false.
RecoverResult recover(const Model& model, const std::vector<LayerConfig>& configs, const Dataset& train,
                      const Dataset& test, const RecoverOptions& options, const ProgressFn& progress = {});

// Writes the model with the recovered weights (graph kept): writeOnnxWithWeights.
void writeRecovered(const Model& model, const RecoverResult& result, const std::string& path);

// Top-1 accuracy of the model with `weights` replaced (uncompressed run of those values) on the
// first `limit` samples of `data` (0: all).
double weightsAccuracy(const Model& model, const WeightMap& weights, const Dataset& data, int64_t limit = 0);

} // namespace bonsai
