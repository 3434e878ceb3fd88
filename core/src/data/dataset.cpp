// Data sets: the common Dataset behaviour (shape checks, normalisation), array-backed data
// sets, bounded inflation, and openDataset's dispatch on what the path holds.
#include "bonsai/dataset.h"
#include "common/parallel.h"

#include "bonsai/half.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

namespace fs = std::filesystem;

namespace bonsai {

std::string defaultDatasetDir() { return "/usr/share/datasets/fashion-mnist"; }
std::string defaultDatasetPath() { return defaultDatasetDir(); }

namespace {

std::string num(double v)
{
    char b[32];
    std::snprintf(b, sizeof b, "%g", v);
    return b;
}

std::string values(const std::vector<float>& v)
{
    if (v.size() == 1)
        return num(v[0]);
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) {
        if (i)
            s += ',';
        s += num(v[i]);
    }
    return s + "]";
}

std::string dims(const std::vector<int64_t>& v, const char* sep = ",")
{
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) {
        if (i)
            s += sep;
        s += std::to_string(v[i]);
    }
    return s;
}

std::string chw(const SampleShape& s)
{
    return std::to_string(s.c) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w);
}

} // namespace

std::string Preprocess::describe() const
{
    std::string s = source + " x";
    const double inv = scale != 0 ? 1.0 / scale : 0;
    if (scale == 1.0)
        s += "*1";
    else if (inv > 1 && std::fabs(inv - std::round(inv)) < 1e-9 * inv)
        s += "/" + num(std::round(inv));
    else
        s += "*" + num(scale);
    s += ", mean " + values(mean) + " std " + values(std) + ", ";
    s += shape.size() == 3 && !flatten ? "NCHW" : shape.size() == 1 ? "flattened" : "reshaped";
    s += " [N," + dims(shape) + "]";
    if (!conversion.empty())
        s += ", " + conversion;
    return s;
}

Dataset::Dataset(std::string path, std::string format, const DatasetOptions& options)
    : path_(std::move(path)), format_(std::move(format)), options_(options)
{
}

void Dataset::setLabels(std::vector<int64_t> labels, const std::string& labelsPath)
{
    int64_t maxLabel = -1;
    for (size_t i = 0; i < labels.size(); ++i) {
        if (labels[i] < 0 || labels[i] >= (int64_t(1) << 24))
            throw FileError(labelsPath, "label " + std::to_string(labels[i]) + " at index " +
                                            std::to_string(i) + " is not a class index");
        maxLabel = std::max(maxLabel, labels[i]);
    }
    numClasses_ = static_cast<int>(maxLabel + 1);
    labels_ = std::move(labels);
}

Preprocess Dataset::preprocess(const std::vector<int64_t>& inputShape) const
{
    Preprocess pre;
    pre.source = source_;
    const std::string model = "[" + dims(inputShape) + "]";
    if (inputShape.size() < 2)
        throw FileError(path_, "the model input " + model + " has no sample dimensions");
    for (size_t i = 1; i < inputShape.size(); ++i)
        if (inputShape[i] <= 0 || inputShape[i] > (int64_t(1) << 30))
            throw FileError(path_, "the model input " + model + " has an unknown or invalid size");
    pre.shape.assign(inputShape.begin() + 1, inputShape.end());
    pre.flatten = inputShape.size() != 4;
    SampleShape target = shape_;
    if (!pre.flatten) {
        target = {inputShape[1], inputShape[2], inputShape[3]};
        checkTarget(target, true, pre);
    } else {
        int64_t d = 1;
        for (size_t i = 1; i < inputShape.size(); ++i) {
            d *= inputShape[i];
            if (d > (int64_t(1) << 40))
                throw FileError(path_, "the model input " + model + " is too large");
        }
        if (d != shape_.numel())
            throw FileError(path_, "the data has " + std::to_string(shape_.numel()) +
                                       " values per sample (" + chw(shape_) +
                                       ") but the model input " + model + " wants " +
                                       std::to_string(d));
        checkTarget(target, false, pre);
    }
    pre.scale = options_.scale ? *options_.scale : source_ == "uint8" ? 1.0 / 255.0 : 1.0;
    if (!std::isfinite(pre.scale))
        throw FileError(path_, "the scale is not finite");
    if (!options_.mean.empty())
        pre.mean = options_.mean;
    if (!options_.std.empty())
        pre.std = options_.std;
    const int64_t c = pre.flatten ? shape_.c : target.c;
    for (const auto* v : {&pre.mean, &pre.std})
        if (v->size() != 1 && static_cast<int64_t>(v->size()) != c)
            throw FileError(path_, std::string(v == &pre.mean ? "mean" : "std") + " has " +
                                       std::to_string(v->size()) + " values but the data has " +
                                       std::to_string(c) + " channels");
    for (float s : pre.std)
        if (!(s != 0.0f) || !std::isfinite(s))
            throw FileError(path_, "std " + num(s) + " is not a usable divisor");
    return pre;
}

