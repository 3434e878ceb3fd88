// channelRoute (onnx_channels.cpp) from every layer: where its output channels go.
#include "formats/onnx_model.h"
#include "fuzz_onnx_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    auto model = bonsai::fuzz::readFuzzedOnnx(data, size);
    if (!model)
        return 0;
    bonsai::fuzz::expectOnlyBonsaiErrors([&] {
        for (size_t l = 0; l < model->layers.size(); ++l) {
            const auto r = bonsai::channelRoute(*model, static_cast<int>(l));
            if (r.consumer >= static_cast<int>(model->layers.size()) ||
                (r.consumer >= 0 && !r.consumerNode)) {
                std::fprintf(stderr, "channelRoute of layer %zu: consumer %d is no layer\n", l,
                             r.consumer);
                std::abort();
            }
        }
    });
    return 0;
}
