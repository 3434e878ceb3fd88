// Benchmark: quantization kernel throughput in GB/s of float32 input.
//
// Input: a 8192 x 8192 float32 matrix (256 MiB) of Gaussian values. Prints, on 1 and 2
// threads, the memory read bandwidth measured in this run (bench::readBandwidth) and:
//   - INT8 per-channel and INT4 group-128 fake quantization (quantize + dequantize), target
//     >= 30% of the read bandwidth;
//   - Q8_0 row quantization (float -> block bytes), target about 18 GB/s per thread (llama.cpp's
//     optimised quantize_row_q8_0), and Q8_0 fake quantization;
//   - Q4_K row quantization, target >= llama.cpp's reference quantizer (~0.07 GB/s per thread
//     for Q4_K_M), and Q4_K fake quantization;
//   - NF4 fake quantization, target >= llama.cpp's reference block quantizers (~1.1 GB/s per
//     thread for quantize_row_q8_0_ref).
// Each figure is the best of up to 5 runs (fewer for slow kernels: runs stop after ~2 s).
// Usage: bench_quantize [--rows N] [--cols N]
#include "bench_util.h"

#include "bonsai/quantize.h"
#include "bonsai/ggml_blocks.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

namespace {

// Fills n floats with approximately N(0, 1) values (sum of 4 uniforms from a per-chunk
// xorshift generator: fast, deterministic, parallel).
void fillGaussian(float* x, uint64_t n)
{
    constexpr uint64_t kChunk = 1u << 20;
    const int64_t chunks = static_cast<int64_t>((n + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; ++c) {
        uint64_t s = 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(c + 1);
        const uint64_t b = static_cast<uint64_t>(c) * kChunk, e = std::min(n, b + kChunk);
        for (uint64_t i = b; i < e; ++i) {
            float sum = 0;
            for (int k = 0; k < 4; ++k) {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                sum += static_cast<float>(s >> 40) * (1.0f / 16777216.0f);
            }
            x[i] = (sum - 2.0f) * 1.7320508f; // variance of the sum of 4 U(0,1) is 1/3
        }
    }
}

// Best time of up to `maxReps` runs, stopping once 2 s have been spent (at least one run).
double bestTime(const std::function<void()>& f, int maxReps = 5)
{
    double best = 1e30, spent = 0;
    for (int r = 0; r < maxReps && (r == 0 || spent < 2.0); ++r) {
        const double t0 = bench::now();
        f();
        const double dt = bench::now() - t0;
        spent += dt;
        best = std::min(best, dt);
    }
    return best;
}

void line(const char* what, int threads, double gbs, const std::string& target)
{
    std::printf("  %-34s %d thread%s  %8.3f GB/s   target: %s\n", what, threads, threads == 1 ? " " : "s", gbs,
                target.c_str());
}

std::string fmt(const char* f, double v)
{
    char buf[128];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

} // namespace

int main(int argc, char** argv)
{
    uint64_t rows = 8192, cols = 8192;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--rows"))
            rows = std::stoull(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--cols"))
            cols = std::stoull(argv[i + 1]);
    }
    const uint64_t n = rows * cols;
    const double gb = static_cast<double>(n * sizeof(float)) / 1e9;
    std::printf("bench_quantize: %llu x %llu float32 (%.0f MiB)\n", static_cast<unsigned long long>(rows),
                static_cast<unsigned long long>(cols), static_cast<double>(n * sizeof(float)) / 1048576.0);

    std::unique_ptr<float[]> w(new float[n]), out(new float[n]);
    fillGaussian(w.get(), n);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < static_cast<int64_t>(n); ++i)
        out[i] = 0; // touch the output pages before timing

    bonsai::IntQuantConfig int8;
    int8.bits = 8;
    int8.granularity = bonsai::Granularity::PerChannel;
    bonsai::IntQuantConfig int4;
    int4.bits = 4;
    int4.granularity = bonsai::Granularity::Group;
    int4.groupSize = 128;

    // Block buffers for the GGUF row quantizers (the largest is Q8_0: 34 bytes per 32).
    const uint64_t q8Bytes = n / 32 * 34;
    std::unique_ptr<uint8_t[]> blocks(new uint8_t[q8Bytes]);
    std::memset(blocks.get(), 0, q8Bytes);
    // Q4_K quantization is slow (the reference's least-squares search); time it on a slice.
    const uint64_t kSlice = std::min<uint64_t>(n, uint64_t(1) << 24) / 256 * 256; // 64 MiB

    for (int threads : {1, 2}) {
        omp_set_num_threads(threads);
        const double bw = bench::readBandwidth(threads);
        std::printf("\n%d thread%s: memory read bandwidth %.2f GB/s\n", threads, threads == 1 ? "" : "s", bw);

        double t = bestTime([&] { bonsai::fakeQuantInt(w.get(), rows, cols, int8, out.get()); });
        line("INT8 per-channel fake quant", threads, gb / t,
             fmt(">= 30%% of read bandwidth = %.2f GB/s", 0.3 * bw) + fmt(" (%.0f%%)", 100.0 * gb / t / bw));
        t = bestTime([&] { bonsai::fakeQuantInt(w.get(), rows, cols, int4, out.get()); });
        line("INT4 group-128 fake quant", threads, gb / t,
             fmt(">= 30%% of read bandwidth = %.2f GB/s", 0.3 * bw) + fmt(" (%.0f%%)", 100.0 * gb / t / bw));

        // Q8_0 row quantization: rows in parallel, as a GGUF export would run it.
        t = bestTime([&] {
#pragma omp parallel for schedule(static)
            for (int64_t r = 0; r < static_cast<int64_t>(rows); ++r)
                bonsai::quantizeGgmlRow(bonsai::DType::Q8_0, w.get() + static_cast<uint64_t>(r) * cols, cols,
                                        blocks.get() + static_cast<uint64_t>(r) * (cols / 32 * 34));
        });
        line("Q8_0 quantize (row -> blocks)", threads, gb / t, fmt("~18 GB/s per thread = %.0f GB/s", 18.0 * threads));
        t = bestTime([&] { bonsai::fakeQuantGgml(bonsai::DType::Q8_0, w.get(), n, out.get()); });
        line("Q8_0 fake quant", threads, gb / t, "(quantize + dequantize)");

        const double sliceGb = static_cast<double>(kSlice * sizeof(float)) / 1e9;
        t = bestTime(
            [&] {
                const int64_t rowsK = static_cast<int64_t>(kSlice / 4096);
#pragma omp parallel for schedule(static)
                for (int64_t r = 0; r < rowsK; ++r)
                    bonsai::quantizeGgmlRow(bonsai::DType::Q4_K, w.get() + static_cast<uint64_t>(r) * 4096, 4096,
                                            blocks.get() + static_cast<uint64_t>(r) * (4096 / 256 * 144));
            },
            2);
        line("Q4_K quantize (row -> blocks)", threads, sliceGb / t,
             fmt(">= llama.cpp reference ~0.07 GB/s per thread = %.2f GB/s", 0.07 * threads));
        t = bestTime([&] { bonsai::fakeQuantGgml(bonsai::DType::Q4_K, w.get(), kSlice, out.get()); }, 2);
        line("Q4_K fake quant", threads, sliceGb / t, "(quantize + dequantize)");

        t = bestTime([&] { bonsai::fakeQuantNf4(w.get(), n, out.get()); });
        line("NF4 fake quant", threads, gb / t,
             fmt(">= llama.cpp reference block quantizer ~1.1 GB/s per thread = %.1f GB/s", 1.1 * threads));
    }
    std::printf("\npeak RSS %.0f MB\n", bench::peakRssMB());
    return 0;
}
