// safetensors: the JSON header, the tensor table against the file's size, and reading every
// tensor's data as floats.
#include "bonsai/readers.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    bonsai::fuzz::noteInput(data, size);
    const std::string path = bonsai::fuzz::writeInput("model.safetensors", data, size);
    bonsai::fuzz::expectOnlyBonsaiErrors([&] {
        auto model = bonsai::readSafetensors(path);
        bonsai::fuzz::readSmallTensors(*model);
    });
    return 0;
}
