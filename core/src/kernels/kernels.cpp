// Packed weight matrices, activation quantization, the run-time choice of kernel level and the
// OpenMP split of a product over weight rows.
#include "bonsai/kernels.h"

#include "bonsai/error.h"
#include "bonsai/ggml_blocks.h"
#include "bonsai/half.h"
#include "common/eigen.h"
#include "kernels/kern_impl.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <omp.h>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace bonsai {

namespace {

#if defined(__x86_64__) || defined(__i386__)
// F16C from CPUID leaf 1 (ECX bit 29): clang's __builtin_cpu_supports does not know "f16c".
bool cpuHasF16c()
{
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) != 0;
}
#endif

bool cpuHas(KernelIsa isa)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    switch (isa) {
    case KernelIsa::Scalar: return true;
    case KernelIsa::Avx2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpuHasF16c();
    case KernelIsa::Avx512:
        return cpuHas(KernelIsa::Avx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    }
    return false;
#else
    return isa == KernelIsa::Scalar;
#endif
}

std::atomic<int> gIsa{-1};

kern::Format kernFormat(PackedFormat f)
{
    switch (f) {
    case PackedFormat::F32: return kern::kF32;
    case PackedFormat::Q8_0: return kern::kQ8_0;
    case PackedFormat::Q4_0: return kern::kQ4_0;
    case PackedFormat::Q4_K: return kern::kQ4_K;
    case PackedFormat::Q6_K: return kern::kQ6_K;
    case PackedFormat::Int8: return kern::kInt8;
    case PackedFormat::Int4: return kern::kInt4;
    }
    return kern::kF32;
}

struct FormatOf {
    DType dtype;
    PackedFormat format;
};
constexpr FormatOf kViewable[] = {{DType::F32, PackedFormat::F32},
                                  {DType::Q8_0, PackedFormat::Q8_0},
                                  {DType::Q4_0, PackedFormat::Q4_0},
                                  {DType::Q4_K, PackedFormat::Q4_K},
                                  {DType::Q6_K, PackedFormat::Q6_K}};

DType dtypeOf(PackedFormat f)
{
    for (const FormatOf& v : kViewable)
        if (v.format == f)
            return v.dtype;
    return DType::F32;
}

} // namespace

std::string_view kernelIsaName(KernelIsa isa)
{
    switch (isa) {
    case KernelIsa::Scalar: return "scalar";
    case KernelIsa::Avx2: return "avx2";
    case KernelIsa::Avx512: return "avx512-vnni";
    }
    return "?";
}

bool kernelIsaAvailable(KernelIsa isa) { return cpuHas(isa); }

KernelIsa bestKernelIsa()
{
    if (cpuHas(KernelIsa::Avx512))
        return KernelIsa::Avx512;
    return cpuHas(KernelIsa::Avx2) ? KernelIsa::Avx2 : KernelIsa::Scalar;
}

KernelIsa kernelIsa()
{
    int v = gIsa.load(std::memory_order_relaxed);
    if (v < 0) {
        v = static_cast<int>(bestKernelIsa());
        gIsa.store(v, std::memory_order_relaxed);
    }
    return static_cast<KernelIsa>(v);
}

void setKernelIsa(KernelIsa isa)
{
    if (!cpuHas(isa))
        throw Error("kernels: this CPU does not support " + std::string(kernelIsaName(isa)));
    gIsa.store(static_cast<int>(isa), std::memory_order_relaxed);
}

std::string_view packedFormatName(PackedFormat f)
{
    switch (f) {
    case PackedFormat::F32: return "F32";
    case PackedFormat::Q8_0: return "Q8_0";
    case PackedFormat::Q4_0: return "Q4_0";
    case PackedFormat::Q4_K: return "Q4_K";
    case PackedFormat::Q6_K: return "Q6_K";
    case PackedFormat::Int8: return "INT8";
    case PackedFormat::Int4: return "INT4";
    }
    return "?";
}

int activationBlock(PackedFormat f)
{
    switch (f) {
    case PackedFormat::F32: return 0;
    case PackedFormat::Q4_K:
    case PackedFormat::Q6_K: return 256;
    default: return 32;
    }
}

// ------------------------------------------------------------------------------------------
// PackedMatrix
// ------------------------------------------------------------------------------------------

bool PackedMatrix::viewable(DType t)
{
    return std::any_of(std::begin(kViewable), std::end(kViewable), [t](const FormatOf& v) { return v.dtype == t; });
}

