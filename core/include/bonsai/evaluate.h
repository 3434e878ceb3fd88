#pragma once
// Evaluation: runs an ONNX classifier, compressed as configured, over a data set and measures
// quality against the labels and against the uncompressed model.
//
// Each compressed layer runs with its compressed-then-dequantized weights (fake quantization,
// from compressLayer), so the accuracy reflects the configuration exactly.
//
// Fast enough to be interactive:
//  - the uncompressed model runs once; its logits are kept, and the values live at each
//    layer boundary (the inputs of the node that consumes a layer's weight, and everything
//    produced earlier that later nodes read) are cached per batch within a memory cap;
//  - when only layers from k onwards differ from the uncompressed model, evaluation starts
//    from the cached boundary of layer k (identical results to a full run);
//  - progressive: a first estimate on `quickSamples` samples is reported, then the rest, and
//    running metrics after every batch.
#include "bonsai/compress.h"
#include "bonsai/dataset.h"
#include "bonsai/metrics.h"
#include "bonsai/model.h"
#include "bonsai/progress.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bonsai {

struct EvalOptions {
    int64_t limit = 0;                 // evaluate the first `limit` samples (0: all)
    int64_t batch = 256;
    uint64_t cacheBytes = 1ull << 30;  // activation cache cap
    int64_t quickSamples = 1000;       // progressive first estimate (0: none)
    bool incremental = true;           // use cached boundaries when possible
    // Deploy mode: layers compressed to symmetric INT8 (per channel or per tensor) run from
    // their integer codes with activations quantized per batch (ExecOptions::deploy), as a
    // deployed INT8 model computes; the others as usual. Results then differ from the fake
    // quantization by the activations' rounding.
    bool deploy = false;
};

struct LayerOutputError {
    std::string layer;
    double sqnrDb = 0; // of the consuming node's output vs the uncompressed run (first batch)
};

struct EvalResult {
    MetricsSnapshot metrics;    // top-1/top-5 (with CI), agreement and KL vs the uncompressed model
    int64_t samples = 0;        // evaluated so far
    int64_t total = 0;          // to evaluate
    double seconds = 0;         // wall time of this evaluate() call (incl. a first reference pass)
    uint64_t originalBytes = 0;
    uint64_t compressedBytes = 0;
    std::vector<LayerOutputError> layerErrors; // compressed layers, in graph order
    // Layers quantized with GPTQ/AWQ (LayerConfig::method) are calibrated on the inputs the
    // uncompressed model gives them on the first calibSamples samples of the evaluation data
    // (not sequentially on already-quantized earlier layers). Notes on the calibrated layers,
    // "layer: note" (what was used, or why round-to-nearest was used instead).
    std::vector<std::string> notes;
    std::vector<std::string> int8Layers; // deploy mode: the layers that ran in INT8
    size_t startNode = 0;       // node the compressed pass started from (incremental)
    bool complete = false;      // false for progressive partial results
};

using EvalCallback = std::function<void(const EvalResult& partial)>;

class Evaluator {
public:
    // Checks everything before any work: the model must be ONNX with only supported ops
    // (the error lists the missing ones), with one float input the data set can fill.
    Evaluator(const Model& model, const Dataset& data, const EvalOptions& options = {});
    ~Evaluator();
    Evaluator(const Evaluator&) = delete;
    Evaluator& operator=(const Evaluator&) = delete;

    // Evaluates one configuration (one per model layer). Throws Cancelled when `progress`
    // answers false (checked between batches and between nodes).
    EvalResult evaluate(const std::vector<LayerConfig>& configs, const ProgressFn& progress = {},
                        const EvalCallback& partial = {});

    // The uncompressed model's run (done on first use): its metrics.
    EvalResult reference(const ProgressFn& progress = {});

    const Preprocess& preprocess() const;
    int64_t sampleCount() const;
    uint64_t cachedBytes() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

} // namespace bonsai
