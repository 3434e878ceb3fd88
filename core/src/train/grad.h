#pragma once
// Backward kernels of the training engine (see train.h). Plain functions over row-major float
// buffers, so they can be tested and reused on their own. Every kernel *accumulates* into the
// gradient buffers it is given (callers zero them first); a null gradient pointer means that
// gradient is not wanted and is not computed. Forward semantics follow the ONNX executor
// (ops_nn.cpp, ops_pool.cpp, ops_norm.cpp). Results are deterministic for a given thread count:
// parallel reductions use static schedules and are summed in thread order.
#include "exec/window.h"

#include <cstdint>
#include <string>
#include <vector>

namespace bonsai::grad {

using bonsai::im2col;
using bonsai::makeWindow;
using bonsai::Window;
using bonsai::WindowAttrs;

// Conv: X [N, C, spatial], W [M, C/G, kernel], Y [N, M, out].
struct ConvShape {
    int64_t N = 0, C = 0, M = 0, G = 1;
    Window win;
};
void convBackward(const ConvShape& s, const float* x, const float* w, const float* dy, float* dx,
                  float* dw, float* db);

// Gemm: Y = alpha * op(A) * op(B) + beta * C; A [M,K] ([K,M] when ta), B [K,N] ([N,K] when tb),
// C of shape cShape broadcast to [M,N].
void gemmBackward(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                  const float* a, const float* b, const float* dy, float* da, float* db,
                  const std::vector<int64_t>& cShape, float* dc);

// MatMul: A [..., M, K] x B [..., K, N] with equal batch dims, or B 2-D (shared by every batch
// of A). Throws Error for other broadcasts.
void matmulBackward(const std::vector<int64_t>& aShape, const std::vector<int64_t>& bShape,
                    const float* a, const float* b, const float* dy, float* da, float* db);

// Sums dy (of shape yShape) over the broadcast axes into dx (of shape xShape, numpy
// broadcasting as Add does).
void unbroadcastAdd(const std::vector<int64_t>& yShape, const float* dy,
                    const std::vector<int64_t>& xShape, float* dx);

// Relu: dx += dy where x > 0.
void reluBackward(int64_t n, const float* x, const float* dy, float* dx);

// MaxPool / AveragePool over planes = N * C planes of geometry w. MaxPool routes each output's
// gradient to the first maximum of its window (scan order); AveragePool divides as the
// forward pass does (count_include_pad).
void maxPoolBackward(int64_t planes, const Window& w, const float* x, const float* dy, float* dx);
void avgPoolBackward(int64_t planes, const Window& w, bool countIncludePad, const float* dy, float* dx);
void globalAvgPoolBackward(int64_t planes, int64_t spatial, const float* dy, float* dx);

// BatchNormalization in training mode over X [N, C, spatial...] (spatial = product of the
// trailing dims): batch mean and (population) variance per channel, y = scale * xhat + bias.
// Forward writes y, the batch mean and 1/sqrt(var + eps) per channel (kept for the backward),
// and updates the running statistics as ONNX specifies:
//   running = running * momentum + batch * (1 - momentum).
void batchNormTrainForward(int64_t N, int64_t C, int64_t spatial, float eps, float momentum,
                           const float* x, const float* scale, const float* bias, float* y,
                           float* mean, float* invStd, float* runningMean, float* runningVar);
void batchNormTrainBackward(int64_t N, int64_t C, int64_t spatial, const float* x,
                            const float* scale, const float* mean, const float* invStd,
                            const float* dy, float* dx, float* dscale, float* dbias);

// Loss over logits [N, K]: mean over the batch of
//   (1 - alpha) * CE(softmax(z), label) + alpha * T^2 * KL(softmax(t / T) || softmax(z / T))
// where t are a teacher's logits (alpha = 0 or teacher null: plain cross-entropy). Writes
// dL/dz into dz (overwritten) and returns the loss; sums in double. Throws Error on a label
// outside [0, K).
double softmaxCrossEntropy(int64_t N, int64_t K, const float* z, const int64_t* labels, float* dz,
                           const float* teacher = nullptr, double alpha = 0.0,
                           double temperature = 1.0);

} // namespace bonsai::grad