PackedMatrix PackedMatrix::view(DType t, const uint8_t* data, int64_t rows, int64_t cols)
{
    PackedMatrix m;
    const auto it = std::find_if(std::begin(kViewable), std::end(kViewable), [t](const FormatOf& v) { return v.dtype == t; });
    if (it == std::end(kViewable))
        throw Error("kernels: no kernel for " + std::string(dtypeInfo(t).name) + " weights");
    const DTypeInfo& info = dtypeInfo(t);
    if (rows < 1 || cols < 1 || cols % int64_t(info.blockElems) != 0 || (t != DType::F32 && cols % 32 != 0))
        throw Error("kernels: a " + std::to_string(rows) + " x " + std::to_string(cols) + " " + std::string(info.name) +
                    " matrix has no whole blocks per row");
    m.format_ = it->format;
    m.rows_ = rows;
    m.cols_ = cols;
    m.data_ = data;
    m.rowBytes_ = *storageBytes(t, uint64_t(cols));
    return m;
}

PackedMatrix PackedMatrix::fromFloat(std::vector<float> w, int64_t rows, int64_t cols)
{
    PackedMatrix m;
    m.format_ = PackedFormat::F32;
    m.rows_ = rows;
    m.cols_ = cols;
    m.rowBytes_ = uint64_t(cols) * sizeof(float);
    m.owned_.resize(w.size() * sizeof(float));
    std::memcpy(m.owned_.data(), w.data(), m.owned_.size());
    m.data_ = m.owned_.data();
    return m;
}

PackedMatrix PackedMatrix::quantizeGgml(DType t, const float* w, int64_t rows, int64_t cols)
{
    PackedMatrix m = view(t, nullptr, rows, cols);
    m.owned_.resize(m.rowBytes_ * uint64_t(rows));
    if (t == DType::F32) {
        std::memcpy(m.owned_.data(), w, m.owned_.size());
    } else {
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; ++r)
            quantizeGgmlRow(t, w + r * cols, uint64_t(cols), m.owned_.data() + uint64_t(r) * m.rowBytes_);
    }
    m.data_ = m.owned_.data();
    return m;
}

PackedMatrix PackedMatrix::packInt(const float* wq, int64_t rows, int64_t cols, int bits, bool symmetric,
                                   int64_t groupSize)
{
    if (bits < 2 || bits > 8 || (bits == 8 && !symmetric) || cols % 32 != 0 || groupSize < 32 || groupSize % 32 != 0 ||
        cols % groupSize != 0)
        return {};
    PackedMatrix m;
    m.format_ = bits <= 4 ? PackedFormat::Int4 : PackedFormat::Int8;
    m.rows_ = rows;
    m.cols_ = cols;
    m.groupSize_ = groupSize;
    const int64_t G = cols / groupSize;
    m.rowBytes_ = m.format_ == PackedFormat::Int4 ? uint64_t(cols / 2) : uint64_t(cols);
    m.owned_.assign(m.rowBytes_ * uint64_t(rows), 0);
    m.scales_.assign(size_t(rows * G), 0.0f);
    if (m.format_ == PackedFormat::Int4)
        m.offsets_.assign(size_t(rows * G), 0.0f);
    const float qmax = symmetric ? float((1 << (bits - 1)) - 1) : float((1 << bits) - 1);
    std::atomic<bool> ok{true};
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        if (!ok.load(std::memory_order_relaxed))
            continue;
        std::vector<int> codes(static_cast<size_t>(groupSize));
        for (int64_t g = 0; g < G; ++g) {
            const float* x = wq + r * cols + g * groupSize;
            float lo = 0, hi = 0;
            for (int64_t i = 0; i < groupSize; ++i) {
                lo = std::min(lo, x[i]);
                hi = std::max(hi, x[i]);
            }
            // The grid: value = s * e with an FP16 scale s and integer e (|e| <= qmax when
            // symmetric; a span of at most qmax when asymmetric, any zero point placing it in
            // [0, qmax] gives the same values). The scale is the extreme codes' (used with or
            // without clipping), else the smallest gap between distinct values.
            auto fits = [&](float s, float& z) {
                if (!(s > 0) || !std::isfinite(s))
                    return false;
                float emin = 0, emax = 0;
                for (int64_t i = 0; i < groupSize; ++i) {
                    const float e = std::nearbyint(x[i] / s);
                    if (e * s != x[i])
                        return false;
                    codes[size_t(i)] = int(e);
                    emin = std::min(emin, e);
                    emax = std::max(emax, e);
                }
                if (symmetric) {
                    z = 0;
                    return std::max(-emin, emax) <= qmax;
                }
                z = -emin;
                return emax - emin <= qmax;
            };
            const float s1 = fp16ToFloat(floatToFp16(symmetric ? std::max(-lo, hi) / qmax : (hi - lo) / qmax));
            float s = s1, z = 0;
            bool exact = true;
            if (hi == 0 && lo == 0) {
                s = 0;
                std::fill(codes.begin(), codes.end(), 0);
            } else if (!fits(s1, z)) {
                std::vector<float> sorted(x, x + groupSize);
                std::sort(sorted.begin(), sorted.end());
                float gap = std::numeric_limits<float>::infinity();
                for (size_t i = 1; i < sorted.size(); ++i)
                    if (sorted[i] > sorted[i - 1])
                        gap = std::min(gap, sorted[i] - sorted[i - 1]);
                s = fp16ToFloat(floatToFp16(gap));
                exact = fits(s, z);
            }
            if (!exact) {
                ok = false;
                break;
            }
            m.scales_[size_t(r * G + g)] = s;
            uint8_t* dst = m.owned_.data() + uint64_t(r) * m.rowBytes_;
            if (m.format_ == PackedFormat::Int8) {
                for (int64_t i = 0; i < groupSize; ++i)
                    dst[g * groupSize + i] = static_cast<uint8_t>(static_cast<int8_t>(codes[size_t(i)]));
            } else {
                const int zero = symmetric ? 8 : int(z);
                m.offsets_[size_t(r * G + g)] = s * float(zero);
                for (int64_t i = 0; i < groupSize; ++i) {
                    const int64_t col = g * groupSize + i, c = col / 32, l = col % 32;
                    const uint8_t u = static_cast<uint8_t>(codes[size_t(i)] + zero);
                    dst[16 * c + (l % 16)] |= static_cast<uint8_t>(l < 16 ? u : u << 4);
                }
            }
        }
    }
    if (!ok)
        return {};
    m.data_ = m.owned_.data();
    return m;
}

