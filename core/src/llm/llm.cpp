// The Llama-family forward pass (FP32, Eigen + OpenMP), layer-major over a batch of sequences.
#include "llm/llm_impl.h"

#include "bonsai/error.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

namespace bonsai {

namespace {

int findLayer(const Model& m, const std::string& tensorName)
{
    const int t = m.findTensor(tensorName);
    if (t < 0)
        return -1;
    for (size_t i = 0; i < m.layers.size(); ++i)
        if (m.layers[i].weight == t)
            return static_cast<int>(i);
    return -1;
}

std::vector<float> readVector(const Model& m, const std::string& name, int64_t expect)
{
    const int t = m.findTensor(name);
    if (t < 0)
        throw FileError(m.path, "language model tensor '" + name + "' is missing");
    const TensorInfo& info = m.tensors[static_cast<size_t>(t)];
    if (info.numel != static_cast<uint64_t>(expect))
        throw FileError(m.path, "tensor '" + name + "' has " + std::to_string(info.numel) +
                                    " values; the configuration implies " + std::to_string(expect));
    return m.readFloat(t);
}

void addBias(RowMat& y, const std::vector<float>& bias)
{
    if (bias.empty())
        return;
    y.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias.data(), static_cast<Eigen::Index>(bias.size()));
}

} // namespace

void llmRmsNorm(const RowMat& x, const std::vector<float>& weight, double eps, RowMat& out)
{
    out.resize(x.rows(), x.cols());
    const int64_t n = x.cols();
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < x.rows(); ++r) {
        const float* in = x.row(r).data();
        double ss = 0;
        for (int64_t c = 0; c < n; ++c)
            ss += double(in[c]) * in[c];
        const float inv = static_cast<float>(1.0 / std::sqrt(ss / double(n) + eps));
        float* o = out.row(r).data();
        for (int64_t c = 0; c < n; ++c)
            o[c] = weight[static_cast<size_t>(c)] * (in[c] * inv);
    }
}

void llmRopeRow(float* row, int64_t heads, int64_t hd, const float* cosP, const float* sinP, RopeStyle style)
{
    const int64_t half = hd / 2;
    for (int64_t hh = 0; hh < heads; ++hh) {
        float* xh = row + hh * hd;
        for (int64_t i = 0; i < half; ++i) {
            const float c = cosP[i], sn = sinP[i];
            float& a = style == RopeStyle::Neox ? xh[i] : xh[2 * i];
            float& b = style == RopeStyle::Neox ? xh[i + half] : xh[2 * i + 1];
            const float x1 = a, x2 = b;
            a = x1 * c - x2 * sn;
            b = x2 * c + x1 * sn;
        }
    }
}

void llmSoftmaxPrefix(float* row, int64_t seen, int64_t len)
{
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < seen; ++j)
        mx = std::max(mx, row[j]);
    Eigen::Map<Eigen::ArrayXf> r(row, seen);
    r = (r - mx).exp(); // Eigen's vectorised exp
    const float inv = 1.0f / r.sum();
    for (int64_t j = 0; j < seen; ++j)
        row[j] *= inv;
    for (int64_t j = seen; j < len; ++j)
        row[j] = 0;
}

