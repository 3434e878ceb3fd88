// measureSpeed for ONNX classifiers: whole runs and each node on its own, on the executor
// (symmetric INT8 layers from their codes in deploy mode).
#include "bonsai/compress.h"
#include "bonsai/model.h"
#include "bonsai/onnx_exec.h"
#include "eval/int8_codes.h"
#include "speed/speed_impl.h"

#include <algorithm>
#include <omp.h>
#include <optional>
#include <random>

namespace bonsai {

OnnxExecutor::Store timingInputs(const OnnxExecutor& ex, int64_t batch, unsigned seed)
{
    OnnxExecutor::Store store;
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (size_t k = 0; k < ex.inputNames().size(); ++k) {
        std::vector<int64_t> shape = ex.inputShape(k);
        for (size_t d = 0; d < shape.size(); ++d)
            if (shape[d] < 0)
                shape[d] = d == 0 ? batch : 1;
        if (!shape.empty())
            shape[0] = batch;
        size_t n = 1;
        for (int64_t d : shape)
            n *= size_t(d);
        std::vector<float> v(n);
        for (float& x : v)
            x = u(rng);
        store[ex.inputNames()[k]] = Value::floats(shape, std::move(v));
    }
    return store;
}

SpeedResult measureOnnxSpeed(const Model& model, const std::vector<LayerConfig>& configs, const SpeedOptions& o,
                             const ProgressFn& progress)
{
    ExecOptions eo;
    eo.deploy = o.deploy;
    OnnxExecutor ex(model, eo);
    std::vector<std::string> int8;
    for (size_t i = 0; i < configs.size(); ++i)
        if (!configs[i].isIdentity()) {
            std::vector<float> w;
            compressLayer(model, int(i), configs[i], &w);
            const std::string& name = model.tensors[size_t(model.layers[i].weight)].name;
            std::optional<QuantizedWeight> codes;
            if (o.deploy)
                codes = int8Codes(model, model.layers[i], configs[i], w);
            if (codes) {
                ex.setWeight(name, std::move(w), std::move(*codes));
                int8.push_back(model.layers[i].name);
            } else {
                ex.setWeight(name, std::move(w));
            }
            reportProgress(progress, 0);
        }
    OnnxExecutor::Store store = timingInputs(ex, o.batch);
    const int64_t repeats = std::max<int64_t>(o.repeats, 5);
    const double units = double(repeats + 1) * double(ex.nodeCount() + 1);
    double done = 0;
    auto tick = [&] { reportProgress(progress, ++done / units); };

    ex.run(store); // warm-up
    done += double(ex.nodeCount());
    tick();
    std::vector<double> total;
    std::vector<std::vector<double>> perNode(ex.nodeCount());
    for (int64_t rep = 0; rep < repeats; ++rep) {
        const double t0 = speedClock();
        ex.run(store);
        total.push_back(speedClock() - t0);
        tick();
        for (size_t k = 0; k < ex.nodeCount(); ++k) {
            const double t1 = speedClock();
            ex.run(store, k, k + 1);
            perNode[k].push_back(speedClock() - t1);
            tick();
        }
    }
    SpeedResult r;
    r.kind = SpeedResult::Kind::Classifier;
    r.threads = omp_get_max_threads();
    r.repeats = repeats;
    r.int8Layers = std::move(int8);
    r.latency = spreadOf(total);
    r.throughput = double(o.batch) / r.latency.median;
    for (size_t k = 0; k < ex.nodeCount(); ++k)
        r.nodes.push_back({ex.node(k).name, ex.node(k).op, spreadOf(perNode[k]), {}});
    r.layerSeconds.assign(model.layers.size(), -1.0);
    for (size_t li = 0; li < model.layers.size(); ++li) {
        const int w = model.layers[li].weight;
        if (w < 0 || size_t(w) >= model.tensors.size())
            continue;
        const size_t k = ex.firstNodeUsing(model.tensors[size_t(w)].name);
        if (k >= r.nodes.size())
            continue;
        r.nodes[k].layers.push_back(int(li));
        r.layerSeconds[li] = r.nodes[k].seconds.median;
    }
    for (const auto& [name, v] : store)
        r.activationBytes += v.f.size() * sizeof(float) + v.i.size() * sizeof(int64_t) + v.b.size();
    r.weightBytes = model.totalBytes();
    return r;
}

} // namespace bonsai
