#pragma once
// Eigen for bonsai_core: <Eigen/Core> and the row-major matrix types every kernel over our
// row-major buffers uses. Include this instead of <Eigen/Core> (further Eigen modules after it).
//
// GCC 12 reports a false -W(maybe-)uninitialized inside its own AVX-512 intrinsics header
// (_mm512_undefined_ps) when Eigen's GEMM kernels are inlined; the diagnostic state of the
// header lines decides, so it is silenced for the headers only, here (clang has no such warning).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <Eigen/Core>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace bonsai {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMap = Eigen::Map<RowMat>;
using ConstRowMap = Eigen::Map<const RowMat>;

} // namespace bonsai
