#include "eval/calib_input.h"

#include "bonsai/error.h"
#include "formats/onnx_attrs.h"
#include "formats/onnx_model.h"

#include <onnx/onnx-ml.pb.h>

#include <cstdint>

namespace bonsai {

InputMap inputMapOf(const Model& model, const OnnxExecutor& exec, size_t layer,
                    const std::string& weightName, size_t nodeIndex)
{
    InputMap m;
    const Layer& l = model.layers[layer];
    const size_t k = nodeIndex;
    if (k == SIZE_MAX) {
        m.problem = "no node reads the weight";
        return m;
    }
    const ExecNode& en = exec.node(k);
    if (en.inputs.size() < 2 || en.inputs[1] != weightName) {
        m.problem = "the weight is not the second input of its " + en.op + " node";
        return m;
    }
    m.input = en.inputs[0];
    const onnx::ModelProto* proto = onnxProto(model);
    const onnx::NodeProto* node = nullptr;
    if (proto)
        for (const auto& n : proto->graph().node())
            if (n.op_type() == en.op && n.input_size() > 1 && n.input(1) == weightName) {
                node = &n;
                break;
            }
    if (en.op == "MatMul") {
        m.kind = InputMap::Kind::Rows;
    } else if (en.op == "Gemm" && node) {
        if (OnnxAttrs(*node).i("transA", 0) != 0)
            m.kind = InputMap::Kind::RowsTransposed;
    } else if (en.op == "Conv" && node) {
        const auto& shape = model.tensors[static_cast<size_t>(l.weight)].shape;
        if (shape.size() != 4 || l.outAxis != 0) {
            m.problem = "only 2-D convolutions are calibrated";
            return m;
        }
        OnnxAttrs at(*node);
        if (at.i("group", 1) != 1) {
            m.problem = "grouped or depthwise convolution is not calibrated";
            return m;
        }
        m.kind = InputMap::Kind::Conv2d;
        m.window = readWindowAttrs(at, false);
        for (int a = 0; a < 2; ++a)
            m.k[a] = static_cast<int64_t>(shape[static_cast<size_t>(2 + a)]);
    } else {
        m.problem = "calibration is not implemented for " + en.op + " layers";
    }
    return m;
}

void inputRows(const InputMap& m, const Value& v, int64_t cols, std::vector<float>& rows)
{
    if (v.type != Value::Type::Float)
        throw Error("calibration: input '" + m.input + "' is not a float tensor");
    if (m.kind == InputMap::Kind::Rows) {
        if (v.shape.empty() || v.shape.back() != cols)
            throw Error("calibration: input '" + m.input + "' " + shapeString(v.shape) + " does not end in " +
                        std::to_string(cols) + " values");
        rows.insert(rows.end(), v.f.begin(), v.f.end());
        return;
    }
    if (m.kind == InputMap::Kind::RowsTransposed) {
        if (v.shape.size() != 2 || v.shape[0] != cols)
            throw Error("calibration: input '" + m.input + "' " + shapeString(v.shape) + " is not [" +
                        std::to_string(cols) + ", M]");
        const int64_t mm = v.shape[1];
        for (int64_t r = 0; r < mm; ++r)
            for (int64_t j = 0; j < cols; ++j)
                rows.push_back(v.f[static_cast<size_t>(j * mm + r)]);
        return;
    }
    // Conv2d: im2col patches in the [c, ki, kj] order of the flattened [out, in, kh, kw] weight.
    if (v.shape.size() != 4 || v.shape[1] * m.k[0] * m.k[1] != cols)
        throw Error("calibration: input '" + m.input + "' " + shapeString(v.shape) + " does not fit the convolution");
    const int64_t N = v.shape[0], C = v.shape[1], H = v.shape[2], W = v.shape[3];
    const int64_t hw[2] = {H, W};
    const Window g = makeWindow(m.window, hw, m.k, false);
    const int64_t P = g.outSize();
    const size_t base = rows.size();
    rows.resize(base + static_cast<size_t>(N * P * cols));
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
        // The executor's im2col ([cols, P]), transposed into one row per output position.
        std::vector<float> col(static_cast<size_t>(cols * P));
        im2col(v.f.data() + n * C * H * W, C, g, col.data());
        float* out = rows.data() + base + static_cast<size_t>(n * P * cols);
        for (int64_t r = 0; r < cols; ++r)
            for (int64_t q = 0; q < P; ++q)
                out[q * cols + r] = col[static_cast<size_t>(r * P + q)];
    }
}

} // namespace bonsai
