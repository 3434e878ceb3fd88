// Placeholder: replaced by the ONNX reader.
#include "bonsai/error.h"
#include "bonsai/model.h"
namespace bonsai {
std::unique_ptr<Model> readOnnx(const std::string& path) { throw FileError(path, "ONNX reading not built yet"); }
}
