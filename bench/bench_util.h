#pragma once
// Shared benchmark helpers: timing, memory read bandwidth, peak RSS.
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
// stop(), summed over calls: /proc/stat's busy time minus this process's own.
class CpuShare {
public:
    void start()
    {
        busy0_ = busyTicks();
        own0_ = ownSeconds();
        t0_ = now();
    }
    void stop()
    {
        const double dt = now() - t0_;
        const long cpus = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
        other_ += std::max(0.0, double(busyTicks() - busy0_) / double(sysconf(_SC_CLK_TCK)) - (ownSeconds() - own0_));
        wall_ += dt * double(cpus);
    }
    double share() const { return wall_ > 0 ? other_ / wall_ : 0; }

private:
    static long long busyTicks()
    {
        std::FILE* f = std::fopen("/proc/stat", "r");
        long long v[8] = {};
        if (f) {
            if (std::fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                            &v[6], &v[7]) != 8)
                v[0] = 0;
            std::fclose(f);
        }
        return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]; // all but idle and iowait
    }
    static double ownSeconds()
    {
        rusage ru{};
        getrusage(RUSAGE_SELF, &ru);
        return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    }
    long long busy0_ = 0;
    double own0_ = 0, t0_ = 0, other_ = 0, wall_ = 0;
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