uint64_t PackedMatrix::bytes() const
{
    return rowBytes_ * uint64_t(rows_) + (scales_.size() + offsets_.size()) * sizeof(float);
}

void PackedMatrix::dequantizeRow(int64_t r, float* dst) const
{
    const uint8_t* row = data_ + uint64_t(r) * rowBytes_;
    switch (format_) {
    case PackedFormat::F32: std::memcpy(dst, row, size_t(cols_) * sizeof(float)); return;
    case PackedFormat::Int8:
        for (int64_t i = 0; i < cols_; ++i)
            dst[i] = scales_[size_t(r * (cols_ / groupSize_) + i / groupSize_)] * float(static_cast<int8_t>(row[i]));
        return;
    case PackedFormat::Int4:
        for (int64_t i = 0; i < cols_; ++i) {
            const size_t g = size_t(r * (cols_ / groupSize_) + i / groupSize_);
            const int64_t c = i / 32, l = i % 32;
            const int u = l < 16 ? (row[16 * c + l] & 0x0F) : (row[16 * c + l - 16] >> 4);
            dst[i] = scales_[g] * float(u) - offsets_[g];
        }
        return;
    default: dequantizeBlocks(dtypeOf(format_), row, uint64_t(cols_), dst); return;
    }
}

// ------------------------------------------------------------------------------------------
// Activations
// ------------------------------------------------------------------------------------------

void quantizeActivations(const float* x, int64_t n, int64_t cols, int block, QuantizedActivations& out)
{
    if (cols % 32 != 0 || (block != 32 && block != 256) || cols % block != 0)
        throw Error("kernels: " + std::to_string(cols) + " activations do not split into " + std::to_string(block) +
                    "-element blocks");
    out.n = n;
    out.cols = cols;
    out.q.resize(size_t(n * cols));
    out.d.resize(size_t(n * cols / 32));
    out.m16.resize(size_t(n * cols / 16));
    out.s32.resize(size_t(n * cols / 32));
    const int64_t blocks = n * cols / block;
#pragma omp parallel for schedule(static) if (blocks >= 256)
    for (int64_t b = 0; b < blocks; ++b) {
        const float* xb = x + b * block;
        float amax = 0;
        for (int i = 0; i < block; ++i)
            amax = std::max(amax, std::fabs(xb[i]));
        const float d = amax / 127.0f;
        const float id = d > 0 ? 1.0f / d : 0.0f;
        int8_t* q = out.q.data() + b * block;
        for (int i = 0; i < block; ++i) // to nearest, ties to even (vectorizes; |x * id| <= 127)
            q[i] = static_cast<int8_t>(static_cast<int>(std::nearbyint(xb[i] * id)));
        for (int c = 0; c < block / 32; ++c) {
            const size_t ci = size_t(b * (block / 32) + c);
            out.d[ci] = d;
            int s32 = 0;
            for (int h = 0; h < 2; ++h) {
                int s = 0;
                for (int l = 0; l < 16; ++l)
                    s += q[32 * c + 16 * h + l];
                out.m16[2 * ci + size_t(h)] = d * float(s);
                s32 += s;
            }
            out.s32[ci] = static_cast<int16_t>(s32);
        }
    }
}

