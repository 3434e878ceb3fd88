// oneDNN convolution with its fused epilogue, and the BatchNormalization fold (see dnnl_ops.h).
#include "exec/dnnl_util.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <span>

namespace bonsai::exec {

using namespace dnnl_util;

void foldBatchNorm(const Value* convBias, const Value& gamma, const Value& beta, const Value& mean,
                   const Value& var, float epsilon, int64_t m, std::vector<float>& scale,
                   std::vector<float>& bias)
{
    for (const Value* v : {&gamma, &beta, &mean, &var})
        if (v->type != Value::Type::Float || v->numel() != static_cast<size_t>(m) || v->f.size() != v->numel())
            fail("the BatchNormalization parameters must be float tensors of " + std::to_string(m) + " elements");
    scale.resize(static_cast<size_t>(m));
    bias.resize(static_cast<size_t>(m));
    for (size_t c = 0; c < scale.size(); ++c) {
        scale[c] = gamma.f[c] / std::sqrt(var.f[c] + epsilon);
        const float b = convBias ? convBias->f[c] : 0.0f;
        bias[c] = (b - mean.f[c]) * scale[c] + beta.f[c];
    }
}

namespace {

// --- Conv ---

struct ConvPrims {
    std::vector<int64_t> key; // chunk input shape, W shape, int8, u8
    bool ok = false;          // false: oneDNN has no implementation (use the fallback)
    bool int8 = false;
    dnnl::convolution_forward::primitive_desc pd;
    dnnl::convolution_forward conv;
    md srcUser, dstUser, outUser; // plain: chunk input, conv output, node output
    md biasMd;                    // [M]
    bool srcReorder = false;
    dnnl::reorder srcR;
    bool dstPlain = false;
    dnnl::reorder addR; // plain residual -> conv dst
    bool pool = false;
    dnnl::pooling_v2_forward::primitive_desc ppd;
    dnnl::pooling_v2_forward poolP;
    bool outPlain = false;
    dnnl::reorder outR;
    // Weights, valid for `versions` (empty: rebuilt on every call).
    std::vector<uint64_t> versions;
    bool haveWeights = false;
    dnnl::memory wMem, bMem;
    std::vector<float> oscale; // int8: input scale x weight scale x BatchNorm scale per output channel
};

struct ConvState {
    std::mutex mutex;
    std::list<std::shared_ptr<ConvPrims>> cache;
};

std::shared_ptr<ConvPrims> buildConv(const std::vector<int64_t>& key, const std::vector<int64_t>& xs,
                                     const std::vector<int64_t>& ws, const std::vector<int64_t>& ys,
                                     const std::vector<int64_t>& os, const Window& g, int64_t group,
                                     const ConvEpilogue& e, bool int8, bool u8, float scaleOfInput,
                                     const std::vector<float>& oscale)
{
    auto p = std::make_shared<ConvPrims>();
    p->key = key;
    p->int8 = int8;
    const size_t sr = xs.size() - 2;
    mdims strides, dil, pl, pr;
    for (size_t j = 0; j < sr; ++j) {
        const size_t q = 3 - sr + j;
        strides.push_back(g.s[q]);
        dil.push_back(g.d[q] - 1);
        pl.push_back(g.pb[q]);
        pr.push_back(g.pe[q]);
    }
    mdims wd(ws.begin(), ws.end());
    if (group > 1) {
        wd[0] /= group;
        wd.insert(wd.begin(), group);
    }
    const dt srcT = int8 ? (u8 ? dt::u8 : dt::s8) : dt::f32;
    const md srcAny(mdims(xs.begin(), xs.end()), srcT, tag::any);
    const md wAny(wd, int8 ? dt::s8 : dt::f32, tag::any);
    const md dstAny(mdims(ys.begin(), ys.end()), dt::f32, tag::any);
    const md biasMd({ys[1]}, dt::f32, tag::a);
    dnnl::primitive_attr attr;
    dnnl::post_ops po;
    p->biasMd = md({ys[1]}, dt::f32, tag::a);
    p->oscale = oscale;
    if (int8)
        attr.set_output_scales(1 << 1, oscale);
    // Chunks run on several threads at once: each passes its own scratchpad.
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (e.add)
        po.append_sum(1.0f);
    if (e.relu)
        po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    attr.set_post_ops(po);
    try {
        dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                          dnnl::algorithm::convolution_direct, srcAny, wAny,
                                          md({ys[1]}, dt::f32, tag::a), dstAny, strides, dil, pl, pr);
        p->pd = dnnl::convolution_forward::primitive_desc(d, attr, engine());
        p->conv = dnnl::convolution_forward(p->pd);
        p->srcUser = plainDesc(xs);
        p->dstUser = plainDesc(ys);
        p->outUser = plainDesc(os);
        p->srcReorder = int8 || p->pd.src_desc() != p->srcUser;
        if (p->srcReorder) {
            dnnl::primitive_attr ra;
            if (int8)
                ra.set_output_scales(0, {1.0f / scaleOfInput});
            p->srcR = dnnl::reorder(dnnl::reorder::primitive_desc(engine(), p->srcUser, engine(), p->pd.src_desc(), ra));
        }
        p->dstPlain = p->pd.dst_desc() == p->dstUser;
        if (e.add && !p->dstPlain)
            p->addR = dnnl::reorder(dnnl::reorder::primitive_desc(engine(), p->dstUser, engine(), p->pd.dst_desc()));
        md last = p->pd.dst_desc();
        if (e.pool) {
            p->pool = true;
            const md poolAny(mdims(os.begin(), os.end()), dt::f32, tag::any);
            const int64_t ih = ys[2], iw = ys[3], oh = os[2], ow = os[3];
            const mdims pr2 = {std::max<int64_t>(0, (oh - 1) * e.sh + e.kh - ih),
                               std::max<int64_t>(0, (ow - 1) * e.sw + e.kw - iw)};
            dnnl::pooling_v2_forward::desc pdsc(dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max,
                                                p->pd.dst_desc(), poolAny, {e.sh, e.sw}, {e.kh, e.kw},
                                                {0, 0}, {0, 0}, pr2);
            dnnl::primitive_attr pa;
            pa.set_scratchpad_mode(dnnl::scratchpad_mode::user);
            p->ppd = dnnl::pooling_v2_forward::primitive_desc(pdsc, pa, engine());
            p->poolP = dnnl::pooling_v2_forward(p->ppd);
            last = p->ppd.dst_desc();
        }
        p->outPlain = last == p->outUser;
        if (!p->outPlain)
            p->outR = dnnl::reorder(dnnl::reorder::primitive_desc(engine(), last, engine(), p->outUser));
        p->ok = true;
    } catch (const dnnl::error& ex) {
        p->ok = false;
    }
    return p;
}

// (Re)builds the weights of `p` from W (folded with `scale`, the BatchNorm's, when given).
void buildConvWeights(ConvPrims& p, const Value& w, int64_t group, const std::vector<float>* scale,
                      const std::vector<float>& bias)
{
    const int64_t m = w.shape[0];
    const size_t per = m ? w.f.size() / static_cast<size_t>(m) : 0;
    mdims wd(w.shape.begin(), w.shape.end());
    if (group > 1) {
        wd[0] /= group;
        wd.insert(wd.begin(), group);
    }
    const md wd0 = md(wd, p.int8 ? dt::s8 : dt::f32, plainTag(wd.size()));
    p.wMem = dnnl::memory(p.pd.weights_desc(), engine());
    const auto reorderFrom = [&](const void* data) {
        dnnl::memory from = mem(wd0, data);
        dnnl::reorder(from, p.wMem).execute(stream(), from, p.wMem);
        stream().wait();
    };
    if (p.int8) {
        reorderFrom(w.quantized->codes.data());
    } else if (scale) {
        std::vector<float> folded(w.f.size());
        for (size_t c = 0; c < static_cast<size_t>(m); ++c)
            for (size_t k = 0; k < per; ++k)
                folded[c * per + k] = w.f[c * per + k] * (*scale)[c];
        reorderFrom(folded.data());
    } else {
        reorderFrom(w.f.data());
    }
    p.bMem = dnnl::memory(p.biasMd, engine());
    float* b = static_cast<float*>(p.bMem.get_data_handle());
    for (size_t c = 0; c < bias.size(); ++c)
        b[c] = p.int8 ? bias[c] / p.oscale[c] : bias[c]; // INT8: oneDNN scales the sum with the bias
    stream().wait();
    p.haveWeights = true;
}

} // namespace

