#pragma once
// Writing an ONNX model read by readOnnx() back with new weight values (e.g. after training):
// the original ModelProto (graph, opsets, metadata) with the data of the named initializers
// (or Constant node values) of the main graph replaced. Replaced tensors must be FLOAT; their
// data is written as raw_data. Initializers kept in external data files are inlined, so the
// output is one self-contained file (protobuf limit: 2 GB). Files are written atomically.
#include "bonsai/model.h"

#include <map>
#include <string>
#include <vector>

namespace bonsai {

// The serialized model. Throws Error when a name is not a float initializer / Constant of the
// main graph, when an element count differs, or when the result exceeds 2 GB.
std::string onnxBytesWithWeights(const Model& model, const std::map<std::string, std::vector<float>>& values);

// Writes onnxBytesWithWeights() to `path` through a temporary renamed into place (FileError).
void writeOnnxWithWeights(const Model& model, const std::map<std::string, std::vector<float>>& values,
                          const std::string& path);

} // namespace bonsai
