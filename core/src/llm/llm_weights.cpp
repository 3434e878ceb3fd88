// LlmWeights: the forward pass's view of a model's weights, uncompressed or compressed.
#include "llm/llm_impl.h"

#include <cstring>

namespace bonsai {

LlmWeights::LlmWeights(const Model& model, const std::vector<LayerConfig>* configs, uint64_t cacheBudget)
    : model_(model), configs_(configs), budget_(cacheBudget)
{
    if (configs_ && configs_->empty())
        configs_ = nullptr;
    if (configs_ && configs_->size() != model.layers.size())
        throw Error("language model: " + std::to_string(configs_->size()) + " layer configurations for " +
                    std::to_string(model.layers.size()) + " layers");
    if (configs_) {
        for (const LayerConfig& c : *configs_)
            anyCompressed_ |= !c.isIdentity();
        if (anyCompressed_)
            globalMasks_ = globalSparsityMasks(model, *configs_);
    }
}

const LayerConfig* LlmWeights::config(int layer) const
{
    return configs_ ? &(*configs_)[static_cast<size_t>(layer)] : nullptr;
}

bool LlmWeights::compressed(int layer) const
{
    const LayerConfig* c = config(layer);
    return c && !c->isIdentity();
}

bool LlmWeights::needsCalibration(int layer) const
{
    const LayerConfig* c = config(layer);
    return c && c->needsCalibration();
}

void LlmWeights::record(int layer, const LayerResult& r)
{
    bits_[layer] = r.compressedBits;
    for (const std::string& n : r.notes)
        notes.push_back(r.name + ": " + n);
}

void LlmWeights::putCalibrated(int layer, std::vector<float> weights, const LayerResult& result)
{
    cachedBytes_ += weights.size() * sizeof(float);
    cache_[layer] = std::move(weights);
    record(layer, result);
}

const float* LlmWeights::get(int layer, std::vector<float>& scratch)
{
    const Layer& l = model_.layers.at(static_cast<size_t>(layer));
    const TensorInfo& t = model_.tensors[static_cast<size_t>(l.weight)];
    if (!compressed(layer)) {
        if (t.dtype == DType::F32 && reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0)
            return reinterpret_cast<const float*>(t.data);
        scratch.resize(t.numel);
        model_.readFloat(l.weight, scratch.data());
        return scratch.data();
    }
    if (auto it = cache_.find(layer); it != cache_.end())
        return it->second.data();
    auto mask = globalMasks_.find(static_cast<size_t>(layer));
    std::vector<float> w;
    const LayerResult r = compressLayer(model_, layer, *config(layer), &w,
                                        mask == globalMasks_.end() ? nullptr : &mask->second);
    if (!bits_.count(layer))
        record(layer, r);
    const uint64_t bytes = w.size() * sizeof(float);
    if (cachedBytes_ + bytes <= budget_) {
        cachedBytes_ += bytes;
        return (cache_[layer] = std::move(w)).data();
    }
    scratch = std::move(w);
    return scratch.data();
}

void LlmWeights::embeddingRow(int layer, int64_t row, int64_t cols, float* dst, std::vector<float>& scratch)
{
    const Layer& l = model_.layers.at(static_cast<size_t>(layer));
    const TensorInfo& t = model_.tensors[static_cast<size_t>(l.weight)];
    const uint64_t first = static_cast<uint64_t>(row * cols);
    const uint64_t block = dtypeInfo(t.dtype).blockElems;
    if (!compressed(layer) && first % block == 0 && static_cast<uint64_t>(cols) % block == 0) {
        model_.readFloat(l.weight, first, static_cast<uint64_t>(cols), dst);
        return;
    }
    // Compressed (or rows not aligned to the storage blocks): the whole matrix, kept in the
    // scratch vector by the caller for the batch.
    if (scratch.empty()) {
        std::vector<float> tmp;
        const float* p = get(layer, tmp);
        if (p == tmp.data())
            scratch = std::move(tmp);
        else
            scratch.assign(p, p + t.numel);
    }
    std::memcpy(dst, scratch.data() + first, static_cast<size_t>(cols) * sizeof(float));
}

uint64_t LlmWeights::compressedBytes()
{
    uint64_t layerOriginal = 0, layerCompressed = 0;
    for (size_t i = 0; i < model_.layers.size(); ++i) {
        const TensorInfo& t = model_.tensors[static_cast<size_t>(model_.layers[i].weight)];
        layerOriginal += t.nbytes;
        const int li = static_cast<int>(i);
        if (!compressed(li)) {
            layerCompressed += t.nbytes;
            continue;
        }
        if (!bits_.count(li)) {
            auto mask = globalMasks_.find(i);
            record(li, compressLayer(model_, li, *config(li), nullptr,
                                     mask == globalMasks_.end() ? nullptr : &mask->second));
        }
        layerCompressed += (bits_[li] + 7) / 8;
    }
    return model_.totalBytes() - layerOriginal + layerCompressed;
}

} // namespace bonsai
