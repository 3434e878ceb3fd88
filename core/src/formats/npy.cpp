#include "bonsai/npy.h"

#include "common/atomic_file.h"

#include <algorithm>

namespace bonsai {

std::string npyHeaderF32(const std::vector<int64_t>& shape)
{
    std::string dims;
    for (size_t i = 0; i < shape.size(); ++i)
        dims += (i ? ", " : "") + std::to_string(shape[i]);
    if (shape.size() == 1)
        dims += ",";
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
    // magic(6) + version(2) + header length(2) + dict + padding + '\n' is a multiple of 64.
    size_t total = 10 + dict.size() + 1;
    dict.append((64 - total % 64) % 64, ' ');
    dict += '\n';
    std::string out("\x93NUMPY\x01\x00", 8);
    const auto len = static_cast<uint16_t>(dict.size());
    out += static_cast<char>(len & 0xFF);
    out += static_cast<char>(len >> 8);
    return out + dict;
}

void writeTensorNpy(const Model& model, int tensor, const std::string& path, const ProgressFn& progress)
{
    const TensorInfo& t = model.tensors.at(static_cast<size_t>(tensor));
    AtomicFile out(path);
    const std::string header = npyHeaderF32(t.shape);
    out.write(header.data(), header.size());
    const uint64_t align = dtypeInfo(t.dtype).blockElems;
    const uint64_t chunk = std::max<uint64_t>(align, (1u << 20) / align * align);
    std::vector<float> buf(std::min<uint64_t>(chunk, std::max<uint64_t>(t.numel, 1)));
    for (uint64_t b = 0; b < t.numel; b += chunk) {
        reportProgress(progress, static_cast<double>(b) / static_cast<double>(t.numel));
        const uint64_t n = std::min(chunk, t.numel - b);
        model.readFloat(tensor, b, n, buf.data());
        out.write(buf.data(), n * sizeof(float));
    }
    out.commit();
    reportProgress(progress, 1.0);
}

} // namespace bonsai
