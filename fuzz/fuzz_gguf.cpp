// GGUF: the header, the metadata (every value's display form), the tensor infos against the
// file's size, and block dequantization (every small tensor read as floats).
#include "bonsai/readers.h"
#include "formats/gguf.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    bonsai::fuzz::noteInput(data, size);
    const std::string path = bonsai::fuzz::writeInput("model.gguf", data, size);
    bonsai::fuzz::expectOnlyBonsaiErrors([&] {
        auto model = bonsai::readGguf(path);
        if (const bonsai::GgufMetadata* md = bonsai::ggufMetadata(*model))
            for (const auto& [key, value] : md->kv)
                (void)value.display();
        bonsai::fuzz::readSmallTensors(*model);
    });
    return 0;
}
