// LlmDecoder: KV-cached generation on packed weights (bonsai/llm_decode.h).
#include "bonsai/llm_decode.h"

#include "bonsai/compress.h"
#include "bonsai/error.h"
#include "bonsai/kernels.h"
#include "llm/llm_impl.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <map>

namespace bonsai {

namespace {

using Clock = std::chrono::steady_clock;
enum Part { kPartHead = 7, kPartAttention = 8, kPartOther = 9 };

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

} // namespace

DecodeKernel decodeKernel(const LayerConfig& c, int64_t cols)
{
    DecodeKernel k;
    if (c.precision.kind == PrecisionKind::Ggml && !c.hasSparsity() && !c.hasRank()) {
        const DType t = c.precision.ggml;
        if (cols % int64_t(dtypeInfo(t).blockElems) != 0)
            return k;
        k.format = t == DType::Q8_0   ? PackedFormat::Q8_0
                   : t == DType::Q4_0 ? PackedFormat::Q4_0
                   : t == DType::Q4_K ? PackedFormat::Q4_K
                   : t == DType::Q6_K ? PackedFormat::Q6_K
                                      : PackedFormat::F32;
    } else if (c.precision.kind == PrecisionKind::Int && !c.hasRank()) {
        const int bits = c.precision.bits;
        const int64_t group = c.granularity == Granularity::Group ? int64_t(c.groupSize) : cols;
        if (bits < 2 || bits > 8 || (bits == 8 && !c.symmetric) || cols % 32 != 0 || group < 32 || group % 32 != 0 ||
            cols % group != 0)
            return k;
        k.format = bits >= 5 ? PackedFormat::Int8 : PackedFormat::Int4;
        k.group = group;
    }
    return k;
}

const char* DecodeTimes::partName(int i)
{
    static const char* names[kParts] = {"attn.q", "attn.k", "attn.v",  "attn.o",    "mlp.gate",
                                        "mlp.up", "mlp.down", "head", "attention", "other"};
    return i >= 0 && i < kParts ? names[i] : "?";
}

double DecodeTimes::total() const
{
    double s = 0;
    for (double v : seconds)
        s += v;
    return s;
}

struct LlmDecoder::Impl {
    const LanguageModel::Impl& m;
    DecodeOptions opt;
    LlmWeights weights; // embedding rows (and compressed weights while binding)
    std::vector<float> embedScratch;
    std::map<int, PackedMatrix> packed; // by Model::layers index
    std::vector<std::string> notes;
    int64_t maxCtx = 0, pos = 0;
    // Per block: K and V of every sequence, [seq][position][kvHeads * headDim].
    std::vector<std::vector<float>> kCache, vCache;
    DecodeTimes times;

    Impl(const LanguageModel::Impl& model, const std::vector<LayerConfig>& configs, const DecodeOptions& o)
        : m(model), opt(o), weights(model.model, &configs, 0)
    {
        if (opt.batch < 1)
            throw Error("decoder: the batch must be at least 1 sequence");
        maxCtx = opt.maxContext > 0 ? opt.maxContext
                                    : std::min<int64_t>(4096, m.cfg.maxPositions > 0 ? m.cfg.maxPositions : 4096);
        bool calib = false;
        for (size_t i = 0; i < configs.size(); ++i)
            calib |= weights.needsCalibration(static_cast<int>(i));
        if (calib) {
            if (opt.calibrationTokens.empty())
                throw Error("decoder: GPTQ/AWQ layers need calibration tokens");
            int samples = 1;
            for (const LayerConfig& c : configs)
                if (c.needsCalibration())
                    samples = std::max(samples, c.calibSamples);
            const int64_t ctx = 128;
            const int64_t chunks =
                std::min<int64_t>(samples, (static_cast<int64_t>(opt.calibrationTokens.size()) + ctx - 1) / ctx);
            int64_t T = 0;
            const auto seqs = makeLlmSeqs(opt.calibrationTokens, ctx, 0, chunks, m.bos, T);
            calibrateLlm(m, weights, seqs, T, {});
        }
        for (const LlmBlock& b : m.blocks)
            for (int li : b.layer)
                bind(li);
        bind(m.headLayer);
        const size_t per = size_t(opt.batch * maxCtx * m.cfg.kvHeads * m.cfg.headDim);
        kCache.assign(m.blocks.size(), std::vector<float>(per));
        vCache.assign(m.blocks.size(), std::vector<float>(per));
    }

