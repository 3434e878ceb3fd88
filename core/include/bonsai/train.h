#pragma once
// Training engine: trains the float initializers of an ONNX classifier (a Model read by
// readOnnx()) with mini-batch SGD (momentum, weight decay) or Adam.
//
// Each step runs the forward pass with the OnnxExecutor (fuse off, so every activation is
// kept) except BatchNormalization, which in training mode uses the batch statistics and
// updates its running statistics (ONNX rule: running = running * momentum + batch * (1 -
// momentum), population variance). The backward pass then walks the nodes in reverse order
// and accumulates the gradient of every trainable parameter (train_grad.h has the kernels):
// Conv, Gemm, MatMul, Relu, MaxPool, AveragePool, GlobalAveragePool, BatchNormalization,
// Flatten, Reshape, Identity, Add; the loss is softmax cross-entropy (mean over the batch) of
// the first graph output, optionally mixed with a teacher's soft targets.
//
// Trainable parameters: float tensors of the model (initializers, Constant nodes) that feed a
// differentiable input of a node (weights, biases, BN scale and bias), minus `frozen`. BN
// running mean / variance are buffers: updated by the forward pass, never by the optimizer.
// Ops on the gradient path without a backward pass make the constructor throw an Error that
// lists them all.
//
// Hooks for compression-aware training:
//  - masks: a parameter may have a keep-mask; its gradient is masked and the mask re-applied
//    after each update, so pruned weights stay exactly zero (maskChannels() removes whole
//    output channels: the weight's rows, its bias, a BatchNormalization that follows);
//  - a weight transform (e.g. fake quantization) maps the latent weights to the ones used by
//    the forward pass; gradients flow straight through to the latent weights (STE);
//  - distillation: a batch may carry a teacher's logits (TrainOptions::distillAlpha, .temperature);
//  - rewinding: snapshot() / restore() of every parameter and buffer.
//
// Determinism: for a given seed, options, data and OpenMP thread count, results are identical
// from run to run (parallel reductions are static and summed in thread order).
#include "bonsai/dataset.h"
#include "bonsai/model.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bonsai {

// Default seed of the trainer's shuffles (and of the demo model's initialisation).
inline constexpr uint64_t kDefaultTrainSeed = 20240601;

struct TrainOptions {
    enum class Optimizer { Sgd, Adam };
    Optimizer optimizer = Optimizer::Adam;
    double lr = 1e-3;
    double momentum = 0.9;        // SGD: v = momentum * v + g; w -= lr * v
    double beta1 = 0.9, beta2 = 0.999, adamEps = 1e-8;
    // L2 weight decay on parameters of rank >= 2 (weights, not biases or BN parameters):
    // added to the gradient for SGD, decoupled (AdamW: w -= lr * wd * w) for Adam.
    double weightDecay = 0.0;
    int64_t batch = 64;
    // Mini-batch order of epoch e: Fisher-Yates shuffle of [0, n) driven by
    // std::mt19937_64(seed + 0x9E3779B97F4A7C15 * (e + 1)), index j drawn as the high 64 bits of
    // engine() * (i + 1); independent of earlier epochs (resumable, rewindable).
    uint64_t seed = kDefaultTrainSeed;
    bool shuffle = true;
    bool dropLast = false;          // skip a last, smaller batch
    double distillAlpha = 0.0;      // weight of the teacher's soft targets
    double temperature = 1.0;       // distillation temperature T (the KL term is scaled by T^2)
    std::vector<std::string> frozen; // parameters left untouched
    bool inputGradient = false;     // also compute the gradient of the graph input
};

// One mini-batch: n samples of the model input's per-sample shape, row-major.
struct TrainBatch {
    const float* x = nullptr;
    const int64_t* labels = nullptr;
    int64_t n = 0;
    const float* teacher = nullptr; // teacher logits [n, classes] for distillation, or null
};