// ------------------------------------------------------------------------------------------
// Products
// ------------------------------------------------------------------------------------------

namespace {

void floatMatmul(const float* w, int64_t rows, int64_t cols, const float* x, int64_t n, float* y)
{
    Eigen::Map<const RowMat> W(w, rows, cols);
    Eigen::Map<const RowMat> X(x, n, cols);
    Eigen::Map<RowMat> Y(y, n, rows);
    if (n == 1) {
        // Matrix-vector: rows split over the threads (Eigen's GEMV runs on one).
        const int64_t tile = 64;
#pragma omp parallel for schedule(static)
        for (int64_t r0 = 0; r0 < rows; r0 += tile) {
            const int64_t m = std::min(tile, rows - r0);
            Y.row(0).segment(r0, m).noalias() = X.row(0) * W.middleRows(r0, m).transpose();
        }
        return;
    }
    Y.noalias() = X * W.transpose();
}

} // namespace

namespace {

using KernelFn = void (*)(const kern::Args&, int64_t, int64_t);

KernelFn kernelFn(KernelIsa isa)
{
    return isa == KernelIsa::Avx512 ? kern::rowsAvx512 : isa == KernelIsa::Avx2 ? kern::rowsAvx2 : kern::rowsScalar;
}

// The activations of one product prepared for the kernels: quantized per block, and arranged
// for the AVX-512 level. Products of the same input whose formats read the same preparation
// share it.
struct Prepared {
    int block = 0, arrangement = -1; // arrangement: the format it was arranged for (-1: none)
    QuantizedActivations qa;
    std::vector<int8_t> arranged;
};

// The arrangement a format reads (formats that read the same bytes give the same key).
int arrangementKey(kern::Format f)
{
    return f == kern::kQ4_K ? 2 : (f == kern::kQ8_0 || f == kern::kQ4_0 || f == kern::kInt8) ? 1 : 0;
}

kern::Args argsFor(const PackedMatrix& w, Prepared& p, const float* x, int64_t n, float* y, KernelIsa isa)
{
    kern::Args a;
    a.format = kernFormat(w.format());
    a.w = w.data();
    a.rowBytes = w.rowBytes();
    a.cols = w.cols();
    a.scales = w.scales();
    a.offsets = w.offsets();
    a.groupSize = w.groupSize();
    a.groupsPerRow = w.groupSize() > 0 ? w.cols() / w.groupSize() : 0;
    const int block = activationBlock(w.format());
    if (p.block != block) {
        quantizeActivations(x, n, w.cols(), block, p.qa);
        p.block = block;
        p.arrangement = -1;
    }
    a.aq = p.qa.q.data();
    a.ad = p.qa.d.data();
    a.am16 = p.qa.m16.data();
    a.as32 = p.qa.s32.data();
    a.n = n;
    a.y = y;
    a.ldy = w.rows();
    if (isa == KernelIsa::Avx512) {
        const int key = arrangementKey(kern::Format(a.format));
        const uint64_t bytes = kern::arrangedBytesAvx512(a);
        if (p.arrangement != key) {
            p.arranged.resize(size_t(bytes));
            kern::arrangeAvx512(a, p.arranged.data());
            p.arrangement = key;
        }
        if (bytes > 0)
            kern::bindArrangedAvx512(a, p.arranged.data());
    }
    return a;
}

// Rows per tile: small enough to balance the threads, big enough to amortise (a multiple of
// four, the kernels' weight-row tile).
int64_t tileRows(int64_t rows, int64_t n)
{
    return n == 1 ? std::max<int64_t>(8, rows / (omp_get_max_threads() * 8)) / 4 * 4 : 16;
}

} // namespace