LanguageModel::Impl::Impl(const Model& m) : model(m), cfg(LlmConfig::fromModel(m))
{
    const bool gguf = m.format == Format::Gguf;
    auto layerOf = [&](const std::string& hf, const std::string& gg, int64_t rows, int64_t cols) {
        const std::string name = (gguf ? gg : hf) + ".weight";
        const int li = findLayer(m, name);
        if (li < 0)
            throw FileError(m.path, "language model tensor '" + name + "' is missing");
        const TensorInfo& t = m.tensors[static_cast<size_t>(m.layers[static_cast<size_t>(li)].weight)];
        if (t.shape.size() != 2 || t.shape[0] != rows || t.shape[1] != cols)
            throw FileError(m.path, "tensor '" + name + "' has shape " + [&] {
                std::string s = "[";
                for (size_t i = 0; i < t.shape.size(); ++i)
                    s += (i ? ", " : "") + std::to_string(t.shape[i]);
                return s + "]";
            }() + "; the configuration implies [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
        return li;
    };
    const int64_t H = cfg.hidden, hd = cfg.headDim;
    embedLayer = layerOf("model.embed_tokens", "token_embd", cfg.vocab, H);
    headLayer = cfg.tiedEmbeddings ? embedLayer : layerOf("lm_head", "output", cfg.vocab, H);
    finalNorm = readVector(m, gguf ? "output_norm.weight" : "model.norm.weight", H);
    blocks.resize(static_cast<size_t>(cfg.layers));
    for (int64_t b = 0; b < cfg.layers; ++b) {
        const std::string hp = "model.layers." + std::to_string(b) + ".";
        const std::string gp = "blk." + std::to_string(b) + ".";
        LlmBlock& blk = blocks[static_cast<size_t>(b)];
        blk.layer[kQ] = layerOf(hp + "self_attn.q_proj", gp + "attn_q", cfg.heads * hd, H);
        blk.layer[kK] = layerOf(hp + "self_attn.k_proj", gp + "attn_k", cfg.kvHeads * hd, H);
        blk.layer[kV] = layerOf(hp + "self_attn.v_proj", gp + "attn_v", cfg.kvHeads * hd, H);
        blk.layer[kO] = layerOf(hp + "self_attn.o_proj", gp + "attn_output", H, cfg.heads * hd);
        blk.layer[kGate] = layerOf(hp + "mlp.gate_proj", gp + "ffn_gate", cfg.intermediate, H);
        blk.layer[kUp] = layerOf(hp + "mlp.up_proj", gp + "ffn_up", cfg.intermediate, H);
        blk.layer[kDown] = layerOf(hp + "mlp.down_proj", gp + "ffn_down", H, cfg.intermediate);
        blk.attnNorm = readVector(m, gguf ? gp + "attn_norm.weight" : hp + "input_layernorm.weight", H);
        blk.mlpNorm = readVector(m, gguf ? gp + "ffn_norm.weight" : hp + "post_attention_layernorm.weight", H);
        if (cfg.attentionBias) {
            blk.qBias = readVector(m, gguf ? gp + "attn_q.bias" : hp + "self_attn.q_proj.bias", cfg.heads * hd);
            blk.kBias = readVector(m, gguf ? gp + "attn_k.bias" : hp + "self_attn.k_proj.bias", cfg.kvHeads * hd);
            blk.vBias = readVector(m, gguf ? gp + "attn_v.bias" : hp + "self_attn.v_proj.bias", cfg.kvHeads * hd);
        }
    }

    // RoPE frequencies, with Llama 3.1 / linear scaling or GGUF's rope_freqs factors.
    invFreq.resize(static_cast<size_t>(hd / 2));
    const int ropeFreqs = gguf ? m.findTensor("rope_freqs.weight") : -1;
    std::vector<float> factors;
    if (ropeFreqs >= 0)
        factors = readVector(m, "rope_freqs.weight", hd / 2);
    for (int64_t i = 0; i < hd / 2; ++i) {
        double f = 1.0 / std::pow(cfg.ropeTheta, double(2 * i) / double(hd));
        if (cfg.ropeFactor > 0) {
            f /= cfg.llama3RopeDivisor(f);
        } else if (cfg.ropeFactor < 0) {
            f /= -cfg.ropeFactor;
        }
        if (!factors.empty())
            f /= double(factors[static_cast<size_t>(i)]);
        invFreq[static_cast<size_t>(i)] = static_cast<float>(f);
    }

    tokenizer = Tokenizer::forModel(m);
    bos = tokenizer->bos() >= 0 ? tokenizer->bos() : cfg.bosId;
    if (cfg.bosId >= 0 && m.format == Format::Safetensors)
        bos = cfg.bosId;
    if (bos < 0 || bos >= cfg.vocab)
        throw FileError(m.path, "the model has no beginning-of-sequence token id within its vocabulary");
}

RowMat LanguageModel::Impl::embed(const std::vector<LlmSeq>& seqs, int64_t T, LlmWeights& w) const
{
    RowMat x(T, cfg.hidden);
    std::vector<float> scratch;
    for (const LlmSeq& s : seqs)
        for (int64_t i = 0; i < s.len; ++i) {
            const int32_t id = s.input[static_cast<size_t>(i)];
            if (id < 0 || id >= cfg.vocab)
                throw Error("token id " + std::to_string(id) + " is outside the vocabulary of " +
                            std::to_string(cfg.vocab));
            w.embeddingRow(embedLayer, id, cfg.hidden, x.row(s.offset + i).data(), scratch);
        }
    return x;
}

void LanguageModel::Impl::blocksForward(const std::vector<LlmSeq>& seqs, RowMat& x, LlmWeights& w,
                                        const CalibrateFn& calibrate,
                                        const std::function<void(int)>& afterBlock, int64_t firstBlock) const
{
    const int64_t T = x.rows(), hd = cfg.headDim, nh = cfg.heads, nkv = cfg.kvHeads;
    const int64_t rep = nh / nkv, half = hd / 2;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    std::vector<float> scratch;
    RowMat h, q, k, v, attn, g, u;

    auto linear = [&](const RowMat& in, int layer, RowMat& out) {
        const Layer& l = model.layers[static_cast<size_t>(layer)];
        const TensorInfo& t = model.tensors[static_cast<size_t>(l.weight)];
        const float* p = w.get(layer, scratch);
        Eigen::Map<const RowMat> W(p, t.shape[0], t.shape[1]);
        out.resize(in.rows(), W.rows());
        out.noalias() = in * W.transpose();
    };
    // cos/sin of position x frequency, once per call (positions up to the longest sequence).
    int64_t maxLen = 0;
    for (const LlmSeq& sq : seqs)
        maxLen = std::max(maxLen, sq.len);
    std::vector<float> cosT(static_cast<size_t>(maxLen * half)), sinT(cosT.size());
    for (int64_t pos = 0; pos < maxLen; ++pos)
        for (int64_t i = 0; i < half; ++i) {
            const float ang = static_cast<float>(pos) * invFreq[static_cast<size_t>(i)];
            cosT[size_t(pos * half + i)] = std::cos(ang);
            sinT[size_t(pos * half + i)] = std::sin(ang);
        }
    auto rope = [&](RowMat& m, int64_t heads) {
#pragma omp parallel for schedule(static)
        for (size_t si = 0; si < seqs.size(); ++si) {
            const LlmSeq& s = seqs[si];
            for (int64_t pos = 0; pos < s.len; ++pos) {
                float* row = m.row(s.offset + pos).data();
                llmRopeRow(row, heads, hd, cosT.data() + pos * half, sinT.data() + pos * half, cfg.rope);
            }
        }
    };

    for (int64_t bi = firstBlock; bi < cfg.layers; ++bi) {
        const LlmBlock& blk = blocks[static_cast<size_t>(bi)];
        llmRmsNorm(x, blk.attnNorm, cfg.rmsEps, h);
        if (calibrate)
            calibrate(static_cast<int>(bi), {kQ, kK, kV}, h);
        linear(h, blk.layer[kQ], q);
        addBias(q, blk.qBias);
        linear(h, blk.layer[kK], k);
        addBias(k, blk.kBias);
        linear(h, blk.layer[kV], v);
        addBias(v, blk.vBias);
        rope(q, nh);
        rope(k, nkv);

        attn.resize(T, nh * hd);
        const int64_t pairs = static_cast<int64_t>(seqs.size()) * nh;
#pragma omp parallel for schedule(dynamic)
        for (int64_t pi = 0; pi < pairs; ++pi) {
            const LlmSeq& s = seqs[static_cast<size_t>(pi / nh)];
            const int64_t head = pi % nh, kvh = head / rep;
            const auto Q = q.block(s.offset, head * hd, s.len, hd);
            const auto K = k.block(s.offset, kvh * hd, s.len, hd);
            const auto V = v.block(s.offset, kvh * hd, s.len, hd);
            RowMat S = (Q * K.transpose()) * scale;
            for (int64_t i = 0; i < s.len; ++i) {
                llmSoftmaxPrefix(S.row(i).data(), i + 1, s.len);
            }
            attn.block(s.offset, head * hd, s.len, hd).noalias() = S * V;
        }
        if (calibrate)
            calibrate(static_cast<int>(bi), {kO}, attn);
        linear(attn, blk.layer[kO], h);
        x += h;

        llmRmsNorm(x, blk.mlpNorm, cfg.rmsEps, h);
        if (calibrate)
            calibrate(static_cast<int>(bi), {kGate, kUp}, h);
        linear(h, blk.layer[kGate], g);
        linear(h, blk.layer[kUp], u);
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < T; ++r) {
            auto gr = g.row(r).array();
            gr = gr / (1.0f + (-gr).exp()) * u.row(r).array(); // SiLU(gate) * up
        }
        if (calibrate)
            calibrate(static_cast<int>(bi), {kDown}, g);
        linear(g, blk.layer[kDown], h);
        x += h;
        if (afterBlock)
            afterBlock(static_cast<int>(bi));
    }
    RowMat normed;
    llmRmsNorm(x, finalNorm, cfg.rmsEps, normed);
    x.swap(normed);
}

