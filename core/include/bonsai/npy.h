#pragma once
// NumPy .npy (format 1.0) output of float32 arrays.
#include "bonsai/model.h"
#include "bonsai/progress.h"

#include <string>
#include <vector>

namespace bonsai {

// The .npy header for a little-endian float32, C-order array of the given shape.
std::string npyHeaderF32(const std::vector<int64_t>& shape);

// Streams one tensor of the model, converted to float32, into an .npy file at `path`
// (written to a temporary and renamed). Never holds the whole tensor as float.
void writeTensorNpy(const Model& model, int tensor, const std::string& path,
                    const ProgressFn& progress = {});

} // namespace bonsai
