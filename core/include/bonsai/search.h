#pragma once
// The budget search: which configuration, per layer, gives the best quality for a size (bytes
// or bits per weight) or the smallest size for a quality bound, over precision, sparsity and
// rank together.
//
//  1. Candidates: per layer a list of configurations (defaultCandidates(), or a recipe's
//     "search": {"candidates": [...]}); those a layer or an export target cannot store are
//     left out of that layer's list.
//  2. Sensitivity (measureSensitivity): per layer and candidate, the quality change when only
//     that layer is compressed: KL divergence of the outputs to the uncompressed model's
//     (classifiers: softmax over classes; language models: next-token distributions, mean over
//     tokens) on calibration data, plus the change of the metric (accuracy points, or
//     perplexity). A cheap estimate comes first for every cell (the layer's weight error
//     weighted by its inputs' mean squares on calibration data), then the true measure, cell
//     by cell, starting each run from the first changed layer. Results are cached on disk per
//     model, calibration data and candidate (SensitivityCache).
//  3. Solver (solveSearch): a multiple-choice knapsack over the layers (bonsai/mckp.h): the
//     predicted KL is the sum of the layers' KL; exact branch and bound on the convex-hull
//     relaxation, with pins (a layer's choice fixed) and tied groups (layers that share one
//     candidate, as fused runtimes need: q/k/v, gate/up).
//  4. Latency (measureLatencyCosts): per layer and candidate, the measured time of the layer
//     compressed so, for a latency budget (cached on disk like the sensitivities).
#include "bonsai/layer_config.h"
#include "bonsai/progress.h"
#include "bonsai/recipe.h"

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace bonsai {

class Model;

// ---------------------------------------------------------------------------------------
// Candidates
// ---------------------------------------------------------------------------------------

struct SearchCandidate {
    std::string name;  // "q4_k", "int4 g32", "2:4 int8", "rank 0.95 fp16"
    ConfigPatch patch; // applied on top of the layer's configuration from the recipe
};

// The default list: fp16; q8_0, int8; q6_k; q5_k; q4_k, int4 g32, int4 g128; q3_k, int3 g32;
// q2_k, int2 g32; nf4; 2:4 and 50% unstructured at int8 and int4; ranks at energy 0.90, 0.95
// and 0.99 at fp16 and int8. With the GGUF target, llama.cpp's legacy types (q5_1, q5_0,
// q4_1, q4_0) are added, since they are the ones a row that is no multiple of 256 can hold.
std::vector<SearchCandidate> defaultCandidates(const std::string& target = {});

// Export targets a search can aim at: "" (Bonsai's own evaluation: everything), "gguf",
// "onnx", "safetensors-packed".
bool isSearchTarget(const std::string& target);

// Tied groups: "qkv" (q/k/v projections of one block) and "gate_up" (gate/up of one block).
// The key of the tie group of a layer name, "" when it is in none of `ties`.
std::string tieKey(const std::string& layerName, const std::vector<std::string>& ties);

// A recipe's "search" object:
//   "search": { "candidates": [ {"name": "q4_k", "precision": "q4_k"}, ... ],
//               "tie": ["qkv", "gate_up"], "match": "mlp" }
// Candidate objects take the keys of a recipe rule (no "match") and an optional "name".
struct SearchSpec {
    std::vector<SearchCandidate> candidates; // empty: defaultCandidates(target)
    std::vector<std::string> ties;
    std::string match; // regular expression over layer names; empty: every layer

    static SearchSpec parse(const std::string& json, const std::string& source); // FileError
    std::string toJson() const;
};

// ---------------------------------------------------------------------------------------
// Sensitivity
// ---------------------------------------------------------------------------------------

constexpr double kNotMeasured = std::numeric_limits<double>::quiet_NaN();

struct SensitivityCell {
    bool applicable = false;
    std::string reason;           // why not applicable
    uint64_t bytes = 0;           // the layer's weight storage with this candidate
    double estimate = kNotMeasured; // cheap: input-weighted squared weight error, relative
    double kl = kNotMeasured;       // true: mean KL(base || compressed), nats
    double metricDelta = kNotMeasured; // accuracy change (fraction, negative = worse) or
                                       // perplexity change (positive = worse)
    double latencyMs = kNotMeasured;   // measured time of the layer with the candidate
                                       // (measureLatencyCosts), milliseconds
    bool measured() const { return !std::isnan(kl); }
};

struct SensitivityTable {
    bool languageModel = false;
    std::string metricName;        // "accuracy" or "perplexity"
    double baseMetric = 0;         // the uncompressed model's, on the calibration data
    std::string modelHash, calibrationHash;
    std::vector<SearchCandidate> candidates;
    std::vector<std::string> layers; // searched layers (model layer names), in model order
    std::vector<int> layerIndex;     // their index in Model::layers
    std::vector<uint64_t> params;    // weight elements
    std::vector<uint64_t> baseBytes; // their bytes as configured by the base recipe
    std::vector<LayerConfig> base;   // their configuration from the base recipe
    std::vector<std::vector<SensitivityCell>> cells; // [layer][candidate]
    // Per layer, the factor its cells' KL is multiplied by for the solver: 1, or what a joint
    // measure of its group (refineSearch) found against the sum of the single-layer measures.
    std::vector<double> interaction;

    // The quality the solver uses for a cell: the measured KL, else the estimate scaled by
    // the median ratio of KL to estimate over the measured cells; NaN when not applicable.
    // Times the layer's interaction factor. Uses klPerEstimate, not a fresh median: O(candidates).
    double predictedKl(size_t layer, size_t candidate) const;
    double estimateScale() const;         // the median computed over every cell
    double klPerEstimate = 1.0;           // estimateScale() as of the last change to the cells
    void updateEstimateScale() { klPerEstimate = estimateScale(); }
    size_t measuredCells() const;
    size_t applicableCells() const;
};

// Calibration data: a classifier's data set (the first `samples` samples) or a language
// model's text (the first `samples` chunks of `ctx` tokens).
struct SensitivityOptions {
    std::string dataPath;        // data set (classifier) or text file (language model)
    std::string split;           // a data set folder's split: "test" (default) or "train"
    int64_t samples = 0;         // 0: 1000 images, or 16 chunks
    int ctx = 128;
    std::string target;          // export target ("" gguf onnx safetensors-packed)
    std::string cacheDir;        // "" : sensitivityCacheDir()
    bool useCache = true;
    bool measureAll = true;      // true: measure every applicable cell; false: only those on or
                                 // near each layer's lower convex hull of (bytes, estimate)
    bool measureLatency = false; // also time every applicable cell (measureLatencyCosts)
};

// Where sensitivities are cached: $BONSAI_CACHE_DIR, else $XDG_CACHE_HOME/bonsai/sensitivity,
// else ~/.cache/bonsai/sensitivity.
std::string sensitivityCacheDir();

struct SensitivityProgress {
    std::string stage;   // "estimating", "measuring fc1: int4 g32"
    double fraction = 0; // of the whole job
    size_t cellsDone = 0, cellsTotal = 0; // true measures
    size_t fromCache = 0;
    int layer = -1, candidate = -1; // the cell that just changed (-1: none)
};
// Called after every cell; false cancels (Cancelled is thrown).
using SensitivityCallback = std::function<bool(const SensitivityTable&, const SensitivityProgress&)>;

// Builds the table for `model` (the layers matching spec.match, each starting from `recipe`'s
// configuration) and measures it. Throws FileError on unreadable data, Cancelled.
SensitivityTable measureSensitivity(const Model& model, const Recipe& recipe, const SearchSpec& spec,
                                    const SensitivityOptions& options,
                                    const SensitivityCallback& callback = {});

// The latency cost of every applicable cell (SensitivityCell::latencyMs), measured on this
// machine with the threads OpenMP gives:
//  - language models: one decode step's matrix-vector product (1 x cols times the rows x cols
//    weight) on the packed kernel LlmDecoder binds for the configuration (bonsai/kernels.h):
//    Q8_0, Q4_0, Q4_K, Q6_K blocks for those GGUF types; INT8 codes for integer precisions of
//    5-8 bits and packed INT4 for 2-4 bits (groups of whole 32-element blocks); FP32 rows for
//    everything else (fp16, the other GGUF types, NF4, sparsity or low rank);
//  - ONNX classifiers: the node reading the layer's weight on the executor, one sample: FP32,
//    or INT8 deploy mode (ExecOptions::deploy) where the candidate is symmetric INT8 per
//    channel or tensor.
// Each distinct kernel and shape is timed once per call (best of 5 repeats, each at least
// 1 ms of calls after a warm-up); results are cached per model, layer, configuration, CPU and
// thread count in the sensitivity cache folder. Wall-clock figures: they vary between runs.
// Throws Cancelled when the callback says so, Error when the executor cannot run the model.
void measureLatencyCosts(const Model& model, SensitivityTable& table, const SensitivityOptions& options,
                         const SensitivityCallback& callback = {});

// ---------------------------------------------------------------------------------------
// Solver
// ---------------------------------------------------------------------------------------

// LatencyMs: the summed measured latency of the searched layers (SensitivityCell::latencyMs),
// milliseconds; cells without one cannot be chosen.
enum class BudgetKind : uint8_t { Bytes, BitsPerWeight, MaxKl, MaxDrop, LatencyMs };

// What a size budget minimizes: the summed KL (robust: every token's whole distribution), or
// the summed metric change (accuracy drop, perplexity increase: the number users report, but
// noisier, and a layer can seem to improve it by chance).
enum class SearchObjective : uint8_t { Kl, Metric };

struct SearchBudget {
    BudgetKind kind = BudgetKind::BitsPerWeight;
    double value = 4.0; // bytes, bits per weight over the searched layers, nats, the metric
                        // drop (accuracy points as a fraction, or perplexity increase), or ms
    SearchObjective objective = SearchObjective::Kl; // size budgets: what is minimized
};

struct SearchChoice {
    int candidate = -1;  // index into SensitivityTable::candidates
    bool pinned = false;
    std::string explanation; // "q4_k: KL 0.0012, saves 2.1 MiB; int3 g32 would cost 0.009"
};

struct SearchSolution {
    bool feasible = false;
    bool optimal = false;     // proven optimal for the predicted (additive) KL
    std::vector<SearchChoice> choices; // per searched layer
    uint64_t bytes = 0;       // searched layers' weight bytes
    double bitsPerWeight = 0; // over the searched layers
    double predictedKl = 0;   // sum of the layers' KL
    double predictedDelta = 0; // sum of the layers' metric drops (positive = worse: accuracy
                               // fall as a fraction, or perplexity rise)
    double latencyMs = 0;     // sum of the layers' measured latencies (NaN where one is missing)
    std::string message;      // why infeasible
};

// pins: per searched layer, -1 or the candidate index it must keep.
SearchSolution solveSearch(const SensitivityTable& table, const SearchBudget& budget,
                           const std::vector<int>& pins = {}, const std::vector<std::string>& ties = {});

// The configurations of every model layer for a solution (unsearched layers keep `recipe`'s).
std::vector<LayerConfig> solutionConfigs(const Model& model, const Recipe& recipe, const SensitivityTable& table,
                                         const SearchSolution& solution);

// A recipe that gives the solution's configurations (one anchored rule per changed layer).
Recipe solutionRecipe(const Model& model, const Recipe& recipe, const SensitivityTable& table,
                      const SearchSolution& solution);

// The solution checked for real: the configuration is evaluated on the calibration data; where
// the measured KL misses the predicted sum by more than `threshold` (relative), the chosen
// layers of each group (a transformer block; consecutive pairs of a classifier's layers) are
// measured together, each group's cells are scaled by its joint KL over its summed singles
// (SensitivityTable::interaction), and the budget is solved again, for up to `rounds` rounds.
struct RefineResult {
    SearchSolution solution;
    double predictedKl = 0;  // of the first solution
    double measuredKl = 0;   // of the final solution, on the calibration data
    double measuredMetric = 0;
    int rounds = 0;          // re-solves made
    std::vector<std::string> notes;
};
RefineResult refineSearch(const Model& model, const Recipe& recipe, SensitivityTable& table, const SearchBudget& budget,
                          const SensitivityOptions& options, const std::vector<int>& pins = {},
                          const std::vector<std::string>& ties = {}, double threshold = 0.25, int rounds = 2);

struct FrontPoint {
    double bitsPerWeight = 0;
    uint64_t bytes = 0;
    double predictedKl = 0;
    double predictedDelta = 0;
};
// The predicted front: the solutions at `steps` budgets from the smallest to the largest size.
std::vector<FrontPoint> searchFront(const SensitivityTable& table, int steps = 24,
                                    const std::vector<int>& pins = {}, const std::vector<std::string>& ties = {});

} // namespace bonsai