RowMat LanguageModel::Impl::headLogits(const RowMat& x, int64_t offset, int64_t len, const float* head) const
{
    Eigen::Map<const RowMat> E(head, cfg.vocab, cfg.hidden);
    RowMat logits(len, cfg.vocab);
    logits.noalias() = x.middleRows(offset, len) * E.transpose();
    return logits;
}

// ------------------------------------------------------------------------------------------

LanguageModel::LanguageModel(const Model& model) : impl_(std::make_unique<Impl>(model)) {}
LanguageModel::~LanguageModel() = default;
const LlmConfig& LanguageModel::config() const { return impl_->cfg; }
const Tokenizer& LanguageModel::tokenizer() const { return *impl_->tokenizer; }
const Model& LanguageModel::model() const { return impl_->model; }

// Sequences for chunks [first, last) of `tokens`: [BOS] + chunk[0 .. len-2] as inputs.
std::vector<LlmSeq> makeLlmSeqs(const std::vector<int32_t>& tokens, int64_t ctx, int64_t first, int64_t last,
                             int32_t bos, int64_t& T)
{
    std::vector<LlmSeq> seqs;
    T = 0;
    const int64_t n = static_cast<int64_t>(tokens.size());
    for (int64_t c = first; c < last; ++c) {
        LlmSeq s;
        s.chunk = c;
        const int64_t b = c * ctx, e = std::min(n, b + ctx);
        s.len = e - b;
        s.offset = T;
        s.target.assign(tokens.begin() + b, tokens.begin() + e);
        s.input.reserve(static_cast<size_t>(s.len));
        s.input.push_back(bos);
        s.input.insert(s.input.end(), tokens.begin() + b, tokens.begin() + e - 1);
        T += s.len;
        seqs.push_back(std::move(s));
    }
    return seqs;
}

