#include "bonsai/compress.h"

#include "bonsai/error.h"
#include "compress/gptq.h"
#include "bonsai/layout.h"
#include "bonsai/lowrank.h"
#include "bonsai/recipe.h"
#include "bonsai/sparsity.h"
#include "bonsai/ggml_blocks.h"
#include "compress/awq.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

namespace bonsai {

double storedBitsPerValue(DType t)
{
    const auto& i = dtypeInfo(t);
    return 8.0 * i.blockBytes / i.blockElems;
}

// ---------- layout ----------

std::vector<float> layerMatrix(const Model& model, const Layer& layer, uint64_t& rows, uint64_t& cols)
{
    const TensorInfo& t = model.tensors.at(static_cast<size_t>(layer.weight));
    const AxisSplit s = splitAtAxis(t.shape, layer.outAxis);
    rows = s.channels;
    cols = rows ? t.numel / rows : 0;
    std::vector<float> raw = model.readFloat(layer.weight);
    if (s.outer == 1)
        return raw; // already channel-major
    std::vector<float> m(raw.size());
    layoutToMatrix(t.shape, layer.outAxis, raw.data(), m.data());
    return m;
}

// ---------- precision ----------

IntQuantConfig intQuantConfig(const LayerConfig& c)
{
    IntQuantConfig q;
    q.bits = c.precision.bits;
    q.granularity = c.granularity;
    q.groupSize = c.groupSize;
    q.symmetric = c.symmetric;
    q.clipSearch = c.clipSearch;
    return q;
}

namespace {

FloatFormat floatFormat(PrecisionKind k)
{
    switch (k) {
    case PrecisionKind::FP16: return FloatFormat::FP16;
    case PrecisionKind::BF16: return FloatFormat::BF16;
    case PrecisionKind::FP8_E4M3: return FloatFormat::FP8_E4M3;
    default: return FloatFormat::FP8_E5M2;
    }
}

bool isFp8(PrecisionKind k) { return k == PrecisionKind::FP8_E4M3 || k == PrecisionKind::FP8_E5M2; }

void checkApplicable(const LayerConfig& c, uint64_t cols, const std::string& name, const char* what)
{
    if (c.precision.kind == PrecisionKind::Ggml) {
        const uint32_t block = dtypeInfo(c.precision.ggml).blockElems;
        if (cols % block != 0)
            throw Error("layer '" + name + "': " + precisionName(c.precision) + " stores blocks of " +
                        std::to_string(block) + " values along each row, but the " + what + " rows have " +
                        std::to_string(cols) + " values");
    }
    if (isFp8(c.precision.kind) && c.granularity == Granularity::Group)
        throw Error("layer '" + name + "': FP8 takes a per-tensor or per-channel scale, not groups");
}

// Storage of a dense rows x cols matrix at the layer precision, split into per-value bits and
// the rest (scales, zero points), so that sparse layouts can count only their kept values.
struct PrecisionBits {
    double perValue = 0;
    uint64_t fixed = 0;
    uint64_t total(uint64_t values) const { return static_cast<uint64_t>(std::ceil(perValue * static_cast<double>(values))) + fixed; }
};

PrecisionBits precisionBits(const LayerConfig& c, uint64_t rows, uint64_t cols, DType source)
{
    const uint64_t n = rows * cols;
    PrecisionBits b;
    switch (c.precision.kind) {
    case PrecisionKind::FP32:
        b.perValue = storedBitsPerValue(source);
        break;
    case PrecisionKind::Int: {
        const auto q = intQuantConfig(c);
        b.perValue = q.bits;
        b.fixed = intStorageBits(rows, cols, q) - n * static_cast<uint64_t>(q.bits);
        break;
    }
    case PrecisionKind::NF4:
        b.perValue = 4;
        b.fixed = nf4StorageBits(n) - 4 * n;
        break;
    case PrecisionKind::Ggml:
        b.perValue = storedBitsPerValue(c.precision.ggml);
        break;
    default: {
        const FloatFormat f = floatFormat(c.precision.kind);
        const Granularity g = isFp8(c.precision.kind) ? c.granularity : Granularity::PerTensor;
        const uint64_t total = floatStorageBits(rows, cols, f, g);
        b.perValue = isFp8(c.precision.kind) ? 8 : 16;
        b.fixed = total - static_cast<uint64_t>(b.perValue) * n;
    }
    }
    return b;
}

// The next layer whose input dimension matches `rows`: the consumer of pruned channels in a
// sequential network.
std::string findConsumer(const Model& m, int layer, uint64_t rows)
{
    for (size_t j = static_cast<size_t>(layer) + 1; j < m.layers.size(); ++j) {
        const auto& t = m.tensors[static_cast<size_t>(m.layers[j].weight)];
        if (t.shape.size() < 2)
            continue;
        const size_t inAxis = m.layers[j].outAxis == 0 ? 1 : 0;
        if (static_cast<uint64_t>(t.shape[inAxis]) == rows)
            return m.layers[j].name;
        if (t.shape.size() == 2 && static_cast<uint64_t>(t.shape[inAxis]) % rows == 0)
            return m.layers[j].name + " (after flattening)";
    }
    return {};
}

} // namespace

void fakeQuantize(const LayerConfig& c, float* m, uint64_t rows, uint64_t cols)
{
    const uint64_t n = rows * cols;
    if (n == 0)
        return;
    switch (c.precision.kind) {
    case PrecisionKind::FP32: return;
    case PrecisionKind::Int: fakeQuantInt(m, rows, cols, intQuantConfig(c), m); return;
    case PrecisionKind::NF4: fakeQuantNf4(m, n, m); return;
    case PrecisionKind::Ggml: fakeQuantGgml(c.precision.ggml, m, n, m); return;
    default:
        fakeQuantFloat(m, rows, cols, floatFormat(c.precision.kind),
                       isFp8(c.precision.kind) ? c.granularity : Granularity::PerTensor, m);
    }
}

// ---------- one layer ----------

namespace {

bool sameSparsity(const LayerConfig& a, const LayerConfig& b)
{
    return a.sparsity == b.sparsity && a.pattern == b.pattern && a.n == b.n && a.m == b.m && a.scope == b.scope &&
           a.channelNorm == b.channelNorm;
}

// The first r columns of U and rows of V (the factors are balanced: sqrt(s) in both, so the
// truncation is the rank-r truncated SVD of the rank-K one).
LowRankFactors truncateFactors(const LowRankFactors& f, uint64_t r)
{
    LowRankFactors t;
    t.rows = f.rows;
    t.cols = f.cols;
    t.rank = std::min(r, f.rank);
    t.u.resize(t.rows * t.rank);
    for (uint64_t i = 0; i < t.rows; ++i)
        std::memcpy(&t.u[i * t.rank], &f.u[i * f.rank], t.rank * sizeof(float));
    t.v.assign(f.v.begin(), f.v.begin() + static_cast<std::ptrdiff_t>(t.rank * t.cols));
    t.singularValues.assign(f.singularValues.begin(),
                            f.singularValues.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(t.rank, f.singularValues.size())));
    t.totalEnergy = f.totalEnergy;
    for (double s : t.singularValues)
        t.retainedEnergy += s * s;
    t.exact = f.exact;
    t.split = f.split;
    return t;
}

// The precision step of a dense rows x cols matrix (the whole layer or its kept rows): GPTQ or
// AWQ when the configuration asks for it and calibration data of the right width are there,
// otherwise fakeQuantize (round to nearest) with a note saying why. The grid, and so the
// storage, is the same either way.
void quantizeDense(const LayerConfig& cfg, float* m, uint64_t rows, uint64_t cols, const LayerCalibration* cal,
                   bool masked, LayerResult& r)
{
    if (!cfg.needsCalibration() || rows * cols == 0) {
        fakeQuantize(cfg, m, rows, cols);
        return;
    }
    const std::string method(methodName(cfg.method));
    const auto c = static_cast<int64_t>(cols);
    bool done = false;
    if (cfg.method == QuantMethod::GPTQ && cal && cal->hessian.size() > 0) {
        if (cal->hessian.rows() == c && cal->hessian.cols() == c) {
            GptqOptions o;
            o.damping = cfg.damping;
            o.actOrder = cfg.actOrder;
            const GptqStats st = gptqQuantize(m, static_cast<int64_t>(rows), c, cal->hessian, intQuantConfig(cfg), o);
            char buf[160];
            std::snprintf(buf, sizeof buf, "gptq: calibrated proxy error %.3g x round-to-nearest's%s",
                          st.rtnError > 0 ? st.error / st.rtnError : 1.0,
                          st.dampingRaises ? " (damping raised: Hessian not positive definite)" : "");
            r.notes.emplace_back(buf);
            done = true;
        } else {
            r.notes.push_back("gptq calibration data have " + std::to_string(cal->hessian.rows()) +
                              " inputs but the layer has " + std::to_string(cols) + "; round-to-nearest used");
        }
    } else if (cfg.method == QuantMethod::AWQ && cal && cal->samples > 0 && !cal->inputs.empty()) {
        if (cal->inputs.size() == static_cast<size_t>(cal->samples) * cols) {
            const AwqResult a = awqQuantize({{m, static_cast<int64_t>(rows)}}, c, cal->inputs.data(), cal->samples,
                                            intQuantConfig(cfg));
            char buf[160];
            std::snprintf(buf, sizeof buf, "awq: alpha %.2f, calibrated output error %.3g x round-to-nearest's", a.alpha,
                          a.rtnError > 0 ? a.error / a.rtnError : 1.0);
            r.notes.emplace_back(buf);
            done = true;
        } else {
            r.notes.push_back("awq calibration inputs do not have the layer's " + std::to_string(cols) +
                              " values per row; round-to-nearest used");
        }
    } else {
        r.notes.push_back(method + " needs calibration data; round-to-nearest used");
    }
    if (!done)
        fakeQuantize(cfg, m, rows, cols);
    else if (masked)
        r.notes.push_back(method + " did not account for the sparsity mask (pruned weights are set back to zero after it)");
}

uint64_t rankTarget(uint64_t r, uint64_t maxRank)
{
    uint64_t k = 32;
    while (k < r)
        k *= 2;
    return std::min(k, maxRank);
}

} // namespace

