// oneDNN MaxPool and AveragePool (see dnnl_ops.h).
#include "exec/dnnl_util.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <span>

namespace bonsai::exec {

using namespace dnnl_util;

// --- pooling ---

namespace {

struct PoolPrims {
    std::vector<int64_t> key;
    bool ok = false;
    dnnl::pooling_v2_forward pool;
    md src, dst;
};

struct PoolState {
    std::mutex mutex;
    std::list<std::shared_ptr<PoolPrims>> cache;
};

} // namespace

Kernel makeDnnlPool(const WindowAttrs& win, bool isMax, bool countIncludePad, Kernel fallback)
{
    auto state = std::make_shared<PoolState>();
    return [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value* xp = in.empty() ? nullptr : in[0];
        const int64_t sr = static_cast<int64_t>(win.kernel.size());
        if (!xp || xp->type != Value::Type::Float || static_cast<int64_t>(xp->shape.size()) != sr + 2 ||
            xp->f.size() != xp->numel() || xp->numel() == 0)
            return fallback(in, out);
        const Value& x = *xp;
        const Window w = makeWindow(win, std::span(x.shape).subspan(2), win.kernel, true);
        std::vector<int64_t> os = {x.shape[0], x.shape[1]};
        mdims strides, kernel, dil, pl, pr;
        for (int64_t j = 0; j < sr; ++j) {
            const int64_t q = 3 - sr + j;
            if (w.out[q] <= 0)
                return fallback(in, out);
            os.push_back(w.out[q]);
            strides.push_back(w.s[q]);
            kernel.push_back(w.k[q]);
            dil.push_back(w.d[q] - 1);
            pl.push_back(w.pb[q]);
            // oneDNN's output size is the floor one: ceil_mode's last windows reach into more padding.
            const int64_t need = (w.out[q] - 1) * w.s[q] + (w.k[q] - 1) * w.d[q] + 1 - w.in[q] - w.pb[q];
            if (need > w.pe[q] && !isMax && countIncludePad)
                return fallback(in, out); // the divisor would count that padding too
            pr.push_back(std::max<int64_t>(need, 0));
            // Every window must hold an input element, as the plain kernel assumes.
            if ((w.out[q] - 1) * w.s[q] - w.pb[q] >= w.in[q])
                return fallback(in, out);
        }
        std::vector<int64_t> key = x.shape;
        key.insert(key.end(), os.begin(), os.end());
        std::shared_ptr<PoolPrims> p;
        {
            std::lock_guard<std::mutex> lock(state->mutex);
            p = findEntry(state->cache, key);
            if (!p) {
                p = std::make_shared<PoolPrims>();
                p->key = key;
                try {
                    p->src = plainDesc(x.shape);
                    p->dst = plainDesc(os);
                    const auto alg = isMax ? dnnl::algorithm::pooling_max
                                           : countIncludePad ? dnnl::algorithm::pooling_avg_include_padding
                                                             : dnnl::algorithm::pooling_avg_exclude_padding;
                    dnnl::pooling_v2_forward::desc d(dnnl::prop_kind::forward_inference, alg, p->src, p->dst, strides,
                                                     kernel, dil, pl, pr);
                    p->pool = dnnl::pooling_v2_forward(dnnl::pooling_v2_forward::primitive_desc(d, engine()));
                    p->ok = true;
                } catch (const dnnl::error&) {
                    p->ok = false;
                }
                addEntry(state->cache, p);
            }
        }
        if (!p->ok)
            return fallback(in, out);
        prepare(out[0], Value::Type::Float, os);
        dnnl::stream& st = stream();
        p->pool.execute(st, {{DNNL_ARG_SRC, mem(p->src, x.f.data())}, {DNNL_ARG_DST, mem(p->dst, out[0].f.data())}});
        st.wait();
    };
}

} // namespace bonsai::exec