// Log-softmax statistics of one sequence's logits: NLL of the targets and, against base
// logits when given, KL(base || compressed) and top-1 agreement.
LlmRowStats scoreLlmRows(const RowMat& logits, const RowMat* base, const std::vector<int32_t>& target)
{
    double nll = 0, baseNll = 0, klSum = 0;
    int64_t agree = 0;
    const int64_t V = logits.cols();
#pragma omp parallel for schedule(static) reduction(+ : nll, baseNll, klSum, agree) if (logits.rows() > 8)
    for (int64_t r = 0; r < logits.rows(); ++r) {
        const float* l = logits.row(r).data();
        auto lse = [V](const float* p) {
            const Eigen::Map<const Eigen::ArrayXf> a(p, V);
            const float mx = a.maxCoeff();
            return double(mx) + std::log(double((a - mx).exp().sum()));
        };
        const double lseC = lse(l);
        nll += lseC - double(l[target[static_cast<size_t>(r)]]);
        if (base) {
            const float* b = base->row(r).data();
            const double lseB = lse(b);
            baseNll += lseB - double(b[target[static_cast<size_t>(r)]]);
            // KL(base || compressed) = sum p_b (log p_b - log p_c), with the log-probabilities
            // shifted in float (differences of nearby logits) and summed in double.
            const Eigen::Map<const Eigen::ArrayXf> ab(b, V), ac(l, V);
            const Eigen::ArrayXf lpB = ab - float(lseB);
            const Eigen::ArrayXf lpC = ac - float(lseC);
            const double kl = (lpB.exp() * (lpB - lpC)).cast<double>().sum();
            Eigen::Index argB = 0, argC = 0;
            ab.maxCoeff(&argB);
            ac.maxCoeff(&argC);
            klSum += std::max(0.0, kl);
            agree += argB == argC ? 1 : 0;
        }
    }
    return LlmRowStats{nll, baseNll, klSum, agree};
}