LayerResult compressLayer(const Model& model, int layerIndex, const LayerConfig& cfg,
                          std::vector<float>* reconstructed, const std::vector<uint8_t>* globalMask,
                          RankCache* rankCache, const LayerCalibration* calibration, LowRankFactors* factors)
{
    const Layer& layer = model.layers.at(static_cast<size_t>(layerIndex));
    const TensorInfo& t = model.tensors.at(static_cast<size_t>(layer.weight));
    LayerResult r;
    r.layer = layerIndex;
    r.name = layer.name;
    r.config = cfg;
    r.params = t.numel;
    r.originalBits = t.storedBytes() * 8;
    if (layer.bias >= 0)
        r.biasBits = model.tensors[static_cast<size_t>(layer.bias)].storedBytes() * 8;

    uint64_t rows = 0, cols = 0;
    const std::vector<float> original = layerMatrix(model, layer, rows, cols);
    r.rows = rows;
    r.cols = cols;
    r.keptValues = t.numel;

    if (cfg.isIdentity()) {
        r.compressedBits = r.originalBits;
        r.error = errorMetrics(original.data(), original.data(), original.size());
        if (reconstructed)
            *reconstructed = model.readFloat(layer.weight);
        return r;
    }

    std::vector<float> w = original;
    // 1. Sparsity
    std::vector<uint8_t> mask;
    SparseStorage sparse;
    bool sparseLayout = false;
    std::vector<uint64_t> keptRows;
    if (cfg.pattern == SparsityPattern::NM) {
        mask = nmMask(w.data(), rows, cols, static_cast<uint32_t>(cfg.n), static_cast<uint32_t>(cfg.m), NmTail::Proportional);
        sparse = nmStorage(rows, cols, static_cast<uint32_t>(cfg.n), static_cast<uint32_t>(cfg.m), NmTail::Proportional);
        sparseLayout = true;
    } else if (cfg.sparsity > 0 && cfg.pattern == SparsityPattern::Unstructured) {
        mask = globalMask ? *globalMask : magnitudeMask(w.data(), rows, cols, cfg.sparsity);
        if (mask.size() != w.size())
            throw Error("layer '" + layer.name + "': sparsity mask of the wrong size");
        sparse = unstructuredStorage(w.size(), w.size() - keptCount(mask));
        sparseLayout = true;
    } else if (cfg.sparsity > 0 && cfg.pattern == SparsityPattern::Channels) {
        const auto sel = selectChannels(w.data(), rows, cols, cfg.sparsity, cfg.channelNorm);
        keptRows = sel.keptRows;
        r.removedChannels = sel.removedRows;
        r.consumer = findConsumer(model, layerIndex, rows);
        if (!r.removedChannels.empty())
            r.notes.push_back(std::to_string(r.removedChannels.size()) + " of " + std::to_string(rows) +
                              " output channels removed" +
                              (r.consumer.empty() ? std::string() : "; input channels of '" + r.consumer + "' follow"));
    }
    if (!mask.empty())
        applyMask(w.data(), w.size(), mask, w.data());

    // 2. Rank, then 3. precision
    if (cfg.hasRank()) {
        std::vector<float> dense = w;
        uint64_t effRows = rows;
        if (!keptRows.empty() || !r.removedChannels.empty()) {
            dense = compactRows(w.data(), rows, cols, keptRows);
            effRows = keptRows.size();
        }
        LowRankFactors f;
        if (cfg.rank > 0) {
            const uint64_t maxRank = std::min(effRows, cols);
            const uint64_t want = std::min<uint64_t>(static_cast<uint64_t>(cfg.rank), maxRank);
            const uint64_t target = rankTarget(want, maxRank);
            std::shared_ptr<const LowRankFactors> full;
            if (rankCache && rankCache->layer == layerIndex && rankCache->target == target && !globalMask &&
                sameSparsity(rankCache->sparsity, cfg) && rankCache->factors)
                full = rankCache->factors;
            else
                full = std::make_shared<const LowRankFactors>(lowRankFactors(dense.data(), effRows, cols, target));
            if (rankCache && !globalMask)
                *rankCache = RankCache{layerIndex, cfg, target, full};
            f = truncateFactors(*full, want);
        } else {
            f = lowRankFactorsForEnergy(dense.data(), effRows, cols, cfg.energy);
        }
        r.rankUsed = f.rank;
        if (factors)
            *factors = f;
        if (!rankSaves(effRows, cols, f.rank))
            r.notes.push_back(rankSavingText(effRows, cols, f.rank));
        if (cfg.needsCalibration())
            r.notes.push_back(std::string(methodName(cfg.method)) +
                              " does not apply to low-rank factors; round-to-nearest used");
        checkApplicable(cfg, f.rank, layer.name, "U factor's");
        checkApplicable(cfg, cols, layer.name, "V factor's");
        fakeQuantize(cfg, f.u.data(), effRows, f.rank);
        fakeQuantize(cfg, f.v.data(), f.rank, cols);
        r.compressedBits = precisionBits(cfg, effRows, f.rank, t.dtype).total(effRows * f.rank) +
                           precisionBits(cfg, f.rank, cols, t.dtype).total(f.rank * cols);
        r.keptValues = effRows * f.rank + f.rank * cols;
        std::vector<float> approx(effRows * cols);
        lowRankApproximation(f, approx.data());
        if (effRows != rows) {
            std::fill(w.begin(), w.end(), 0.0f);
            for (size_t k = 0; k < keptRows.size(); ++k)
                std::memcpy(&w[keptRows[k] * cols], &approx[k * cols], cols * sizeof(float));
        } else {
            w = std::move(approx);
        }
    } else if (!keptRows.empty() || !r.removedChannels.empty()) {
        std::vector<float> kept = compactRows(w.data(), rows, cols, keptRows);
        checkApplicable(cfg, cols, layer.name, "layer's");
        quantizeDense(cfg, kept.data(), keptRows.size(), cols, calibration, false, r);
        std::fill(w.begin(), w.end(), 0.0f);
        for (size_t k = 0; k < keptRows.size(); ++k)
            std::memcpy(&w[keptRows[k] * cols], &kept[k * cols], cols * sizeof(float));
        r.keptValues = keptRows.size() * cols;
        r.compressedBits = precisionBits(cfg, keptRows.size(), cols, t.dtype).total(r.keptValues);
    } else {
        checkApplicable(cfg, cols, layer.name, "layer's");
        quantizeDense(cfg, w.data(), rows, cols, calibration, !mask.empty(), r);
        if (!mask.empty())
            applyMask(w.data(), w.size(), mask, w.data()); // pruned weights stay exactly zero
        const PrecisionBits pb = precisionBits(cfg, rows, cols, t.dtype);
        if (sparseLayout) {
            r.keptValues = sparse.keptValues;
            r.compressedBits = sparse.overheadBits + pb.total(sparse.keptValues);
        } else {
            r.compressedBits = pb.total(rows * cols);
        }
    }
    r.error = errorMetrics(original.data(), w.data(), w.size());
    if (reconstructed) {
        reconstructed->resize(w.size());
        matrixToLayout(t.shape, layer.outAxis, w.data(), reconstructed->data());
    }
    return r;
}

