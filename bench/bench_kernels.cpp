// Throughput of the packed-weight kernels alone (packedMatmul) on the shapes of a ~500M Llama
// (hidden 1536, MLP 4096): matrix-vector (decode) and 128-row products (prefill), per format
// and kernel level, in GOP/s (2 operations per weight and activation row) beside Eigen's FP32.
//
//   bench_kernels [--threads T] [--rows N] [--repeats N] [--format F] [--products-only]
//
// --format keeps one weight type (F32, Q8_0, Q4_K, Q6_K, Q4_0); --products-only leaves out the
// from-memory pass (for profiling the kernels alone).
//
// With one thread the time is the thread's CPU time (so that other processes on a shared machine
// do not count), with more the wall time; the best of the repeats. "From memory": the
// matrix-vector product over copies of the matrix (256 MiB), wall time, as decoding reads them.
#include "bench_util.h"

#include "bonsai/kernels.h"

#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <time.h>

namespace {

double threadSeconds()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

double timeIt(const std::function<void()>& f, int repeats, bool cpuTime)
{
    f(); // warm-up
    double best = 1e30;
    for (int r = 0; r < repeats; ++r) {
        const double t0 = cpuTime ? threadSeconds() : bench::now();
        f();
        best = std::min(best, (cpuTime ? threadSeconds() : bench::now()) - t0);
    }
    return best;
}

} // namespace

int main(int argc, char** argv)
{
    int threads = 2, repeats = 7;
    int64_t batch = 128;
    std::string only;
    bool fromMemory = true;
    for (int i = 1; i + 1 < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--threads")
            threads = std::stoi(argv[++i]);
        else if (a == "--rows")
            batch = std::stoll(argv[++i]);
        else if (a == "--repeats")
            repeats = std::stoi(argv[++i]);
        else if (a == "--format")
            only = argv[++i];
    }
    for (int i = 1; i < argc; ++i)
        if (std::string(argv[i]) == "--products-only")
            fromMemory = false;
    omp_set_num_threads(threads);
    struct Shape {
        int64_t rows, cols;
    };
    const Shape shapes[] = {{4096, 1536}, {1536, 4096}};
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const bool cpu = threads == 1;
    std::printf("%d threads, best of %d (%s time); GOP/s (2 per multiply-add)\n", threads, repeats,
                cpu ? "CPU" : "wall");
    for (const Shape& s : shapes) {
        std::vector<float> w(size_t(s.rows * s.cols)), x(size_t(batch * s.cols)), y(size_t(batch * s.rows));
        for (float& v : w)
            v = 0.05f * nd(rng);
        for (float& v : x)
            v = nd(rng);
        for (bonsai::DType t : {bonsai::DType::F32, bonsai::DType::Q8_0, bonsai::DType::Q4_K, bonsai::DType::Q6_K,
                                bonsai::DType::Q4_0}) {
            if (!only.empty() && only != bonsai::dtypeInfo(t).name)
                continue;
            const bonsai::PackedMatrix m = bonsai::PackedMatrix::quantizeGgml(t, w.data(), s.rows, s.cols);
            for (bonsai::KernelIsa isa : {bonsai::KernelIsa::Avx2, bonsai::KernelIsa::Avx512}) {
                if (!bonsai::kernelIsaAvailable(isa) || (t == bonsai::DType::F32 && isa != bonsai::KernelIsa::Avx512))
                    continue;
                bonsai::setKernelIsa(isa);
                const double ops1 = 2.0 * double(s.rows * s.cols);
                const double t1 = timeIt([&] { bonsai::packedMatmul(m, x.data(), 1, y.data()); }, repeats * 10, cpu);
                const double tn = timeIt([&] { bonsai::packedMatmul(m, x.data(), batch, y.data()); }, repeats, cpu);
                // Matrix-vector products on weights read from memory (as in decoding): copies of
                // the matrix, 256 MiB in all, one product each.
                const uint64_t bytes = m.bytes();
                const size_t copies = fromMemory ? size_t((uint64_t(256) << 20) / bytes + 1) : 0;
                std::vector<uint8_t> big(copies * bytes);
                for (size_t c = 0; c < copies; ++c)
                    std::memcpy(big.data() + c * bytes, m.data(), bytes);
                std::vector<bonsai::PackedMatrix> views;
                for (size_t c = 0; c < copies; ++c)
                    views.push_back(bonsai::PackedMatrix::view(t, big.data() + c * bytes, s.rows, s.cols));
                const double tm = fromMemory ? timeIt([&] {
                    for (const auto& v : views)
                        bonsai::packedMatmul(v, x.data(), 1, y.data());
                }, 3, false) : 0.0;
                std::printf("%5lld x %-5lld %-5s %-12s  1 row: %6.1f GOP/s %6.1f GB/s (from memory: %5.1f GB/s)   %lld "
                            "rows: %6.1f GOP/s\n",
                            (long long)s.rows, (long long)s.cols, std::string(bonsai::dtypeInfo(t).name).c_str(),
                            std::string(bonsai::kernelIsaName(isa)).c_str(), ops1 / t1 / 1e9, double(bytes) / t1 / 1e9,
                            fromMemory ? double(bytes * copies) / tm / 1e9 : 0.0, (long long)batch, ops1 * double(batch) / tn / 1e9);
                std::fflush(stdout);
            }
        }
    }
    return 0;
}
