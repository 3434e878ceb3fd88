// Trainer: planning (trainable parameters, gradient path), parameters, masks, epochs.
#include "bonsai/train.h"

#include "bonsai/error.h"
#include "formats/onnx_attrs.h"
#include "formats/onnx_model.h"
#include "train/train_impl.h"

#include <onnx/onnx-ml.pb.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <set>

namespace bonsai {
namespace {

// Differentiable input slots of the ops with a backward pass.
const std::unordered_map<std::string, std::vector<size_t>>& diffSlots()
{
    static const std::unordered_map<std::string, std::vector<size_t>> m = {
        {"Conv", {0, 1, 2}},       {"Gemm", {0, 1, 2}},
        {"MatMul", {0, 1}},        {"Relu", {0}},
        {"MaxPool", {0}},          {"AveragePool", {0}},
        {"GlobalAveragePool", {0}}, {"BatchNormalization", {0, 1, 2}},
        {"Flatten", {0}},          {"Reshape", {0}},
        {"Identity", {0}},         {"Add", {0, 1}},
    };
    return m;
}

std::vector<size_t> slotsOf(const TrainNode& n)
{
    if (auto it = diffSlots().find(n.op); it != diffSlots().end())
        return it->second;
    std::vector<size_t> all(n.in.size());
    for (size_t k = 0; k < all.size(); ++k)
        all[k] = k;
    return all;
}

// The attributes the backward passes use: window attributes of the window ops only (a Pad
// before opset 11 has a `pads` attribute of its own, negative to crop). An attribute out of
// range is a FileError naming the model file and the node, as the executor's are.
void parseAttrs(TrainNode& n, const std::string& path)
{
    if (!n.proto)
        return;
    try {
        OnnxAttrs at(*n.proto);
        if (n.op == "Conv" || n.op == "MaxPool" || n.op == "AveragePool")
            n.win = readWindowAttrs(at, n.op != "Conv");
        n.group = at.i("group", n.group);
        n.countIncludePad = at.i("count_include_pad", n.countIncludePad) != 0;
        n.ta = at.i("transA", n.ta) != 0;
        n.tb = at.i("transB", n.tb) != 0;
        n.alpha = at.f("alpha", n.alpha);
        n.beta = at.f("beta", n.beta);
        n.eps = at.f("epsilon", n.eps);
        n.momentum = at.f("momentum", n.momentum);
    } catch (const FileError&) {
        throw;
    } catch (const Error& e) {
        throw FileError(path, nodeLabel(n) + ": " + e.what());
    }
}

bool isFloatTensor(const Model& m, const std::string& name)
{
    const int t = m.findTensor(name);
    return t >= 0 && dtypeInfo(m.tensors[static_cast<size_t>(t)].dtype).isFloat;
}

// Fills nodes, parameters, buffers and the gradient path; lists ops without a backward pass.
void plan(Trainer::Impl& im, std::vector<std::string>& unsupported)
{
    const onnx::ModelProto* proto = onnxProto(im.model);
    if (!proto)
        throw Error("training needs an ONNX model");
    ExecOptions eo;
    eo.fuse = false;
    im.exec = std::make_unique<OnnxExecutor>(im.model, eo);
    const auto& ex = *im.exec;
    if (ex.inputNames().size() != 1 || ex.inputType(0) != Value::Type::Float)
        throw Error("training needs a model with exactly one float input");
    if (ex.outputNames().empty())
        throw Error("the model has no output");
    im.input = ex.inputNames()[0];
    im.output = ex.outputNames()[0];
    im.inShape = ex.inputShape(0);
    std::unordered_map<std::string, const onnx::NodeProto*> byOutput;
    for (const auto& n : proto->graph().node())
        for (const auto& o : n.output())
            if (!o.empty())
                byOutput[o] = &n;
    const std::set<std::string> frozen(im.opt.frozen.begin(), im.opt.frozen.end());
    if (im.opt.inputGradient)
        im.needGrad.insert(im.input);
    std::set<std::string> missing;
    for (size_t k = 0; k < ex.nodeCount(); ++k) {
        const ExecNode& en = ex.node(k);
        TrainNode n;
        n.op = en.op;
        n.name = en.name;
        n.in = en.inputs;
        n.out = en.outputs;
        for (const auto& o : n.out)
            if (auto it = byOutput.find(o); !o.empty() && it != byOutput.end()) {
                n.proto = it->second;
                break;
            }
        parseAttrs(n, im.model.path);
        const auto slots = slotsOf(n);
        for (size_t s : slots) {
            if (s >= n.in.size() || n.in[s].empty())
                continue;
            const std::string& v = n.in[s];
            if (isFloatTensor(im.model, v) && !frozen.count(v) && !im.paramIndex.count(v)) {
                TrainParam p;
                p.name = v;
                const int t = im.model.findTensor(v);
                p.shape = im.model.tensors[static_cast<size_t>(t)].shape;
                p.value = im.model.readFloat(t);
                p.grad.assign(p.value.size(), 0.0f);
                p.decay = p.shape.size() >= 2;
                im.paramIndex[v] = im.params.size();
                im.params.push_back(std::move(p));
            }
            if (im.needGrad.count(v))
                n.onPath = true;
        }
        if (n.op == "BatchNormalization")
            for (size_t s = 3; s < 5 && s < n.in.size(); ++s)
                if (isFloatTensor(im.model, n.in[s]) && !im.buffers.count(n.in[s])) {
                    const int t = im.model.findTensor(n.in[s]);
                    im.buffers[n.in[s]] = {im.model.tensors[static_cast<size_t>(t)].shape, im.model.readFloat(t)};
                    im.bufferOrder.push_back(n.in[s]);
                }
        // Parameters are registered above, so they are on the path from their first use.
        for (size_t s : slots)
            if (s < n.in.size() && im.paramIndex.count(n.in[s]))
                n.onPath = true;
        if (n.onPath) {
            if (!diffSlots().count(n.op))
                missing.insert(n.op);
            for (const auto& o : n.out)
                if (!o.empty())
                    im.needGrad.insert(o);
        }
        im.nodes.push_back(std::move(n));
    }
    for (const auto& p : im.params)
        im.needGrad.insert(p.name);
    unsupported.assign(missing.begin(), missing.end());
    if (!im.needGrad.count(im.output) && unsupported.empty())
        throw Error("no trainable parameter reaches the output '" + im.output + "'");
}

} // namespace

int64_t TrainData::sampleNumel() const
{
    return numel(sampleShape);
}

TrainData TrainData::load(const Dataset& data, const std::vector<int64_t>& inputShape, int64_t limit)
{
    TrainData d;
    const Preprocess pre = data.preprocess(inputShape);
    d.sampleShape = pre.shape;
    d.size = limit > 0 ? std::min(limit, data.size()) : data.size();
    const int64_t per = d.sampleNumel();
    d.x.resize(static_cast<size_t>(d.size * per));
    d.labels.resize(static_cast<size_t>(d.size));
    constexpr int64_t kChunk = 1024;
    for (int64_t first = 0; first < d.size; first += kChunk) {
        const int64_t count = std::min(kChunk, d.size - first);
        data.fillBatch(first, count, inputShape, d.x.data() + first * per, d.labels.data() + first);
    }
    return d;
}

Trainer::Trainer(const Model& model, const TrainOptions& options)
    : impl_(std::make_unique<Impl>(model, options))
{
    if (options.batch < 1)
        throw Error("the batch size must be at least 1");
    std::vector<std::string> unsupported;
    plan(*impl_, unsupported);
    if (!unsupported.empty()) {
        std::string list;
        for (const auto& u : unsupported)
            list += (list.empty() ? "" : ", ") + u;
        throw Error("training: no backward pass for op(s) on the gradient path: " + list +
                    " (supported: Conv, Gemm, MatMul, Relu, MaxPool, AveragePool, "
                    "GlobalAveragePool, BatchNormalization, Flatten, Reshape, Identity, Add)");
    }
    for (size_t k = 1; k < impl_->inShape.size(); ++k)
        if (impl_->inShape[k] < 0)
            throw Error("the model input needs fixed per-sample dims, not " + shapeString(impl_->inShape));
}

Trainer::~Trainer() = default;

std::vector<std::string> Trainer::unsupportedOps(const Model& model, const TrainOptions& options)
{
    Impl im(model, options);
    std::vector<std::string> u;
    try {
        plan(im, u);
    } catch (const Error&) {
        if (u.empty())
            throw;
    }
    return u;
}

const TrainOptions& Trainer::options() const { return impl_->opt; }

std::vector<std::string> Trainer::parameterNames() const
{
    std::vector<std::string> r;
    for (const auto& p : impl_->params)
        r.push_back(p.name);
    return r;
}

std::vector<std::string> Trainer::bufferNames() const { return impl_->bufferOrder; }
bool Trainer::isParameter(const std::string& name) const { return impl_->paramIndex.count(name) > 0; }

const std::vector<int64_t>& Trainer::shape(const std::string& name) const
{
    if (const TrainParam* p = impl_->param(name))
        return p->shape;
    if (auto it = impl_->buffers.find(name); it != impl_->buffers.end())
        return it->second.shape;
    throw Error("no trainable parameter or buffer '" + name + "'");
}

const std::vector<float>& Trainer::value(const std::string& name) const
{
    if (const TrainParam* p = impl_->param(name))
        return p->value;
    if (auto it = impl_->buffers.find(name); it != impl_->buffers.end())
        return it->second.value;
    throw Error("no trainable parameter or buffer '" + name + "'");
}

void Trainer::setValue(const std::string& name, const std::vector<float>& values)
{
    std::vector<float>& dst = const_cast<std::vector<float>&>(value(name));
    if (values.size() != dst.size())
        throw Error("'" + name + "' has " + std::to_string(dst.size()) + " elements, " +
                    std::to_string(values.size()) + " given");
    dst = values;
    if (TrainParam* p = impl_->param(name))
        impl_->applyMask(*p);
}

const std::vector<float>& Trainer::gradient(const std::string& name) const
{
    if (const TrainParam* p = impl_->param(name))
        return p->grad;
    throw Error("no trainable parameter '" + name + "'");
}

const std::vector<float>& Trainer::inputGradient() const { return impl_->inGrad; }
const std::vector<int64_t>& Trainer::inputShape() const { return impl_->inShape; }

void Trainer::setMask(const std::string& name, std::vector<uint8_t> keep)
{
    TrainParam* p = impl_->param(name);
    if (!p)
        throw Error("setMask: no trainable parameter '" + name + "'");
    if (keep.size() != p->value.size())
        throw Error("setMask: '" + name + "' has " + std::to_string(p->value.size()) +
                    " elements, the mask " + std::to_string(keep.size()));
    p->mask = std::move(keep);
    impl_->applyMask(*p);
}

void Trainer::clearMask(const std::string& name)
{
    if (TrainParam* p = impl_->param(name))
        p->mask.clear();
}

const std::vector<uint8_t>* Trainer::mask(const std::string& name) const
{
    const TrainParam* p = impl_->param(name);
    return p && !p->mask.empty() ? &p->mask : nullptr;
}

void Trainer::maskChannels(const std::string& weight, const std::vector<int64_t>& channels)
{
    const Model& m = impl_->model;
    const int wt = m.findTensor(weight);
    const Layer* layer = nullptr;
    for (const auto& l : m.layers)
        if (l.weight == wt)
            layer = &l;
    if (!layer)
        throw Error("maskChannels: '" + weight + "' is not a layer weight");
    // Keep-mask of a tensor with `channels` removed along `axis`.
    const auto removeAlong = [&](const std::string& name, size_t axis) {
        TrainParam* p = impl_->param(name);
        if (!p)
            return;
        std::vector<uint8_t> keep = p->mask.empty() ? std::vector<uint8_t>(p->value.size(), 1) : p->mask;
        int64_t inner = 1;
        for (size_t k = axis + 1; k < p->shape.size(); ++k)
            inner *= p->shape[k];
        const int64_t dim = p->shape.at(axis);
        for (int64_t c : channels) {
            if (c < 0 || c >= dim)
                throw Error("maskChannels: channel " + std::to_string(c) + " is outside [0, " +
                            std::to_string(dim) + ")");
            for (size_t i = 0; i < keep.size(); ++i)
                if ((static_cast<int64_t>(i) / inner) % dim == c)
                    keep[i] = 0;
        }
        setMask(name, std::move(keep));
    };
    removeAlong(weight, static_cast<size_t>(layer->outAxis));
    if (layer->bias >= 0)
        removeAlong(m.tensors[static_cast<size_t>(layer->bias)].name, 0);
    // A BatchNormalization reading the layer's output directly.
    std::string out;
    for (const auto& n : impl_->nodes)
        if (std::find(n.in.begin(), n.in.end(), weight) != n.in.end() && !n.out.empty())
            out = n.out[0];
    for (const auto& n : impl_->nodes)
        if (n.op == "BatchNormalization" && !out.empty() && !n.in.empty() && n.in[0] == out)
            for (size_t s = 1; s < 3 && s < n.in.size(); ++s)
                removeAlong(n.in[s], 0);
}

void Trainer::setWeightTransform(WeightTransform transform) { impl_->transform = std::move(transform); }
void Trainer::setLearningRate(double lr) { impl_->lr = lr; }
double Trainer::learningRate() const { return impl_->lr; }
void Trainer::setTraining(bool training) { impl_->training = training; }
int64_t Trainer::steps() const { return impl_->t; }

void Trainer::resetOptimizer()
{
    impl_->t = 0;
    for (auto& p : impl_->params) {
        p.m1.clear();
        p.m2.clear();
    }
}

WeightMap Trainer::snapshot() const
{
    WeightMap w;
    for (const auto& p : impl_->params)
        w[p.name] = p.value;
    for (const auto& [name, b] : impl_->buffers)
        w[name] = b.value;
    return w;
}

void Trainer::restore(const WeightMap& values)
{
    for (const auto& [name, v] : values)
        setValue(name, v);
}

double Trainer::forwardBackward(const TrainBatch& batch)
{
    impl_->forward(batch);
    return impl_->lossAndBackward(batch);
}

double Trainer::step(const TrainBatch& batch)
{
    const double loss = forwardBackward(batch);
    impl_->update();
    return loss;
}

std::vector<float> Trainer::predict(const float* x, int64_t n)
{
    const bool was = impl_->training;
    impl_->training = false;
    TrainBatch b;
    b.x = x;
    b.n = n;
    try {
        impl_->forward(b);
    } catch (...) {
        impl_->training = was;
        throw;
    }
    impl_->training = was;
    const Value& y = impl_->store.at(impl_->output);
    return y.f;
}

const std::vector<float>& Trainer::lastLogits() const { return impl_->logits; }

EpochResult Trainer::trainEpoch(const TrainData& data, int epoch, const StepCallback& callback)
{
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t n = data.size, per = data.sampleNumel(), B = impl_->opt.batch;
    if (data.sampleShape.size() + 1 != impl_->inShape.size())
        throw Error("the training data's sample shape does not fit the model input " + shapeString(impl_->inShape));
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        order[static_cast<size_t>(i)] = i;
    if (impl_->opt.shuffle) {
        std::mt19937_64 eng(impl_->opt.seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(epoch + 1));
        for (int64_t i = n - 1; i > 0; --i) {
            __extension__ typedef unsigned __int128 U128;
            const auto j = static_cast<int64_t>((static_cast<U128>(eng()) * static_cast<uint64_t>(i + 1)) >> 64);
            std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
        }
    }
    const int64_t batches = impl_->opt.dropLast ? n / B : (n + B - 1) / B;
    std::vector<float> xb(static_cast<size_t>(B * per));
    std::vector<int64_t> yb(static_cast<size_t>(B));
    EpochResult r;
    r.epoch = epoch;
    double lossSum = 0;
    int64_t correct = 0;
    for (int64_t bi = 0; bi < batches; ++bi) {
        const int64_t first = bi * B, count = std::min(B, n - first);
        for (int64_t k = 0; k < count; ++k) {
            const int64_t s = order[static_cast<size_t>(first + k)];
            std::copy_n(data.x.data() + s * per, per, xb.data() + k * per);
            yb[static_cast<size_t>(k)] = data.labels[static_cast<size_t>(s)];
        }
        TrainBatch b;
        b.x = xb.data();
        b.labels = yb.data();
        b.n = count;
        const double loss = step(b);
        lossSum += loss * static_cast<double>(count);
        const auto& z = impl_->logits;
        const int64_t K = impl_->classes;
        for (int64_t k = 0; k < count; ++k) {
            const float* row = z.data() + k * K;
            if (std::max_element(row, row + K) - row == yb[static_cast<size_t>(k)])
                ++correct;
        }
        r.samples += count;
        if (callback) {
            StepInfo si;
            si.step = impl_->t;
            si.epoch = epoch;
            si.batchIndex = bi;
            si.batches = batches;
            si.samples = count;
            si.loss = loss;
            if (!callback(si))
                break;
        }
    }
    r.loss = r.samples ? lossSum / static_cast<double>(r.samples) : 0.0;
    r.accuracy = r.samples ? static_cast<double>(correct) / static_cast<double>(r.samples) : 0.0;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

} // namespace bonsai
