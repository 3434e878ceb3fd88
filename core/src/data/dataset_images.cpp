// Image-folder data sets: one subfolder per class (class index = sorted subfolder name),
// images decoded with stb_image (PNG, JPEG, BMP, GIF, TGA, PNM, PSD, HDR), converted to the
// model's channel count (gray or RGB) and resized to its input size (bilinear, half-pixel
// centres, no antialiasing). Opening lists the folders and reads every image's header (a file
// that is no image is reported then); pixels are decoded per batch and kept up to a cap.
#include "bonsai/dataset.h"
#include "common/regular_file.h"

#include <stb_image.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <unistd.h>

namespace fs = std::filesystem;

namespace bonsai {

namespace {

// stb_image sizes its PNG buffer from each chunk's length before reading the chunk: a length
// beyond the file made it allocate gigabytes for a 100-byte file. Every chunk must fit.
void checkPngChunks(const std::string& path, const std::vector<uint8_t>& b)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (b.size() < 8 || !std::equal(sig, sig + 8, b.begin()))
        return; // not a PNG
    for (uint64_t at = 8; at + 8 <= b.size();) {
        const uint64_t len = uint64_t(b[at]) << 24 | uint64_t(b[at + 1]) << 16 | uint64_t(b[at + 2]) << 8 | b[at + 3];
        if (len > b.size() - at - 8)
            throw FileError(path, "PNG chunk at byte " + std::to_string(at) + " claims " +
                                      std::to_string(len) + " bytes, past the end of the file");
        if (b[at + 4] == 'I' && b[at + 5] == 'E' && b[at + 6] == 'N' && b[at + 7] == 'D')
            return;
        at += 12 + len; // length, type, data, CRC
    }
}

// Largest image decoded (stb_image allocates width x height x 4 bytes from the header alone,
// whatever the file's size): 2^26 pixels, 256 MB decoded.
constexpr int64_t kMaxImagePixels = int64_t(1) << 26;

void checkImageSize(const std::string& path, int w, int h)
{
    if (w <= 0 || h <= 0 || int64_t(w) * h > kMaxImagePixels)
        throw FileError(path, "image of " + std::to_string(w) + "x" + std::to_string(h) +
                                  " pixels (at most " + std::to_string(kMaxImagePixels) + " are read)");
}

bool imageExtension(const fs::path& p)
{
    std::string e = p.extension().string();
    for (char& c : e)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    static const char* known[] = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga", ".pgm",
                                  ".ppm", ".pnm", ".psd", ".hdr", ".pic"};
    return std::any_of(std::begin(known), std::end(known), [&](const char* k) { return e == k; });
}

