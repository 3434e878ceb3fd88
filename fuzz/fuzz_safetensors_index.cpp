// Sharded safetensors: model.safetensors.index.json (the weight map) and its shards. The
// input is the index, then up to three shards a/b/c.safetensors, separated by
// kPartSeparator; every tensor of the merged model is read as floats.
#include "bonsai/readers.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    bonsai::fuzz::noteInput(data, size);
    const auto parts = bonsai::fuzz::splitParts(data, size);
    bonsai::fuzz::clearWorkDir();
    const std::string index = bonsai::fuzz::writeInput("model.safetensors.index.json", parts[0]);
    const char* shards[] = {"a.safetensors", "b.safetensors", "c.safetensors"};
    for (size_t k = 1; k < parts.size() && k <= 3; ++k)
        bonsai::fuzz::writeInput(shards[k - 1], parts[k]);
    bonsai::fuzz::expectOnlyBonsaiErrors([&] {
        auto model = bonsai::readSafetensors(index);
        bonsai::fuzz::readSmallTensors(*model);
    });
    return 0;
}
