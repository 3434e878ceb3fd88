// IDX (MNIST): an images and a labels file, raw or gzip. The first two bytes (little endian)
// give the images file's length; the rest after it is the labels file.
#include "fuzz_dataset_input.h"

#include <algorithm>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    using namespace bonsai::fuzz;
    if (size < 2)
        return 0;
    const size_t n = std::min<size_t>(size - 2, size_t(data[0]) | size_t(data[1]) << 8);
    const std::string images = writeInput("images-idx3-ubyte", data + 2, n);
    const std::string labels = writeInput("labels-idx1-ubyte", data + 2 + n, size - 2 - n);
    expectDatasetErrors([&] { exerciseDataset(*bonsai::openIdxDataset(images, labels)); });
    return 0;
}
