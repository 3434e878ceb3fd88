// Inference throughput of the ONNX executor on a small CNN (MNIST-shaped), beside Eigen's own
// GEMM throughput measured in the same run.
//
// Model: conv 1->32 3x3 + relu + maxpool 2, conv 32->64 3x3 + relu + maxpool 2, flatten,
// dense 1600->128 + relu, dense 128->10; random weights, built as an ONNX file here.
// 10,000 random 28x28 images in batches of 256, on 1 and 2 threads.
// Options: --images N, --batch B.
#include "bench_onnx.h"
#include "bench_util.h"

#include "bonsai/error.h"
#include "bonsai/model.h"
#include "bonsai/onnx_exec.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

namespace {

using namespace bonsai;
using bench::intAttr;
using bench::ints;
using bench::node;

std::mt19937 rng(42);

void addInit(onnx::GraphProto* g, const std::string& name, std::vector<int64_t> dims, float scale)
{
    bench::addInit(g, rng, name, std::move(dims), scale);
}

std::string writeModel()
{
    onnx::ModelProto m = bench::newModel("cnn", "image", {1, 28, 28}, "logits");
    m.set_producer_name("bench_infer");
    auto* g = m.mutable_graph();
    addInit(g, "conv1.weight", {32, 1, 3, 3}, 0.3f);
    addInit(g, "conv1.bias", {32}, 0.1f);
    addInit(g, "conv2.weight", {64, 32, 3, 3}, 0.06f);
    addInit(g, "conv2.bias", {64}, 0.1f);
    addInit(g, "fc1.weight", {128, 1600}, 0.025f);
    addInit(g, "fc1.bias", {128}, 0.1f);
    addInit(g, "fc2.weight", {10, 128}, 0.09f);
    addInit(g, "fc2.bias", {10}, 0.1f);
    node(g, "Conv", {"image", "conv1.weight", "conv1.bias"}, "c1");
    node(g, "Relu", {"c1"}, "r1");
    auto* p1 = node(g, "MaxPool", {"r1"}, "p1");
    ints(p1, "kernel_shape", {2, 2});
    ints(p1, "strides", {2, 2});
    node(g, "Conv", {"p1", "conv2.weight", "conv2.bias"}, "c2");
    node(g, "Relu", {"c2"}, "r2");
    auto* p2 = node(g, "MaxPool", {"r2"}, "p2");
    ints(p2, "kernel_shape", {2, 2});
    ints(p2, "strides", {2, 2});
    node(g, "Flatten", {"p2"}, "flat");
    intAttr(node(g, "Gemm", {"flat", "fc1.weight", "fc1.bias"}, "d1"), "transB", 1);
    node(g, "Relu", {"d1"}, "r3");
    intAttr(node(g, "Gemm", {"r3", "fc2.weight", "fc2.bias"}, "logits"), "transB", 1);
    return bench::saveModel(m, "bench_infer");
}

// Best-of-3 GFLOP/s of a 2048^3 single-precision GEMM through Eigen.
double eigenGflops(int threads)
{
    omp_set_num_threads(threads);
    const int n = 2048;
    using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Mat a = Mat::Random(n, n), b = Mat::Random(n, n), c(n, n);
    double best = 0;
    for (int r = 0; r < 3; ++r) {
        const double t0 = bench::now();
        c.noalias() = a * b;
        const double dt = bench::now() - t0;
        best = std::max(best, 2.0 * n * n * static_cast<double>(n) / dt / 1e9);
    }
    volatile float sink = c(0, 0);
    (void)sink;
    return best;
}

} // namespace

int main(int argc, char** argv)
{
    int images = 10000, batch = 256;
    for (int k = 1; k + 1 < argc; k += 2) {
        if (!std::strcmp(argv[k], "--images"))
            images = std::atoi(argv[k + 1]);
        else if (!std::strcmp(argv[k], "--batch"))
            batch = std::atoi(argv[k + 1]);
    }
    if (images <= 0 || batch <= 0) {
        std::fprintf(stderr, "usage: bench_infer [--images N] [--batch B]\n");
        return 2;
    }
    try {
        const std::string path = writeModel();
        const auto model = Model::open(path);
        std::filesystem::remove(path);
        OnnxExecutor ex(*model);

        // Multiply-accumulates per image (FLOPs = 2 x MACs).
        const double macConv1 = 32.0 * 1 * 9 * 26 * 26;
        const double macConv2 = 64.0 * 32 * 9 * 11 * 11;
        const double macFc = 1600.0 * 128 + 128.0 * 10;
        const double flops = 2.0 * (macConv1 + macConv2 + macFc);
        std::printf("model: conv1 %.3f MMAC, conv2 %.3f MMAC, dense %.3f MMAC; %.2f MMAC = %.2f MFLOP per image\n",
                    macConv1 / 1e6, macConv2 / 1e6, macFc / 1e6,
                    (macConv1 + macConv2 + macFc) / 1e6, flops / 1e6);

        std::vector<float> data(static_cast<size_t>(images) * 28 * 28);
        std::uniform_real_distribution<float> u(0.0f, 1.0f);
        for (auto& x : data)
            x = u(rng);

        {
            // Per-node time of one batch on 1 thread (best of 5).
            omp_set_num_threads(1);
            const int nb = std::min(batch, images);
            OnnxExecutor::Store store;
            store["image"] = Value::floats({nb, 1, 28, 28},
                                           std::vector<float>(data.begin(), data.begin() + nb * 784));
            std::vector<double> best(ex.nodeCount(), 1e30);
            for (int rep = 0; rep < 5; ++rep)
                for (size_t k = 0; k < ex.nodeCount(); ++k) {
                    const double t0 = bench::now();
                    ex.run(store, k, k + 1);
                    best[k] = std::min(best[k], bench::now() - t0);
                }
            std::printf("per node, batch %d, 1 thread:", nb);
            for (size_t k = 0; k < ex.nodeCount(); ++k) {
                std::string op = ex.node(k).op;
                for (const auto& f : ex.node(k).fused)
                    op += "+" + f;
                std::printf(" %s %.2f ms%s", op.c_str(), best[k] * 1e3, k + 1 < ex.nodeCount() ? "," : "\n");
            }
        }
        for (int threads : {1, 2}) {
            omp_set_num_threads(threads);
            double best = 1e30;
            for (int rep = 0; rep < 3; ++rep) {
                const double t0 = bench::now();
                double checksum = 0;
                // One store for all batches: every node reuses its output buffer.
                OnnxExecutor::Store store;
                for (int at = 0; at < images; at += batch) {
                    const int nb = std::min(batch, images - at);
                    Value& in = store["image"];
                    in.shape = {nb, 1, 28, 28};
                    in.f.assign(data.begin() + static_cast<ptrdiff_t>(at) * 784,
                                data.begin() + static_cast<ptrdiff_t>(at + nb) * 784);
                    ex.run(store);
                    checksum += store.at("logits").f[0];
                }
                best = std::min(best, bench::now() - t0);
                if (rep == 0 && !std::isfinite(checksum))
                    throw Error("non-finite output");
            }
            std::printf("threads %d: %d images in %.3f s, %.0f images/s, %.1f GFLOP/s (batch %d)\n",
                        threads, images, best, images / best, flops * images / best / 1e9, batch);
        }
        for (int threads : {1, 2})
            std::printf("Eigen sgemm 2048^3, %d thread%s: %.1f GFLOP/s\n", threads,
                        threads == 1 ? "" : "s", eigenGflops(threads));
        std::printf("peak RSS %.0f MB\n", bench::peakRssMB());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_infer: %s\n", e.what());
        return 1;
    }
    return 0;
}
