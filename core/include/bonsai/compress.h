#pragma once
// The compression engine: applies a LayerConfig to one layer (sparsity, then rank, then
// precision), measures the error against the original weights and the exact storage size.
//
// Storage, in bits, of one layer's weight (its bias is never changed):
//  - dense:        the precision's size of the rows x cols matrix (see quantize.h);
//  - unstructured: a 1-bit mask per original weight + kept values at the layer precision
//                  (+ its scales, per group of the dense layout);
//  - N:M:          kept values + ceil(log2(M)) index bits per kept value (+ scales);
//  - channels:     only the kept rows, dense;
//  - rank r:       U (rows x r) and V (r x cols), each at the layer precision with its own
//                  scales (V's rows are its "channels", U's groups run along r).
// Precision "fp32" means "unchanged": values keep the width they have in the file (an F16
// checkpoint stays 16 bits per value; a GGUF Q4_K layer its 4.5 bits). A layer whose
// configuration changes nothing keeps its original size exactly.
// The weight is seen as rows x cols with rows = output channels (the layer's outAxis moved
// first, the other axes flattened in order): Conv [out, in, kh, kw] -> [out, in*kh*kw].
#include "bonsai/layer_config.h"
#include "bonsai/layout.h"
#include "bonsai/lowrank.h"
#include "bonsai/model.h"
#include "bonsai/progress.h"
#include "bonsai/quantize.h"

#include <Eigen/Core>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bonsai {

class Recipe;

struct LayerResult {
    int layer = -1;
    std::string name;
    LayerConfig config;
    uint64_t rows = 0, cols = 0;
    uint64_t params = 0;         // weight elements
    uint64_t originalBits = 0;   // weight storage in the file
    uint64_t compressedBits = 0; // weight storage after compression
    uint64_t biasBits = 0;       // bias storage (unchanged, in both totals)
    ErrorMetrics error;
    uint64_t keptValues = 0;     // values stored (after sparsity / as factors)
    uint64_t rankUsed = 0;       // 0 when no rank reduction
    std::vector<uint64_t> removedChannels; // structured pruning: removed output channels
    std::string consumer;        // structured pruning: the layer whose input channels follow
    std::vector<std::string> notes; // e.g. "rank 300 saves nothing (...)"

    double bitsPerWeight() const { return params ? static_cast<double>(compressedBits) / static_cast<double>(params) : 0; }
};

struct ModelResult {
    std::vector<LayerResult> layers;
    uint64_t originalBytes = 0;   // all tensors of the model as stored
    uint64_t compressedBytes = 0; // with every layer's weight compressed (bits rounded up per layer)
    double ratio() const { return compressedBytes ? static_cast<double>(originalBytes) / static_cast<double>(compressedBytes) : 0; }
    std::vector<std::string> warnings;
};

// Bits per stored value of a dtype (block types: their average, scales included).
double storedBitsPerValue(DType t);

// The integer-quantizer settings of a configuration with an integer precision.
IntQuantConfig intQuantConfig(const LayerConfig& c);

// Reads a layer's weight as a rows x cols float matrix (output channels first).
std::vector<float> layerMatrix(const Model& model, const Layer& layer, uint64_t& rows, uint64_t& cols);
// Fake-quantizes a dense rows x cols (channel-major) matrix in place at the configuration's
// precision and granularity: the precision step of compressLayer.
void fakeQuantize(const LayerConfig& config, float* matrix, uint64_t rows, uint64_t cols);

// matrixToLayout (bonsai/layout.h) writes such a matrix back in the weight's own layout.

// State kept between calls of compressLayer on the same layer (the live preview): the
// low-rank factors of the last (sparsified) matrix, so that moving a rank slider only
// truncates them. Rank reduction always computes the factors at a bucketed target rank
// (the next power of two >= max(r, 32)) and truncates to r, with or without a cache, so
// cached and uncached results are identical.
struct RankCache {
    int layer = -1;
    LayerConfig sparsity;   // the sparsity part of the configuration the factors belong to
    uint64_t target = 0;
    std::shared_ptr<const LowRankFactors> factors;
};

// Calibration data of one layer for GPTQ/AWQ (LayerConfig::method), gathered by the caller
// from the layer's inputs on calibration data (language models: bonsai/llm.h; classifiers:
// the Evaluator). Inputs are the rows x `cols` matrix view's input vectors (Conv: im2col
// patches in the [in, kh, kw] order of the flattened weight).
struct LayerCalibration {
    Eigen::MatrixXd hessian;   // GPTQ: HessianAccumulator::hessian()
    std::vector<float> inputs; // AWQ: sample rows of cols inputs each
    int64_t samples = 0;       // rows in `inputs`
};

// Compresses one layer. `reconstructed`, when given, receives the values the compressed model
// computes with, in the weight's own layout and shape (pruned channels as zeros).
// `globalMask`, when given, replaces the layer's own unstructured mask (global scope).
// `factors`, when given and the configuration has a rank, receives the factors before the
// precision step: fakeQuantize(config, u, rows, rank) and fakeQuantize(config, v, rank, cols)
// give exactly those whose product the layer computes with (rows: the kept channels).
// Throws bonsai::Error when the configuration cannot apply (e.g. a GGUF type on rows whose
// length is not a multiple of its block).
LayerResult compressLayer(const Model& model, int layer, const LayerConfig& config,
                          std::vector<float>* reconstructed = nullptr,
                          const std::vector<uint8_t>* globalMask = nullptr,
                          RankCache* rankCache = nullptr,
                          const LayerCalibration* calibration = nullptr,
                          LowRankFactors* factors = nullptr);

// Masks of the layers pruned with one global magnitude threshold (unstructured sparsity with
// "global" scope; one threshold per group of equal fraction), keyed by layer index.
std::map<size_t, std::vector<uint8_t>> globalSparsityMasks(const Model& model,
                                                           const std::vector<LayerConfig>& configs);

// One configuration per layer from a recipe.
std::vector<LayerConfig> resolveConfigs(const Model& model, const Recipe& recipe);

// Compresses every layer (layer by layer; global-scope unstructured sparsity first finds one
// magnitude threshold shared by all layers of equal sparsity fraction with that scope).
ModelResult compressModel(const Model& model, const std::vector<LayerConfig>& configs,
                          const ProgressFn& progress = {});

} // namespace bonsai