// A whole training set preprocessed in memory (a Dataset filled once).
struct TrainData {
    std::vector<float> x;
    std::vector<int64_t> labels;
    std::vector<int64_t> sampleShape; // per-sample model input shape
    int64_t size = 0;
    int64_t sampleNumel() const;
    // Fills every sample (or the first `limit`, 0: all) of `data` for a model input shape
    // [B, ...]; throws FileError when they do not fit.
    static TrainData load(const Dataset& data, const std::vector<int64_t>& inputShape, int64_t limit = 0);
};

struct StepInfo {
    int64_t step = 0;  // optimizer steps taken so far (after this one)
    int epoch = 0;
    int64_t batchIndex = 0, batches = 0;
    int64_t samples = 0; // in this batch
    double loss = 0;     // of this batch
};

struct EpochResult {
    int epoch = 0;
    double loss = 0;     // mean over the epoch's samples
    double accuracy = 0; // top-1 on the training batches (training-mode forward)
    int64_t samples = 0;
    double seconds = 0;
};

// Called after every step; return false to stop the epoch early.
using StepCallback = std::function<bool(const StepInfo&)>;

// Maps a parameter's latent values to the ones the forward pass uses (n = element count).
using WeightTransform = std::function<void(const std::string& name, const std::vector<int64_t>& shape,
                                           const float* latent, float* forward, size_t n)>;

// Parameter and buffer values by tensor name.
using WeightMap = std::map<std::string, std::vector<float>>;

class Trainer {
public:
    // Plans forward and backward passes. Throws Error when the model is not a runnable ONNX
    // classifier with one float input, or when ops on the gradient path have no backward pass.
    Trainer(const Model& model, const TrainOptions& options = {});
    ~Trainer();
    Trainer(const Trainer&) = delete;
    Trainer& operator=(const Trainer&) = delete;

    const TrainOptions& options() const;
    // Sorted op types on the gradient path that have no backward pass (empty: trainable).
    static std::vector<std::string> unsupportedOps(const Model& model, const TrainOptions& options = {});

    std::vector<std::string> parameterNames() const; // graph order of first use
    std::vector<std::string> bufferNames() const;    // BN running statistics
    bool isParameter(const std::string& name) const;
    const std::vector<int64_t>& shape(const std::string& name) const;
    const std::vector<float>& value(const std::string& name) const;   // parameter or buffer
    void setValue(const std::string& name, const std::vector<float>& values); // re-applies a mask
    const std::vector<float>& gradient(const std::string& name) const; // of the last pass
    const std::vector<float>& inputGradient() const; // with TrainOptions::inputGradient
    const std::vector<int64_t>& inputShape() const;  // model input, batch dim -1 or declared

    // Masks: 1 keeps a weight, 0 pins it at zero (applied at once).
    void setMask(const std::string& name, std::vector<uint8_t> keep);
    void clearMask(const std::string& name);
    const std::vector<uint8_t>* mask(const std::string& name) const; // null when none
    // Removes output channels of a weight (rows along its layer's output axis), the matching
    // bias entries and, when a BatchNormalization consumes the layer's output directly, its
    // scale and bias entries.
    void maskChannels(const std::string& weight, const std::vector<int64_t>& channels);

    void setWeightTransform(WeightTransform transform); // empty function: none
    void setLearningRate(double lr);
    double learningRate() const;
    void setTraining(bool training); // false: BN uses running statistics, nothing is updated
    void resetOptimizer();           // clears momentum / Adam moments and the step count
    int64_t steps() const;

    WeightMap snapshot() const;          // every parameter and buffer
    void restore(const WeightMap& values); // the named ones; re-applies masks

    // Forward + backward on one batch: returns the loss and leaves the gradients in
    // gradient(); updates BN running statistics in training mode; no optimizer step.
    double forwardBackward(const TrainBatch& batch);
    // forwardBackward() and one optimizer update; returns the loss.
    double step(const TrainBatch& batch);
    // Logits [n, classes] of the forward pass in inference mode (running statistics).
    std::vector<float> predict(const float* x, int64_t n);
    // Logits of the last forwardBackward() / step().
    const std::vector<float>& lastLogits() const;

    // One epoch over `data` in mini-batches of options().batch (order: see TrainOptions::seed).
    EpochResult trainEpoch(const TrainData& data, int epoch, const StepCallback& callback = {});

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

} // namespace bonsai