void Dataset::fillBatch(int64_t first, int64_t count, const std::vector<int64_t>& inputShape,
                        float* out, int64_t* labels) const
{
    if (first < 0 || count < 0 || first > size() || count > size() - first)
        throw Error("samples " + std::to_string(first) + "+" + std::to_string(count) +
                    " are outside the data set of " + std::to_string(size()));
    const Preprocess pre = preprocess(inputShape);
    const SampleShape target = pre.flatten ? shape_ : SampleShape{pre.shape[0], pre.shape[1], pre.shape[2]};
    fillRaw(first, count, target, pre.scale, out);
    const int64_t plane = target.h * target.w;
    const int64_t n = count * target.numel();
    const bool plain = pre.mean.size() == 1 && pre.std.size() == 1;
    if (!(plain && pre.mean[0] == 0.0f && pre.std[0] == 1.0f)) {
#pragma omp parallel for schedule(static) if (n > kParallelLight)
        for (int64_t i = 0; i < n; ++i) {
            const size_t ch = plain ? 0 : static_cast<size_t>((i / plane) % target.c);
            out[i] = (out[i] - pre.mean[pre.mean.size() == 1 ? 0 : ch]) /
                     pre.std[pre.std.size() == 1 ? 0 : ch];
        }
    }
    if (labels)
        std::copy(labels_.begin() + first, labels_.begin() + first + count, labels);
}

