#pragma once
// Shared benchmark helpers: timing, memory read bandwidth, peak RSS.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <omp.h>
#include <sys/resource.h>
#include <vector>

namespace bench {

inline double now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Best-of-`reps` read-only bandwidth (GB/s) summing a 1 GiB buffer with `threads` threads.
inline double readBandwidth(int threads, int reps = 5)
{
    const size_t n = (size_t(1) << 30) / sizeof(float);
    std::unique_ptr<float[]> buf(new float[n]);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; ++i)
        buf[i] = static_cast<float>(i & 1023);
    double best = 0;
    volatile float sink = 0;
    for (int r = 0; r < reps; ++r) {
        const double t0 = now();
        float total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
        {
            // 64 independent lanes: vectorises without reassociating a single sum.
            float acc[64] = {};
#pragma omp for schedule(static)
            for (size_t i = 0; i < n; i += 64)
                for (size_t j = 0; j < 64; ++j)
                    acc[j] += buf[i + j];
            for (float a : acc)
                total += a;
        }
        const double dt = now() - t0;
        sink = total;
        best = std::max(best, static_cast<double>(n * sizeof(float)) / dt / 1e9);
    }
    (void)sink;
    return best;
}

inline double peakRssMB()
{
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

} // namespace bench