std::vector<fs::path> sortedEntries(const fs::path& dir, bool dirs)
{
    std::vector<fs::path> out;
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec)
        throw FileError(dir.string(), "cannot list the folder: " + ec.message());
    for (const auto& e : it) {
        const std::string name = e.path().filename().string();
        if (name.empty() || name[0] == '.')
            continue;
        std::error_code ec2;
        if (dirs ? e.is_directory(ec2) : (e.is_regular_file(ec2) && imageExtension(e.path())))
            out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string reason()
{
    const char* r = stbi_failure_reason();
    return r ? r : "unknown fault";
}

struct Image {
    int w = 0, h = 0, c = 0;
    std::vector<uint8_t> pixels; // h x w x c, interleaved
};

class ImageFolderDataset : public Dataset {
public:
    ImageFolderDataset(const std::string& dir, const DatasetOptions& options)
        : Dataset(dir, "image folder", options)
    {
        std::vector<int64_t> labels;
        const auto classes = sortedEntries(dir, true);
        if (classes.empty())
            throw FileError(dir, "empty image folder: no class subfolders with images (and no MNIST files)");
        for (const fs::path& cls : classes) {
            const auto images = sortedEntries(cls, false);
            if (images.empty()) // as torchvision's ImageFolder: class indices must not shift
                throw FileError(cls.string(), "no images in this class folder");
            classNames_.push_back(cls.filename().string());
            for (const fs::path& img : images) {
                int w = 0, h = 0, comp = 0;
                const int fd = openRegularFile(img.string());
                std::FILE* f = fdopen(fd, "rb");
                if (!f) {
                    ::close(fd);
                    throw FileError(img.string(), "cannot open the image");
                }
                const int ok = stbi_info_from_file(f, &w, &h, &comp);
                std::fclose(f);
                if (!ok)
                    throw FileError(img.string(), "not a readable image (" + reason() + ")");
                checkImageSize(img.string(), w, h);
                if (files_.empty())
                    first_ = {comp <= 2 ? 1 : 3, h, w};
                files_.push_back(img.string());
                labels.push_back(static_cast<int64_t>(classNames_.size() - 1));
            }
        }
        if (options.channels != 0 && options.channels != 1 && options.channels != 3)
            throw FileError(dir, "channels must be 1 (gray) or 3 (RGB), not " + std::to_string(options.channels));
        shape_ = {options.channels ? options.channels : first_.c, options.height ? options.height : first_.h,
                  options.width ? options.width : first_.w};
        if (shape_.h <= 0 || shape_.w <= 0)
            throw FileError(dir, "bad image size " + std::to_string(shape_.h) + "x" + std::to_string(shape_.w));
        setLabels(std::move(labels), dir);
        numClasses_ = static_cast<int>(classNames_.size());
    }

protected:
    void checkTarget(const SampleShape& t, bool, Preprocess& pre) const override
    {
        if (t.c != 1 && t.c != 3)
            throw FileError(path_, "the model wants " + std::to_string(t.c) +
                                       " channels; images convert to 1 (gray) or 3 (RGB)");
        if (t.h > 16384 || t.w > 16384)
            throw FileError(path_, "the model input " + std::to_string(t.h) + "x" + std::to_string(t.w) +
                                       " is too large for images");
        pre.conversion = std::string(t.c == 1 ? "gray" : "RGB") + ", bilinear " + std::to_string(t.h) +
                         "x" + std::to_string(t.w) + " from images";
    }

    void fillRaw(int64_t first, int64_t count, const SampleShape& t, double scale, float* out) const override
    {
        std::exception_ptr error;
        const auto per = t.numel();
#pragma omp parallel for schedule(dynamic)
        for (int64_t i = 0; i < count; ++i) {
            try {
                const auto img = image(first + i, static_cast<int>(t.c));
                resize(*img, t, static_cast<float>(scale), out + i * per);
            } catch (...) {
#pragma omp critical(bonsai_dataset_images)
                if (!error)
                    error = std::current_exception();
            }
        }
        if (error)
            std::rethrow_exception(error);
    }

private:
    std::shared_ptr<const Image> image(int64_t index, int channels) const
    {
        {
            std::lock_guard lock(mutex_);
            auto it = cache_.find(index);
            if (it != cache_.end() && it->second->c == channels)
                return it->second;
        }
        const std::string& path = files_[static_cast<size_t>(index)];
        const std::string text = readRegularFile(path, uint64_t(1) << 30, "image file");
        if (text.empty())
            throw FileError(path, "empty image file");
        const std::vector<uint8_t> bytes(text.begin(), text.end());
        checkPngChunks(path, bytes);
        const int size = static_cast<int>(bytes.size());
        int w = 0, h = 0, comp = 0;
        if (stbi_info_from_memory(bytes.data(), size, &w, &h, &comp))
            checkImageSize(path, w, h);
        uint8_t* px = stbi_load_from_memory(bytes.data(), size, &w, &h, &comp, channels);
        if (!px)
            throw FileError(path, "cannot decode the image (" + reason() + ")");
        auto img = std::make_shared<Image>();
        img->w = w, img->h = h, img->c = channels;
        img->pixels.assign(px, px + static_cast<size_t>(w) * h * channels);
        stbi_image_free(px);
        std::lock_guard lock(mutex_);
        if (!cache_.count(index) && cached_ + img->pixels.size() <= options_.imageCacheBytes) {
            cached_ += img->pixels.size();
            cache_[index] = img;
        }
        return img;
    }

    // Bilinear resize of an interleaved image into planar [c][h][w] floats times scale.
    static void resize(const Image& img, const SampleShape& t, float scale, float* out)
    {
        const double sy = double(img.h) / double(t.h), sx = double(img.w) / double(t.w);
        for (int64_t y = 0; y < t.h; ++y) {
            const double fy = std::clamp((y + 0.5) * sy - 0.5, 0.0, double(img.h - 1));
            const int y0 = static_cast<int>(fy), y1 = std::min(y0 + 1, img.h - 1);
            const float wy = static_cast<float>(fy - y0);
            for (int64_t x = 0; x < t.w; ++x) {
                const double fx = std::clamp((x + 0.5) * sx - 0.5, 0.0, double(img.w - 1));
                const int x0 = static_cast<int>(fx), x1 = std::min(x0 + 1, img.w - 1);
                const float wx = static_cast<float>(fx - x0);
                for (int64_t c = 0; c < t.c; ++c) {
                    auto p = [&](int yy, int xx) {
                        return static_cast<float>(img.pixels[(static_cast<size_t>(yy) * img.w + xx) * img.c + c]);
                    };
                    const float top = p(y0, x0) + (p(y0, x1) - p(y0, x0)) * wx;
                    const float bottom = p(y1, x0) + (p(y1, x1) - p(y1, x0)) * wx;
                    out[(c * t.h + y) * t.w + x] = (top + (bottom - top) * wy) * scale;
                }
            }
        }
    }

    std::vector<std::string> files_;
    SampleShape first_;
    mutable std::mutex mutex_;
    mutable std::map<int64_t, std::shared_ptr<const Image>> cache_;
    mutable uint64_t cached_ = 0;
};

} // namespace

std::unique_ptr<Dataset> openImageFolderDataset(const std::string& dir, const DatasetOptions& options)
{
    return std::make_unique<ImageFolderDataset>(dir, options);
}

} // namespace bonsai
