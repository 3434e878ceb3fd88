#pragma once
// The demo classifier for Fashion-MNIST, built as an ONNX graph in code (opset 13):
//   image [N,1,28,28] -> Conv 1->32 3x3 -> BatchNormalization -> Relu -> MaxPool 2x2
//   -> Conv 32->64 3x3 -> BatchNormalization -> Relu -> MaxPool 2x2 -> Flatten [N,1600]
//   -> Gemm 1600->128 -> Relu -> Gemm 128->10 -> logits [N,10]
// 2.63 M multiply-adds per image, 225,130 trainable parameters (225,322 with BN running
// statistics). Weights are He-initialised
// (normal, std sqrt(2 / fan_in); the last Gemm sqrt(1 / fan_in)) from std::mt19937_64(seed)
// with Box-Muller normals; biases and BN shifts 0, BN scales 1, running mean 0 and var 1.
#include "bonsai/model.h"

#include <cstdint>
#include <memory>
#include <string>

namespace bonsai {

// The serialized ModelProto.
std::string fashionCnnOnnx(uint64_t seed);


} // namespace bonsai
