#include "bonsai/evaluate.h"

#include "bonsai/error.h"
#include "compress/gptq.h"
#include "bonsai/onnx_exec.h"
#include "formats/onnx_model.h"
#include "eval/calib_input.h"
#include "eval/int8_codes.h"

#include <onnx/onnx-ml.pb.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <set>

namespace bonsai {

namespace {

double nowSeconds()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

uint64_t valueBytes(const Value& v)
{
    return v.f.size() * sizeof(float) + v.i.size() * sizeof(int64_t) + v.b.size();
}

// Rows of AWQ calibration inputs kept per layer (evenly strided over all rows).
constexpr int64_t kAwqRows = 4096;

ExecOptions execOptions(const EvalOptions& o)
{
    ExecOptions e;
    e.deploy = o.deploy;
    return e;
}


} // namespace

struct Evaluator::Impl {
    const Model& model;
    const Dataset& data;
    EvalOptions opt;
    OnnxExecutor exec;
    std::string inputName;
    std::vector<int64_t> sampleShape; // model input without the batch dimension
    std::vector<int64_t> inputShape;  // with a batch dimension of 1
    Preprocess pre;
    int64_t n = 0;       // samples evaluated
    int64_t classes = 0; // logits per sample

    // Per layer: the weight's name and the node that consumes it.
    std::vector<std::string> weightName;
    std::vector<size_t> layerNode;
    std::vector<size_t> boundaries;                   // sorted unique layer nodes
    std::map<size_t, std::vector<std::string>> live;  // values live at each boundary

    // Reference run.
    bool haveReference = false;
    std::vector<float> refLogits;                     // n x classes
    MetricsSnapshot refMetrics;
    double refSeconds = 0;
    std::set<size_t> cachedBoundaries;
    std::vector<std::map<size_t, OnnxExecutor::Store>> cache; // [batch][boundary] -> live values
    uint64_t cacheBytes = 0;
    std::map<size_t, Value> refLayerOut;              // first batch: output of each layer node

    // Calibration of GPTQ/AWQ layers: an executor that never has weight overrides (the
    // uncompressed model), and per layer the data gathered so far.
    struct Calib {
        int64_t samples = 0;
        bool withInputs = false;
        LayerCalibration data;
        std::string problem; // non-empty: no calibration possible (why)
    };
    std::unique_ptr<OnnxExecutor> calibExec;
    std::map<size_t, Calib> calib;

    // Compressed weights already applied, per layer.
    std::vector<std::optional<LayerConfig>> applied;
    std::vector<bool> int8; // deploy mode: the layer's weight has its codes
    std::vector<LayerResult> appliedResult;
    // Channel pruning removes channels: the consumer's input columns for them are zero (the
    // columns zeroed in the applied weight, per layer), as in the exported graph.
    std::vector<std::vector<uint64_t>> zeroedColumns;
    std::map<size_t, ChannelRoute> routes;

    Impl(const Model& m, const Dataset& d, const EvalOptions& o)
        : model(m), data(d), opt(o), exec(checked(m), execOptions(o))
    {
        if (exec.inputNames().size() != 1)
            throw Error("evaluation needs a model with one input; " + m.path + " has " +
                        std::to_string(exec.inputNames().size()));
        inputName = exec.inputNames()[0];
        if (exec.inputType(0) != Value::Type::Float)
            throw Error(m.path + ": input '" + inputName + "' is not a float tensor");
        std::vector<int64_t> shape = exec.inputShape(0);
        if (shape.empty())
            throw Error(m.path + ": input '" + inputName + "' has no known shape");
        sampleShape.assign(shape.begin() + 1, shape.end());
        for (auto d2 : sampleShape)
            if (d2 <= 0)
                throw Error(m.path + ": input '" + inputName + "' has unknown dimensions " + shapeString(shape) +
                            " besides the batch");
        inputShape = shape;
        inputShape[0] = 1;
        pre = data.preprocess(inputShape); // throws when the data cannot fill this shape
        n = opt.limit > 0 ? std::min<int64_t>(opt.limit, data.size()) : data.size();
        if (n <= 0)
            throw Error(data.path() + ": the data set holds no samples");
        if (opt.batch <= 0)
            opt.batch = 256;

        for (const auto& l : m.layers) {
            weightName.push_back(m.tensors[static_cast<size_t>(l.weight)].name);
            layerNode.push_back(exec.firstNodeUsing(weightName.back()));
        }
        std::set<size_t> b;
        for (size_t k : layerNode)
            if (k != SIZE_MAX && k > 0)
                b.insert(k);
        boundaries.assign(b.begin(), b.end());
        for (size_t k : boundaries)
            live[k] = liveAt(k);
        applied.assign(m.layers.size(), std::nullopt);
        int8.assign(m.layers.size(), false);
        zeroedColumns.assign(m.layers.size(), {});
        appliedResult.resize(m.layers.size());
    }