namespace detail {

std::vector<uint8_t> inflateData(const std::string& path, const uint8_t* src, uint64_t n,
                                 int windowBits, uint64_t want, bool exact)
{
    const uint64_t bound = n > (uint64_t(1) << 50) ? ~uint64_t(0) : n * 1032 + 1024;
    if (exact && want > bound)
        throw FileError(path, "corrupt: " + std::to_string(want) + " bytes expected from " +
                                  std::to_string(n) + " compressed bytes");
    std::vector<uint8_t> out(std::min(want, bound));
    z_stream zs{};
    if (inflateInit2(&zs, windowBits) != Z_OK)
        throw FileError(path, "cannot start decompression");
    struct End {
        z_stream* z;
        ~End() { inflateEnd(z); }
    } end{&zs};
    const uInt chunk = 1u << 30;
    uint64_t inPos = 0, outPos = 0;
    uint8_t scratch[1];
    for (;;) {
        if (zs.avail_in == 0 && inPos < n) {
            zs.next_in = const_cast<Bytef*>(src + inPos);
            zs.avail_in = static_cast<uInt>(std::min<uint64_t>(n - inPos, chunk));
            inPos += zs.avail_in;
        }
        const bool full = outPos == out.size();
        if (full && !exact)
            break;
        zs.next_out = full ? scratch : out.data() + outPos;
        zs.avail_out = full ? 1u : static_cast<uInt>(std::min<uint64_t>(out.size() - outPos, chunk));
        const uInt before = zs.avail_out;
        const int ret = inflate(&zs, Z_NO_FLUSH);
        const uint64_t produced = before - zs.avail_out;
        if (full && produced)
            throw FileError(path, "more data than expected (" + std::to_string(want) + " bytes)");
        outPos += produced;
        if (ret == Z_STREAM_END) {
            const uint64_t rest = zs.avail_in + (n - inPos);
            const uint8_t* p = zs.avail_in ? zs.next_in : src + inPos;
            if (windowBits > 15 && rest >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
                inflateReset(&zs); // another gzip member follows
                continue;
            }
            break;
        }
        if (ret == Z_BUF_ERROR && zs.avail_in == 0 && inPos == n)
            throw FileError(path, "truncated: the compressed data ends after " +
                                      std::to_string(outPos) + " of " + std::to_string(want) + " bytes");
        if (ret != Z_OK && ret != Z_BUF_ERROR)
            throw FileError(path, std::string("corrupt compressed data: ") + (zs.msg ? zs.msg : "inflate failed"));
    }
    if (exact && outPos != want)
        throw FileError(path, "truncated: " + std::to_string(outPos) + " of " + std::to_string(want) +
                                  " bytes");
    out.resize(outPos);
    return out;
}

namespace {

// Data held as an array; logical sample (c,h,w) -> storage offset n*sN + c*sC + h*sH + w*sW.
class ArrayDataset : public Dataset {
public:
    ArrayDataset(const std::string& path, const std::string& format, RawArray x,
                 const DatasetOptions& options)
        : Dataset(path, format, options), x_(std::move(x))
    {
        const auto& d = x_.shape;
        const std::string desc = "[" + dims(d) + "]";
        if (d.size() < 2 || d.size() > 4)
            throw FileError(path, "samples " + desc + " must be [N,C,H,W], [N,H,W,C], [N,H,W] or [N,D]");
        if (d[0] == 0)
            throw FileError(path, "no samples (shape " + desc + ")");
        std::vector<int64_t> st(d.size());
        int64_t s = 1;
        for (size_t k = 0; k < d.size(); ++k) { // element strides, C or Fortran order
            const size_t i = x_.fortran ? k : d.size() - 1 - k;
            st[i] = s;
            s *= d[i];
        }
        sN_ = st[0];
        auto few = [](int64_t c) { return c == 1 || c == 3 || c == 4; };
        if (d.size() == 4 && !(few(d[3]) && !few(d[1]))) { // NCHW
            shape_ = {d[1], d[2], d[3]};
            sC_ = st[1], sH_ = st[2], sW_ = st[3];
        } else if (d.size() == 4) { // NHWC
            shape_ = {d[3], d[1], d[2]};
            sC_ = st[3], sH_ = st[1], sW_ = st[2];
            conversion_ = "NHWC->NCHW";
        } else if (d.size() == 3) {
            shape_ = {1, d[1], d[2]};
            sH_ = st[1], sW_ = st[2];
        } else {
            shape_ = {1, 1, d[1]};
            sW_ = st[1];
        }
        if (shape_.numel() == 0)
            throw FileError(path, "samples " + desc + " are empty");
        contiguous_ = !x_.fortran && conversion_.empty();
        static const char* names[][2] = {{"u1", "uint8"}, {"i1", "int8"}, {"u2", "uint16"},
                                         {"i2", "int16"}, {"u4", "uint32"}, {"i4", "int32"},
                                         {"u8", "uint64"}, {"i8", "int64"}, {"f2", "float16"},
                                         {"f4", "float32"}, {"f8", "float64"}, {"b1", "bool"}};
        for (const auto& n : names)
            if (x_.dtype == n[0])
                source_ = n[1];
    }

