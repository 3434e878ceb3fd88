// Shared pieces of the oneDNN kernels (see dnnl_util.h).
#include "exec/dnnl_util.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

namespace bonsai::exec::dnnl_util {

dnnl::engine& engine()
{
    static dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
}

dnnl::stream& stream()
{
    thread_local dnnl::stream s(engine());
    return s;
}

tag plainTag(size_t rank)
{
    switch (rank) {
    case 1: return tag::a;
    case 2: return tag::ab;
    case 3: return tag::abc;
    case 4: return tag::abcd;
    case 5: return tag::abcde;
    default: return tag::abcdef;
    }
}

md plainDesc(const std::vector<int64_t>& shape, dt t)
{
    return md(mdims(shape.begin(), shape.end()), t, plainTag(shape.size()));
}

dnnl::memory mem(const md& d, const void* p)
{
    return dnnl::memory(d, engine(), const_cast<void*>(p));
}

int threadsAvailable() { return omp_in_parallel() ? 1 : omp_get_max_threads(); }

// The versions a derived weight depends on; empty when one of them is a computed value.
std::vector<uint64_t> versionsOf(std::initializer_list<const Value*> vs)
{
    std::vector<uint64_t> r;
    for (const Value* v : vs) {
        if (!v)
            r.push_back(0xffffffffffffffffull);
        else if (!v->weightVersion)
            return {};
        else
            r.push_back(v->weightVersion);
    }
    return r;
}

ActQuant activationScale(const float* x, size_t n)
{
    float lo = 0.0f, hi = 0.0f;
#pragma omp parallel for reduction(min : lo) reduction(max : hi) if (n > 65536 && threadsAvailable() > 1)
    for (size_t k = 0; k < n; ++k) {
        lo = std::min(lo, x[k]);
        hi = std::max(hi, x[k]);
    }
    ActQuant q;
    q.u8 = lo >= 0.0f;
    const float amax = std::max(hi, -lo);
    const float qmax = q.u8 ? 255.0f : 127.0f;
    // The scale rounded up to a 1/8 octave (at most 9% fewer levels): oneDNN 2.6's INT8
    // convolutions fix their output scales at creation, so primitives are kept per grid step.
    if (amax > 0.0f && std::isfinite(amax)) {
        q.step = static_cast<int>(std::ceil(8.0 * std::log2(static_cast<double>(amax) / qmax)));
        q.scale = static_cast<float>(std::exp2(q.step / 8.0));
    }
    return q;
}

namespace {
template <class T> void quantizeRowsAs(const float* x, int64_t n, float inv, T* q)
{
    constexpr float lo = std::is_same_v<T, uint8_t> ? 0.0f : -128.0f, hi = std::is_same_v<T, uint8_t> ? 255.0f : 127.0f;
#pragma omp parallel for simd if (n > 65536 && threadsAvailable() > 1)
    for (int64_t k = 0; k < n; ++k) {
        const float v = std::min(std::max(x[k] * inv, lo), hi);
        q[k] = static_cast<T>(static_cast<int>(v + (v >= 0.0f ? 0.5f : -0.5f)));
    }
}

} // namespace

void quantizeRows(const float* x, int64_t n, float inv, uint8_t* q) { quantizeRowsAs(x, n, inv, q); }
void quantizeRows(const float* x, int64_t n, float inv, int8_t* q) { quantizeRowsAs(x, n, inv, q); }

// Weight scales of a QuantizedWeight along its channel axis, as n values.
std::vector<float> channelScales(const QuantizedWeight& q, int64_t n)
{
    std::vector<float> s = q.scales.size() == 1 ? std::vector<float>(static_cast<size_t>(n), q.scales[0]) : q.scales;
    for (auto& v : s)
        if (!(v != 0.0f) || !std::isfinite(v))
            v = 1.0f; // a channel of zero codes
    return s;
}

bool int8Usable(bool deploy, const Value& w, int axis, int64_t channels)
{
    if (!deploy || !w.quantized)
        return false;
    const QuantizedWeight& q = *w.quantized;
    return q.axis == axis && q.codes.size() == w.f.size() &&
           (q.scales.size() == 1 || static_cast<int64_t>(q.scales.size()) == channels);
}

} // namespace bonsai::exec::dnnl_util
