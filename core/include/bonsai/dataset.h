#pragma once
// Evaluation data sets: IDX (MNIST, Fashion-MNIST; raw or gzip), NumPy .npy/.npz and image
// folders (one subfolder per class), fed to a model as preprocessed float batches.
//
// Preprocessing is explicit: value = (stored * scale - mean[c]) / std[c], laid out NCHW
// [B,C,H,W], or flattened to [B,C*H*W] (any other rank: the same values in the same order)
// when the model's input is not rank 4. Image folders are converted to the model's channel
// count (gray or RGB) and resized to its input size (bilinear); stored arrays must match it.
// Every fault (bad file, wrong shape, label count mismatch, ...) is a FileError naming the
// file and the fault, raised by openDataset() or preprocess() before any batch is filled.
#include "bonsai/error.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bonsai {

// Debian's dataset-fashion-mnist: the folder and the default data set (its test split).
std::string defaultDatasetDir();  // "/usr/share/datasets/fashion-mnist"
std::string defaultDatasetPath(); // the folder; openDataset() picks t10k-* in it

struct DatasetOptions {
    std::string labels;          // IDX or .npy labels file (default: found beside the images)
    std::string split = "test";  // MNIST folder: "test" (t10k-*) or "train" (train-*)
    std::optional<double> scale; // default 1/255 for uint8 data, 1 otherwise
    std::vector<float> mean;     // per channel, or one value for all (default 0)
    std::vector<float> std;      // per channel, or one value for all (default 1)
    // Image folders: sample shape reported before a model is known (0: from the first image,
    // gray when it is gray, else RGB). Batches always follow the model's input shape.
    int channels = 0, height = 0, width = 0;
    uint64_t imageCacheBytes = 256ull << 20; // decoded images kept, at most this many bytes
};

// The preprocessing applied for one model input shape (what the GUI shows, the CLI prints).
struct Preprocess {
    std::string source = "uint8"; // element type of the stored data
    double scale = 1.0 / 255.0;
    std::vector<float> mean{0.0f}, std{1.0f};
    std::string conversion;        // e.g. "NHWC->NCHW", "RGB, bilinear 32x32"; empty if none
    bool flatten = false;          // the model input is not rank 4
    std::vector<int64_t> shape;    // per-sample model input: {C,H,W} or e.g. {C*H*W}
    // One line, e.g. "uint8 x/255, mean 0 std 1, NCHW [N,1,28,28]".
    std::string describe() const;
};

struct SampleShape {
    int64_t c = 0, h = 0, w = 0;
    int64_t numel() const { return c * h * w; }
};

class Dataset {
public:
    virtual ~Dataset() = default;
    Dataset(const Dataset&) = delete;
    Dataset& operator=(const Dataset&) = delete;

    const std::string& path() const { return path_; }
    const std::string& format() const { return format_; } // "IDX", "npz", "npy", "image folder"
    int64_t size() const { return static_cast<int64_t>(labels_.size()); }
    SampleShape sampleShape() const { return shape_; }    // as stored (image folder: see options)
    int numClasses() const { return numClasses_; }        // max label + 1, or subfolder count
    const std::vector<int64_t>& labels() const { return labels_; }
    const std::vector<std::string>& classNames() const { return classNames_; } // image folders

    // The preprocessing for a model input shape ([B,C,H,W], [B,D], ...; B is ignored).
    // Throws FileError naming the data's and the model's shapes when they do not fit.
    Preprocess preprocess(const std::vector<int64_t>& inputShape) const;

    // Writes samples [first, first+count) preprocessed for `inputShape` into out
    // (count * per-sample numel floats) and their labels (when labels is not null).
    void fillBatch(int64_t first, int64_t count, const std::vector<int64_t>& inputShape,
                   float* out, int64_t* labels) const;

protected:
    Dataset(std::string path, std::string format, const DatasetOptions& options);
    // Checks that samples can be written as `target` (the model's C,H,W when rank4, else the
    // stored shape) and notes any conversion in pre.conversion; throws FileError if not.
    virtual void checkTarget(const SampleShape& target, bool rank4, Preprocess& pre) const = 0;
    // Fills `count` samples of `target` shape (already validated) with stored values * scale
    // (no mean/std: the base class applies them).
    virtual void fillRaw(int64_t first, int64_t count, const SampleShape& target,
                         double scale, float* out) const = 0;
    void setLabels(std::vector<int64_t> labels, const std::string& labelsPath);

    std::string path_, format_, source_ = "uint8";
    SampleShape shape_;
    int numClasses_ = 0;
    std::vector<int64_t> labels_;
    std::vector<std::string> classNames_;
    DatasetOptions options_;
};

// Opens an IDX images file (labels beside it or options.labels), a folder with the MNIST
// files (options.split), an .npz with x and y, an .npy of samples (labels: options.labels or
// y.npy beside x.npy), or an image folder. Reads headers and labels; throws FileError.
std::unique_ptr<Dataset> openDataset(const std::string& path, const DatasetOptions& options = {});

std::unique_ptr<Dataset> openIdxDataset(const std::string& images, const std::string& labels,
                                        const DatasetOptions& options = {});
std::unique_ptr<Dataset> openNpzDataset(const std::string& path, const DatasetOptions& options = {});
std::unique_ptr<Dataset> openNpyDataset(const std::string& x, const std::string& y,
                                        const DatasetOptions& options = {});
std::unique_ptr<Dataset> openImageFolderDataset(const std::string& dir,
                                                const DatasetOptions& options = {});

namespace detail {

// A stored array: little-endian elements of `dtype` ("u1","i1","u2","i2","u4","i4","u8",
// "i8","f2","f4","f8","b1"), C order or Fortran order, kept alive by `owner`.
struct RawArray {
    std::string dtype;
    std::vector<int64_t> shape;
    bool fortran = false;
    const uint8_t* data = nullptr; // not necessarily aligned
    std::shared_ptr<const void> owner;
    int itemSize() const;
    double at(uint64_t index) const; // element at a flat storage index
};

// Parses an .npy image held in [data, data+size); `owner` keeps those bytes alive.
RawArray parseNpy(const std::string& path, const uint8_t* data, uint64_t size,
                  std::shared_ptr<const void> owner);

// Inflates zlib (windowBits 15), gzip (31) or raw deflate (-15) data. With exact, the stream
// must produce exactly `want` bytes (else "truncated" / "more data than expected");
// without, returns at most the first `want` bytes. Never allocates more than it produced
// plus what `want` allows once the input could plausibly hold it (deflate expands <= 1032x).
std::vector<uint8_t> inflateData(const std::string& path, const uint8_t* src, uint64_t n,
                                 int windowBits, uint64_t want, bool exact);

// A data set over stored arrays x ([N,C,H,W], [N,H,W,C], [N,H,W] or [N,D]) and labels.
// Rank 4 is NHWC when its last dim is 1, 3 or 4 and its second is not; else NCHW.
std::unique_ptr<Dataset> makeArrayDataset(const std::string& path, const std::string& format,
                                          RawArray x, std::vector<int64_t> labels,
                                          const std::string& labelsPath,
                                          const DatasetOptions& options);

} // namespace detail

} // namespace bonsai