    void setup(std::vector<int64_t> labels, const std::string& labelsPath)
    {
        if (static_cast<int64_t>(labels.size()) != x_.shape[0])
            throw FileError(labelsPath, "has " + std::to_string(labels.size()) + " labels but " +
                                            path_ + " has " + std::to_string(x_.shape[0]) + " samples");
        setLabels(std::move(labels), labelsPath);
    }

protected:
    void checkTarget(const SampleShape& t, bool rank4, Preprocess& pre) const override
    {
        pre.conversion = conversion_;
        if (rank4 && (t.c != shape_.c || t.h != shape_.h || t.w != shape_.w)) {
            if (!(shape_.c == 1 && shape_.h == 1 && t.numel() == shape_.numel()))
                throw FileError(path_, "the data is " + chw(shape_) + " (C x H x W) but the model wants " +
                                           chw(t));
            pre.conversion += std::string(pre.conversion.empty() ? "" : ", ") + "reshaped from [N," +
                              std::to_string(shape_.w) + "]";
        }
    }

    void fillRaw(int64_t first, int64_t count, const SampleShape&, double scale, float* out) const override
    {
        const std::string& t = x_.dtype;
        if (t == "u1" || t == "b1")
            fillT<uint8_t>(first, count, scale, out);
        else if (t == "i1")
            fillT<int8_t>(first, count, scale, out);
        else if (t == "u2")
            fillT<uint16_t>(first, count, scale, out);
        else if (t == "i2")
            fillT<int16_t>(first, count, scale, out);
        else if (t == "u4")
            fillT<uint32_t>(first, count, scale, out);
        else if (t == "i4")
            fillT<int32_t>(first, count, scale, out);
        else if (t == "u8")
            fillT<uint64_t>(first, count, scale, out);
        else if (t == "i8")
            fillT<int64_t>(first, count, scale, out);
        else if (t == "f2")
            fillT<Half>(first, count, scale, out);
        else if (t == "f4")
            fillT<float>(first, count, scale, out);
        else
            fillT<double>(first, count, scale, out);
    }

private:
    struct Half {
        uint16_t bits;
    };

    template <typename T>
    static double value(const uint8_t* p)
    {
        T v;
        std::memcpy(&v, p, sizeof v);
        if constexpr (std::is_same_v<T, Half>)
            return fp16ToFloat(v.bits);
        else
            return static_cast<double>(v);
    }

    template <typename T>
    void fillT(int64_t first, int64_t count, double scale, float* out) const
    {
        const int64_t per = shape_.numel();
        const int64_t plane = shape_.h * shape_.w;
        constexpr int64_t sz = sizeof(T);
#pragma omp parallel for schedule(static) if (count * per > kParallelLight)
        for (int64_t i = 0; i < count; ++i) {
            const uint8_t* base = x_.data + (first + i) * sN_ * sz;
            float* o = out + i * per;
            if (contiguous_) {
                for (int64_t j = 0; j < per; ++j)
                    o[j] = static_cast<float>(value<T>(base + j * sz) * scale);
                continue;
            }
            for (int64_t j = 0; j < per; ++j) {
                const int64_t c = j / plane, h = (j % plane) / shape_.w, w = j % shape_.w;
                o[j] = static_cast<float>(value<T>(base + (c * sC_ + h * sH_ + w * sW_) * sz) * scale);
            }
        }
    }

    RawArray x_;
    int64_t sN_ = 0, sC_ = 0, sH_ = 0, sW_ = 0;
    bool contiguous_ = true;
    std::string conversion_;
};

} // namespace

std::unique_ptr<Dataset> makeArrayDataset(const std::string& path, const std::string& format,
                                          RawArray x, std::vector<int64_t> labels,
                                          const std::string& labelsPath, const DatasetOptions& options)
{
    auto d = std::make_unique<ArrayDataset>(path, format, std::move(x), options);
    d->setup(std::move(labels), labelsPath);
    return d;
}

} // namespace detail

