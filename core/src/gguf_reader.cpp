// Placeholder: replaced by the GGUF reader.
#include "bonsai/error.h"
#include "bonsai/model.h"
namespace bonsai {
std::unique_ptr<Model> readGguf(const std::string& path) { throw FileError(path, "GGUF reading not built yet"); }
}
