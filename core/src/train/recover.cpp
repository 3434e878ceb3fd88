#include "bonsai/recover.h"

#include "bonsai/compress.h"
#include "bonsai/error.h"
#include "bonsai/evaluate.h"
#include "bonsai/onnx_write.h"
#include "bonsai/quantize.h"
#include "bonsai/sparsity.h"
#include "bonsai/train_demo.h"
#include "bonsai/readers.h"

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <span>

namespace bonsai {

std::string recoverMethodName(RecoverMethod m)
{
    switch (m) {
    case RecoverMethod::Finetune: return "finetune";
    case RecoverMethod::Qat: return "qat";
    case RecoverMethod::Distill: return "distill";
    case RecoverMethod::Lottery: return "lottery";
    }
    return {};
}

std::optional<RecoverMethod> parseRecoverMethod(std::string_view name)
{
    for (auto m : {RecoverMethod::Finetune, RecoverMethod::Qat, RecoverMethod::Distill, RecoverMethod::Lottery})
        if (name == recoverMethodName(m))
            return m;
    return std::nullopt;
}

std::vector<std::string> recoverNotes(RecoverMethod method, const std::vector<LayerConfig>& configs)
{
    std::vector<std::string> notes;
    const std::string name = recoverMethodName(method);
    if (method == RecoverMethod::Finetune || method == RecoverMethod::Lottery) {
        std::vector<std::string> precisions; // the recipe's quantizing precisions, in layer order
        for (const auto& c : configs) {
            if (c.precision.kind == PrecisionKind::FP32)
                continue;
            std::string p = precisionName(c.precision);
            std::transform(p.begin(), p.end(), p.begin(), [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
            if (std::find(precisions.begin(), precisions.end(), p) == precisions.end())
                precisions.push_back(std::move(p));
        }
        if (!precisions.empty()) {
            std::string list;
            for (size_t i = 0; i < precisions.size(); ++i)
                list += (i == 0 ? "" : i + 1 == precisions.size() ? " and " : ", ") + precisions[i];
            notes.push_back(name + " trains float weights; the recipe's " + list +
                            " quantization is applied after training \u2014 use qat or distill to train through it");
        }
    }
    if (std::any_of(configs.begin(), configs.end(), [](const LayerConfig& c) { return c.hasRank(); }))
        notes.push_back(name + " trains full-rank weights; the recipe's rank reduction is applied after training");
    return notes;
}

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct LayerPlan {
    int layer = -1;
    std::string weight;
    std::vector<int64_t> shape;
    int outAxis = 0;
    uint64_t rows = 0, cols = 0;
    LayerConfig config;              // what the result stores
    std::vector<uint8_t> matrixMask; // unstructured / lottery mask, rows x cols (empty: none)
    bool forceMask = false;          // compress with matrixMask (lottery, global scope)
    std::vector<uint64_t> keptRows;  // structured pruning: the kept output channels (empty: all)
};

// Whether a layer trains through its quantization (Qat, Distill): latent float weights from
// the uncompressed model, the forward pass on their fake quantization (fakeQuantizeLatent).
bool trainsThroughQuantization(RecoverMethod m, const LayerConfig& c)
{
    return (m == RecoverMethod::Qat || m == RecoverMethod::Distill) && c.precision.kind != PrecisionKind::FP32;
}

// The weights the forward pass of a layer trained through its quantization uses: the latent
// values (weight layout) quantized as compressLayer quantizes the dense matrix (only the kept
// rows of a layer whose channels are pruned), pruned weights exactly zero.
void fakeQuantizeLatent(const LayerPlan& p, const float* latent, float* forward, size_t n)
{
    std::vector<float> m(n);
    layoutToMatrix(p.shape, p.outAxis, latent, m.data());
    if (!p.keptRows.empty()) { // as compressLayer: only the kept rows are stored
        std::vector<float> kept = compactRows(m.data(), p.rows, p.cols, p.keptRows);
        fakeQuantize(p.config, kept.data(), p.keptRows.size(), p.cols);
        std::fill(m.begin(), m.end(), 0.0f);
        for (size_t k = 0; k < p.keptRows.size(); ++k)
            std::memcpy(&m[p.keptRows[k] * p.cols], &kept[k * p.cols], p.cols * sizeof(float));
    } else {
        fakeQuantize(p.config, m.data(), p.rows, p.cols);
        if (!p.matrixMask.empty()) // pruned weights stay exactly zero
            applyMask(m.data(), m.size(), p.matrixMask, m.data());
    }
    matrixToLayout(p.shape, p.outAxis, m.data(), forward);
}

class Recovery {
public:
    Recovery(const Model& model, const std::vector<LayerConfig>& configs, const Dataset& train, const Dataset& test,
             const RecoverOptions& o, const ProgressFn& progress)
        : model_(model), configs_(configs), test_(test), o_(o), progress_(progress)
    {
        validate();
        TrainOptions to;
        to.optimizer = TrainOptions::Optimizer::Adam;
        to.lr = o.lr;
        to.batch = o.batch;
        to.seed = o.seed;
        if (o.method == RecoverMethod::Distill) {
            to.distillAlpha = o.alpha;
            to.temperature = o.temperature;
        }
        student_ = std::make_unique<Trainer>(model, to);
        auto shape = student_->inputShape();
        if (!shape.empty())
            shape[0] = 1;
        data_ = TrainData::load(train, shape, o.limit);
        if (data_.size == 0)
            throw Error("recover: the training data set is empty");
    }

    RecoverResult run()
    {
        const auto t0 = Clock::now();
        RecoverResult r;
        r.method = o_.method;
        r.notes = recoverNotes(o_.method, configs_);
        {
            EvalOptions eo;
            eo.quickSamples = 0;
            eo.limit = o_.evalLimit;
            Evaluator ev(model_, test_, eo);
            r.accuracyBefore = ev.evaluate(configs_).metrics.top1;
        }
        planLayers();
        const int64_t perEpoch = (data_.size + o_.batch - 1) / o_.batch;
        int64_t perRun = perEpoch * o_.epochs;
        if (o_.steps > 0)
            perRun = std::min(perRun, o_.steps);
        const int runs = o_.method == RecoverMethod::Lottery ? o_.rounds : 1;
        totalSteps_ = std::max<int64_t>(1, perRun * runs + (o_.method == RecoverMethod::Lottery ? o_.rewindStep : 0));

        if (o_.method == RecoverMethod::Distill)
            computeTeacher();
        if (o_.method == RecoverMethod::Lottery) {
            runLottery(r);
        } else {
            setUpCompressedTraining();
            trainRun(r, 0, o_.steps);
        }
        r.weights = finalize(student_->snapshot());
        r.accuracyAfter = weightsAccuracy(model_, r.weights, test_, o_.evalLimit);
        r.seconds = secondsSince(t0);
        return r;
    }

private:
    void validate() const
    {
        if (model_.format != Format::Onnx)
            throw Error("recover: '" + model_.path + "' is not an ONNX model (recovery trains an ONNX graph)");
        if (configs_.size() != model_.layers.size())
            throw Error("recover: " + std::to_string(configs_.size()) + " configurations for " +
                        std::to_string(model_.layers.size()) + " layers");
        if (o_.epochs < 1 || o_.batch < 1 || !(o_.lr > 0) || o_.steps < 0 || o_.limit < 0 || o_.evalLimit < 0)
            throw Error("recover: epochs and batch must be >= 1, lr > 0, steps and limits >= 0");
        if (o_.method == RecoverMethod::Distill && (!(o_.temperature > 0) || o_.alpha < 0 || o_.alpha > 1))
            throw Error("recover: distillation needs temperature > 0 and alpha in [0, 1]");
        if (o_.method == RecoverMethod::Lottery &&
            (o_.rounds < 1 || !(o_.targetSparsity > 0) || !(o_.targetSparsity < 1) || o_.rewindStep < 0))
            throw Error("recover: the lottery needs rounds >= 1, 0 < target sparsity < 1 and a rewind step >= 0");
    }

    // Masks, removed channels and start values of every compressed layer; checks that every
    // configuration applies (compressLayer throws otherwise).
    void planLayers()
    {
        const bool lottery = o_.method == RecoverMethod::Lottery;
        const auto global = globalSparsityMasks(model_, configs_);
        for (size_t i = 0; i < model_.layers.size(); ++i) {
            const Layer& l = model_.layers[i];
            const TensorInfo& t = model_.tensors.at(static_cast<size_t>(l.weight));
            LayerConfig cfg = configs_[i];
            if (lottery) { // the lottery's masks replace the recipe's sparsity
                cfg.sparsity = 0;
                cfg.pattern = SparsityPattern::Unstructured;
                cfg.scope = SparsityScope::Layer;
            }
            if (cfg.isIdentity() && !lottery)
                continue;
            if (!student_->isParameter(t.name))
                throw Error("recover: layer '" + l.name + "' has no trainable weight '" + t.name + "'");
            LayerPlan p;
            p.layer = static_cast<int>(i);
            p.weight = t.name;
            p.shape = t.shape;
            p.outAxis = l.outAxis;
            p.config = cfg;
            p.rows = 1;
            {
                const int axis = std::clamp(l.outAxis, 0, static_cast<int>(std::max<size_t>(t.shape.size(), 1)) - 1);
                p.rows = t.shape.empty() ? 1 : static_cast<uint64_t>(t.shape[static_cast<size_t>(axis)]);
                p.cols = p.rows ? t.numel / p.rows : 0;
            }
            std::vector<float> rec;
            const std::vector<uint8_t>* gm = nullptr;
            if (auto it = global.find(i); it != global.end() && !lottery)
                gm = &it->second;
            const LayerResult lr = compressLayer(model_, p.layer, cfg, &rec, gm);
            if (!lottery && cfg.sparsity > 0 && cfg.pattern == SparsityPattern::Unstructured) {
                if (gm) {
                    p.matrixMask = *gm;
                    p.forceMask = true;
                } else {
                    uint64_t rows = 0, cols = 0;
                    const auto m = layerMatrix(model_, l, rows, cols);
                    p.matrixMask = magnitudeMask(m.data(), rows, cols, cfg.sparsity);
                }
            } else if (!lottery && cfg.pattern == SparsityPattern::NM) {
                uint64_t rows = 0, cols = 0;
                const auto m = layerMatrix(model_, l, rows, cols);
                p.matrixMask = nmMask(m.data(), rows, cols, static_cast<uint32_t>(cfg.n), static_cast<uint32_t>(cfg.m),
                                      NmTail::Proportional);
            }
            if (!p.matrixMask.empty()) {
                std::vector<uint8_t> keep(p.matrixMask.size());
                matrixToLayout(p.shape, p.outAxis, p.matrixMask.data(), keep.data());
                student_->setMask(p.weight, std::move(keep));
            }
            if (!lr.removedChannels.empty()) {
                for (uint64_t row = 0; row < p.rows; ++row)
                    if (!std::binary_search(lr.removedChannels.begin(), lr.removedChannels.end(), row))
                        p.keptRows.push_back(row);
            }
            if (!lr.removedChannels.empty())
                student_->maskChannels(p.weight, std::vector<int64_t>(lr.removedChannels.begin(), lr.removedChannels.end()));
            if (!lottery && !trainsThroughQuantization(o_.method, cfg))
                startValues_[p.weight] = std::move(rec);
            plans_.push_back(std::move(p));
        }
    }

    // Start values, and the fake-quantized forward pass of the layers trained through their
    // quantization (Qat, Distill; gradients pass straight through to the latent weights).
    void setUpCompressedTraining()
    {
        for (const auto& [name, values] : startValues_)
            student_->setValue(name, values);
        std::map<std::string, const LayerPlan*> byName;
        for (const auto& p : plans_)
            if (trainsThroughQuantization(o_.method, p.config))
                byName[p.weight] = &p;
        if (byName.empty())
            return;
        student_->setWeightTransform([byName](const std::string& name, const std::vector<int64_t>&,
                                              const float* latent, float* forward, size_t n) {
            if (const auto it = byName.find(name); it != byName.end())
                fakeQuantizeLatent(*it->second, latent, forward, n);
            else
                std::memcpy(forward, latent, n * sizeof(float));
        });
    }

    void computeTeacher()
    {
        Trainer teacher(model_, TrainOptions{});
        const int64_t numel = data_.sampleNumel();
        const int64_t chunk = 256;
        for (int64_t first = 0; first < data_.size; first += chunk) {
            const int64_t n = std::min(chunk, data_.size - first);
            const auto logits = teacher.predict(data_.x.data() + first * numel, n);
            teacherLogits_.insert(teacherLogits_.end(), logits.begin(), logits.end());
        }
        classes_ = static_cast<int64_t>(teacherLogits_.size()) / data_.size;
    }

    // One training run of o_.epochs epochs (at most maxSteps steps when > 0).
    void trainRun(RecoverResult& r, int round, int64_t maxSteps, bool record = true)
    {
        int64_t steps = 0;
        for (int e = 0; e < o_.epochs && (maxSteps <= 0 || steps < maxSteps); ++e) {
            RecoverEpoch ep = trainEpoch(e, maxSteps > 0 ? maxSteps - steps : 0);
            steps += ep.steps;
            ep.round = round;
            if (record) {
                if (o_.evalEachEpoch)
                    ep.testAccuracy = weightsAccuracy(model_, finalize(student_->snapshot()), test_, o_.evalLimit);
                r.epochs.push_back(ep);
                if (o_.onEpoch)
                    o_.onEpoch(ep);
            }
        }
    }

    RecoverEpoch trainEpoch(int epoch, int64_t maxSteps)
    {
        const auto t0 = Clock::now();
        RecoverEpoch ep;
        ep.epoch = epoch + 1;
        const int64_t n = data_.size, numel = data_.sampleNumel();
        std::vector<int64_t> order(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i)
            order[static_cast<size_t>(i)] = i;
        std::mt19937_64 rng(o_.seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(epochCounter_++ + 1));
        for (int64_t i = n - 1; i > 0; --i)
            std::swap(order[static_cast<size_t>(i)], order[rng() % static_cast<uint64_t>(i + 1)]);
        std::vector<float> xb, tb;
        std::vector<int64_t> yb;
        double lossSum = 0;
        int64_t correct = 0, seen = 0;
        for (int64_t first = 0; first < n && (maxSteps <= 0 || ep.steps < maxSteps); first += o_.batch) {
            const int64_t b = std::min(o_.batch, n - first);
            xb.resize(static_cast<size_t>(b * numel));
            yb.resize(static_cast<size_t>(b));
            if (classes_ > 0)
                tb.resize(static_cast<size_t>(b * classes_));
            for (int64_t k = 0; k < b; ++k) {
                const int64_t s = order[static_cast<size_t>(first + k)];
                std::memcpy(&xb[static_cast<size_t>(k * numel)], &data_.x[static_cast<size_t>(s * numel)],
                            static_cast<size_t>(numel) * sizeof(float));
                yb[static_cast<size_t>(k)] = data_.labels[static_cast<size_t>(s)];
                if (classes_ > 0)
                    std::memcpy(&tb[static_cast<size_t>(k * classes_)], &teacherLogits_[static_cast<size_t>(s * classes_)],
                                static_cast<size_t>(classes_) * sizeof(float));
            }
            TrainBatch batch;
            batch.x = xb.data();
            batch.labels = yb.data();
            batch.n = b;
            batch.teacher = classes_ > 0 ? tb.data() : nullptr;
            const double loss = student_->step(batch);
            lossSum += loss * static_cast<double>(b);
            const auto& logits = student_->lastLogits();
            const int64_t c = static_cast<int64_t>(logits.size()) / b;
            for (int64_t k = 0; k < b; ++k) {
                const float* row = &logits[static_cast<size_t>(k * c)];
                if (std::max_element(row, row + c) - row == yb[static_cast<size_t>(k)])
                    ++correct;
            }
            seen += b;
            ++ep.steps;
            ++doneSteps_;
            reportProgress(progress_, std::min(1.0, static_cast<double>(doneSteps_) / static_cast<double>(totalSteps_)));
        }
        ep.loss = seen ? lossSum / static_cast<double>(seen) : 0;
        ep.trainAccuracy = seen ? static_cast<double>(correct) / static_cast<double>(seen) : 0;
        ep.seconds = secondsSince(t0);
        return ep;
    }

    void runLottery(RecoverResult& r)
    {
        WeightMap rewind = student_->snapshot();
        if (o_.rewindStep > 0) { // dense training up to the early checkpoint
            int64_t steps = 0;
            while (steps < o_.rewindStep)
                steps += trainEpoch(0, o_.rewindStep - steps).steps;
            rewind = student_->snapshot();
        }
        const int k = o_.rounds;
        for (int i = 1; i <= k; ++i) {
            const double s = 1.0 - std::pow(1.0 - o_.targetSparsity, static_cast<double>(i) / k);
            std::vector<std::span<const float>> spans;
            for (const auto& p : plans_)
                spans.emplace_back(student_->value(p.weight).data(), student_->value(p.weight).size());
            auto g = globalMagnitudeMasks(spans, s);
            RecoverRound rr;
            rr.round = i;
            for (size_t j = 0; j < plans_.size(); ++j) {
                LayerPlan& p = plans_[j];
                std::vector<uint8_t> keep = std::move(g.masks[j]);
                if (const auto* old = student_->mask(p.weight))
                    for (size_t q = 0; q < keep.size(); ++q)
                        keep[q] = static_cast<uint8_t>(keep[q] && (*old)[q]);
                const uint64_t kept = keptCount(keep);
                rr.prunable += keep.size();
                rr.pruned += keep.size() - kept;
                p.matrixMask.resize(keep.size());
                layoutToMatrix(p.shape, p.outAxis, keep.data(), p.matrixMask.data());
                p.forceMask = kept < keep.size();
                const double frac = keep.empty() ? 0 : static_cast<double>(keep.size() - kept) / static_cast<double>(keep.size());
                p.config.sparsity = p.forceMask ? std::min(frac, 0.999999) : 0.0;
                student_->setMask(p.weight, std::move(keep));
            }
            rr.sparsity = rr.prunable ? static_cast<double>(rr.pruned) / static_cast<double>(rr.prunable) : 0;
            student_->restore(rewind); // surviving weights back to the rewind point
            student_->resetOptimizer();
            trainRun(r, i, o_.steps);
            rr.accuracy = weightsAccuracy(model_, finalize(student_->snapshot()), test_, o_.evalLimit);
            r.rounds.push_back(rr);
        }
    }

    // The trained values with every planned layer compressed as configured.
    WeightMap finalize(WeightMap values) const
    {
        if (plans_.empty())
            return values;
        const auto m = readOnnxBytes(onnxBytesWithWeights(model_, values));
        for (const auto& p : plans_) {
            if (p.config.isIdentity())
                continue;
            std::vector<float> rec;
            const LayerResult lr = compressLayer(*m, p.layer, p.config, &rec,
                                                 p.forceMask && !p.matrixMask.empty() ? &p.matrixMask : nullptr);
            (void)lr;
            values[p.weight] = std::move(rec);
        }
        return values;
    }

    const Model& model_;
    const std::vector<LayerConfig>& configs_;
    const Dataset& test_;
    RecoverOptions o_;
    ProgressFn progress_;
    std::unique_ptr<Trainer> student_;
    TrainData data_;
    std::vector<LayerPlan> plans_;
    std::map<std::string, std::vector<float>> startValues_;
    std::vector<float> teacherLogits_;
    int64_t classes_ = 0;
    int64_t totalSteps_ = 1, doneSteps_ = 0;
    int epochCounter_ = 0;
};

} // namespace

RecoverResult recover(const Model& model, const std::vector<LayerConfig>& configs, const Dataset& train,
                      const Dataset& test, const RecoverOptions& options, const ProgressFn& progress)
{
    Recovery r(model, configs, train, test, options, progress);
    return r.run();
}

void writeRecovered(const Model& model, const RecoverResult& result, const std::string& path)
{
    writeOnnxWithWeights(model, result.weights, path);
}

double weightsAccuracy(const Model& model, const WeightMap& weights, const Dataset& data, int64_t limit)
{
    const auto m = readOnnxBytes(onnxBytesWithWeights(model, weights));
    EvalOptions eo;
    eo.quickSamples = 0;
    eo.limit = limit;
    Evaluator ev(*m, data, eo);
    return ev.reference().metrics.top1;
}

} // namespace bonsai
