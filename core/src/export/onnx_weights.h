#pragma once
// Internals of the ONNX export: one weight matrix written as ONNX stores it (FLOAT; FLOAT16 and
// a Cast; integer codes and a DequantizeLinear), computing exactly the values Bonsai evaluated.
#include "bonsai/layer_config.h"
#include "export/export_impl.h"

#include <onnx/onnx-ml.pb.h>

#include <cstdint>
#include <string>
#include <vector>

namespace bonsai::detail {

// A weight in matrix form (rows = output channels, row-major), as written: `values` are those
// Bonsai computes with; for integer precisions the codes of the integer grid they lie on.
struct OnnxMatrix : IntCodes {
    std::vector<float> values;
    bool coded = false; // the IntCodes part is set
};

// Codes of `values` (rows x cols) on the integer grid configuration `c` puts `before` (the
// same matrix before the precision step) on; empty, or the reason they are not on one grid
// (clip search, GPTQ, AWQ).
std::string intCodes(const LayerConfig& c, const std::vector<float>& before, OnnxMatrix& m);

// Removes rows (sorted) of the matrix, with their scales.
void dropRows(OnnxMatrix& m, const std::vector<uint64_t>& rows);
// Removes columns (sorted); coded matrices only per row or per tensor (else the reason).
std::string dropColumns(OnnxMatrix& m, const std::vector<uint64_t>& cols);
// Multiplies row r by k[r] (a folded BatchNormalization): the values, or the codes' scales.
void scaleRows(OnnxMatrix& m, const std::vector<float>& k);

void setRaw(onnx::TensorProto& t, const std::string& name, int type, const std::vector<int64_t>& dims, const void* data,
            size_t bytes);
onnx::TensorProto* findInitializer(onnx::GraphProto& g, const std::string& name);
void intAttribute(onnx::NodeProto& n, const char* name, int64_t v);

// Writes matrices as initializers of a graph and the nodes that turn them into FLOAT tensors.
class OnnxWeightWriter {
public:
    explicit OnnxWeightWriter(onnx::GraphProto& g) : g_(g) {}
    struct Stored {
        std::string type;      // "INT4 blocks of 32 + DequantizeLinear", ...
        uint64_t bytes = 0;    // data bytes in the file
        uint32_t containerBits = 32;
    };
    // Writes `m` as the FLOAT tensor `name` of shape `dims` (the weight's layout, output
    // channels along `outAxis`), replacing the initializer `init` when given. `kind` is the
    // precision of `c` (FP32, FP16 or Int with codes). Empty reason, or why it cannot.
    std::string write(const std::string& name, const std::vector<int64_t>& dims, int outAxis, const LayerConfig& c,
                      const OnnxMatrix& m, Stored& out, onnx::TensorProto* init = nullptr);
    // Nodes that compute the weights, to go before the graph's own.
    std::vector<onnx::NodeProto>& nodes() { return added_; }
    bool needsOpset21() const { return opset21_; }
    int64_t opset = 0; // the model's

private:
    onnx::GraphProto& g_;
    std::vector<onnx::NodeProto> added_;
    bool opset21_ = false;
};

} // namespace bonsai::detail
