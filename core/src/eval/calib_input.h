#pragma once
// Calibration inputs of a layer: which value feeds the node that consumes the layer's weight,
// and how that value becomes rows of input vectors of the weight matrix (plain rows, the rows
// of a transposed Gemm input, or im2col patches of a 2-D convolution).
#include "bonsai/model.h"
#include "bonsai/onnx_exec.h"
#include "exec/window.h"

#include <cstdint>
#include <string>
#include <vector>

namespace bonsai {

// How the input value of a layer's node becomes rows of `cols` inputs (the rows x cols weight
// matrix's input vectors).
struct InputMap {
    enum class Kind : uint8_t { Rows, RowsTransposed, Conv2d } kind = Kind::Rows;
    std::string input;     // the value read
    std::string problem;   // non-empty: cannot calibrate (why)
    WindowAttrs window; // Conv2d: auto_pad, strides, dilations, pads
    int64_t k[2] = {1, 1};    // Conv2d: kernel height and width
};

// How layer `layer`'s input is read: its weight `weightName` is consumed by executor node `nodeIndex`
// (SIZE_MAX: by none). A non-empty problem says why the layer cannot be calibrated.
InputMap inputMapOf(const Model& model, const OnnxExecutor& exec, size_t layer,
                    const std::string& weightName, size_t nodeIndex);

// Appends the rows of inputs of value v (per the map) to `rows` (cols values each).
void inputRows(const InputMap& m, const Value& v, int64_t cols, std::vector<float>& rows);

} // namespace bonsai
