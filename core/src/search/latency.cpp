// The budget search's latency costs (measureLatencyCosts, bonsai/search.h): per searched layer
// and candidate, the measured time of the layer as it would run compressed so. Language
// models: the decode step's matrix-vector product on the packed kernel of the candidate's
// storage; ONNX classifiers: the layer's node on the executor, FP32 or INT8 deploy mode.
#include "bonsai/search.h"

#include "bonsai/compress.h"
#include "bonsai/error.h"
#include "bonsai/kernels.h"
#include "bonsai/llm.h"
#include "bonsai/llm_decode.h"
#include "bonsai/model.h"
#include "bonsai/onnx_exec.h"
#include "bonsai/speed.h"
#include "eval/int8_codes.h"
#include "search/sensitivity_cache.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <omp.h>
#include <optional>
#include <random>
#include <tuple>

namespace bonsai {

namespace {

double seconds()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Milliseconds per call of `f`: after a warm-up call, the number of calls that takes at least
// 1 ms, then the best of 5 such repeats (other processes only ever add time: on a loaded
// machine the median of a few microseconds' kernel swings by several times, the best less).
template <class F> double timeMs(F&& f)
{
    f();
    int calls = 1;
    for (;;) {
        const double t0 = seconds();
        for (int i = 0; i < calls; ++i)
            f();
        if (seconds() - t0 >= 1e-3 || calls >= (1 << 20))
            break;
        calls *= 4;
    }
    std::vector<double> reps;
    for (int r = 0; r < 5; ++r) {
        const double t0 = seconds();
        for (int i = 0; i < calls; ++i)
            f();
        reps.push_back((seconds() - t0) / calls);
    }
    return *std::min_element(reps.begin(), reps.end()) * 1e3;
}

// The kernel a decode step runs for a weight of this shape (bonsai/llm_decode.h decodeKernel),
// timed once per kernel and shape.
struct Kernel {
    PackedFormat format = PackedFormat::F32;
    int64_t rows = 0, cols = 0, group = 0;
    int bits = 0;
    auto tie() const { return std::tie(format, rows, cols, group, bits); }
    bool operator<(const Kernel& o) const { return tie() < o.tie(); }
};

Kernel kernelFor(const LayerConfig& c, int64_t rows, int64_t cols)
{
    const DecodeKernel d = decodeKernel(c, cols);
    // Integer codes run the same whatever their range: time them on the widest.
    const int bits = d.format == PackedFormat::Int8 ? 8 : d.format == PackedFormat::Int4 ? 4 : 0;
    return {d.format, rows, cols, d.group, bits};
}

// A matrix of the kernel's format and shape (random values: the time does not depend on them).
PackedMatrix packedFor(const Kernel& k)
{
    std::mt19937 rng(11);
    std::vector<float> w(size_t(k.rows * k.cols));
    switch (k.format) {
    case PackedFormat::Int8:
    case PackedFormat::Int4: {
        // Symmetric codes times a scale of 1: exactly a grid packInt recovers.
        const int top = (1 << (k.bits - 1)) - 1;
        std::uniform_int_distribution<int> code(-top, top);
        for (float& x : w)
            x = float(code(rng));
        return PackedMatrix::packInt(w.data(), k.rows, k.cols, k.bits, true, k.group);
    }
    default: {
        std::normal_distribution<float> n(0.0f, 0.02f);
        for (float& x : w)
            x = n(rng);
        if (k.format == PackedFormat::F32)
            return PackedMatrix::fromFloat(std::move(w), k.rows, k.cols);
        const DType t = k.format == PackedFormat::Q8_0   ? DType::Q8_0
                        : k.format == PackedFormat::Q4_0 ? DType::Q4_0
                        : k.format == PackedFormat::Q4_K ? DType::Q4_K
                                                         : DType::Q6_K;
        return PackedMatrix::quantizeGgml(t, w.data(), k.rows, k.cols);
    }
    }
}

double timeDecode(const Kernel& k)
{
    PackedMatrix w = packedFor(k);
    if (w.empty()) // not a grid packInt takes: the decoder keeps FP32 rows
        w = packedFor({PackedFormat::F32, k.rows, k.cols, 0, 0});
    std::vector<float> x(size_t(k.cols), 0.5f), y(size_t(k.rows));
    return timeMs([&] { packedMatmul(w, x.data(), 1, y.data()); });
}

// The executor's timing of one node: FP32 weights, or INT8 deploy mode from the codes given.
class NodeTimer {
public:
    NodeTimer(const Model& model, bool deploy) : ex_(model, [&] {
        ExecOptions o;
        o.deploy = deploy;
        return o;
    }())
    {
    }
    OnnxExecutor& executor() { return ex_; }
    double time(const std::string& weightName)
    {
        if (!ready_) {
            store_ = timingInputs(ex_, 1); // one sample
            ex_.run(store_);               // every node's inputs, once
            ready_ = true;
        }
        const size_t k = ex_.firstNodeUsing(weightName);
        if (k >= ex_.nodeCount())
            return kNotMeasured;
        return timeMs([&] { ex_.run(store_, k, k + 1); });
    }

private:
    OnnxExecutor ex_;
    OnnxExecutor::Store store_;
    bool ready_ = false;
};

std::string latencyKey(const std::string& layer, const LayerConfig& c)
{
    return "latency\n" + layer + "\n" + ConfigPatch::diff(LayerConfig{}, c).toJson();
}

} // namespace

void measureLatencyCosts(const Model& model, SensitivityTable& t, const SensitivityOptions& options,
                         const SensitivityCallback& callback)
{
    const bool llm = isLanguageModel(model);
    const std::string cacheDir =
        options.useCache ? (options.cacheDir.empty() ? sensitivityCacheDir() : options.cacheDir) : std::string();
    if (t.modelHash.empty())
        t.modelHash = modelDigest(model, cacheDir);
    // The machine's part of the key: the kernels' instruction set (or the executor) and threads.
    const std::string machine = std::string(llm ? "decode " + std::string(kernelIsaName(kernelIsa())) : "onnx") +
                                " threads " + std::to_string(omp_get_max_threads());
    SensitivityCache cache(cacheDir, t.modelHash, "latency " + machine);

    const size_t L = t.layers.size(), C = t.candidates.size();
    SensitivityProgress pr;
    for (const auto& row : t.cells)
        for (const auto& cell : row)
            pr.cellsTotal += cell.applicable;
    std::map<Kernel, double> decodeMs;                 // language models: per kernel and shape
    std::unique_ptr<NodeTimer> fp32, int8;             // classifiers
    std::map<std::pair<size_t, bool>, double> nodeMs; // classifiers: per layer, FP32 or INT8
    for (size_t i = 0; i < L; ++i) {
        const Layer& layer = model.layers[size_t(t.layerIndex[i])];
        const TensorInfo& w = model.tensors[size_t(layer.weight)];
        for (size_t c = 0; c < C; ++c) {
            SensitivityCell& cell = t.cells[i][c];
            if (!cell.applicable)
                continue;
            LayerConfig cfg = t.base[i];
            t.candidates[c].patch.applyTo(cfg);
            const std::string key = latencyKey(t.layers[i], cfg);
            if (auto hit = cache.find(key)) {
                cell.latencyMs = hit->estimate;
                ++pr.fromCache;
            } else if (llm) {
                if (w.shape.size() != 2)
                    continue;
                const Kernel k = kernelFor(cfg, w.shape[0], w.shape[1]);
                auto it = decodeMs.find(k);
                if (it == decodeMs.end())
                    it = decodeMs.emplace(k, timeDecode(k)).first;
                cell.latencyMs = it->second;
            } else {
                // INT8 deploy where the candidate gives symmetric 8-bit codes, else FP32.
                std::optional<QuantizedWeight> codes;
                if (cfg.precision.kind == PrecisionKind::Int && cfg.precision.bits == 8 && cfg.symmetric &&
                    !cfg.hasRank()) {
                    std::vector<float> rec;
                    compressLayer(model, t.layerIndex[i], cfg, &rec);
                    codes = int8Codes(model, layer, cfg, rec);
                    if (codes && !nodeMs.count({i, true})) {
                        if (!int8)
                            int8 = std::make_unique<NodeTimer>(model, true);
                        int8->executor().setWeight(w.name, std::move(rec), std::move(*codes));
                        nodeMs[{i, true}] = int8->time(w.name);
                    }
                }
                const bool deploy = codes.has_value();
                if (!deploy && !nodeMs.count({i, false})) {
                    if (!fp32)
                        fp32 = std::make_unique<NodeTimer>(model, false);
                    nodeMs[{i, false}] = fp32->time(w.name);
                }
                cell.latencyMs = nodeMs.at({i, deploy});
            }
            if (std::isfinite(cell.latencyMs))
                cache.put(key, {cell.bytes, cell.latencyMs, cell.latencyMs, 0});
            ++pr.cellsDone;
            if (callback) {
                pr.stage = "timing " + t.layers[i] + ": " + t.candidates[c].name;
                pr.fraction = double(pr.cellsDone) / double(std::max<size_t>(1, pr.cellsTotal));
                pr.layer = int(i);
                pr.candidate = int(c);
                if (!callback(t, pr)) {
                    cache.save();
                    throw Cancelled();
                }
            }
        }
    }
    cache.save();
}

} // namespace bonsai
