#pragma once
// oneDNN kernels of the executor: Conv (with its fused epilogue), Gemm, MatMul and pooling.
//
// Each factory takes the Eigen kernel of the same node as `fallback` and calls it whenever
// oneDNN cannot run the call as given (shapes or attributes it does not take, an empty tensor,
// a primitive oneDNN does not implement); the fallback also reports bad inputs. Primitives
// are cached per kernel by input shape; the reordered (and BatchNorm-folded) weights of a
// primitive by the weights' Value::weightVersion, so a new weight tensor (setWeight) is
// reordered again and a computed weight (version 0) on every call.
//
// Conv runs the batch in chunks of images sized so that one chunk's activations stay in the
// core's cache, the chunks spread over the threads; within a chunk the activations keep
// oneDNN's blocked layout from the convolution through the pooling, and are reordered to the
// executor's plain layout once at the end.
//
// Deploy mode (ExecOptions::deploy): a weight with 8-bit codes (Value::quantized) runs as an
// INT8 primitive: the input is quantized per call to u8 (when it has no negative value) or s8
// with scale max|x| / 255 (127), the codes are the s8 weights, accumulation is in int32 and
// the output scale per channel is the input scale times the weight's.
#include "exec/onnx_exec_ops.h"

namespace bonsai::exec {

Kernel makeDnnlConv(const WindowAttrs& win, int64_t group, const ConvEpilogue& e, bool deploy,
                    Kernel fallback);
Kernel makeDnnlGemm(float alpha, float beta, bool transA, bool transB, bool deploy, Kernel fallback);
Kernel makeDnnlMatMul(bool deploy, Kernel fallback);
// MaxPool / AveragePool with 1-3 spatial dims (no Indices output).
Kernel makeDnnlPool(const WindowAttrs& win, bool isMax, bool countIncludePad, Kernel fallback);

// The scale per output channel and the bias of Conv -> BatchNormalization folded into one
// convolution: scale = gamma / sqrt(var + eps), bias = (b - mean) * scale + beta (b: the
// convolution's bias, null for none). Error unless the four parameters hold m floats each.
void foldBatchNorm(const Value* convBias, const Value& gamma, const Value& beta, const Value& mean,
                   const Value& var, float epsilon, int64_t m, std::vector<float>& scale,
                   std::vector<float>& bias);

} // namespace bonsai::exec
