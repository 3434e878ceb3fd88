#pragma once
// The small language-model-like checkpoint the compression editor's tests work on:
// embed_tokens (Embedding), two blocks of Linear layers and an output projection, Gaussian
// weights (std 0.05) from fixed seeds, written once per process; and an int4 group config.
#include "testutil.h"

#include "bonsai/layer_config.h"
#include "bonsai/model.h"

#include <memory>
#include <random>

namespace testutil {

inline std::vector<float> gaussianWeights(size_t n, unsigned seed) { return gaussian(n, seed, 0.05f); }

// Five layers: embed_tokens 64×32, layers.0 up 48×32 and down 32×48, layers.1 q 32×32,
// lm_head 64×32.
inline std::shared_ptr<const bonsai::Model> openEditorModel()
{
    static const std::string path = [] {
        std::vector<StEntry> e;
        auto add = [&](const std::string& name, int64_t rows, int64_t cols) {
            e.push_back({name, "F32", {rows, cols}, floatBytes(gaussianWeights(size_t(rows * cols), unsigned(e.size() + 1)))});
        };
        add("model.embed_tokens.weight", 64, 32);
        add("model.layers.0.mlp.up_proj.weight", 48, 32);
        add("model.layers.0.mlp.down_proj.weight", 32, 48);
        add("model.layers.1.self_attn.q_proj.weight", 32, 32);
        add("lm_head.weight", 64, 32);
        return writeTemp("editor.safetensors", makeSafetensors(e));
    }();
    return bonsai::Model::open(path);
}

inline bonsai::LayerConfig int4Group(uint32_t group)
{
    bonsai::LayerConfig c;
    c.precision = {bonsai::PrecisionKind::Int, 4};
    c.granularity = bonsai::Granularity::Group;
    c.groupSize = group;
    return c;
}

} // namespace testutil