std::vector<LayerConfig> resolveConfigs(const Model& model, const Recipe& recipe)
{
    std::vector<LayerConfig> out;
    out.reserve(model.layers.size());
    for (const auto& l : model.layers)
        out.push_back(recipe.resolve(l.name));
    return out;
}

std::map<size_t, std::vector<uint8_t>> globalSparsityMasks(const Model& model, const std::vector<LayerConfig>& configs)
{
    std::map<double, std::vector<size_t>> groups;
    for (size_t i = 0; i < configs.size() && i < model.layers.size(); ++i)
        if (configs[i].scope == SparsityScope::Global && configs[i].pattern == SparsityPattern::Unstructured &&
            configs[i].sparsity > 0)
            groups[configs[i].sparsity].push_back(i);
    std::map<size_t, std::vector<uint8_t>> masks;
    for (const auto& [fraction, members] : groups) {
        std::vector<std::vector<float>> weights;
        std::vector<std::span<const float>> spans;
        for (size_t i : members) {
            uint64_t rows = 0, cols = 0;
            weights.push_back(layerMatrix(model, model.layers[i], rows, cols));
        }
        for (const auto& w : weights)
            spans.emplace_back(w.data(), w.size());
        auto g = globalMagnitudeMasks(spans, fraction);
        for (size_t k = 0; k < members.size(); ++k)
            masks[members[k]] = std::move(g.masks[k]);
    }
    return masks;
}

