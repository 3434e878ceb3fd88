// Recipe JSON: parsing, resolving a few layer names through the rules, and the round trip
// through toJson (what was accepted must be written and read back), and its budget-search
// object likewise.
#include "bonsai/recipe.h"
#include "bonsai/search.h"
#include "fuzz_input.h"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    bonsai::fuzz::noteInput(data, size);
    const std::string text(reinterpret_cast<const char*>(data), size);
    bonsai::fuzz::expectOnlyBonsaiErrors([&] {
        const bonsai::Recipe r = bonsai::Recipe::parse(text, "recipe.json");
        for (const char* name : {"model.layers.0.self_attn.q_proj", "fc1", "blk.3.ffn_down", ""})
            (void)r.resolve(name);
        (void)bonsai::Recipe::parse(r.toJson(), "recipe.json (written back)");
        // The budget search's object: parsed, written and read back.
        const bonsai::SearchSpec spec = bonsai::SearchSpec::parse(r.search, "recipe.json");
        (void)bonsai::SearchSpec::parse(spec.toJson(), "recipe.json (search written back)");
    });
    return 0;
}