    void bind(int li) // layer li as its configuration (weights.config) says
    {
        if (packed.count(li))
            return;
        const Model& model = m.model;
        const Layer& l = model.layers[static_cast<size_t>(li)];
        const TensorInfo& t = model.tensors[static_cast<size_t>(l.weight)];
        const int64_t rows = t.shape[0], cols = t.shape[1];
        const LayerConfig* c = weights.config(li);
        PackedMatrix pm;
        if (!c || c->isIdentity()) {
            const bool aligned = t.dtype != DType::F32 || reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0;
            if (PackedMatrix::viewable(t.dtype) && !t.dequant && aligned && cols % 32 == 0)
                pm = PackedMatrix::view(t.dtype, t.data, rows, cols);
            else
                pm = PackedMatrix::fromFloat(model.readFloat(l.weight), rows, cols);
        } else if (const DecodeKernel k = decodeKernel(*c, cols);
                   k.format != PackedFormat::F32 && c->precision.kind == PrecisionKind::Ggml) {
            pm = PackedMatrix::quantizeGgml(c->precision.ggml, model.readFloat(l.weight).data(), rows, cols);
        } else {
            std::vector<float> scratch;
            const float* wq = weights.get(li, scratch);
            if (k.format != PackedFormat::F32)
                pm = PackedMatrix::packInt(wq, rows, cols, c->precision.bits, c->symmetric, k.group);
            if (pm.empty()) {
                notes.push_back(l.name + ": kept as FP32 rows (no packed kernel for " + precisionName(c->precision) +
                                (c->hasSparsity() || c->hasRank() ? " with sparsity or low rank" : "") +
                                (c->granularity == Granularity::Group ? ", groups of " + std::to_string(c->groupSize)
                                                                       : std::string()) +
                                ")");
                pm = PackedMatrix::fromFloat(std::vector<float>(wq, wq + rows * cols), rows, cols);
            }
        }
        packed.emplace(li, std::move(pm));
    }

    void linear(int li, const RowMat& in, RowMat& out, int part)
    {
        const auto t0 = Clock::now();
        const PackedMatrix& w = packed.at(li);
        out.resize(in.rows(), w.rows());
        if (opt.floatActivations)
            packedMatmulFloat(w, in.data(), in.rows(), out.data());
        else
            packedMatmul(w, in.data(), in.rows(), out.data());
        const double dt = since(t0);
        times.seconds[size_t(part)] += dt;
        if (times.layerSeconds.size() < m.model.layers.size())
            times.layerSeconds.resize(m.model.layers.size());
        times.layerSeconds[size_t(li)] += dt;
    }

    // Several layers of the same input in one pass over the kernels (fewer thread
    // synchronisations per token); each layer's time is its measured share of the pass.
    struct Out {
        int li;
        RowMat* y;
        int part;
    };
    void linears(std::initializer_list<Out> outs, const RowMat& in)
    {
        if (opt.floatActivations) {
            for (const Out& o : outs)
                linear(o.li, in, *o.y, o.part);
            return;
        }
        const size_t m = outs.size();
        std::vector<const PackedMatrix*> ws(m);
        std::vector<float*> ys(m);
        std::vector<double> secs(m);
        size_t k = 0;
        for (const Out& o : outs) {
            ws[k] = &packed.at(o.li);
            o.y->resize(in.rows(), ws[k]->rows());
            ys[k++] = o.y->data();
        }
        packedMatmulMany(ws.data(), int(m), in.data(), in.rows(), ys.data(), secs.data());
        if (times.layerSeconds.size() < layerCount())
            times.layerSeconds.resize(layerCount());
        k = 0;
        for (const Out& o : outs) {
            times.seconds[size_t(o.part)] += secs[k];
            times.layerSeconds[size_t(o.li)] += secs[k++];
        }
    }
    size_t layerCount() const { return m.model.layers.size(); }