    static const Model& checked(const Model& m)
    {
        if (m.format != Format::Onnx)
            throw Error(m.path + ": evaluation runs ONNX models; this is a " + std::string(formatName(m.format)) +
                        " file");
        const auto missing = OnnxExecutor::unsupportedOps(m);
        if (!missing.empty()) {
            std::string list;
            for (const auto& op : missing)
                list += (list.empty() ? "" : ", ") + op;
            throw Error(m.path + ": cannot evaluate: unsupported operators " + list);
        }
        return m;
    }

    // Values produced before node k (or graph inputs) that node k or later nodes read.
    std::vector<std::string> liveAt(size_t k) const
    {
        std::vector<std::string> out;
        auto consider = [&](const std::string& name) {
            if (name.empty())
                return;
            const size_t last = exec.lastNodeUsing(name);
            if (last != SIZE_MAX && last >= k)
                out.push_back(name);
        };
        for (const auto& in : exec.inputNames())
            consider(in);
        for (size_t j = 0; j < k; ++j)
            for (const auto& o : exec.node(j).outputs)
                consider(o);
        std::sort(out.begin(), out.end());
        out.erase(std::unique(out.begin(), out.end()), out.end());
        return out;
    }

    int64_t batches() const { return (n + opt.batch - 1) / opt.batch; }

    Value inputBatch(int64_t b, std::vector<int64_t>* labels) const
    {
        const int64_t first = b * opt.batch, count = std::min(opt.batch, n - first);
        std::vector<int64_t> shape = {count};
        shape.insert(shape.end(), sampleShape.begin(), sampleShape.end());
        const int64_t per = numel(sampleShape);
        std::vector<float> x(static_cast<size_t>(count * per));
        std::vector<int64_t> lab(static_cast<size_t>(count));
        data.fillBatch(first, count, inputShape, x.data(), lab.data());
        if (labels)
            *labels = std::move(lab);
        return Value::floats(std::move(shape), std::move(x));
    }

    const Value& output(const OnnxExecutor::Store& store) const
    {
        const Value* v = exec.find(store, exec.outputNames().at(0));
        if (!v || v->type != Value::Type::Float)
            throw Error(model.path + ": the model's first output is not a float tensor");
        return *v;
    }

    static std::function<bool()> cancelFlag(const ProgressFn& progress, double fraction)
    {
        if (!progress)
            return {};
        return [&progress, fraction] { return !progress(fraction); };
    }

    void runReference(const ProgressFn& progress)
    {
        if (haveReference)
            return;
        const double t0 = nowSeconds();
        Metrics metrics;
        refLogits.clear();
        cache.assign(static_cast<size_t>(batches()), {});
        cachedBoundaries.clear();
        cacheBytes = 0;
        OnnxExecutor::Store store; // reused across batches: the executor reuses its buffers
        for (int64_t b = 0; b < batches(); ++b) {
            const double frac = static_cast<double>(b) / static_cast<double>(batches());
            reportProgress(progress, frac);
            std::vector<int64_t> labels;
            store[inputName] = inputBatch(b, &labels);
            size_t at = 0;
            for (size_t k : boundaries) {
                exec.run(store, at, k, cancelFlag(progress, frac));
                at = k;
                if (b == 0 || cachedBoundaries.count(k)) {
                    auto& slot = cache[static_cast<size_t>(b)][k];
                    for (const auto& name : live[k])
                        if (const Value* v = exec.find(store, name))
                            slot[name] = *v;
                }
            }
            exec.run(store, at, SIZE_MAX, cancelFlag(progress, frac));
            reportProgress(progress, frac); // a cancelled run returns early: throw here
            const Value& out = output(store);
            const int64_t count = static_cast<int64_t>(labels.size());
            if (b == 0) {
                classes = count ? static_cast<int64_t>(out.f.size()) / count : 0;
                for (size_t node : layerNode)
                    if (node != SIZE_MAX)
                        if (const Value* v = exec.find(store, exec.node(node).outputs.at(0)))
                            refLayerOut[node] = *v;
                chooseCache();
            }
            refLogits.insert(refLogits.end(), out.f.begin(), out.f.end());
            metrics.add({out.f.data(), count, classes, labels.data(), nullptr});
        }
        reportProgress(progress, 1.0);
        refMetrics = metrics.snapshot();
        refSeconds = nowSeconds() - t0;
        haveReference = true;
    }