ModelResult compressModel(const Model& model, const std::vector<LayerConfig>& configs, const ProgressFn& progress)
{
    if (configs.size() != model.layers.size())
        throw Error("compressModel: " + std::to_string(configs.size()) + " configurations for " +
                    std::to_string(model.layers.size()) + " layers");
    ModelResult res;
    res.originalBytes = model.totalBytes();
    uint64_t layerBytesOriginal = 0, layerBytesCompressed = 0;

    std::map<size_t, std::vector<uint8_t>> globalMasks = globalSparsityMasks(model, configs);

    for (size_t i = 0; i < configs.size(); ++i) {
        reportProgress(progress, static_cast<double>(i) / static_cast<double>(configs.size()));
        auto it = globalMasks.find(i);
        LayerResult lr = compressLayer(model, static_cast<int>(i), configs[i], nullptr,
                                       it == globalMasks.end() ? nullptr : &it->second);
        if (it != globalMasks.end())
            globalMasks.erase(it);
        layerBytesOriginal += model.tensors[static_cast<size_t>(model.layers[i].weight)].storedBytes();
        layerBytesCompressed += (lr.compressedBits + 7) / 8;
        res.layers.push_back(std::move(lr));
    }
    reportProgress(progress, 1.0);
    res.compressedBytes = res.originalBytes - layerBytesOriginal + layerBytesCompressed;
    return res;
}

} // namespace bonsai
