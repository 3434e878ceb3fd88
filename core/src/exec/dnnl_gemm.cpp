// oneDNN Gemm and MatMul (see dnnl_ops.h).
#include "exec/dnnl_util.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <span>

namespace bonsai::exec {

using namespace dnnl_util;

// --- Gemm and MatMul ---

namespace {

struct GemmPrims {
    std::vector<int64_t> key; // M, K, N, ta, tb, int8, u8, bias, B plain
    bool ok = false;
    bool int8 = false;
    dnnl::matmul::primitive_desc pd;
    dnnl::matmul mm;
    md aUser, bUser, yUser, biasMd;
    bool aReorder = false;
    dnnl::reorder aR;
    bool bReorder = false; // weights reordered (cached by version)
    std::vector<uint64_t> versions;
    bool haveWeights = false;
    dnnl::memory wMem;
};

struct GemmState {
    std::mutex mutex;
    std::list<std::shared_ptr<GemmPrims>> cache;
};

// Y[M,N] = alpha * op(A) op(B) + bias[N] (bias may be null), through oneDNN's matmul; false
// when oneDNN cannot.
bool dnnlGemm(GemmState& state, bool deploy, int64_t M, int64_t K, int64_t N, float alpha, const float* A,
              bool ta, const Value& B, bool tb, const float* biasData, const std::vector<uint64_t>& versions,
              float* Y)
{
    const bool cacheB = !versions.empty();
    // INT8 primitives hold their scales (oneDNN picks its fastest INT8 matmul only for those).
    const bool int8 = cacheB && int8Usable(deploy, B, tb ? 0 : 1, N);
    ActQuant aq;
    if (int8)
        aq = activationScale(A, static_cast<size_t>(M * K));
    std::vector<int64_t> key = {M, K, N, ta, tb, int8, biasData != nullptr, cacheB};
    if (int8) {
        key.push_back(aq.u8);
        key.push_back(aq.step);
        key.insert(key.end(), versions.begin(), versions.end());
    }
    std::shared_ptr<GemmPrims> p;
    {
        std::lock_guard<std::mutex> lock(state.mutex);
        p = findEntry(state.cache, key);
        if (!p) {
            p = std::make_shared<GemmPrims>();
            p->key = key;
            p->int8 = int8;
            try {
                p->aUser = md({M, K}, dt::f32, ta ? mdims{1, M} : mdims{K, 1});
                p->bUser = md({K, N}, int8 ? dt::s8 : dt::f32, tb ? mdims{1, K} : mdims{N, 1});
                p->yUser = md({M, N}, dt::f32, tag::ab);
                p->biasMd = md({1, N}, dt::f32, tag::ab);
                const md aMd = int8 ? md({M, K}, aq.u8 ? dt::u8 : dt::s8, tag::ab) : p->aUser;
                const md bMd = cacheB ? md({K, N}, int8 ? dt::s8 : dt::f32, tag::any) : p->bUser;
                dnnl::primitive_attr attr;
                if (int8) {
                    std::vector<float> oscale = channelScales(*B.quantized, N);
                    for (auto& v : oscale)
                        v *= aq.scale * alpha;
                    attr.set_output_scales(1 << 1, oscale);
                } else if (alpha != 1.0f)
                    attr.set_output_scales(0, {alpha});
                dnnl::post_ops po;
                if (biasData)
                    po.append_binary(dnnl::algorithm::binary_add, p->biasMd);
                attr.set_post_ops(po);
                p->pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(aMd, bMd, p->yUser), attr, engine());
                p->mm = dnnl::matmul(p->pd);
                p->aReorder = int8;
                if (int8) {
                    dnnl::primitive_attr ra;
                    ra.set_output_scales(0, {1.0f / aq.scale});
                    p->aR = dnnl::reorder(dnnl::reorder::primitive_desc(engine(), p->aUser, engine(), aMd, ra));
                }
                p->bReorder = cacheB;
                p->ok = true;
            } catch (const dnnl::error&) {
                p->ok = false;
            }
            addEntry(state.cache, p);
        }
        if (p->ok && p->bReorder && (!p->haveWeights || p->versions != versions)) {
            p->wMem = dnnl::memory(p->pd.weights_desc(), engine());
            const void* src = int8 ? static_cast<const void*>(B.quantized->codes.data()) : B.f.data();
            dnnl::memory from = mem(p->bUser, src);
            dnnl::reorder(from, p->wMem).execute(stream(), from, p->wMem);
            stream().wait();
            p->versions = versions;
            p->haveWeights = true;
        }
    }
    if (!p->ok)
        return false;
    dnnl::stream& st = stream();
    thread_local Scratch sa;
    dnnl::memory a = mem(p->aUser, A);
    if (p->aReorder) {
        dnnl::memory q(p->pd.src_desc(), engine(), sa.get(p->pd.src_desc().get_size()));
        if (ta)
            p->aR.execute(st, a, q);
        else if (aq.u8)
            quantizeRows(A, M * K, 1.0f / aq.scale, static_cast<uint8_t*>(q.get_data_handle()));
        else
            quantizeRows(A, M * K, 1.0f / aq.scale, static_cast<int8_t*>(q.get_data_handle()));
        a = q;
    }
    dnnl::memory b = p->bReorder ? p->wMem
                                 : mem(p->bUser, int8 ? static_cast<const void*>(B.quantized->codes.data())
                                                      : B.f.data());
    std::unordered_map<int, dnnl::memory> args = {
        {DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, mem(p->yUser, Y)}};
    if (biasData)
        args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1] = mem(p->biasMd, biasData);
    p->mm.execute(st, args);
    st.wait();
    return true;
}

} // namespace