    std::vector<float> forward(const std::vector<int32_t>& ids, bool allLogits);
};

std::vector<float> LlmDecoder::Impl::forward(const std::vector<int32_t>& ids, bool allLogits)
{
    const LlmConfig& cfg = m.cfg;
    const int64_t B = opt.batch, T = static_cast<int64_t>(ids.size());
    if (T == 0 || T % B != 0)
        throw Error("decoder: " + std::to_string(T) + " ids do not split into " + std::to_string(B) + " sequences");
    const int64_t L = T / B;
    if (pos + L > maxCtx)
        throw Error("decoder: " + std::to_string(pos + L) + " positions exceed the cache of " +
                    std::to_string(maxCtx));
    const int64_t H = cfg.hidden, hd = cfg.headDim, nh = cfg.heads, nkv = cfg.kvHeads, half = hd / 2;
    const int64_t rep = nh / nkv, kvw = nkv * hd;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));

    auto t0 = Clock::now();
    RowMat x(T, H);
    for (int64_t r = 0; r < T; ++r) {
        const int32_t id = ids[size_t(r)];
        if (id < 0 || id >= cfg.vocab)
            throw Error("token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(cfg.vocab));
        weights.embeddingRow(m.embedLayer, id, H, x.row(r).data(), embedScratch);
    }
    // cos/sin of the new positions, computed as the full forward pass computes them.
    std::vector<float> cosT(size_t(L * half)), sinT(cosT.size());
    for (int64_t i = 0; i < L; ++i)
        for (int64_t f = 0; f < half; ++f) {
            const float ang = static_cast<float>(pos + i) * m.invFreq[size_t(f)];
            cosT[size_t(i * half + f)] = std::cos(ang);
            sinT[size_t(i * half + f)] = std::sin(ang);
        }
    times.seconds[kPartOther] += since(t0);

    auto rope = [&](RowMat& mat, int64_t heads) {
#pragma omp parallel for schedule(static) if (T > 4)
        for (int64_t r = 0; r < T; ++r) {
            const int64_t i = r % L;
            float* row = mat.row(r).data();
            llmRopeRow(row, heads, hd, cosT.data() + i * half, sinT.data() + i * half, cfg.rope);
        }
    };
    auto addBias = [](RowMat& y, const std::vector<float>& bias) {
        if (!bias.empty())
            y.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias.data(), static_cast<Eigen::Index>(bias.size()));
    };

    RowMat h, q, k, v, attn(T, nh * hd), g, u;
    const int64_t ctx = pos + L;
    for (size_t bi = 0; bi < m.blocks.size(); ++bi) {
        const LlmBlock& blk = m.blocks[bi];
        t0 = Clock::now();
        llmRmsNorm(x, blk.attnNorm, cfg.rmsEps, h);
        times.seconds[kPartOther] += since(t0);
        linears({{blk.layer[kQ], &q, kQ}, {blk.layer[kK], &k, kK}, {blk.layer[kV], &v, kV}}, h);
        t0 = Clock::now();
        addBias(q, blk.qBias);
        addBias(k, blk.kBias);
        addBias(v, blk.vBias);
        rope(q, nh);
        rope(k, nkv);
        float* kc = kCache[bi].data();
        float* vc = vCache[bi].data();
        for (int64_t r = 0; r < T; ++r) {
            const int64_t s = r / L, p = pos + r % L;
            std::copy_n(k.row(r).data(), kvw, kc + (s * maxCtx + p) * kvw);
            std::copy_n(v.row(r).data(), kvw, vc + (s * maxCtx + p) * kvw);
        }
        using Strided = Eigen::Map<const RowMat, 0, Eigen::OuterStride<>>;
        // Causal: new position i sees positions 0 .. pos + i. The new rows go in chunks of 32,
        // each against only the keys its last row sees, so a prefill computes little more than
        // the unmasked half of the scores (a prompt of 128: 62% of the full square). A task
        // takes all the query heads of one KV head, which read its keys and values from the
        // cache once (a decode step reads the whole cache: that is most of its attention time).
        const int64_t chunk = 32, chunks = (L + chunk - 1) / chunk, tasks = B * nkv * chunks;
        // In parallel once there are a few tens of microseconds of work (a decode step of a 500M
        // model at a context of 100 has: done on one thread it took a tenth of the step).
#pragma omp parallel for schedule(dynamic) if (tasks > 1 && B * nh * ctx * L * hd > 65536)
        for (int64_t ti = 0; ti < tasks; ++ti) {
            const int64_t c = chunks - 1 - ti % chunks; // longest chunks first
            const int64_t s = ti / chunks / nkv, kvh = ti / chunks % nkv;
            const int64_t i0 = c * chunk, rows = std::min(chunk, L - i0), seen = pos + i0 + rows;
            const Strided K(kc + s * maxCtx * kvw + kvh * hd, seen, hd, Eigen::OuterStride<>(kvw));
            const Strided V(vc + s * maxCtx * kvw + kvh * hd, seen, hd, Eigen::OuterStride<>(kvw));
            RowMat S;
            for (int64_t head = kvh * rep; head < (kvh + 1) * rep; ++head) {
                S.noalias() = q.block(s * L + i0, head * hd, rows, hd) * K.transpose();
                S *= scale;
                for (int64_t i = 0; i < rows; ++i)
                    llmSoftmaxPrefix(S.row(i).data(), pos + i0 + i + 1, seen);
                attn.block(s * L + i0, head * hd, rows, hd).noalias() = S * V;
            }
        }
        times.seconds[kPartAttention] += since(t0);
        linear(blk.layer[kO], attn, h, kO);
        t0 = Clock::now();
        x += h;
        llmRmsNorm(x, blk.mlpNorm, cfg.rmsEps, h);
        times.seconds[kPartOther] += since(t0);
        linears({{blk.layer[kGate], &g, kGate}, {blk.layer[kUp], &u, kUp}}, h);
        t0 = Clock::now();
#pragma omp parallel for schedule(static) if (T > 4)
        for (int64_t r = 0; r < T; ++r) {
            auto gr = g.row(r).array();
            gr = gr / (1.0f + (-gr).exp()) * u.row(r).array(); // SiLU(gate) * up
        }
        times.seconds[kPartOther] += since(t0);
        linear(blk.layer[kDown], g, h, kDown);
        t0 = Clock::now();
        x += h;
        times.seconds[kPartOther] += since(t0);
    }
    pos += L;

    t0 = Clock::now();
    RowMat last;
    if (allLogits || L == 1) {
        last.swap(x);
    } else {
        last.resize(B, H);
        for (int64_t s = 0; s < B; ++s)
            last.row(s) = x.row(s * L + L - 1);
    }
    RowMat normed, logits;
    llmRmsNorm(last, m.finalNorm, cfg.rmsEps, normed);
    times.seconds[kPartOther] += since(t0);
    linear(m.headLayer, normed, logits, kPartHead);
    return std::vector<float>(logits.data(), logits.data() + logits.size());
}