    // After the first batch: keep the boundaries that fit the cap, the latest first (changing
    // the last layers is the cheapest to re-evaluate from a cache).
    void chooseCache()
    {
        if (!opt.incremental)
            return;
        const double scale = static_cast<double>(n) / static_cast<double>(std::min(opt.batch, n));
        uint64_t total = 0;
        auto& first = cache[0];
        for (auto it = boundaries.rbegin(); it != boundaries.rend(); ++it) {
            uint64_t bytes = 0;
            for (const auto& [name, v] : first[*it])
                bytes += valueBytes(v);
            const auto projected = static_cast<uint64_t>(static_cast<double>(bytes) * scale);
            if (total + projected <= opt.cacheBytes) {
                total += projected;
                cachedBoundaries.insert(*it);
            }
        }
        for (auto it = first.begin(); it != first.end();)
            it = cachedBoundaries.count(it->first) ? std::next(it) : first.erase(it);
        cacheBytes = total;
    }

    // How layer i's input is read, or why it cannot be calibrated.
    InputMap inputMap(size_t i) const { return inputMapOf(model, exec, i, weightName[i], layerNode[i]); }

    // Gathers the inputs of `layers` on the first `samples` samples with the uncompressed model:
    // the Hessian for each, and a strided sample of rows for those in `withInputs`.
    void gatherCalibration(const std::vector<size_t>& layers, const std::set<size_t>& withInputs, int64_t samples,
                           const ProgressFn& progress)
    {
        if (!calibExec)
            calibExec = std::make_unique<OnnxExecutor>(model);
        std::vector<InputMap> maps;
        std::vector<uint64_t> colsOf;
        std::vector<HessianAccumulator> acc;
        std::vector<std::vector<float>> kept(layers.size());
        std::vector<int64_t> seen(layers.size(), 0), stride(layers.size(), 0);
        size_t last = 0;
        for (size_t i : layers) {
            maps.push_back(inputMap(i));
            uint64_t rows = 0, cols = 0;
            const TensorInfo& t = model.tensors[static_cast<size_t>(model.layers[i].weight)];
            const AxisSplit sp = splitAtAxis(t.shape, model.layers[i].outAxis);
            rows = sp.channels;
            cols = rows ? t.numel / rows : 0;
            colsOf.push_back(cols);
            acc.emplace_back(static_cast<int64_t>(cols));
            if (maps.back().problem.empty())
                last = std::max(last, layerNode[i]);
        }
        const int64_t per = numel(sampleShape);
        const int64_t batch = std::min<int64_t>(opt.batch, samples);
        OnnxExecutor::Store store;
        std::vector<float> rowsBuf;
        for (int64_t first = 0; first < samples; first += batch) {
            reportProgress(progress, 0.0);
            const int64_t count = std::min(batch, samples - first);
            std::vector<int64_t> shape = {count};
            shape.insert(shape.end(), sampleShape.begin(), sampleShape.end());
            std::vector<float> x(static_cast<size_t>(count * per));
            std::vector<int64_t> lab(static_cast<size_t>(count));
            data.fillBatch(first, count, inputShape, x.data(), lab.data());
            store[inputName] = Value::floats(std::move(shape), std::move(x));
            calibExec->run(store, 0, last);
            for (size_t q = 0; q < layers.size(); ++q) {
                if (!maps[q].problem.empty())
                    continue;
                const Value* v = calibExec->find(store, maps[q].input);
                if (!v) {
                    maps[q].problem = "its input '" + maps[q].input + "' was not computed";
                    continue;
                }
                rowsBuf.clear();
                try {
                    inputRows(maps[q], *v, static_cast<int64_t>(colsOf[q]), rowsBuf);
                } catch (const Error& e) {
                    maps[q].problem = e.what();
                    continue;
                }
                const auto cols = static_cast<int64_t>(colsOf[q]);
                const int64_t nrows = cols ? static_cast<int64_t>(rowsBuf.size()) / cols : 0;
                acc[q].add(rowsBuf.data(), nrows);
                if (withInputs.count(layers[q])) {
                    if (stride[q] == 0) // rows per sample are known from the first batch
                        stride[q] = std::max<int64_t>(1, (nrows / std::max<int64_t>(count, 1) * samples + kAwqRows - 1) / kAwqRows);
                    for (int64_t r = 0; r < nrows; ++r, ++seen[q])
                        if (seen[q] % stride[q] == 0)
                            kept[q].insert(kept[q].end(), rowsBuf.begin() + r * cols, rowsBuf.begin() + (r + 1) * cols);
                }
            }
        }
        for (size_t q = 0; q < layers.size(); ++q) {
            Calib& c = calib[layers[q]];
            c = Calib{};
            c.samples = samples;
            c.withInputs = withInputs.count(layers[q]) > 0;
            c.problem = maps[q].problem;
            if (c.problem.empty()) {
                c.data.hessian = acc[q].hessian();
                c.data.samples = colsOf[q] ? static_cast<int64_t>(kept[q].size() / colsOf[q]) : 0;
                c.data.inputs = std::move(kept[q]);
            }
        }
    }

