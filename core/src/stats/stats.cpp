// Streaming weight statistics.
//
// 16-bit float tensors (F16, BF16) are counted exactly into a 65536-entry table indexed by
// the raw bit pattern: one pass over the bytes, no conversion, and every statistic (moments,
// outliers, the linear histogram) then follows exactly from the table. Every other dtype is
// converted chunk by chunk to float and takes two passes (moments, then histogram and
// central fourth moment). Per-channel ranges, when asked for, come from the float path.
#include "bonsai/stats.h"

#include "bonsai/half.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <omp.h>

namespace bonsai {

namespace {

constexpr uint64_t kChunk = 1u << 16;       // elements converted at a time (per thread)
constexpr uint64_t kSuperChunk = 1u << 25;  // elements between progress checks

inline bool isFiniteF(float x) { return std::isfinite(x); }

// Splits [0, n) into super-chunks, reporting progress and honouring cancellation between
// them; `body(begin, end, prefetchNext)` processes one super-chunk (with OpenMP inside) and
// calls prefetchNext() from one thread (`omp single nowait`) so that mapping the next
// super-chunk's pages overlaps the other threads' work. Pages are released once consumed.
template <typename Body>
void forSuperChunks(const Model& model, int tensor, uint64_t n, uint64_t align,
                    const ProgressFn& progress, double from, double to, Body&& body)
{
    const uint64_t step = std::max<uint64_t>(align, kSuperChunk / align * align);
    model.prefetch(tensor, 0, std::min(n, step));
    for (uint64_t b = 0; b < n; b += step) {
        reportProgress(progress, from + (to - from) * static_cast<double>(b) / static_cast<double>(n));
        const uint64_t e = std::min(n, b + step);
        auto prefetchNext = [&] {
            if (e < n)
                model.prefetch(tensor, e, std::min(n, e + step) - e);
        };
        body(b, e, prefetchNext);
        model.release(tensor, b, e - b);
    }
    reportProgress(progress, to);
}

// Chunks of [begin, end) aligned to `align` elements, for a parallel loop.
inline uint64_t chunkCount(uint64_t begin, uint64_t end) { return (end - begin + kChunk - 1) / kChunk; }

struct Moments {
    uint64_t count = 0, nonFinite = 0, zeros = 0;
    double min = std::numeric_limits<double>::infinity();
    double max = -std::numeric_limits<double>::infinity();
    double sum = 0, sumSq = 0; // of (x - ref)
};

void finishMoments(const Moments& m, double ref, TensorStats& s)
{
    s.count = m.count;
    s.nonFinite = m.nonFinite;
    s.zeros = m.zeros;
    if (m.count == 0)
        return;
    s.min = m.min;
    s.max = m.max;
    const double meanShift = m.sum / static_cast<double>(m.count);
    s.mean = ref + meanShift;
    const double var = std::max(0.0, m.sumSq / static_cast<double>(m.count) - meanShift * meanShift);
    s.std = std::sqrt(var);
}

inline int binOf(double x, double lo, double scale, int bins)
{
    int b = static_cast<int>((x - lo) * scale);
    return std::clamp(b, 0, bins - 1);
}

// ---------- 16-bit path ----------

TensorStats stats16(const Model& model, int index, const TensorInfo& t, const StatsOptions& opt,
                    const ProgressFn& progress)
{
    std::vector<uint64_t> table(65536, 0);
    const auto* src = reinterpret_cast<const uint16_t*>(t.data);
    const double progressEnd = opt.channelAxis >= 0 ? 0.5 : 1.0;
    forSuperChunks(model, index, t.numel, 1, progress, 0.0, progressEnd, [&](uint64_t b, uint64_t e, const auto& prefetchNext) {
        const int64_t chunks = static_cast<int64_t>(chunkCount(b, e));
#pragma omp parallel
        {
            // Two interleaved tables halve the chains of increments to the same counter.
            std::vector<uint32_t> local(2 * 65536, 0);
#pragma omp single nowait
            prefetchNext();
#pragma omp for schedule(dynamic, 4)
            for (int64_t c = 0; c < chunks; ++c) {
                const uint64_t cb = b + static_cast<uint64_t>(c) * kChunk;
                const uint64_t ce = std::min(e, cb + kChunk);
                uint64_t i = cb;
                for (; i + 1 < ce; i += 2) {
                    uint16_t v0, v1;
                    std::memcpy(&v0, src + i, 2);
                    std::memcpy(&v1, src + i + 1, 2);
                    ++local[v0];
                    ++local[65536 + v1];
                }
                if (i < ce) {
                    uint16_t v;
                    std::memcpy(&v, src + i, 2);
                    ++local[v];
                }
            }
            // A super-chunk holds < 2^32 elements, so uint32 counters cannot overflow.
#pragma omp critical
            for (size_t k = 0; k < 65536; ++k)
                table[k] += static_cast<uint64_t>(local[k]) + local[65536 + k];
        }
    });

    const bool bf = t.dtype == DType::BF16;
    auto value = [bf](uint32_t k) {
        return static_cast<double>(bf ? bf16ToFloat(static_cast<uint16_t>(k)) : fp16ToFloat(static_cast<uint16_t>(k)));
    };
    TensorStats s;
    Moments m;
    for (uint32_t k = 0; k < 65536; ++k) {
        const uint64_t c = table[k];
        if (!c)
            continue;
        const double v = value(k);
        if (!std::isfinite(v)) {
            m.nonFinite += c;
            continue;
        }
        m.count += c;
        if (v == 0.0)
            m.zeros += c;
        m.min = std::min(m.min, v);
        m.max = std::max(m.max, v);
        m.sum += static_cast<double>(c) * v;
    }
    s.count = m.count;
    s.nonFinite = m.nonFinite;
    s.zeros = m.zeros;
    s.histogram.assign(static_cast<size_t>(std::max(1, opt.bins)), 0);
    if (m.count > 0) {
        s.min = m.min;
        s.max = m.max;
        s.mean = m.sum / static_cast<double>(m.count);
        double m2 = 0, m4 = 0;
        for (uint32_t k = 0; k < 65536; ++k) {
            const uint64_t c = table[k];
            const double v = value(k);
            if (!c || !std::isfinite(v))
                continue;
            const double d = v - s.mean;
            m2 += static_cast<double>(c) * d * d;
            m4 += static_cast<double>(c) * d * d * d * d;
        }
        m2 /= static_cast<double>(m.count);
        m4 /= static_cast<double>(m.count);
        s.std = std::sqrt(m2);
        s.kurtosis = m2 > 0 ? m4 / (m2 * m2) - 3.0 : 0.0;
        const int bins = static_cast<int>(s.histogram.size());
        const double scale = s.max > s.min ? bins / (s.max - s.min) : 0.0;
        for (uint32_t k = 0; k < 65536; ++k) {
            const uint64_t c = table[k];
            const double v = value(k);
            if (!c || !std::isfinite(v))
                continue;
            s.histogram[static_cast<size_t>(binOf(v, s.min, scale, bins))] += c;
            if (std::abs(v - s.mean) > 6.0 * s.std)
                s.outliers += c;
        }
    }
    return s;
}

// ---------- vectorised kernels over a float buffer ----------

constexpr int kLanes = 16; // independent accumulators: the loops vectorise without reassociation

inline bool finiteF(float v) { return v - v == 0.0f; } // false for NaN and +-inf

struct BlockMoments {
    double sum = 0, sumSq = 0;
    uint64_t finite = 0, zeros = 0;
    float mn = std::numeric_limits<float>::infinity();
    float mx = -std::numeric_limits<float>::infinity();
};

// Shifted sums (x - ref), min, max, finite and zero counts of n values.
void momentsKernel(const float* x, uint64_t n, float ref, BlockMoments& out)
{
    float mn[kLanes], mx[kLanes];
    for (int j = 0; j < kLanes; ++j) {
        mn[j] = std::numeric_limits<float>::infinity();
        mx[j] = -std::numeric_limits<float>::infinity();
    }
    uint32_t fin[kLanes] = {}, zer[kLanes] = {};
    uint64_t k = 0;
    while (k + kLanes <= n) {
        // Sums in float over at most 1024 values, then in double.
        const uint64_t end = std::min(n, k + 1024) / kLanes * kLanes;
        float s1[kLanes] = {}, s2[kLanes] = {};
        for (; k < end; k += kLanes) {
            for (int j = 0; j < kLanes; ++j) {
                const float v = x[k + static_cast<uint64_t>(j)];
                const bool ok = finiteF(v);
                const float d = ok ? v - ref : 0.0f;
                s1[j] += d;
                s2[j] += d * d;
                fin[j] += ok ? 1u : 0u;
                zer[j] += v == 0.0f ? 1u : 0u;
                mn[j] = (ok && v < mn[j]) ? v : mn[j];
                mx[j] = (ok && v > mx[j]) ? v : mx[j];
            }
        }
        for (int j = 0; j < kLanes; ++j) {
            out.sum += s1[j];
            out.sumSq += s2[j];
        }
    }
    for (int j = 0; j < kLanes; ++j) {
        out.finite += fin[j];
        out.zeros += zer[j];
        out.mn = std::min(out.mn, mn[j]);
        out.mx = std::max(out.mx, mx[j]);
    }
    for (; k < n; ++k) {
        const float v = x[k];
        if (!finiteF(v))
            continue;
        const double d = static_cast<double>(v) - ref;
        out.sum += d;
        out.sumSq += d * d;
        ++out.finite;
        out.zeros += v == 0.0f;
        out.mn = std::min(out.mn, v);
        out.mx = std::max(out.mx, v);
    }
}

struct BlockCentral {
    double m2 = 0, m4 = 0;
    uint64_t outliers = 0;
};

// Central second and fourth moments, outliers beyond `limit`, and histogram counts.
// `bin` is scratch space of n ints.
void centralKernel(const float* __restrict x, uint64_t n, float mean, float limit, float lo, float scale,
                   int bins, int* __restrict bin, uint64_t* __restrict hist, BlockCentral& out)
{
    uint32_t outl[kLanes] = {};
    uint64_t k = 0;
    const float maxBin = static_cast<float>(bins - 1);
    while (k < n) {
        const uint64_t end = std::min(n, k + 1024);
        float m2[kLanes] = {}, m4[kLanes] = {};
        const uint64_t vecEnd = k + (end - k) / kLanes * kLanes;
        for (; k < vecEnd; k += kLanes) {
            for (int j = 0; j < kLanes; ++j) {
                const uint64_t i = k + static_cast<uint64_t>(j);
                const float v = x[i];
                const bool ok = finiteF(v);
                const float d = ok ? v - mean : 0.0f;
                const float d2 = d * d;
                m2[j] += d2;
                m4[j] += d2 * d2;
                outl[j] += std::abs(d) > limit ? 1u : 0u;
                float b = (v - lo) * scale;
                b = b < 0.0f ? 0.0f : b;
                b = b > maxBin ? maxBin : b;
                const int bi = static_cast<int>(b);
                bin[i] = ok ? bi : bins;
            }
        }
        for (; k < end; ++k) {
            const float v = x[k];
            const bool ok = finiteF(v);
            const float d = ok ? v - mean : 0.0f;
            m2[0] += d * d;
            m4[0] += d * d * d * d;
            outl[0] += (d > limit || d < -limit) ? 1u : 0u;
            bin[k] = ok ? static_cast<int>(std::min(std::max((v - lo) * scale, 0.0f), maxBin)) : bins;
        }
        for (int j = 0; j < kLanes; ++j) {
            out.m2 += m2[j];
            out.m4 += m4[j];
        }
    }
    for (int j = 0; j < kLanes; ++j)
        out.outliers += outl[j];
    for (uint64_t i = 0; i < n; ++i)
        ++hist[bin[i]]; // hist has bins + 1 slots; the last collects non-finite values
}

// ---------- generic float path ----------

struct ChannelLayout {
    uint64_t channels = 0, inner = 1; // channel of element i = (i / inner) % channels
};

TensorStats statsFloat(const Model& model, int index, const TensorInfo& t, const StatsOptions& opt,
                       const ChannelLayout& ch, const ProgressFn& progress, bool momentsAndHist)
{
    const uint64_t align = dtypeInfo(t.dtype).blockElems;
    const uint64_t chunk = std::max<uint64_t>(align, kChunk / align * align);
    TensorStats s;
    Moments total;
    double ref = 0;
    if (t.numel > 0) {
        float first = 0;
        std::vector<float> head(align);
        model.readFloat(index, 0, std::min<uint64_t>(align, t.numel), head.data());
        first = head[0];
        ref = std::isfinite(first) ? first : 0.0;
    }
    const bool wantChannels = ch.channels > 0;
    std::vector<float> chMin(ch.channels, std::numeric_limits<float>::infinity());
    std::vector<float> chMax(ch.channels, -std::numeric_limits<float>::infinity());
    const double pass1End = momentsAndHist ? 0.5 : 1.0;

    // Pass 1: min, max, shifted sums; channel ranges.
    forSuperChunks(model, index, t.numel, chunk, progress, 0.0, pass1End, [&](uint64_t b, uint64_t e, const auto& prefetchNext) {
        const int64_t chunks = static_cast<int64_t>((e - b + chunk - 1) / chunk);
#pragma omp parallel
        {
            std::vector<float> buf(chunk);
            Moments m;
            std::vector<float> lmin, lmax;
            if (wantChannels) {
                lmin.assign(ch.channels, std::numeric_limits<float>::infinity());
                lmax.assign(ch.channels, -std::numeric_limits<float>::infinity());
            }
#pragma omp single nowait
            prefetchNext();
#pragma omp for schedule(dynamic, 2)
            for (int64_t c = 0; c < chunks; ++c) {
                const uint64_t cb = b + static_cast<uint64_t>(c) * chunk;
                const uint64_t n = std::min(e, cb + chunk) - cb;
                model.readFloat(index, cb, n, buf.data());
                const float* x = buf.data();
                BlockMoments bm;
                momentsKernel(x, n, static_cast<float>(ref), bm);
                m.count += bm.finite;
                m.nonFinite += n - bm.finite;
                m.zeros += bm.zeros;
                m.sum += bm.sum;
                m.sumSq += bm.sumSq;
                m.min = std::min<double>(m.min, bm.mn);
                m.max = std::max<double>(m.max, bm.mx);
                if (wantChannels) {
                    uint64_t k = 0;
                    while (k < n) {
                        const uint64_t gi = cb + k;
                        const uint64_t chan = (gi / ch.inner) % ch.channels;
                        const uint64_t runEnd = std::min(n, k + (ch.inner - gi % ch.inner));
                        float a = lmin[chan], z2 = lmax[chan];
                        for (; k < runEnd; ++k) {
                            const float v = x[k];
                            if (isFiniteF(v)) {
                                a = std::min(a, v);
                                z2 = std::max(z2, v);
                            }
                        }
                        lmin[chan] = a;
                        lmax[chan] = z2;
                    }
                }
            }
#pragma omp critical
            {
                total.count += m.count;
                total.nonFinite += m.nonFinite;
                total.zeros += m.zeros;
                total.sum += m.sum;
                total.sumSq += m.sumSq;
                total.min = std::min(total.min, m.min);
                total.max = std::max(total.max, m.max);
                for (size_t k = 0; k < lmin.size(); ++k) {
                    chMin[k] = std::min(chMin[k], lmin[k]);
                    chMax[k] = std::max(chMax[k], lmax[k]);
                }
            }
        }
    });
    finishMoments(total, ref, s);
    s.channelMin = std::move(chMin);
    s.channelMax = std::move(chMax);
    if (!momentsAndHist)
        return s;

    // Pass 2: histogram, central second and fourth moments, outliers.
    const int bins = std::max(1, opt.bins);
    s.histogram.assign(static_cast<size_t>(bins), 0);
    if (s.count == 0)
        return s;
    const float lo = static_cast<float>(s.min);
    const float scale = s.max > s.min ? static_cast<float>(bins / (s.max - s.min)) : 0.0f;
    const float mean = static_cast<float>(s.mean);
    const float limit = static_cast<float>(6.0 * s.std);
    double m2 = 0, m4 = 0;
    uint64_t outliers = 0;
    forSuperChunks(model, index, t.numel, chunk, progress, 0.5, 1.0, [&](uint64_t b, uint64_t e, const auto& prefetchNext) {
        const int64_t chunks = static_cast<int64_t>((e - b + chunk - 1) / chunk);
#pragma omp parallel
        {
            std::vector<float> buf(chunk);
            std::vector<int> binBuf(chunk);
            std::vector<uint64_t> hist(static_cast<size_t>(bins) + 1, 0);
            BlockCentral bc;
#pragma omp single nowait
            prefetchNext();
#pragma omp for schedule(dynamic, 2)
            for (int64_t c = 0; c < chunks; ++c) {
                const uint64_t cb = b + static_cast<uint64_t>(c) * chunk;
                const uint64_t n = std::min(e, cb + chunk) - cb;
                model.readFloat(index, cb, n, buf.data());
                centralKernel(buf.data(), n, mean, limit, lo, scale, bins, binBuf.data(), hist.data(), bc);
            }
#pragma omp critical
            {
                m2 += bc.m2;
                m4 += bc.m4;
                outliers += bc.outliers;
                for (int k = 0; k < bins; ++k)
                    s.histogram[static_cast<size_t>(k)] += hist[static_cast<size_t>(k)];
            }
        }
    });
    m2 /= static_cast<double>(s.count);
    m4 /= static_cast<double>(s.count);
    s.std = std::sqrt(m2);
    s.kurtosis = m2 > 0 ? m4 / (m2 * m2) - 3.0 : 0.0;
    s.outliers = outliers;
    return s;
}

} // namespace

TensorStats computeStats(const Model& model, int tensor, const StatsOptions& opt,
                         const ProgressFn& progress)
{
    if (tensor < 0 || static_cast<size_t>(tensor) >= model.tensors.size())
        throw Error("computeStats: tensor index out of range");
    const TensorInfo& t = model.tensors[static_cast<size_t>(tensor)];
    ChannelLayout ch;
    if (opt.channelAxis >= 0 && static_cast<size_t>(opt.channelAxis) < t.shape.size() && t.numel > 0) {
        ch.channels = static_cast<uint64_t>(t.shape[static_cast<size_t>(opt.channelAxis)]);
        for (size_t d = static_cast<size_t>(opt.channelAxis) + 1; d < t.shape.size(); ++d)
            ch.inner *= static_cast<uint64_t>(t.shape[d]);
    }
    if (t.dtype == DType::F16 || t.dtype == DType::BF16) {
        TensorStats s = stats16(model, tensor, t, opt, progress);
        if (ch.channels > 0) {
            // Per-channel ranges need the values in order: one more (float) pass.
            ProgressFn second;
            if (progress)
                second = [&progress](double f) { return progress(0.5 + 0.5 * f); };
            TensorStats c = statsFloat(model, tensor, t, opt, ch, second, false);
            s.channelMin = std::move(c.channelMin);
            s.channelMax = std::move(c.channelMax);
        }
        return s;
    }
    return statsFloat(model, tensor, t, opt, ch, progress, true);
}

} // namespace bonsai