std::vector<float> LanguageModel::logits(const std::vector<int32_t>& ids, const std::vector<LayerConfig>& configs,
                                         const std::vector<int32_t>& calibrationTokens) const
{
    const Impl& m = *impl_;
    if (ids.empty())
        return {};
    LlmWeights w(m.model, &configs, uint64_t(1) << 30);
    bool calib = false;
    for (size_t i = 0; i < m.model.layers.size() && !configs.empty(); ++i)
        calib |= w.needsCalibration(static_cast<int>(i));
    if (calib) {
        if (calibrationTokens.empty())
            throw Error("GPTQ/AWQ layers need calibration text");
        int samples = 1;
        for (const LayerConfig& c : configs)
            if (c.needsCalibration())
                samples = std::max(samples, c.calibSamples);
        const int64_t ctx = 128;
        const int64_t chunks = std::min<int64_t>(samples, (static_cast<int64_t>(calibrationTokens.size()) + ctx - 1) / ctx);
        int64_t T = 0;
        const auto seqs = makeLlmSeqs(calibrationTokens, ctx, 0, chunks, m.bos, T);
        calibrateLlm(m, w, seqs, T, {});
    }
    std::vector<LlmSeq> seqs(1);
    seqs[0].len = static_cast<int64_t>(ids.size());
    seqs[0].input = ids;
    RowMat x = m.embed(seqs, seqs[0].len, w);
    m.blocksForward(seqs, x, w, {}, {});
    std::vector<float> scratch;
    const RowMat lg = m.headLogits(x, 0, seqs[0].len, w.get(m.headLayer, scratch));
    return std::vector<float>(lg.data(), lg.data() + lg.size());
}

