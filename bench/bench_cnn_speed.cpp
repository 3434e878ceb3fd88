// Benchmark: a whole evaluation of the 10,000 Fashion-MNIST test images through a small CNN
// Bonsai has not seen (random weights, channel counts unlike the demo model's, BatchNorm after
// each convolution) in Bonsai's Evaluator beside ONNX Runtime (onnxruntime-node, the same
// thread count, graph optimizations "all") on the same file, measured in the same run, taking
// turns; then the demo CNN with the int8 preset, fake-quantized (FP32) against deploy mode
// (INT8 kernels).
//
// Model: conv 1->16 3x3 pad 1 + BN + relu + maxpool 2, conv 16->36 3x3 pad 1 + BN + relu +
// maxpool 2, flatten, dense 1764->48 + relu, dense 48->10: 2.4 MFLOP per image.
// Bonsai's time: Evaluator::evaluate of the uncompressed configuration on a new Evaluator with
// bonsai-cli eval's options (reading the images, the model's pass, metrics). ONNX Runtime's: reading and converting
// the images, session.run per batch and the arg-max (tests/interop/onnx_accuracy.mjs; the
// session is created before the clock starts). Both in batches of 256.
// Target: Bonsai no slower than ONNX Runtime (ratio <= 1), INT8 deploy faster than FP32.
// On a machine shared with other work, libgomp's default waiting (threads spin between parallel
// regions, using up the process's share of the cores) slows the OpenMP side most: compare with
// OMP_WAIT_POLICY=passive, and read the ratio of one run, not times across runs.
// Options: --threads N (default 2), --repeat R (default 5; medians are printed), --write PATH
// (only write the unseen model to PATH, e.g. to time bonsai-cli eval on it).
#include "bench_onnx.h"
#include "bench_util.h"

#include "bonsai/compress.h"
#include "bonsai/dataset.h"
#include "bonsai/evaluate.h"
#include "bonsai/model.h"
#include "bonsai/presets.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

namespace {

using bench::intAttr;
using bench::ints;
using bench::node;

std::string writeModel()
{
    std::mt19937 rng(7);
    onnx::ModelProto m = bench::newModel("bench_cnn_speed", "image", {1, 28, 28}, "logits");
    auto* g = m.mutable_graph();
    const auto convBlock = [&](const std::string& p, const std::string& in, int64_t cin, int64_t cout) {
        bench::addInit(g, rng, p + ".w", {cout, cin, 3, 3}, 1.0f / std::sqrt(9.0f * static_cast<float>(cin)));
        bench::addInit(g, rng, p + ".b", {cout}, 0.1f);
        bench::addInit(g, rng, p + ".gamma", {cout}, 0.1f, 1.0f);
        bench::addInit(g, rng, p + ".beta", {cout}, 0.1f);
        bench::addInit(g, rng, p + ".mean", {cout}, 0.1f);
        bench::addInit(g, rng, p + ".var", {cout}, 0.2f, 1.0f, true);
        ints(node(g, "Conv", {in, p + ".w", p + ".b"}, p + ".c"), "pads", {1, 1, 1, 1});
        node(g, "BatchNormalization", {p + ".c", p + ".gamma", p + ".beta", p + ".mean", p + ".var"}, p + ".n");
        node(g, "Relu", {p + ".n"}, p + ".r");
        auto* pool = node(g, "MaxPool", {p + ".r"}, p + ".p");
        ints(pool, "kernel_shape", {2, 2});
        ints(pool, "strides", {2, 2});
        return p + ".p";
    };
    const auto p1 = convBlock("conv1", "image", 1, 16);
    const auto p2 = convBlock("conv2", p1, 16, 36);
    node(g, "Flatten", {p2}, "flat");
    bench::addInit(g, rng, "fc1.w", {48, 1764}, 1.0f / std::sqrt(1764.0f));
    bench::addInit(g, rng, "fc1.b", {48}, 0.1f);
    bench::addInit(g, rng, "fc2.w", {10, 48}, 1.0f / std::sqrt(48.0f));
    bench::addInit(g, rng, "fc2.b", {10}, 0.1f);
    intAttr(node(g, "Gemm", {"flat", "fc1.w", "fc1.b"}, "d1"), "transB", 1);
    node(g, "Relu", {"d1"}, "r3");
    intAttr(node(g, "Gemm", {"r3", "fc2.w", "fc2.b"}, "logits"), "transB", 1);
    return bench::saveModel(m, "bench_cnn_speed");
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// One ONNX Runtime evaluation (its own process): seconds and accuracy; seconds < 0 on failure.
std::pair<double, double> ortEval(const std::string& model, int threads)
{
    const std::string dir = bonsai::defaultDatasetDir();
    const std::string cmd = "node '" BONSAI_SOURCE_DIR "/tests/interop/onnx_accuracy.mjs' '" + model + "' '" + dir +
                            "/t10k-images-idx3-ubyte.gz' '" + dir + "/t10k-labels-idx1-ubyte.gz' --threads " +
                            std::to_string(threads) + " --batch 256 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p)
        return {-1, 0};
    std::string out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, p))
        out.append(buf, n);
    if (pclose(p) != 0) {
        std::fprintf(stderr, "bench_cnn_speed: ONNX Runtime failed: %s\n", out.c_str());
        return {-1, 0};
    }
    const auto j = nlohmann::json::parse(out.substr(out.find('{')));
    return {j["seconds"][0].get<double>(), j["accuracy"].get<double>()};
}

} // namespace

