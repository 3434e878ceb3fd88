// Image folders: the bytes as an image in two class folders (the first byte picks the file
// extension), the headers read on opening, then batches decoded, converted and resized.
#include "fuzz_dataset_input.h"

#include <filesystem>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    using namespace bonsai::fuzz;
    if (size < 1)
        return 0;
    static const char* ext[] = {".png", ".jpg", ".bmp", ".gif", ".pgm", ".tga"};
    const std::string name = std::string("img") + ext[data[0] % 6];
    const auto root = workDir() / "images";
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
    for (const char* cls : {"a", "b"}) {
        std::filesystem::create_directories(root / cls);
        writeInput(std::string("images/") + cls + "/" + name, data + 1, size - 1);
    }
    bonsai::DatasetOptions o;
    o.imageCacheBytes = 1 << 20;
    expectDatasetErrors([&] { exerciseDataset(*bonsai::openImageFolderDataset(root.string(), o)); });
    return 0;
}
