// NumPy .npy: the header (magic, version, descr, fortran_order, shape) against the file's
// size, then the array as a data set with labels y.npy beside it (one per sample, written
// by the harness) and its first batches.
#include "fuzz_dataset_input.h"

#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    using namespace bonsai::fuzz;
    const std::string x = writeInput("x.npy", data, size);
    expectDatasetErrors([&] {
        const auto a = bonsai::detail::parseNpy(x, data, size, nullptr);
        if (a.shape.empty() || a.shape[0] < 1 || a.shape[0] > 4096)
            return;
        // Labels: an .npy of uint8 class numbers, one per sample.
        const auto n = static_cast<size_t>(a.shape[0]);
        std::string header = "{'descr': '|u1', 'fortran_order': False, 'shape': (" +
                             std::to_string(n) + ",), }";
        header.resize(118, ' ');
        header += '\n';
        std::string y = std::string("\x93NUMPY\x01\x00", 8) + char(header.size() & 0xff) +
                        char(header.size() >> 8) + header;
        for (size_t i = 0; i < n; ++i)
            y += static_cast<char>(i % 3);
        const std::string yp = writeInput("y.npy", reinterpret_cast<const uint8_t*>(y.data()), y.size());
        exerciseDataset(*bonsai::openNpyDataset(x, yp));
    });
    return 0;
}
