#pragma once
// Inference speed of a model as it would be deployed, measured on this machine.
//
// Language models run on LlmDecoder (packed low-bit kernels, KV cache): a warm-up pass, then
// per repeat a prefill of a prompt of random token ids and greedy one-token decode steps; the
// prefill and each step are timed, and the decoder's own per-part and per-layer times give
// the latency per decoded token of each part (linear layer type, attention, rest) and layer.
// ONNX classifiers run on the executor (the compressed layers with their fake-quantized
// weights): a warm-up run, then per repeat one whole run and each node on its own, giving the
// latency per batch in total and per node.
//
// Timings are summarised as the median with the range over the repeats; no figure here is
// an estimate. Progress is reported between passes, nodes or decode steps (bonsai/progress.h).
#include "bonsai/layer_config.h"
#include "bonsai/onnx_exec.h"
#include "bonsai/progress.h"

#include <cstdint>
#include <string>
#include <vector>

namespace bonsai {

class Model;

struct SpeedOptions {
    int64_t batch = 1;   // images per run, or sequences decoded together
    int64_t prompt = 128; // language models: prompt tokens per sequence
    int64_t tokens = 32;  // language models: decode steps per repeat
    int64_t repeats = 3;  // timed repeats (classifiers: at least 5)
    // Classifiers: layers compressed to symmetric INT8 (per channel or per tensor) run from
    // their integer codes on the INT8 kernels (ExecOptions::deploy), as deployed; the rest
    // with their compressed float32 values.
    bool deploy = false;
};

// A timing over repeats, in seconds.
struct Spread {
    double median = 0, min = 0, max = 0;
};
Spread spreadOf(std::vector<double> seconds); // all zero when empty

// Classifiers: one executor node (its fused ops included) and the layers whose weight it reads.
struct NodeSpeed {
    std::string name, op;
    Spread seconds; // per batch
    std::vector<int> layers; // Model::layers indices
};

// Language models: one part of a decode step (DecodeTimes::partName).
struct PartSpeed {
    std::string name;
    Spread seconds; // per decoded token
};

struct SpeedResult {
    enum class Kind { Classifier, LanguageModel };
    Kind kind = Kind::Classifier;
    std::string model;       // its path
    std::string description; // language models: the architecture (LlmConfig::describe)
    int threads = 0;         // OpenMP threads the passes ran on
    int64_t batch = 1;
    int64_t repeats = 0;     // timed repeats

    // Classifiers.
    Spread latency;          // one run of a batch
    std::vector<NodeSpeed> nodes; // in execution order
    uint64_t activationBytes = 0; // every value a run computes, held at once
    std::vector<std::string> int8Layers; // deploy mode: the layers that ran in INT8

    // Language models.
    std::string kernels;       // kernelIsaName() of the packed kernels
    std::string weightSummary; // "Q8_0: 29 layers"
    int64_t promptTokens = 0, decodeTokens = 0; // per sequence and repeat
    int64_t decodeSteps = 0;   // decode steps timed (repeats x decodeTokens)
    Spread prefill;            // a batch's prompt
    Spread decodeStep;         // one step of the batch
    double prefillTokensPerSecond = 0; // batch x prompt / median prefill
    double decodeTokensPerSecond = 0;  // per sequence: 1 / median step
    std::vector<PartSpeed> parts;
    uint64_t kvCacheBytes = 0;
    double bindSeconds = 0; // binding (and packing) the weights
    std::vector<std::string> notes; // layers kept as FP32, and why

    // Both. throughput: samples per second (classifiers) or tokens per second over the batch.
    double throughput = 0;
    // Per Model::layers index, the measured time of that layer (median over the repeats;
    // classifiers: of the node reading its weight, per batch; language models: per decoded
    // token); -1 for layers that did not run on their own.
    std::vector<double> layerSeconds;
    // Resident weights: language models the bound (packed) linear weights; classifiers the
    // model's tensor bytes as stored.
    uint64_t weightBytes = 0;
    double peakRssBytes = 0; // the process's peak resident set so far
    // The share of the machine's CPU time (all cores) that other processes used while this
    // measured, 0-1; -1 where /proc/stat could not be read or the measure took less than half
    // a second (too short to tell). Timings taken while other programs
    // held cores are slower than the machine can do (more so with OpenMP, whose threads wait
    // for one another at every pass).
    double otherCpuShare = -1;

    // Latency to compare configurations by: per batch (classifiers) or per decode step.
    double latencySeconds() const { return kind == Kind::Classifier ? latency.median : decodeStep.median; }
};

// CPU time so far, in seconds: the machine's over all cores (/proc/stat) and its busy part
// (all but idle and I/O wait), and this process's own (getrusage). total < 0 where /proc/stat
// cannot be read. Other processes' time over a window is busy - self between two readings.
struct CpuTimes {
    double total = -1, busy = 0, self = 0;
};
CpuTimes cpuTimesNow();

// SpeedResult::otherCpuShare above this: the measure warns that its figures are slow.
constexpr double kBusyMachineShare = 0.1;

// Graph inputs of `batch` samples to time an executor with: uniform floats in [0, 1) from
// `seed`, the first dimension `batch` and other unknown dimensions 1.
OnnxExecutor::Store timingInputs(const OnnxExecutor& ex, int64_t batch, unsigned seed = 7);

// Measures `model` compressed as `configs` say (one per Model::layers entry; empty:
// unchanged). Language models (isLanguageModel) go through LlmDecoder, the rest through the
// ONNX executor (Error when it cannot run the model). Cancelled when `progress` says so.
SpeedResult measureSpeed(const Model& model, const std::vector<LayerConfig>& configs,
                         const SpeedOptions& options = {}, const ProgressFn& progress = {});

} // namespace bonsai
