#pragma once
// Recipes: versioned, human-editable JSON files that give a LayerConfig to every layer.
//
//   { "bonsai_recipe": 1,
//     "defaults": { "precision": "fp16" },
//     "rules": [ { "match": "conv.*", "precision": "int8", "granularity": "channel" },
//                { "match": "fc2", "rank": 16 } ] }
//
// `match` is an ECMAScript regular expression searched (not anchored) in the layer name. A
// layer starts from the built-in defaults (fp32, nothing pruned, full rank), then the recipe's
// "defaults", then every matching rule in order, key by key. Keys: precision, granularity
// (tensor | channel | group), group_size, symmetric, clip_search, sparsity, sparsity_pattern
// (unstructured | 2:4 | 4:8 | any N:M | channels), sparsity_scope (layer | global),
// channel_norm (l1 | l2), rank, energy, method (rtn | gptq | awq: how integer codes are chosen),
// calibration_samples (>= 1), damping (GPTQ, in [0, 1]), act_order (GPTQ). rank and energy are
// alternatives: setting one clears the other. Unknown keys or values and wrong types are
// errors naming the key.
#include "bonsai/layer_config.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bonsai {

class Model;

// Why a layer-name pattern (a rule's or a search's `match`) cannot be used, or empty: too long,
// too deeply nested, or a repeated group that itself repeats or alternates ("(.*)*"), which
// std::regex would match in time exponential in the name's length.
std::string matchPatternFault(const std::string& re);

// The keys one rule (or the defaults) sets.
struct ConfigPatch {
    std::optional<Precision> precision;
    std::optional<Granularity> granularity;
    std::optional<uint32_t> groupSize;
    std::optional<bool> symmetric, clipSearch;
    std::optional<double> sparsity;
    std::optional<SparsityPattern> pattern;
    std::optional<int> n, m;
    std::optional<SparsityScope> scope;
    std::optional<ChannelNorm> channelNorm;
    std::optional<int> rank;
    std::optional<double> energy;
    std::optional<QuantMethod> method;   // "method": rtn | gptq | awq
    std::optional<int> calibSamples;     // "calibration_samples": >= 1
    std::optional<double> damping;       // "damping": [0, 1]
    std::optional<bool> actOrder;        // "act_order"

    void applyTo(LayerConfig& c) const;
    bool empty() const;
    // The patch that turns `base` into `target` (keys that differ).
    static ConfigPatch diff(const LayerConfig& base, const LayerConfig& target);

    // A JSON object of recipe keys ("precision", "rank", ...; no "match"): FileError(source,
    // "<where>: ...") on unknown keys, values or types. `ignored` keys are skipped.
    static ConfigPatch fromJson(const std::string& objectJson, const std::string& source,
                                const std::string& where, const std::vector<std::string>& ignored = {});
    std::string toJson() const; // the same keys, one line
};

struct RecipeRule {
    std::string match;
    ConfigPatch patch;
};

class Recipe {
public:
    static constexpr int kVersion = 1;

    // Parse errors throw FileError(source, "...key 'x'..."): source is the file name or a label.
    static Recipe parse(const std::string& json, const std::string& source = "recipe");
    static Recipe load(const std::string& path);
    std::string toJson() const;
    void save(const std::string& path) const; // written to a temporary, then renamed

    ConfigPatch defaults;
    std::vector<RecipeRule> rules;
    // "provenance": where the recipe came from (bonsai/provenance.h, as JSON); empty: none.
    std::string provenance;
    // "search": the budget search's candidates, ties and layer filter (bonsai/search.h, as
    // JSON, checked there); empty: none.
    std::string search;

    LayerConfig resolve(const std::string& layerName) const;
    // Warnings such as rules that match no layer of the model.
    std::vector<std::string> warnings(const Model& model) const;

    // A recipe that reproduces exactly the given per-layer configuration: `defaults` plus one
    // anchored rule per layer that differs.
    static Recipe fromConfigs(const std::vector<std::string>& layerNames,
                              const std::vector<LayerConfig>& configs, const LayerConfig& defaults);
};

} // namespace bonsai