int main(int argc, char** argv)
{
    int threads = 2, repeat = 5;
    for (int k = 1; k + 1 < argc; k += 2) {
        if (!std::strcmp(argv[k], "--write")) {
            std::filesystem::rename(writeModel(), argv[k + 1]);
            return 0;
        }
        if (!std::strcmp(argv[k], "--threads"))
            threads = std::atoi(argv[k + 1]);
        else if (!std::strcmp(argv[k], "--repeat"))
            repeat = std::atoi(argv[k + 1]);
    }
    if (threads <= 0 || repeat <= 0) {
        std::fprintf(stderr, "usage: bench_cnn_speed [--threads N] [--repeat R]\n");
        return 2;
    }
    if (!std::filesystem::exists(bonsai::defaultDatasetDir())) {
        std::printf("bench_cnn_speed: %s not installed (Debian package dataset-fashion-mnist); skipped\n",
                    bonsai::defaultDatasetDir().c_str());
        return 0;
    }
    try {
        omp_set_num_threads(threads);
        const std::string path = writeModel();
        const auto model = bonsai::Model::open(path);
        const auto data = bonsai::openDataset(bonsai::defaultDatasetPath());
        const std::vector<bonsai::LayerConfig> identity(model->layers.size());
        bonsai::EvalOptions opt; // as bonsai-cli eval sets them for the uncompressed model
        opt.quickSamples = 0;
        opt.incremental = false;
        std::vector<double> ours, theirs, ratios;
        double ourAcc = 0, theirAcc = 0;
        const bool haveOrt = ortEval(path, threads).first >= 0; // also warms the page cache
        for (int r = 0; r < repeat; ++r) {
            bonsai::Evaluator ev(*model, *data, opt);
            const double t0 = bench::now();
            const auto res = ev.evaluate(identity);
            ours.push_back(bench::now() - t0);
            ourAcc = res.metrics.top1;
            if (haveOrt) {
                const auto [s, acc] = ortEval(path, threads);
                theirs.push_back(s);
                theirAcc = acc;
                ratios.push_back(ours.back() / s);
            }
        }
        std::printf("[cnn] unseen CNN (2.4 MFLOP/image), 10000 images, %d thread(s), median of %d:\n", threads, repeat);
        std::printf("  Bonsai eval %.3f s (top-1 %.2f%%)", median(ours), 100 * ourAcc);
        if (haveOrt)
            std::printf("; ONNX Runtime %.3f s (top-1 %.2f%%); Bonsai / ONNX Runtime = %.2f (median of paired ratios %.2f; target <= 1)\n",
                        median(theirs), 100 * theirAcc, median(ours) / median(theirs), median(ratios));
        else
            std::printf("; ONNX Runtime not available (run .ci/install-deps)\n");
        std::filesystem::remove(path);

        // The demo CNN, int8 preset: fake quantization (FP32 kernels) against deploy (INT8).
        const auto demo = bonsai::Model::open(BONSAI_SOURCE_DIR "/resources/demo/fashion_cnn.onnx");
        const auto int8 = bonsai::presetConfigs(*bonsai::presetByKey("int8"), *demo);
        std::vector<double> fp32, dep, factors;
        double fpAcc = 0, depAcc = 0;
        for (int r = 0; r < repeat; ++r) {
            double t[2];
            for (int deploy : {0, 1}) {
                bonsai::EvalOptions o = opt;
                o.incremental = true;
                o.deploy = deploy;
                bonsai::Evaluator ev(*demo, *data, o);
                ev.reference();
                ev.evaluate(int8); // weights compressed and primitives made before the clock
                const double t0 = bench::now();
                const auto res = ev.evaluate(int8);
                t[deploy] = bench::now() - t0;
                (deploy ? depAcc : fpAcc) = res.metrics.top1;
            }
            fp32.push_back(t[0]);
            dep.push_back(t[1]);
            factors.push_back(t[0] / t[1]);
        }
        std::printf("[int8] demo CNN, int8 preset, the compressed pass over 10000 images: fake quantization (FP32) %.3f s "
                    "(top-1 %.2f%%), deploy (INT8) %.3f s (top-1 %.2f%%): %.2fx faster (median of paired factors %.2fx)\n",
                    median(fp32), 100 * fpAcc, median(dep), 100 * depAcc, median(fp32) / median(dep), median(factors));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_cnn_speed: %s\n", e.what());
        return 1;
    }
    return 0;
}