Kernel makeDnnlGemm(float alpha, float beta, bool ta, bool tb, bool deploy, Kernel fallback)
{
    auto state = std::make_shared<GemmState>();
    return [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value* A = in.size() > 0 ? in[0] : nullptr;
        const Value* B = in.size() > 1 ? in[1] : nullptr;
        const Value* C = in.size() > 2 ? in[2] : nullptr;
        if (!A || !B || A->type != Value::Type::Float || B->type != Value::Type::Float ||
            A->shape.size() != 2 || B->shape.size() != 2 || A->f.size() != A->numel() || B->f.size() != B->numel())
            return fallback(in, out);
        const int64_t M = ta ? A->shape[1] : A->shape[0], K = ta ? A->shape[0] : A->shape[1];
        const int64_t Kb = tb ? B->shape[1] : B->shape[0], N = tb ? B->shape[0] : B->shape[1];
        if (K != Kb || M == 0 || N == 0 || K == 0)
            return fallback(in, out);
        // C as a bias row: [N] or [1, N] (beta folded in); anything else runs in the plain kernel.
        std::vector<float> bias;
        if (C && beta != 0.0f) {
            const bool row = C->type == Value::Type::Float && C->numel() == static_cast<size_t>(N) &&
                             C->f.size() == C->numel() &&
                             (C->shape == std::vector<int64_t>{N} || C->shape == std::vector<int64_t>{1, N});
            if (!row)
                return fallback(in, out);
            bias = C->f;
            if (beta != 1.0f)
                for (auto& v : bias)
                    v *= beta;
        }
        prepare(out[0], Value::Type::Float, {M, N});
        if (!dnnlGemm(*state, deploy, M, K, N, alpha, A->f.data(), ta, *B, tb, bias.empty() ? nullptr : bias.data(),
                      versionsOf({B}), out[0].f.data()))
            fallback(in, out);
    };
}

Kernel makeDnnlMatMul(bool deploy, Kernel fallback)
{
    auto state = std::make_shared<GemmState>();
    return [=](const std::vector<const Value*>& in, std::vector<Value>& out) {
        const Value* A = in.size() > 0 ? in[0] : nullptr;
        const Value* B = in.size() > 1 ? in[1] : nullptr;
        // B a matrix shared by every row of A (rank >= 2): one matmul over all rows.
        if (!A || !B || A->type != Value::Type::Float || B->type != Value::Type::Float ||
            A->shape.size() < 2 || B->shape.size() != 2 || A->f.size() != A->numel() || B->f.size() != B->numel())
            return fallback(in, out);
        const int64_t K = A->shape.back(), N = B->shape[1];
        const int64_t rows = K ? static_cast<int64_t>(A->numel()) / K : 0;
        if (B->shape[0] != K || K == 0 || N == 0 || rows == 0)
            return fallback(in, out);
        std::vector<int64_t> os = A->shape;
        os.back() = N;
        prepare(out[0], Value::Type::Float, os);
        if (!dnnlGemm(*state, deploy, rows, K, N, 1.0f, A->f.data(), false, *B, false, nullptr, versionsOf({B}),
                      out[0].f.data()))
            fallback(in, out);
    };
}

} // namespace bonsai::exec