namespace {

bool isFile(const fs::path& p)
{
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}

std::string lower(std::string s)
{
    for (char& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool endsWith(const std::string& s, const std::string& suffix)
{
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// An existing file named `base` or `base.gz` in dir, preferring the one like `prefer`.
std::string withOrWithoutGz(const fs::path& dir, std::string base, bool preferGz)
{
    if (endsWith(base, ".gz"))
        base.resize(base.size() - 3);
    const fs::path a = dir / (base + ".gz"), b = dir / base;
    for (const fs::path& p : preferGz ? std::vector{a, b} : std::vector{b, a})
        if (isFile(p))
            return p.string();
    return {};
}

std::string replaceAll(std::string s, const std::string& from, const std::string& to)
{
    for (size_t i = s.find(from); i != std::string::npos; i = s.find(from, i + to.size()))
        s.replace(i, from.size(), to);
    return s;
}

} // namespace

std::unique_ptr<Dataset> openDataset(const std::string& path, const DatasetOptions& options)
{
    std::error_code ec;
    const fs::path p(path);
    if (!fs::exists(p, ec))
        throw FileError(path, "no such file or folder");
    if (fs::is_directory(p, ec)) {
        const std::string split = lower(options.split);
        const std::string prefix = split == "test" || split == "t10k" ? "t10k"
                                   : split == "train"                  ? "train"
                                                                       : "";
        if (prefix.empty())
            throw FileError(path, "unknown split '" + options.split + "' (test or train)");
        const std::string images = withOrWithoutGz(p, prefix + "-images-idx3-ubyte", true);
        if (!images.empty()) {
            const std::string labels = options.labels.empty()
                                           ? withOrWithoutGz(p, prefix + "-labels-idx1-ubyte", true)
                                           : options.labels;
            if (labels.empty())
                throw FileError(images, "no labels file " + prefix + "-labels-idx1-ubyte[.gz] beside it");
            return openIdxDataset(images, labels, options);
        }
        const std::string other = withOrWithoutGz(p, (prefix == "t10k" ? "train" : "t10k") +
                                                         std::string("-images-idx3-ubyte"), true);
        if (!other.empty())
            throw FileError(path, "no " + prefix + "-images-idx3-ubyte[.gz] for the " + split + " split");
        return openImageFolderDataset(path, options);
    }
    const std::string name = p.filename().string(), lname = lower(name);
    if (endsWith(lname, ".npz"))
        return openNpzDataset(path, options);
    if (endsWith(lname, ".npy")) {
        std::string y = options.labels;
        if (y.empty()) {
            const std::string stem = name.substr(0, name.size() - 4);
            for (const auto& [from, to] : {std::pair{"x", "y"}, {"X", "y"}, {"images", "labels"}})
                if (endsWith(stem, from) && isFile(p.parent_path() / (stem.substr(0, stem.size() - std::strlen(from)) + to + ".npy"))) {
                    y = (p.parent_path() / (stem.substr(0, stem.size() - std::strlen(from)) + to + ".npy")).string();
                    break;
                }
            if (y.empty())
                throw FileError(path, "no labels: give a labels .npy (y.npy beside x.npy is found)");
        }
        return openNpyDataset(path, y, options);
    }
    // An IDX images file; its labels beside it by the standard name.
    std::string labels = options.labels;
    if (labels.empty()) {
        const std::string guess = replaceAll(replaceAll(name, "images", "labels"), "idx3", "idx1");
        if (guess == name)
            throw FileError(path, "not a known data set: expected IDX images (*-images-idx3-ubyte[.gz]; "
                                  "other names need the labels option), .npz, .npy or a folder");
        labels = withOrWithoutGz(p.parent_path(), guess, endsWith(lname, ".gz"));
        if (labels.empty())
            throw FileError(path, "no labels file beside it (" + guess +
                                      " with or without .gz); give one with the labels option");
    }
    return openIdxDataset(path, labels, options);
}

} // namespace bonsai