    // Calibration data of every layer that is about to be compressed with GPTQ/AWQ.
    void prepareCalibration(const std::vector<LayerConfig>& configs, const std::vector<bool>& redo, const ProgressFn& progress)
    {
        std::map<int64_t, std::vector<size_t>> bySamples;
        std::map<int64_t, std::set<size_t>> inputsBySamples;
        for (size_t i = 0; i < configs.size(); ++i) {
            const LayerConfig& c = configs[i];
            if (!redo[i] || !c.needsCalibration() || c.hasRank())
                continue;
            const int64_t s = std::min<int64_t>(std::max(1, c.calibSamples), n);
            const bool inputs = c.method == QuantMethod::AWQ;
            auto it = calib.find(i);
            if (it != calib.end() && it->second.samples == s && (!inputs || it->second.withInputs))
                continue;
            bySamples[s].push_back(i);
            if (inputs)
                inputsBySamples[s].insert(i);
        }
        for (const auto& [s, layers] : bySamples)
            gatherCalibration(layers, inputsBySamples[s], s, progress);
    }

    const ChannelRoute& route(size_t layer)
    {
        auto it = routes.find(layer);
        if (it == routes.end())
            it = routes.emplace(layer, channelRoute(model, static_cast<int>(layer))).first;
        return it->second;
    }

    // The matrix columns of layer `j` whose channels a channel-pruned layer before it removed
    // (its appliedResult is current: layers are applied in order).
    std::vector<uint64_t> removedInputs(const std::vector<LayerConfig>& configs, size_t j)
    {
        std::vector<uint64_t> cols;
        for (size_t i = 0; i < j; ++i) {
            const LayerConfig& c = configs[i];
            if (!(c.hasSparsity() && c.pattern == SparsityPattern::Channels))
                continue;
            const ChannelRoute& r = route(i);
            if (r.consumer != static_cast<int>(j))
                continue;
            for (uint64_t ch : appliedResult[i].removedChannels)
                for (uint64_t k = 0; k < r.perChannel; ++k)
                    cols.push_back(ch * r.perChannel + k);
        }
        std::sort(cols.begin(), cols.end());
        cols.erase(std::unique(cols.begin(), cols.end()), cols.end());
        return cols;
    }

    // Zeroes matrix columns `cols` of layer j's weight `w` (in the weight's own layout).
    void zeroColumns(size_t j, const std::vector<uint64_t>& cols, std::vector<float>& w, LayerResult& r) const
    {
        r.notes.push_back(std::to_string(cols.size()) + " input columns removed with the channels of the layer before");
        const Layer& l = model.layers[j];
        const TensorInfo& t = model.tensors[static_cast<size_t>(l.weight)];
        std::vector<float> m(w.size());
        layoutToMatrix(t.shape, l.outAxis, w.data(), m.data());
        const uint64_t rows = splitAtAxis(t.shape, l.outAxis).channels, ncols = rows ? w.size() / rows : 0;
        for (uint64_t r = 0; r < rows; ++r)
            for (uint64_t c : cols)
                if (c < ncols)
                    m[r * ncols + c] = 0.0f;
        matrixToLayout(t.shape, l.outAxis, m.data(), w.data());
    }