Kernel makeDnnlConv(const WindowAttrs& win, int64_t group, const ConvEpilogue& e, bool deploy, Kernel fallback)
{
    auto state = std::make_shared<ConvState>();
    return [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value* xp = in.size() > 0 ? in[0] : nullptr;
        const Value* wp = in.size() > 1 ? in[1] : nullptr;
        const Value* bias = in.size() > 2 ? in[2] : nullptr;
        if (!xp || !wp || xp->type != Value::Type::Float || wp->type != Value::Type::Float)
            return fallback(in, out);
        const Value& x = *xp;
        const Value& w = *wp;
        const size_t r = x.shape.size();
        if (r < 3 || r > 5 || w.shape.size() != r || x.f.size() != x.numel() || w.f.size() != w.numel())
            return fallback(in, out);
        const int64_t N = x.shape[0], C = x.shape[1], M = w.shape[0];
        if (C % group || M % group || w.shape[1] * group != C || N == 0 || M == 0 || C == 0)
            return fallback(in, out);
        if (bias && (bias->type != Value::Type::Float || bias->numel() != static_cast<size_t>(M) ||
                     bias->f.size() != bias->numel()))
            return fallback(in, out);
        const Window g = makeWindow(win, std::span(x.shape).subspan(2), std::span(w.shape).subspan(2), false);
        const int64_t sr = static_cast<int64_t>(r) - 2;
        std::vector<int64_t> ys = {N, M};
        for (int64_t j = 0; j < sr; ++j)
            ys.push_back(g.out[3 - sr + j]);
        for (auto d : ys)
            if (d <= 0)
                return fallback(in, out);
        std::vector<int64_t> os = ys;
        if (e.pool) {
            if (sr != 2 || ys[2] < e.kh || ys[3] < e.kw)
                return fallback(in, out);
            os[2] = (ys[2] - e.kh) / e.sh + 1;
            os[3] = (ys[3] - e.kw) / e.sw + 1;
        }
        const Value* addv = e.add ? (e.addAt < in.size() ? in[e.addAt] : nullptr) : nullptr;
        if (e.add && (!addv || addv->type != Value::Type::Float || addv->shape != ys || addv->f.size() != addv->numel()))
            return fallback(in, out); // broadcasting residuals run in the plain kernel
        // Folded BatchNorm and bias.
        std::vector<float> bnScale, fbias;
        if (e.bn) {
            for (size_t k = 3; k < 7; ++k)
                if (k >= in.size() || !in[k])
                    return fallback(in, out);
            foldBatchNorm(bias, *in[3], *in[4], *in[5], *in[6], e.bnEpsilon, M, bnScale, fbias);
        } else if (bias) {
            fbias = bias->f;
        } else {
            fbias.assign(static_cast<size_t>(M), 0.0f);
        }
        const auto versions = versionsOf({&w, bias, e.bn ? in[3] : nullptr, e.bn ? in[4] : nullptr,
                                          e.bn ? in[5] : nullptr, e.bn ? in[6] : nullptr});
        // INT8 primitives hold their scales: only for weights that are not computed.
        const bool int8 = int8Usable(deploy, w, 0, M) && !versions.empty();
        const int64_t inPer = x.numel() / static_cast<size_t>(N);
        ActQuant aq;
        if (int8)
            aq = activationScale(x.f.data(), x.f.size());

        // Images per chunk: one chunk's convolution output within about 512 KiB, and at least
        // one chunk per thread.
        const int threads = threadsAvailable();
        const int64_t perImage = std::max<int64_t>(1, numel(ys) / N * static_cast<int64_t>(sizeof(float)));
        int64_t nb = std::clamp<int64_t>((int64_t(512) << 10) / perImage, 1, N);
        nb = std::min(nb, (N + threads - 1) / threads);
        const int64_t chunks = (N + nb - 1) / nb;
        const int64_t tail = N - (chunks - 1) * nb;
        std::vector<float> oscale;
        if (int8) {
            oscale = channelScales(*w.quantized, M);
            for (size_t c = 0; c < oscale.size(); ++c)
                oscale[c] *= aq.scale * (e.bn ? bnScale[c] : 1.0f);
        }

        const auto prims = [&](int64_t n) {
            std::vector<int64_t> key = x.shape;
            key[0] = n;
            key.insert(key.end(), w.shape.begin(), w.shape.end());
            key.push_back(int8);
            if (int8) {
                key.push_back(aq.u8);
                key.push_back(aq.step);
                key.insert(key.end(), versions.begin(), versions.end());
            }
            std::lock_guard<std::mutex> lock(state->mutex);
            auto p = findEntry(state->cache, key);
            if (!p) {
                std::vector<int64_t> xs = x.shape, yn = ys, on = os;
                xs[0] = yn[0] = on[0] = n;
                p = buildConv(key, xs, w.shape, yn, on, g, group, e, int8, aq.u8, aq.scale, oscale);
                addEntry(state->cache, p);
            }
            if (p->ok && (!p->haveWeights || versions.empty() || p->versions != versions)) {
                if (versions.empty()) {
                    // A computed weight: this call's own copy of the primitive's weights.
                    auto own = std::make_shared<ConvPrims>(*p);
                    buildConvWeights(*own, w, group, e.bn ? &bnScale : nullptr, fbias);
                    return own;
                }
                buildConvWeights(*p, w, group, e.bn ? &bnScale : nullptr, fbias);
                p->versions = versions;
            }
            return p;
        };
        const auto full = prims(nb);
        if (!full->ok)
            return fallback(in, out);
        const auto last = tail == nb ? full : prims(tail);
        if (!last->ok)
            return fallback(in, out);
        prepare(out[0], Value::Type::Float, os);

        const int64_t yPer = numel(ys) / N, oPer = numel(os) / N;
        const float* X = x.f.data();
        float* Y = out[0].f.data();
        const float* A = addv ? addv->f.data() : nullptr;
        const auto chunk = [&](int64_t c, Scratch& s0, Scratch& s1, Scratch& s2, Scratch& s3) {
            const ConvPrims& p = c + 1 < chunks ? *full : *last;
            const int64_t n0 = c * nb;
            dnnl::stream& st = stream();
            dnnl::memory src = mem(p.srcUser, X + n0 * inPer);
            if (p.srcReorder) {
                dnnl::memory q(p.pd.src_desc(), engine(), s0.get(p.pd.src_desc().get_size()));
                p.srcR.execute(st, src, q);
                src = q;
            }
            const bool direct = p.dstPlain && !p.pool;
            dnnl::memory dst = direct ? mem(p.dstUser, Y + n0 * oPer)
                                      : dnnl::memory(p.pd.dst_desc(), engine(), s1.get(p.pd.dst_desc().get_size()));
            if (A) {
                dnnl::memory a = mem(p.dstUser, A + n0 * yPer);
                if (p.dstPlain)
                    std::memcpy(dst.get_data_handle(), A + n0 * yPer, p.dstUser.get_size());
                else
                    p.addR.execute(st, a, dst);
            }
            std::unordered_map<int, dnnl::memory> args = {
                {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, p.wMem}, {DNNL_ARG_DST, dst}};
            args[DNNL_ARG_BIAS] = p.bMem;
            const md spd = p.pd.scratchpad_desc();
            args[DNNL_ARG_SCRATCHPAD] = dnnl::memory(spd, engine(), s3.get(spd.get_size()));
            p.conv.execute(st, args);
            dnnl::memory res = dst;
            if (p.pool) {
                res = p.outPlain ? mem(p.outUser, Y + n0 * oPer)
                                 : dnnl::memory(p.ppd.dst_desc(), engine(), s2.get(p.ppd.dst_desc().get_size()));
                const md ppd = p.ppd.scratchpad_desc();
                p.poolP.execute(st, {{DNNL_ARG_SRC, dst},
                                     {DNNL_ARG_DST, res},
                                     {DNNL_ARG_SCRATCHPAD, dnnl::memory(ppd, engine(), s3.get(ppd.get_size()))}});
            }
            if (!direct && !p.outPlain) {
                dnnl::memory o = mem(p.outUser, Y + n0 * oPer);
                p.outR.execute(st, res, o);
            }
            st.wait();
        };
        if (chunks > 1 && threads > 1) {
            bool failed = false;
            std::string what;
#pragma omp parallel
            {
                thread_local Scratch s0, s1, s2, s3;
#pragma omp for schedule(dynamic, 1)
                for (int64_t c = 0; c < chunks; ++c) {
                    try {
                        chunk(c, s0, s1, s2, s3);
                    } catch (const std::exception& ex) {
#pragma omp critical
                        {
                            failed = true;
                            what = ex.what();
                        }
                    }
                }
            }
            if (failed)
                fail("oneDNN: " + what);
        } else {
            thread_local Scratch s0, s1, s2, s3;
            for (int64_t c = 0; c < chunks; ++c)
                chunk(c, s0, s1, s2, s3);
        }
    };
}

} // namespace bonsai::exec
