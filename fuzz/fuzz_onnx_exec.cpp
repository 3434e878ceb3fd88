// The ONNX executor on raw model bytes: planning (op factories, attributes, topological
// order) and one run on small inputs shaped after the graph's inputs.
#include "fuzz_onnx_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    auto model = bonsai::fuzz::readFuzzedOnnx(data, size);
    if (model)
        bonsai::fuzz::planAndRun(*model);
    return 0;
}