void packedMatmul(const PackedMatrix& w, const float* x, int64_t n, float* y)
{
    const PackedMatrix* ws[1] = {&w};
    float* ys[1] = {y};
    packedMatmulMany(ws, 1, x, n, ys);
}

void packedMatmulMany(const PackedMatrix* const* ws, int count, const float* x, int64_t n, float* const* ys,
                      double* seconds)
{
    if (n <= 0 || count <= 0)
        return;
    using Clock = std::chrono::steady_clock;
    auto since = [](Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); };
    const KernelIsa isa = kernelIsa();
    thread_local std::vector<Prepared> prepared(2);
    for (Prepared& p : prepared)
        p.block = 0; // a new input
    for (int k = 1; k < count; ++k)
        if (ws[k]->cols() != ws[0]->cols())
            throw Error("kernels: products of one input need matrices of the same width");
    std::vector<kern::Args> args(static_cast<size_t>(count));
    struct Tile {
        int k;
        int64_t r0, r1;
    };
    std::vector<Tile> tiles;
    double prep = 0; // quantizing and arranging the activations, shared by the packed products
    for (int k = 0; k < count; ++k) {
        const PackedMatrix& w = *ws[k];
        if (seconds)
            seconds[k] = 0;
        if (w.format() == PackedFormat::F32) {
            const auto t0 = Clock::now();
            floatMatmul(reinterpret_cast<const float*>(w.data()), w.rows(), w.cols(), x, n, ys[k]);
            if (seconds)
                seconds[k] = since(t0);
            continue;
        }
        // Products of 32- and 256-element activation blocks each keep their preparation.
        Prepared& p = prepared[activationBlock(w.format()) == 256 ? 1 : 0];
        const auto tp = Clock::now();
        args[size_t(k)] = argsFor(w, p, x, n, ys[k], isa);
        prep += since(tp);
        const int64_t tile = tileRows(w.rows(), n);
        for (int64_t r = 0; r < w.rows(); r += tile)
            tiles.push_back({k, r, std::min(w.rows(), r + tile)});
    }
    if (tiles.empty())
        return;
    // Tiles taken in turn (dynamic), so that a thread the OS delays holds up only its current
    // one; each thread's time per product splits the pass's wall time (and the preparation's)
    // between the products.
    const KernelFn fn = kernelFn(isa);
    const auto t0 = Clock::now();
    std::vector<double> busy(static_cast<size_t>(count), 0.0);
    const int64_t nt = static_cast<int64_t>(tiles.size());
#pragma omp parallel if (nt > 1)
    {
        std::vector<double> mine(static_cast<size_t>(count), 0.0);
#pragma omp for schedule(dynamic)
        for (int64_t t = 0; t < nt; ++t) {
            const Tile& tl = tiles[size_t(t)];
            const auto s0 = seconds ? Clock::now() : Clock::time_point{};
            fn(args[size_t(tl.k)], tl.r0, tl.r1);
            if (seconds)
                mine[size_t(tl.k)] += since(s0);
        }
        if (seconds) {
#pragma omp critical(bonsai_packed_busy)
            for (int k = 0; k < count; ++k)
                busy[size_t(k)] += mine[size_t(k)];
        }
    }
    if (seconds) {
        const double wall = since(t0) + prep;
        double total = 0;
        for (double b : busy)
            total += b;
        for (int k = 0; k < count; ++k)
            if (ws[k]->format() != PackedFormat::F32)
                seconds[k] = total > 0 ? wall * busy[size_t(k)] / total : 0;
    }
}

void packedMatmulFloat(const PackedMatrix& w, const float* x, int64_t n, float* y)
{
    if (w.format() == PackedFormat::F32) {
        floatMatmul(reinterpret_cast<const float*>(w.data()), w.rows(), w.cols(), x, n, y);
        return;
    }
    const int64_t rows = w.rows(), cols = w.cols();
#pragma omp parallel
    {
        std::vector<float> row(static_cast<size_t>(cols));
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; ++r) {
            w.dequantizeRow(r, row.data());
            const Eigen::Map<const Eigen::VectorXf> wr(row.data(), cols);
            for (int64_t i = 0; i < n; ++i)
                y[i * rows + r] = wr.dot(Eigen::Map<const Eigen::VectorXf>(x + i * cols, cols));
        }
    }
}

} // namespace bonsai
