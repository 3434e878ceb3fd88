#pragma once
// Shared benchmark helpers: timing, memory read bandwidth, peak RSS.
#include "bonsai/speed.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <omp.h>
#include <string>
#include <unistd.h>
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

// The share of the machine's CPU time (0..1) that other processes used between start() and
// stop(), summed over calls (bonsai::cpuTimesNow: /proc/stat's busy time minus this process's).
class CpuShare {
public:
    void start()
    {
        t0_ = bonsai::cpuTimesNow();
        wall0_ = now();
    }
    void stop()
    {
        const bonsai::CpuTimes t = bonsai::cpuTimesNow();
        const long cpus = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
        other_ += std::max(0.0, (t.busy - t0_.busy) - (t.self - t0_.self));
        wall_ += (now() - wall0_) * double(cpus);
    }
    double share() const { return wall_ > 0 ? other_ / wall_ : 0; }

private:
    bonsai::CpuTimes t0_;
    double wall0_ = 0, other_ = 0, wall_ = 0;
};

// /proc/loadavg's 1-, 5- and 15-minute figures.
inline std::string loadAverage()
{
    char buf[64] = {};
    std::FILE* f = std::fopen("/proc/loadavg", "r");
    double a = 0, b = 0, c = 0;
    if (f) {
        if (std::fscanf(f, "%lf %lf %lf", &a, &b, &c) != 3)
            a = b = c = 0;
        std::fclose(f);
    }
    std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f", a, b, c);
    return buf;
}

inline double peakRssMB()
{
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

} // namespace bench
