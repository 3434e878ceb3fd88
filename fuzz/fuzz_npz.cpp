// NumPy .npz: the zip central directory, stored and deflated members, the x and y arrays and
// their agreement, then the first batches.
#include "fuzz_dataset_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    using namespace bonsai::fuzz;
    const std::string path = writeInput("data.npz", data, size);
    expectDatasetErrors([&] { exerciseDataset(*bonsai::openNpzDataset(path)); });
    return 0;
}
