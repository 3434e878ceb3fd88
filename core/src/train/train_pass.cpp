// Trainer: forward pass (executor + training-mode BatchNormalization), backward pass over the
// planned nodes, optimizer updates.
#include "bonsai/error.h"
#include "common/parallel.h"
#include "train/train_impl.h"

#include <cmath>

namespace bonsai {
namespace {

std::vector<int64_t> spatialOf(const std::vector<int64_t>& s)
{
    return s.size() > 2 ? std::vector<int64_t>(s.begin() + 2, s.end()) : std::vector<int64_t>{};
}

} // namespace

const Value& Trainer::Impl::val(const std::string& name) const
{
    const Value* v = exec->find(store, name);
    if (!v)
        throw Error("training: value '" + name + "' is missing");
    if (v->type != Value::Type::Float)
        throw Error("training: value '" + name + "' is not a float tensor");
    return *v;
}

void Trainer::Impl::applyMask(TrainParam& p)
{
    if (p.mask.empty())
        return;
    for (size_t i = 0; i < p.value.size(); ++i)
        if (!p.mask[i])
            p.value[i] = 0.0f;
}

void Trainer::Impl::forward(const TrainBatch& b)
{
    if (!b.x || b.n < 1)
        throw Error("training: an empty batch");
    Value& xin = store[input];
    xin.type = Value::Type::Float;
    xin.shape = inShape;
    xin.shape[0] = b.n;
    xin.f.assign(b.x, b.x + numel(xin.shape));
    for (const auto& p : params) {
        Value& v = store[p.name];
        v.type = Value::Type::Float;
        v.shape = p.shape;
        if (transform) {
            v.f.resize(p.value.size());
            transform(p.name, p.shape, p.value.data(), v.f.data(), p.value.size());
        } else {
            v.f = p.value;
        }
    }
    for (const auto& [name, buf] : buffers) {
        Value& v = store[name];
        v.type = Value::Type::Float;
        v.shape = buf.shape;
        v.f = buf.value;
    }
    for (size_t k = 0; k < nodes.size(); ++k) {
        TrainNode& n = nodes[k];
        if (n.op == "Relu" && n.in.size() == 1 && n.out.size() == 1) {
            // Plain loop: faster than the executor's generic unary kernel, same values.
            const Value& x = val(n.in[0]);
            Value& y = store[n.out[0]];
            y.type = Value::Type::Float;
            y.shape = x.shape;
            y.f.resize(x.f.size());
            const auto cnt = static_cast<int64_t>(x.f.size());
            const float* src = x.f.data();
            float* dst = y.f.data();
#pragma omp parallel for if (cnt > kParallelCopy) schedule(static)
            for (int64_t q = 0; q < cnt; ++q)
                dst[q] = src[q] > 0.0f ? src[q] : 0.0f;
            continue;
        }
        if (!(training && n.op == "BatchNormalization")) {
            exec->run(store, k, k + 1);
            continue;
        }
        const Value& x = val(n.in.at(0));
        if (x.shape.size() < 2)
            throw Error("BatchNormalization: X must have rank >= 2");
        const int64_t N = x.shape[0], C = x.shape[1];
        const int64_t sp = N * C != 0 ? numel(x.shape) / (N * C) : 0;
        const Value& scale = val(n.in.at(1));
        const Value& bias = val(n.in.at(2));
        if (scale.numel() != static_cast<size_t>(C) || bias.numel() != static_cast<size_t>(C))
            throw Error("BatchNormalization: scale and B need " + std::to_string(C) + " elements");
        TrainBuffer* rm = n.in.size() > 3 && buffers.count(n.in[3]) ? &buffers[n.in[3]] : nullptr;
        TrainBuffer* rv = n.in.size() > 4 && buffers.count(n.in[4]) ? &buffers[n.in[4]] : nullptr;
        if ((rm && rm->value.size() != static_cast<size_t>(C)) || (rv && rv->value.size() != static_cast<size_t>(C)))
            throw Error("BatchNormalization: running statistics need " + std::to_string(C) + " elements");
        n.mean.resize(static_cast<size_t>(C));
        n.invStd.resize(static_cast<size_t>(C));
        Value& y = store[n.out.at(0)];
        y.type = Value::Type::Float;
        y.shape = x.shape;
        y.f.resize(x.f.size());
        grad::batchNormTrainForward(N, C, sp, n.eps, n.momentum, x.f.data(), scale.f.data(),
                                    bias.f.data(), y.f.data(), n.mean.data(), n.invStd.data(),
                                    rm ? rm->value.data() : nullptr, rv ? rv->value.data() : nullptr);
    }
}

double Trainer::Impl::lossAndBackward(const TrainBatch& b)
{
    const Value& z = val(output);
    if (z.shape.size() != 2 || z.shape[0] != b.n)
        throw Error("training: the output '" + output + "' must be logits [" + std::to_string(b.n) +
                    ", classes], not " + shapeString(z.shape));
    lastN = b.n;
    classes = z.shape[1];
    logits = z.f;
    live.clear();
    for (auto& p : params)
        std::fill(p.grad.begin(), p.grad.end(), 0.0f);
    // The gradient buffer of a value (zeroed on first use in this pass), or null when the
    // backward pass does not need it.
    const auto gradOf = [&](const std::string& name, size_t size) -> float* {
        if (name.empty() || !needGrad.count(name))
            return nullptr;
        if (TrainParam* p = param(name))
            return p->grad.data();
        auto& g = actGrad[name];
        if (live.insert(name).second)
            g.assign(size, 0.0f);
        return g.data();
    };
    float* dz = gradOf(output, z.numel());
    if (!dz)
        throw Error("training: no parameter reaches the output");
    const double loss = grad::softmaxCrossEntropy(b.n, classes, z.f.data(), b.labels, dz, b.teacher,
                                                  opt.distillAlpha, opt.temperature);
    if (!std::isfinite(loss))
        throw Error("training diverged: the loss is " + std::to_string(loss));

    for (size_t k = nodes.size(); k-- > 0;) {
        const TrainNode& n = nodes[k];
        if (!n.onPath || n.out.empty() || !live.count(n.out[0]))
            continue;
        const Value& y = val(n.out[0]);
        const float* dy = actGrad[n.out[0]].data();
        const auto in = [&](size_t s) -> const Value* {
            return s < n.in.size() && !n.in[s].empty() ? &val(n.in[s]) : nullptr;
        };
        const auto din = [&](size_t s) -> float* {
            const Value* v = in(s);
            return v ? gradOf(n.in[s], v->numel()) : nullptr;
        };
        const std::string& op = n.op;
        try {
            if (op == "Conv") {
                const Value& x = *in(0);
                const Value& w = *in(1);
                grad::ConvShape s;
                s.N = x.shape.at(0);
                s.C = x.shape.at(1);
                s.M = w.shape.at(0);
                s.G = n.group;
                s.win = grad::makeWindow(n.win, spatialOf(x.shape), spatialOf(w.shape), false);
                grad::convBackward(s, x.f.data(), w.f.data(), dy, din(0), din(1), din(2));
            } else if (op == "Gemm") {
                const Value& a = *in(0);
                const Value& bm = *in(1);
                const Value* c = in(2);
                const int64_t M = y.shape.at(0), N = y.shape.at(1);
                const int64_t K = n.ta ? a.shape.at(0) : a.shape.at(1);
                grad::gemmBackward(n.ta, n.tb, M, N, K, n.alpha, n.beta, a.f.data(), bm.f.data(), dy,
                                   din(0), din(1), c ? c->shape : std::vector<int64_t>{},
                                   c && n.beta != 0.0f ? din(2) : nullptr);
            } else if (op == "MatMul") {
                grad::matmulBackward(in(0)->shape, in(1)->shape, in(0)->f.data(), in(1)->f.data(), dy,
                                     din(0), din(1));
            } else if (op == "Relu") {
                if (float* dx = din(0))
                    grad::reluBackward(static_cast<int64_t>(y.numel()), in(0)->f.data(), dy, dx);
            } else if (op == "MaxPool" || op == "AveragePool") {
                const Value& x = *in(0);
                float* dx = din(0);
                if (dx) {
                    const auto w = grad::makeWindow(n.win, spatialOf(x.shape), n.win.kernel, true);
                    const int64_t planes = x.shape.at(0) * x.shape.at(1);
                    if (op == "MaxPool")
                        grad::maxPoolBackward(planes, w, x.f.data(), dy, dx);
                    else
                        grad::avgPoolBackward(planes, w, n.countIncludePad, dy, dx);
                }
            } else if (op == "GlobalAveragePool") {
                const Value& x = *in(0);
                if (float* dx = din(0)) {
                    const int64_t planes = x.shape.at(0) * x.shape.at(1);
                    grad::globalAvgPoolBackward(planes, planes ? numel(x.shape) / planes : 0, dy, dx);
                }
            } else if (op == "BatchNormalization") {
                const Value& x = *in(0);
                const Value& scale = *in(1);
                const int64_t N = x.shape.at(0), C = x.shape.at(1);
                const int64_t sp = N * C != 0 ? numel(x.shape) / (N * C) : 0;
                std::vector<float> mean = n.mean, invStd = n.invStd;
                if (!training) { // running statistics: an affine map per channel
                    const Value& rm = *in(3);
                    const Value& rv = *in(4);
                    mean = rm.f;
                    invStd.resize(static_cast<size_t>(C));
                    for (int64_t c = 0; c < C; ++c)
                        invStd[static_cast<size_t>(c)] = 1.0f / std::sqrt(rv.f[static_cast<size_t>(c)] + n.eps);
                }
                float* dx = din(0);
                float* ds = din(1);
                float* db = din(2);
                if (training) {
                    grad::batchNormTrainBackward(N, C, sp, x.f.data(), scale.f.data(), mean.data(),
                                                 invStd.data(), dy, dx, ds, db);
                } else {
                    for (int64_t p = 0; p < N * C; ++p) {
                        const auto c = static_cast<size_t>(p % C);
                        double sdy = 0, sdyx = 0;
                        for (int64_t q = p * sp; q < (p + 1) * sp; ++q) {
                            sdy += dy[q];
                            sdyx += static_cast<double>(dy[q]) * (x.f[static_cast<size_t>(q)] - mean[c]) * invStd[c];
                            if (dx)
                                dx[q] += dy[q] * scale.f[c] * invStd[c];
                        }
                        if (ds)
                            ds[c] += static_cast<float>(sdyx);
                        if (db)
                            db[c] += static_cast<float>(sdy);
                    }
                }
            } else if (op == "Flatten" || op == "Reshape" || op == "Identity") {
                if (float* dx = din(0))
                    for (size_t q = 0; q < y.numel(); ++q)
                        dx[q] += dy[q];
            } else if (op == "Add") {
                for (size_t s = 0; s < 2; ++s)
                    if (float* dx = din(s))
                        grad::unbroadcastAdd(y.shape, dy, in(s)->shape, dx);
            } else {
                throw Error("no backward pass");
            }
        } catch (const Error& e) {
            throw FileError(model.path, "training: backward of " + nodeLabel(n) + ": " + e.what());
        }
    }
    if (opt.inputGradient) {
        const auto it = actGrad.find(input);
        if (it != actGrad.end() && live.count(input))
            inGrad = it->second;
        else
            inGrad.assign(static_cast<size_t>(numel(store.at(input).shape)), 0.0f);
    }
    return loss;
}

void Trainer::Impl::update()
{
    ++t;
    const double b1t = 1.0 - std::pow(opt.beta1, static_cast<double>(t));
    const double b2t = 1.0 - std::pow(opt.beta2, static_cast<double>(t));
    for (auto& p : params) {
        const auto n = static_cast<int64_t>(p.value.size());
        float* w = p.value.data();
        float* g = p.grad.data();
        const uint8_t* mask = p.mask.empty() ? nullptr : p.mask.data();
        const float wd = p.decay ? static_cast<float>(opt.weightDecay) : 0.0f;
        const float lrf = static_cast<float>(lr);
        if (p.m1.size() != p.value.size())
            p.m1.assign(p.value.size(), 0.0f);
        float* m1 = p.m1.data();
        if (opt.optimizer == TrainOptions::Optimizer::Sgd) {
            const float mom = static_cast<float>(opt.momentum);
#pragma omp parallel for if (n > kParallelLight) schedule(static)
            for (int64_t i = 0; i < n; ++i) {
                const float gi = mask && !mask[i] ? 0.0f : g[i] + wd * w[i];
                m1[i] = mom * m1[i] + gi;
                w[i] -= lrf * m1[i];
            }
        } else {
            if (p.m2.size() != p.value.size())
                p.m2.assign(p.value.size(), 0.0f);
            float* m2 = p.m2.data();
            const float b1 = static_cast<float>(opt.beta1), b2 = static_cast<float>(opt.beta2);
            const float c1 = static_cast<float>(1.0 / b1t), c2 = static_cast<float>(1.0 / b2t);
            const float eps = static_cast<float>(opt.adamEps);
#pragma omp parallel for if (n > kParallelLight) schedule(static)
            for (int64_t i = 0; i < n; ++i) {
                const float gi = mask && !mask[i] ? 0.0f : g[i];
                m1[i] = b1 * m1[i] + (1.0f - b1) * gi;
                m2[i] = b2 * m2[i] + (1.0f - b2) * gi * gi;
                w[i] -= lrf * (wd * w[i] + (m1[i] * c1) / (std::sqrt(m2[i] * c2) + eps));
            }
        }
        applyMask(p);
    }
}

} // namespace bonsai
