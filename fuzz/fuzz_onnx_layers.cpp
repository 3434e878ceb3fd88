// ONNX layer binding (tieOnnxLayers): every layer's weight, bias and output axis must be
// consistent with the tensors; the weights and biases read as floats.
#include "fuzz_onnx_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    auto model = bonsai::fuzz::readFuzzedOnnx(data, size);
    if (!model)
        return 0;
    const auto nt = static_cast<int>(model->tensors.size());
    bonsai::fuzz::expectOnlyBonsaiErrors([&] {
        for (const auto& l : model->layers) {
            if (l.weight < 0 || l.weight >= nt || l.bias < -1 || l.bias >= nt) {
                std::fprintf(stderr, "layer '%s' refers to a tensor that does not exist\n", l.name.c_str());
                std::abort();
            }
            const auto& w = model->tensors[static_cast<size_t>(l.weight)];
            if (l.outAxis < 0 || static_cast<size_t>(l.outAxis) >= w.shape.size()) {
                std::fprintf(stderr, "layer '%s': output axis %d outside its weight's rank\n",
                             l.name.c_str(), l.outAxis);
                std::abort();
            }
            if (w.numel <= (1u << 20))
                model->readFloat(l.weight);
            if (l.bias >= 0 && model->tensors[static_cast<size_t>(l.bias)].numel <= (1u << 20))
                model->readFloat(l.bias);
        }
    });
    return 0;
}
