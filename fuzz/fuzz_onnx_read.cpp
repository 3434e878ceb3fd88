// ONNX reading: the protobuf, tensors from raw_data, typed fields and external data (ext.bin
// beside the model), INT4 unpacking, the QDQ fold, subgraphs and the metadata; then every
// tensor's data as floats.
#include "fuzz_onnx_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    auto model = bonsai::fuzz::readFuzzedOnnx(data, size);
    if (!model)
        return 0;
    bonsai::fuzz::expectOnlyBonsaiErrors([&] {
        for (size_t i = 0; i < model->tensors.size(); ++i)
            if (model->tensors[i].numel <= (1u << 20))
                model->readFloat(static_cast<int>(i));
    });
    return 0;
}