LlmDecoder::LlmDecoder(const LanguageModel& lm, const std::vector<LayerConfig>& configs, const DecodeOptions& options)
    : impl_(std::make_unique<Impl>(lm.impl(), configs, options))
{
}
LlmDecoder::~LlmDecoder() = default;

std::vector<float> LlmDecoder::forward(const std::vector<int32_t>& ids, bool allLogits)
{
    return impl_->forward(ids, allLogits);
}
void LlmDecoder::reset() { impl_->pos = 0; }
int64_t LlmDecoder::position() const { return impl_->pos; }
int64_t LlmDecoder::batch() const { return impl_->opt.batch; }
int64_t LlmDecoder::maxContext() const { return impl_->maxCtx; }
const std::vector<std::string>& LlmDecoder::notes() const { return impl_->notes; }
const DecodeTimes& LlmDecoder::times() const { return impl_->times; }
void LlmDecoder::resetTimes() { impl_->times = {}; }

uint64_t LlmDecoder::weightBytes() const
{
    uint64_t b = 0;
    for (const auto& [li, pm] : impl_->packed)
        b += pm.bytes();
    return b;
}

uint64_t LlmDecoder::cacheBytes() const
{
    uint64_t b = 0;
    for (const auto& c : impl_->kCache)
        b += c.size() * sizeof(float) * 2;
    return b;
}

std::string LlmDecoder::weightSummary() const
{
    std::map<std::string, int> count;
    for (const auto& [li, pm] : impl_->packed)
        ++count[std::string(packedFormatName(pm.format()))];
    std::string s;
    for (const auto& [name, n] : count)
        s += (s.empty() ? "" : ", ") + name + ": " + std::to_string(n) + (n == 1 ? " layer" : " layers");
    return s;
}

} // namespace bonsai
