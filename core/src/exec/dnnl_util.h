#pragma once
// Shared pieces of the oneDNN kernels (dnnl_conv.cpp, dnnl_gemm.cpp, dnnl_pool.cpp): the engine
// and a stream per thread, plain memory descriptors, per-thread scratch, the small primitive
// caches, and the dynamic activation quantization of deploy mode.
#include "exec/dnnl_ops.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdlib>
#include <initializer_list>
#include <list>
#include <memory>
#include <type_traits>

namespace bonsai::exec::dnnl_util {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using mdims = dnnl::memory::dims;
using md = dnnl::memory::desc;

dnnl::engine& engine();
dnnl::stream& stream(); // one per thread
tag plainTag(size_t rank);
md plainDesc(const std::vector<int64_t>& shape, dt t = dt::f32);
dnnl::memory mem(const md& d, const void* p);

// A thread's scratch buffer, 64-byte aligned, grown on demand.
struct Scratch {
    struct Free {
        void operator()(void* p) const { std::free(p); }
    };
    std::unique_ptr<void, Free> p;
    size_t bytes = 0;
    void* get(size_t n)
    {
        if (n > bytes) {
            bytes = (n + 63) / 64 * 64;
            p.reset(std::aligned_alloc(64, bytes));
            if (!p)
                throw std::bad_alloc();
        }
        return p.get();
    }
};

// 1 inside a parallel region (the kernels then stay on the calling thread), else OpenMP's.
int threadsAvailable();

// A small cache: the most recently used entries first, at most kCacheEntries.
constexpr size_t kCacheEntries = 8;
template <class Entry, class Key> std::shared_ptr<Entry> findEntry(std::list<std::shared_ptr<Entry>>& l, const Key& key)
{
    for (auto it = l.begin(); it != l.end(); ++it)
        if ((*it)->key == key) {
            auto e = *it;
            l.erase(it);
            l.push_front(e);
            return e;
        }
    return nullptr;
}
template <class Entry> void addEntry(std::list<std::shared_ptr<Entry>>& l, std::shared_ptr<Entry> e)
{
    l.push_front(std::move(e));
    if (l.size() > kCacheEntries)
        l.pop_back();
}

// The versions a derived weight depends on; empty when one of them is a computed value.
std::vector<uint64_t> versionsOf(std::initializer_list<const Value*> vs);

// Dynamic quantization of an activation tensor: the scale, and whether it fits u8.
struct ActQuant {
    float scale = 1.0f;
    bool u8 = true;
    int step = 0; // scale = 2^(step / 8)
};
ActQuant activationScale(const float* x, size_t n);

// x / scale rounded (half away from zero) and saturated into uint8_t or int8_t, as the
// reorders with an output scale do (up to ties).
void quantizeRows(const float* x, int64_t n, float inv, uint8_t* q);
void quantizeRows(const float* x, int64_t n, float inv, int8_t* q);

// Weight scales of a QuantizedWeight along its channel axis, as n values.
std::vector<float> channelScales(const QuantizedWeight& q, int64_t n);

// Deploy mode and a weight with 8-bit codes along `axis` (per tensor or per channel).
bool int8Usable(bool deploy, const Value& w, int axis, int64_t channels);

} // namespace bonsai::exec::dnnl_util