PerplexityResult LanguageModel::perplexity(const std::vector<int32_t>& tokens, const std::vector<LayerConfig>& configs,
                                           const PerplexityOptions& opt, const PerplexityCallback& progress) const
{
    const Impl& m = *impl_;
    const auto t0 = std::chrono::steady_clock::now();
    if (opt.ctx < 1)
        throw Error("perplexity: the context length must be at least 1 token, not " + std::to_string(opt.ctx));
    if (tokens.empty())
        throw Error("perplexity: the text has no tokens");
    const int64_t ctx = opt.ctx;
    int64_t chunks = (static_cast<int64_t>(tokens.size()) + ctx - 1) / ctx;
    if (opt.maxChunks > 0)
        chunks = std::min(chunks, opt.maxChunks);

    LlmWeights comp(m.model, &configs, uint64_t(1) << 30);
    LlmWeights base(m.model, nullptr, 0);
    const bool compare = opt.compareToBase && comp.anyCompressed();

    PerplexityProgress pp;
    pp.chunksTotal = chunks;
    PerplexityResult res;
    res.chunks = chunks;
    res.originalBytes = m.model.totalBytes();

    // Work units: token-blocks of the calibration pass, then of the evaluation passes.
    int64_t calibChunks = 0;
    int samples = 0;
    for (size_t i = 0; i < m.model.layers.size() && comp.anyCompressed(); ++i)
        if (comp.needsCalibration(static_cast<int>(i)))
            samples = std::max(samples, configs[i].calibSamples);
    const std::vector<int32_t>& calibTokens = opt.calibrationTokens.empty() ? tokens : opt.calibrationTokens;
    if (samples > 0)
        calibChunks = std::min<int64_t>(samples, (static_cast<int64_t>(calibTokens.size()) + ctx - 1) / ctx);
    const double calibWork = double(calibChunks * ctx) * double(m.cfg.layers);
    const double evalWork = double(std::min<int64_t>(chunks * ctx, static_cast<int64_t>(tokens.size()))) *
                            double(m.cfg.layers) * (compare ? 2.0 : 1.0);
    double done = 0;
    auto report = [&](const std::string& stage) {
        pp.stage = stage;
        pp.fraction = std::min(1.0, done / std::max(1.0, calibWork + evalWork));
        if (progress && !progress(pp))
            throw Cancelled();
    };

    if (calibChunks > 0) {
        int64_t T = 0;
        const auto seqs = makeLlmSeqs(calibTokens, ctx, 0, calibChunks, m.bos, T);
        report("calibrating");
        calibrateLlm(m, comp, seqs, T, [&](int block) {
            done += double(T);
            report("calibrating block " + std::to_string(block + 1) + "/" + std::to_string(m.cfg.layers));
        });
        res.notes.push_back("calibrated on " + std::to_string(calibChunks) + " chunks (" + std::to_string(T) +
                            " tokens)");
    }

    double nll = 0, baseNll = 0, kl = 0;
    int64_t agree = 0, scored = 0;
    std::vector<float> headScratch, baseHeadScratch;
    int64_t next = 0;
    while (next < chunks) {
        int64_t last = next + 1;
        while (last < chunks && (last + 1 - next) * ctx <= std::max<int64_t>(opt.batchTokens, ctx))
            ++last;
        int64_t T = 0;
        const auto seqs = makeLlmSeqs(tokens, ctx, next, last, m.bos, T);
        auto afterBlock = [&](int block) {
            done += double(T);
            report("evaluating chunks " + std::to_string(next + 1) + "-" + std::to_string(last) + ", block " +
                   std::to_string(block + 1) + "/" + std::to_string(m.cfg.layers));
        };
        RowMat xb;
        if (compare) {
            xb = m.embed(seqs, T, base);
            m.blocksForward(seqs, xb, base, {}, afterBlock);
        }
        RowMat xc = m.embed(seqs, T, comp);
        m.blocksForward(seqs, xc, comp, {}, afterBlock);
        const float* head = comp.get(m.headLayer, headScratch);
        const float* baseHead = compare ? base.get(m.headLayer, baseHeadScratch) : nullptr;
        for (const LlmSeq& s : seqs) {
            const RowMat lc = m.headLogits(xc, s.offset, s.len, head);
            RowMat lb;
            if (compare)
                lb = m.headLogits(xb, s.offset, s.len, baseHead);
            const LlmRowStats st = scoreLlmRows(lc, compare ? &lb : nullptr, s.target);
            nll += st.nll;
            baseNll += st.baseNll;
            kl += st.kl;
            agree += st.agree;
            scored += s.len;
            pp.chunkPerplexity.push_back(std::exp(st.nll / double(s.len)));
            ++pp.chunksDone;
            pp.tokensDone = static_cast<uint64_t>(scored);
            pp.perplexity = std::exp(nll / double(scored));
            pp.kl = compare ? kl / double(scored) : 0.0;
            pp.agreement = compare ? double(agree) / double(scored) : 1.0;
            report("evaluating");
        }
        headScratch.clear();
        baseHeadScratch.clear();
        next = last;
    }
    res.tokens = static_cast<uint64_t>(scored);
    res.nll = nll / double(scored);
    res.perplexity = std::exp(res.nll);
    res.kl = compare ? kl / double(scored) : 0.0;
    res.agreement = compare ? double(agree) / double(scored) : 1.0;
    res.basePerplexity = compare ? std::exp(baseNll / double(scored)) : res.perplexity;
    res.chunkPerplexity = pp.chunkPerplexity;
    res.compressedBytes = comp.compressedBytes();
    for (const std::string& n : comp.notes)
        res.notes.push_back(n);
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return res;
}

} // namespace bonsai
