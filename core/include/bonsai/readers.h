#pragma once
// The format readers behind Model::open, for callers that know the format (tests, tools that
// build a model in memory). Each throws FileError naming the file and the fault.
#include "bonsai/model.h"

#include <memory>
#include <string>

namespace bonsai {

std::unique_ptr<Model> readSafetensors(const std::string& path); // file, directory or index.json
std::unique_ptr<Model> readOnnx(const std::string& path);
std::unique_ptr<Model> readGguf(const std::string& path);

// A Model read (with readOnnx) from serialized ONNX bytes, through a temporary file that is
// removed again.
std::unique_ptr<Model> readOnnxBytes(const std::string& bytes);

} // namespace bonsai
