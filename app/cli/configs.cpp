// Where a command's per-layer configurations come from: a recipe file or a named preset.
#include "commands.h"

#include "bonsai/compress.h"
#include "bonsai/model.h"
#include "bonsai/presets.h"
#include "bonsai/recipe.h"

#include <cstdio>

namespace cli {

ConfigSource takeConfigSource(Args& args)
{
    ConfigSource s;
    takeOption(args, "--recipe", s.recipePath);
    takeOption(args, "--preset", s.preset);
    if (!s.recipePath.empty() && !s.preset.empty())
        throw UsageError("--recipe and --preset exclude each other");
    if (s.preset == "help") {
        s.listPresets = true;
    } else if (!s.preset.empty() && !bonsai::presetByKey(s.preset)) {
        std::string keys;
        for (const auto& p : bonsai::presets())
            keys += (keys.empty() ? "" : ", ") + std::string(p.key);
        throw UsageError("unknown preset '" + s.preset + "' (presets: " + keys + "; --preset help describes them)");
    }
    return s;
}

int printPresets()
{
    std::printf("presets (--preset KEY):\n");
    for (const auto& p : bonsai::presets())
        std::printf("  %-16s %.*s\n  %-16s   %.*s\n", std::string(p.key).c_str(), int(p.name.size()), p.name.data(),
                    "", int(p.help.size()), p.help.data());
    return 0;
}

std::vector<bonsai::LayerConfig> resolveConfigs(const ConfigSource& s, const bonsai::Model& model, const char* command,
                                                std::vector<std::string>* warnings)
{
    if (!s.preset.empty())
        return bonsai::presetConfigs(*bonsai::presetByKey(s.preset), model);
    if (s.recipePath.empty())
        return std::vector<bonsai::LayerConfig>(model.layers.size());
    const bonsai::Recipe recipe = bonsai::Recipe::load(s.recipePath);
    const auto w = recipe.warnings(model);
    for (const auto& text : w)
        std::fprintf(stderr, "bonsai-cli %s: warning: %s: %s\n", command, s.recipePath.c_str(), text.c_str());
    if (warnings)
        *warnings = w;
    return bonsai::resolveConfigs(model, recipe);
}

} // namespace cli
