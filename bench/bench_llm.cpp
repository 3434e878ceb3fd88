// Perplexity-pass throughput of a generated Llama-shaped checkpoint (~500M parameters, FP16 on
// disk): tokens per second, achieved GFLOP/s against Eigen's own sgemm measured in the same run,
// and peak RSS against the checkpoint's size.
//
//   bench_llm [DIR] [--tokens N] [--threads T]
//
// DIR (default: a temporary directory) receives model.safetensors, config.json and a copy of
// the test fixture's tokenizer.model (the token ids fed to the pass are random; the tokenizer
// is only needed to open the checkpoint). The checkpoint is written in streaming fashion, so
// the generator itself adds no memory to the peak.
#include "bench_util.h"
#include "llama_checkpoint.h"

#include "bonsai/half.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"

#include "common/eigen.h" // <Eigen/Core> without GCC 12's false warnings (bug 105593)

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace fs = std::filesystem;

namespace {

// Best-of-3 GFLOP/s of an Eigen sgemm shaped like the pass's largest products.
double gemmGflops(int64_t m, int64_t k, int64_t n)
{
    using bonsai::RowMat;
    RowMat a = RowMat::Random(m, k), w = RowMat::Random(n, k), c(m, n);
    double best = 0;
    for (int r = 0; r < 3; ++r) {
        const double t0 = bench::now();
        c.noalias() = a * w.transpose();
        best = std::max(best, 2.0 * double(m) * double(k) * double(n) / (bench::now() - t0) / 1e9);
    }
    return best;
}

} // namespace

int main(int argc, char** argv)
{
    std::string dir;
    int64_t tokens = 2048;
    int threads = 2;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--tokens" && i + 1 < argc)
            tokens = std::stoll(argv[++i]);
        else if (a == "--threads" && i + 1 < argc)
            threads = std::stoi(argv[++i]);
        else
            dir = a;
    }
    const bool temporary = dir.empty();
    if (temporary)
        dir = (fs::temp_directory_path() / ("bonsai-bench-llm-" + std::to_string(getpid()))).string();
    omp_set_num_threads(threads);
    Eigen::setNbThreads(threads);

    const bench::LlamaShape s;
    const double tg = bench::now();
    const uint64_t params = bench::writeLlamaCheckpoint(dir, s, BONSAI_SOURCE_DIR);
    const uint64_t fileBytes = fs::file_size(dir + "/model.safetensors");
    std::printf("checkpoint: %.1fM parameters, %.2f GB FP16 (%lld blocks, hidden %lld, MLP %lld, %lld heads / %lld KV, "
                "vocab %lld), written in %.1f s\n",
                double(params) / 1e6, double(fileBytes) / 1e9, (long long)s.layers, (long long)s.hidden,
                (long long)s.inter, (long long)s.heads, (long long)s.kvHeads, (long long)s.vocab, bench::now() - tg);

    auto model = bonsai::Model::open(dir);
    bonsai::LanguageModel lm(*model);
    std::mt19937 rng(7);
    std::uniform_int_distribution<int32_t> id(3, int32_t(s.vocab - 1));
    std::vector<int32_t> ids(static_cast<size_t>(tokens));
    for (auto& t : ids)
        t = id(rng);
    bonsai::PerplexityOptions opt;
    opt.ctx = 128;
    opt.batchTokens = 2048;
    const bonsai::PerplexityResult r = lm.perplexity(ids, {}, opt);

    // FLOPs of the pass: every linear layer and the head once per token, plus attention.
    const int64_t hd = s.headDim();
    const double linear = double(s.layers) * double(s.hidden * (s.heads * hd) * 2 + s.hidden * (s.kvHeads * hd) * 2 +
                                                     3 * s.hidden * s.inter) +
                          double(s.vocab * s.hidden);
    const double attention = double(s.layers) * double(s.heads) * 2.0 * 128.0 * double(hd) * 2.0 / 2.0; // per token, causal
    const double flops = 2.0 * linear * double(r.tokens) + attention * double(r.tokens);
    const double achieved = flops / r.seconds / 1e9;
    const double rssMiB = bench::peakRssMB(); // before the sgemm's own buffers
    const double gemm = gemmGflops(2048, s.hidden, s.inter);
    std::printf("perplexity pass, %d threads: %llu tokens in %.2f s = %.1f tokens/s (ctx 128, random ids, ppl %.1f)\n",
                threads, (unsigned long long)r.tokens, r.seconds, double(r.tokens) / r.seconds, r.perplexity);
    std::printf("achieved %.1f GFLOP/s; Eigen sgemm 2048x%lldx%lld in the same run: %.1f GFLOP/s -> %.0f%% (target >= 60%%)\n",
                achieved, (long long)s.hidden, (long long)s.inter, gemm, 100 * achieved / gemm);
    const double fileMiB = double(fileBytes) / 1048576.0;
    std::printf("peak RSS %.0f MiB = %.2fx the checkpoint's %.0f MiB (target < 1.5x)\n", rssMiB, rssMiB / fileMiB,
                fileMiB);
    if (temporary)
        fs::remove_all(dir);
    return 0;
}