    void applyWeights(const std::vector<LayerConfig>& configs, const ProgressFn& progress, EvalResult& r)
    {
        const auto masks = globalSparsityMasks(model, configs);
        std::vector<bool> redo(configs.size());
        for (size_t i = 0; i < configs.size(); ++i)
            redo[i] = !applied[i] || !(*applied[i] == configs[i]) || masks.count(i) > 0;
        prepareCalibration(configs, redo, progress);
        uint64_t layerOrig = 0, layerComp = 0;
        for (size_t i = 0; i < configs.size(); ++i) {
            reportProgress(progress, 0.0);
            const bool global = masks.count(i) > 0;
            // The inputs of layer i that pruned layers before it removed.
            const std::vector<uint64_t> zero = removedInputs(configs, i);
            redo[i] = redo[i] || zero != zeroedColumns[i];
            if (redo[i]) {
                if (configs[i].isIdentity() && !zero.empty()) {
                    appliedResult[i] = compressLayer(model, static_cast<int>(i), configs[i]);
                    std::vector<float> rec = model.readFloat(model.layers[i].weight);
                    zeroColumns(i, zero, rec, appliedResult[i]);
                    exec.setWeight(weightName[i], std::move(rec));
                    int8[i] = false;
                } else if (configs[i].isIdentity()) {
                    exec.clearWeight(weightName[i]);
                    int8[i] = false;
                    appliedResult[i] = compressLayer(model, static_cast<int>(i), configs[i]);
                } else {
                    std::vector<float> rec;
                    const LayerCalibration* cal = nullptr;
                    std::string problem;
                    if (configs[i].needsCalibration() && !configs[i].hasRank()) {
                        const auto it = calib.find(i);
                        if (it != calib.end() && it->second.problem.empty())
                            cal = &it->second.data;
                        else if (it != calib.end())
                            problem = "not calibrated: " + it->second.problem;
                    }
                    appliedResult[i] = compressLayer(model, static_cast<int>(i), configs[i], &rec,
                                                     global ? &masks.at(i) : nullptr, nullptr, cal);
                    if (!problem.empty())
                        appliedResult[i].notes.insert(appliedResult[i].notes.begin(), problem);
                    if (cal)
                        appliedResult[i].notes.push_back("calibrated on the first " + std::to_string(calib[i].samples) +
                                                         " samples of the evaluation data");
                    if (!zero.empty())
                        zeroColumns(i, zero, rec, appliedResult[i]);
                    std::optional<QuantizedWeight> codes;
                    if (opt.deploy)
                        codes = int8Codes(model, model.layers[i], configs[i], rec);
                    if (codes)
                        exec.setWeight(weightName[i], std::move(rec), std::move(*codes));
                    else
                        exec.setWeight(weightName[i], std::move(rec));
                    int8[i] = codes.has_value();
                }
                applied[i] = configs[i];
            }
            zeroedColumns[i] = zero;
            if (int8[i])
                r.int8Layers.push_back(model.layers[i].name);
            if (configs[i].needsCalibration())
                for (const auto& note : appliedResult[i].notes)
                    r.notes.push_back(model.layers[i].name + ": " + note);
            layerOrig += model.tensors[static_cast<size_t>(model.layers[i].weight)].storedBytes();
            layerComp += (appliedResult[i].compressedBits + 7) / 8;
        }
        r.originalBytes = model.totalBytes();
        r.compressedBytes = r.originalBytes - layerOrig + layerComp;
    }
};

Evaluator::Evaluator(const Model& model, const Dataset& data, const EvalOptions& options)
    : impl_(std::make_unique<Impl>(model, data, options))
{
}

Evaluator::~Evaluator() = default;

const Preprocess& Evaluator::preprocess() const { return impl_->pre; }
int64_t Evaluator::sampleCount() const { return impl_->n; }
uint64_t Evaluator::cachedBytes() const { return impl_->cacheBytes; }

EvalResult Evaluator::reference(const ProgressFn& progress)
{
    impl_->runReference(progress);
    EvalResult r;
    r.metrics = impl_->refMetrics;
    r.samples = r.total = impl_->n;
    r.seconds = impl_->refSeconds;
    r.originalBytes = r.compressedBytes = impl_->model.totalBytes();
    r.complete = true;
    return r;
}

EvalResult Evaluator::evaluate(const std::vector<LayerConfig>& configs, const ProgressFn& progress,
                               const EvalCallback& partial)
{
    Impl& d = *impl_;
    const double t0 = nowSeconds(); // the whole call: reference pass (first time), weights, run
    if (configs.size() != d.model.layers.size())
        throw Error("evaluate: " + std::to_string(configs.size()) + " configurations for " +
                    std::to_string(d.model.layers.size()) + " layers");
    // The reference pass takes the first part of the progress bar when it has not run yet.
    const bool needRef = !d.haveReference;
    const double refShare = needRef ? 0.5 : 0.0;
    ProgressFn refProgress, mainProgress;
    if (progress) {
        refProgress = [&](double f) { return progress(refShare * f); };
        mainProgress = [&](double f) { return progress(refShare + (1 - refShare) * f); };
    }
    d.runReference(refProgress);

    EvalResult r;
    r.total = d.n;
    d.applyWeights(configs, mainProgress, r);

    // Where the compressed pass can start: the latest cached boundary at or before the first
    // changed layer's node.
    size_t firstChanged = SIZE_MAX;
    for (size_t i = 0; i < configs.size(); ++i)
        if (!configs[i].isIdentity())
            firstChanged = std::min(firstChanged, d.layerNode[i]);
    size_t start = 0;
    if (d.opt.incremental)
        for (size_t k : d.cachedBoundaries)
            if (k <= firstChanged)
                start = std::max(start, k);
    r.startNode = start;

    Metrics metrics;
    const int64_t quick = d.opt.quickSamples;
    const std::vector<int64_t>& allLabels = d.data.labels();
    if (firstChanged == SIZE_MAX) {
        // Nothing changed: the compressed pass would be the reference pass again.
        for (int64_t b = 0; b < d.batches(); ++b) {
            const int64_t first = b * d.opt.batch, count = std::min(d.opt.batch, d.n - first);
            metrics.add({d.refLogits.data() + first * d.classes, count, d.classes, allLabels.data() + first,
                         d.refLogits.data() + first * d.classes});
        }
        reportProgress(mainProgress, 1.0);
        r.samples = d.n;
        r.metrics = metrics.snapshot();
        r.seconds = nowSeconds() - t0;
        r.complete = true;
        return r;
    }
    OnnxExecutor::Store store; // reused across batches: the executor reuses its buffers
    for (int64_t b = 0; b < d.batches(); ++b) {
        const double frac = static_cast<double>(b) / static_cast<double>(d.batches());
        reportProgress(mainProgress, frac);
        const int64_t first = b * d.opt.batch, count = std::min(d.opt.batch, d.n - first);
        if (start > 0) {
            for (const auto& [name, v] : d.cache[static_cast<size_t>(b)].at(start))
                store[name] = v; // copies into the existing buffers
        } else {
            store[d.inputName] = d.inputBatch(b, nullptr);
        }
        d.exec.run(store, start, SIZE_MAX, Impl::cancelFlag(mainProgress, frac));
        reportProgress(mainProgress, frac);
        const Value& out = d.output(store);
        if (static_cast<int64_t>(out.f.size()) != count * d.classes)
            throw Error(d.model.path + ": output size changed between runs");
        metrics.add({out.f.data(), count, d.classes, allLabels.data() + first,
                      d.refLogits.data() + first * d.classes});
        if (b == 0) {
            for (size_t i = 0; i < configs.size(); ++i) {
                const size_t node = d.layerNode[i];
                if (configs[i].isIdentity() || node == SIZE_MAX || !d.refLayerOut.count(node))
                    continue;
                const Value* v = d.exec.find(store, d.exec.node(node).outputs.at(0));
                const Value& ref = d.refLayerOut.at(node);
                if (v && v->f.size() == ref.f.size())
                    r.layerErrors.push_back({d.model.layers[i].name,
                                             outputSqnrDb(ref.f.data(), v->f.data(), static_cast<int64_t>(ref.f.size()))});
            }
        }
        r.samples = first + count;
        const bool quickDone = quick > 0 && r.samples >= quick && first < quick;
        if (partial && (quickDone || b + 1 < d.batches())) {
            EvalResult p = r;
            p.metrics = metrics.snapshot();
            p.seconds = nowSeconds() - t0;
            p.complete = false;
            partial(p);
        }
    }
    reportProgress(mainProgress, 1.0);
    r.metrics = metrics.snapshot();
    r.seconds = nowSeconds() - t0;
    r.complete = true;
    return r;
}

} // namespace bonsai
