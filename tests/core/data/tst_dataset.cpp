// Evaluation data sets: IDX (raw, gzip), .npy/.npz and image folders written by the test with
// its own writers (big-endian IDX headers by hand, zlib, a small zip writer, stb_image_write),
// preprocessing worked by hand, the real Debian Fashion-MNIST test set when installed, and
// every broken case with its message.
#include "testutil.h"

#include "bonsai/dataset.h"

#include <QtTest>

#include <stb/stb_image_write.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

using namespace bonsai;
namespace fs = std::filesystem;

namespace {

void be32(std::string& s, uint32_t v)
{
    for (int sh = 24; sh >= 0; sh -= 8)
        s += static_cast<char>((v >> sh) & 0xFF);
}

std::string idxImages(uint32_t n, uint32_t h, uint32_t w, const std::string& pixels)
{
    std::string s;
    be32(s, 0x00000803), be32(s, n), be32(s, h), be32(s, w);
    return s + pixels;
}

std::string idxLabels(const std::string& labels)
{
    std::string s;
    be32(s, 0x00000801), be32(s, static_cast<uint32_t>(labels.size()));
    return s + labels;
}

// zlib deflate: windowBits 31 = gzip stream, -15 = raw deflate (zip members).
std::string deflateBytes(const std::string& in, int windowBits)
{
    z_stream zs{};
    deflateInit2(&zs, 9, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&zs, in.size()) + 32, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

using testutil::npyBytes;

// A zip with the given members, each stored (method 0) or deflated (8).
std::string zip(const std::vector<std::pair<std::string, std::string>>& members, bool deflated)
{
    std::string out, cd;
    for (const auto& member : members) {
        const std::string& name = member.first; // not a structured binding: lambdas capture it
        const std::string& data = member.second;
        const std::string body = deflated ? deflateBytes(data, -15) : data;
        const auto crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(data.data()),
                                                     static_cast<uInt>(data.size())));
        const auto offset = static_cast<uint32_t>(out.size());
        auto header = [&](std::string& s, bool central) {
            testutil::put<uint32_t>(s, central ? 0x02014b50 : 0x04034b50);
            if (central)
                testutil::put<uint16_t>(s, 20);
            testutil::put<uint16_t>(s, 20);
            testutil::put<uint16_t>(s, 0);
            testutil::put<uint16_t>(s, deflated ? 8 : 0);
            testutil::put<uint32_t>(s, 0); // time, date
            testutil::put<uint32_t>(s, crc);
            testutil::put<uint32_t>(s, static_cast<uint32_t>(body.size()));
            testutil::put<uint32_t>(s, static_cast<uint32_t>(data.size()));
            testutil::put<uint16_t>(s, static_cast<uint16_t>(name.size()));
            testutil::put<uint16_t>(s, 0);
            if (central) {
                for (int i = 0; i < 3; ++i) // comment length, disk, internal attributes
                    testutil::put<uint16_t>(s, 0);
                testutil::put<uint32_t>(s, 0); // external attrs
                testutil::put<uint32_t>(s, offset);
            }
            s += name;
        };
        header(out, false);
        out += body;
        header(cd, true);
    }
    const auto cdOffset = static_cast<uint32_t>(out.size());
    out += cd;
    testutil::put<uint32_t>(out, 0x06054b50);
    testutil::put<uint32_t>(out, 0);
    testutil::put<uint16_t>(out, static_cast<uint16_t>(members.size()));
    testutil::put<uint16_t>(out, static_cast<uint16_t>(members.size()));
    testutil::put<uint32_t>(out, static_cast<uint32_t>(cd.size()));
    testutil::put<uint32_t>(out, cdOffset);
    testutil::put<uint16_t>(out, 0);
    return out;
}

std::string folder(const std::string& name)
{
    const std::string p = testutil::tempPath(name);
    fs::create_directories(p);
    return p;
}

std::string writeIn(const std::string& dir, const std::string& name, const std::string& bytes)
{
    const std::string path = dir + "/" + name;
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
}

std::vector<float> batch(const Dataset& d, const std::vector<int64_t>& shape, int64_t first, int64_t count,
                         std::vector<int64_t>* labels = nullptr)
{
    int64_t per = 1;
    for (size_t i = 1; i < shape.size(); ++i)
        per *= shape[i];
    std::vector<float> out(static_cast<size_t>(per * count), -99.0f);
    if (labels)
        labels->assign(static_cast<size_t>(count), -1);
    d.fillBatch(first, count, shape, out.data(), labels ? labels->data() : nullptr);
    return out;
}

void expectError(const std::function<void()>& f, const std::string& path, const std::string& fault)
{
    try {
        f();
        QFAIL(("no error; expected: " + fault).c_str());
    } catch (const FileError& e) {
        if (e.path() != path || e.fault().find(fault) == std::string::npos)
            QFAIL(("got '" + std::string(e.what()) + "', expected " + path + ": ..." + fault).c_str());
    }
}

const std::string kPixels("\x00\x33\x66\xff" "\x10\x20\x30\x40" "\x01\x02\x03\x04", 12); // 3 x 2x2
const std::string kLabels("\x01\x00\x02", 3);

} // namespace

class TestDataset : public QObject {
    Q_OBJECT
private slots:
    void idxRawAndGzipWithLabelsBeside()
    {
        const std::string raw = folder("idx_raw"), gz = folder("idx_gz"), mixed = folder("idx_mixed");
        const std::string a = writeIn(raw, "t10k-images-idx3-ubyte", idxImages(3, 2, 2, kPixels));
        writeIn(raw, "t10k-labels-idx1-ubyte", idxLabels(kLabels));
        const std::string b = writeIn(gz, "t10k-images-idx3-ubyte.gz", deflateBytes(idxImages(3, 2, 2, kPixels), 31));
        writeIn(gz, "t10k-labels-idx1-ubyte.gz", deflateBytes(idxLabels(kLabels), 31));
        const std::string c = writeIn(mixed, "t10k-images-idx3-ubyte", idxImages(3, 2, 2, kPixels));
        writeIn(mixed, "t10k-labels-idx1-ubyte.gz", deflateBytes(idxLabels(kLabels), 31));
        for (const std::string& path : {a, b, c}) {
            const auto d = openDataset(path);
            QCOMPARE(d->format(), std::string("IDX"));
            QCOMPARE(d->size(), int64_t(3));
            QCOMPARE(d->sampleShape().c, int64_t(1));
            QCOMPARE(d->sampleShape().h, int64_t(2));
            QCOMPARE(d->numClasses(), 3);
            QCOMPARE(d->labels(), (std::vector<int64_t>{1, 0, 2}));
            std::vector<int64_t> lab;
            const auto v = batch(*d, {2, 1, 2, 2}, 1, 2, &lab);
            QCOMPARE(lab, (std::vector<int64_t>{0, 2}));
            for (int i = 0; i < 8; ++i)
                QCOMPARE(v[i], static_cast<float>(static_cast<uint8_t>(kPixels[4 + i]) * (1.0 / 255.0)));
        }
        // Explicit labels option, whatever its name.
        const std::string other = writeIn(raw, "my-labels", idxLabels(kLabels));
        DatasetOptions o;
        o.labels = other;
        QCOMPARE(openDataset(a, o)->labels()[2], int64_t(2));
    }

    void preprocessingByHand()
    {
        const std::string dir = folder("pre");
        const std::string p = writeIn(dir, "t10k-images-idx3-ubyte", idxImages(3, 2, 2, kPixels));
        writeIn(dir, "t10k-labels-idx1-ubyte", idxLabels(kLabels));
        DatasetOptions o;
        o.mean = {0.5f};
        o.std = {0.25f};
        const auto d = openDataset(p, o);
        const Preprocess pre = d->preprocess({1, 1, 2, 2});
        QCOMPARE(pre.describe(), std::string("uint8 x/255, mean 0.5 std 0.25, NCHW [N,1,2,2]"));
        // (v / 255 - 0.5) / 0.25 for 0, 51, 102, 255.
        const auto v = batch(*d, {1, 1, 2, 2}, 0, 1);
        const float want[] = {-2.0f, -1.2f, -0.4f, 2.0f};
        for (int i = 0; i < 4; ++i)
            QVERIFY2(std::fabs(v[i] - want[i]) < 1e-6f, std::to_string(v[i]).c_str());
        // Flattened for a rank-2 model input: the same values.
        QCOMPARE(d->preprocess({8, 4}).describe(), std::string("uint8 x/255, mean 0.5 std 0.25, flattened [N,4]"));
        QCOMPARE(batch(*d, {8, 4}, 0, 1), v);
        const auto def = openDataset(p);
        QCOMPARE(def->preprocess({1, 1, 2, 2}).describe(), std::string("uint8 x/255, mean 0 std 1, NCHW [N,1,2,2]"));
        o.scale = 1.0;
        o.mean = {1.0f, 2.0f};
        expectError([&] { openDataset(p, o)->preprocess({1, 1, 2, 2}); }, p, "mean has 2 values but the data has 1 channels");
    }

    void mnistFolderAndSplit()
    {
        const std::string dir = folder("mnist");
        writeIn(dir, "t10k-images-idx3-ubyte.gz", deflateBytes(idxImages(2, 2, 2, kPixels.substr(0, 8)), 31));
        writeIn(dir, "t10k-labels-idx1-ubyte.gz", deflateBytes(idxLabels(kLabels.substr(0, 2)), 31));
        writeIn(dir, "train-images-idx3-ubyte", idxImages(3, 2, 2, kPixels));
        writeIn(dir, "train-labels-idx1-ubyte", idxLabels(kLabels));
        QCOMPARE(openDataset(dir)->size(), int64_t(2));
        DatasetOptions o;
        o.split = "train";
        QCOMPARE(openDataset(dir, o)->size(), int64_t(3));
        o.split = "validation";
        expectError([&] { openDataset(dir, o); }, dir, "unknown split 'validation'");
        const std::string only = folder("mnist_train_only");
        writeIn(only, "train-images-idx3-ubyte", idxImages(3, 2, 2, kPixels));
        expectError([&] { openDataset(only); }, only, "no t10k-images-idx3-ubyte[.gz] for the test split");
    }

    void realFashionMnist()
    {
        const std::string dir = defaultDatasetPath();
        if (!fs::exists(dir + "/t10k-images-idx3-ubyte.gz"))
            QSKIP("Debian's dataset-fashion-mnist is not installed");
        const auto d = openDataset(dir);
        QCOMPARE(d->size(), int64_t(10000));
        QCOMPARE(d->sampleShape().c, int64_t(1));
        QCOMPARE(d->sampleShape().h, int64_t(28));
        QCOMPARE(d->sampleShape().w, int64_t(28));
        QCOMPARE(d->numClasses(), 10);
        QCOMPARE(d->labels()[0], int64_t(9)); // "Ankle boot"
        std::vector<int> perClass(10);
        for (int64_t l : d->labels())
            ++perClass[static_cast<size_t>(l)];
        QCOMPARE(perClass, std::vector<int>(10, 1000));
        QCOMPARE(d->preprocess({64, 1, 28, 28}).describe(), std::string("uint8 x/255, mean 0 std 1, NCHW [N,1,28,28]"));
        const auto v = batch(*d, {1, 1, 28, 28}, 0, 1);
        double sum = 0;
        for (float x : v)
            sum += x * 255.0;
        QVERIFY(std::fabs(sum - 33456) < 0.05); // the first image's pixel sum
        expectError([&] { d->preprocess({1, 3, 32, 32}); }, dir + "/t10k-images-idx3-ubyte.gz",
                    "the data is 1x28x28 (C x H x W) but the model wants 3x32x32");
        expectError([&] { d->preprocess({1, 3072}); }, dir + "/t10k-images-idx3-ubyte.gz",
                    "784 values per sample (1x28x28) but the model input [1,3072] wants 3072");
        DatasetOptions train;
        train.split = "train";
        const auto t = openDataset(dir, train);
        QCOMPARE(t->size(), int64_t(60000));
        QCOMPARE(t->labels()[0], int64_t(9));
    }

    void npyBeside()
    {
        const std::string dir = folder("npy");
        const std::vector<float> xs = {0.5f, -1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f};
        const std::string x = writeIn(dir, "x.npy", npyBytes("<f4", {2, 1, 2, 2}, testutil::floatBytes(xs)));
        std::string ys;
        testutil::put<int64_t>(ys, 4), testutil::put<int64_t>(ys, 1);
        writeIn(dir, "y.npy", npyBytes("<i8", {2}, ys));
        const auto d = openDataset(x);
        QCOMPARE(d->format(), std::string("npy"));
        QCOMPARE(d->numClasses(), 5);
        QCOMPARE(d->preprocess({1, 1, 2, 2}).describe(), std::string("float32 x*1, mean 0 std 1, NCHW [N,1,2,2]"));
        QCOMPARE(batch(*d, {2, 1, 2, 2}, 0, 2), xs);
        // NHWC uint8 [1,2,2,3] -> NCHW; Fortran-order float64 [2,3] read transposed.
        const std::string hwc("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c", 12);
        const std::string x2 = writeIn(dir, "images.npy", npyBytes("|u1", {1, 2, 2, 3}, hwc));
        writeIn(dir, "labels.npy", npyBytes("|u1", {1}, std::string(1, '\0')));
        DatasetOptions raw;
        raw.scale = 1.0;
        const auto d2 = openDataset(x2, raw);
        QCOMPARE(d2->sampleShape().c, int64_t(3));
        QCOMPARE(d2->preprocess({1, 3, 2, 2}).describe(), std::string("uint8 x*1, mean 0 std 1, NCHW [N,3,2,2], NHWC->NCHW"));
        QCOMPARE(batch(*d2, {1, 3, 2, 2}, 0, 1), (std::vector<float>{1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12}));
        std::string f64;
        for (double v : {1.0, 4.0, 2.0, 5.0, 3.0, 6.0}) // column-major [[1,2,3],[4,5,6]]
            testutil::put<double>(f64, v);
        const std::string x3 = writeIn(dir, "f_x.npy", npyBytes("<f8", {2, 3}, f64, true));
        writeIn(dir, "f_y.npy", npyBytes("<i4", {2}, std::string("\0\0\0\0\1\0\0\0", 8)));
        const auto d3 = openDataset(x3);
        QCOMPARE(batch(*d3, {2, 3}, 0, 2), (std::vector<float>{1, 2, 3, 4, 5, 6}));
        // [N,D] data feeds a rank-4 input of the same size, reshaped.
        QCOMPARE(batch(*d3, {2, 3, 1, 1}, 1, 1), (std::vector<float>{4, 5, 6}));
    }

    void npzStoredAndDeflated()
    {
        const std::vector<float> xs = {1, 2, 3, 4, 5, 6, 7, 8};
        std::string ys;
        testutil::put<int64_t>(ys, 0), testutil::put<int64_t>(ys, 3);
        const std::string xn = npyBytes("<f4", {2, 4}, testutil::floatBytes(xs)), yn = npyBytes("<i8", {2}, ys);
        for (bool deflated : {false, true}) {
            const std::string p = testutil::writeTemp(deflated ? "d.npz" : "s.npz", zip({{"x.npy", xn}, {"y.npy", yn}}, deflated));
            const auto d = openDataset(p);
            QCOMPARE(d->format(), std::string("npz"));
            QCOMPARE(d->size(), int64_t(2));
            QCOMPARE(d->labels(), (std::vector<int64_t>{0, 3}));
            QCOMPARE(batch(*d, {2, 4}, 0, 2), xs);
        }
        const std::string noY = testutil::writeTemp("noy.npz", zip({{"x.npy", xn}, {"labels.npy", yn}}, true));
        expectError([&] { openDataset(noY); }, noY, "no y array (members: x.npy, labels.npy)");
        const std::string noX = testutil::writeTemp("nox.npz", zip({{"y.npy", yn}}, false));
        expectError([&] { openDataset(noX); }, noX, "no x array");
        std::string bad = zip({{"x.npy", xn}, {"y.npy", yn}}, false);
        bad[30 + 5 + 100] ^= 0x40; // a byte of x's data
        const std::string crc = testutil::writeTemp("crc.npz", bad);
        expectError([&] { openDataset(crc); }, crc, "x.npy: CRC mismatch");
        const std::string trunc = testutil::writeTemp("trunc.npz", zip({{"x.npy", xn}, {"y.npy", yn}}, true).substr(0, 60));
        expectError([&] { openDataset(trunc); }, trunc, "no end of central directory");
        const std::string mismatch = testutil::writeTemp("mm.npz", zip({{"x.npy", xn}, {"y.npy", npyBytes("<i8", {1}, ys.substr(0, 8))}}, true));
        expectError([&] { openDataset(mismatch); }, mismatch, "y has 1 labels but x has 2 samples");
    }

    void imageFolder()
    {
        const std::string root = folder("images");
        fs::create_directories(root + "/cat"), fs::create_directories(root + "/dog");
        const unsigned char rgb[12] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30}; // 2x2 RGB
        QVERIFY(stbi_write_png((root + "/dog/b.png").c_str(), 2, 2, 3, rgb, 6));
        QVERIFY(stbi_write_bmp((root + "/dog/c.bmp").c_str(), 2, 2, 3, rgb));
        const unsigned char gray[2] = {0, 100}; // 1 x 2 gray
        QVERIFY(stbi_write_png((root + "/cat/a.png").c_str(), 2, 1, 1, gray, 2));
        writeIn(root, "cat/notes.txt", "not an image, ignored");
        DatasetOptions o;
        o.scale = 1.0;
        const auto d = openDataset(root, o);
        QCOMPARE(d->format(), std::string("image folder"));
        QCOMPARE(d->size(), int64_t(3));
        QCOMPARE(d->classNames(), (std::vector<std::string>{"cat", "dog"}));
        QCOMPARE(d->labels(), (std::vector<int64_t>{0, 1, 1}));
        QCOMPARE(d->sampleShape().c, int64_t(1)); // from the first image (gray 1x2)
        QCOMPARE(d->sampleShape().w, int64_t(2));
        // RGB at the native size: exact, planar.
        std::vector<float> planar = {255, 0, 0, 10, 0, 255, 0, 20, 0, 0, 255, 30};
        const std::vector<float> once = planar;
        planar.insert(planar.end(), once.begin(), once.end()); // b.png, then c.bmp
        QCOMPARE(batch(*d, {2, 3, 2, 2}, 1, 2), planar);
        QCOMPARE(d->preprocess({1, 3, 2, 2}).describe(), std::string("uint8 x*1, mean 0 std 1, NCHW [N,3,2,2], RGB, bilinear 2x2 from images"));
        // Gray conversion as stb_image does it: (77 r + 150 g + 29 b) >> 8.
        const auto g = batch(*d, {1, 1, 2, 2}, 1, 1);
        QCOMPARE(g, (std::vector<float>{(77 * 255) >> 8, (150 * 255) >> 8, (29 * 255) >> 8, (77 * 10 + 150 * 20 + 29 * 30) >> 8}));
        // Bilinear 1x2 -> 1x4 with half-pixel centres: source x = (x + 0.5) / 2 - 0.5, clamped.
        QCOMPARE(batch(*d, {1, 1, 1, 4}, 0, 1), (std::vector<float>{0, 25, 75, 100}));
        // The 1x2 gray image as RGB 2x2: each channel equal, each row the same.
        QCOMPARE(batch(*d, {1, 3, 2, 2}, 0, 1), (std::vector<float>{0, 100, 0, 100, 0, 100, 0, 100, 0, 100, 0, 100}));
        expectError([&] { d->preprocess({1, 4, 2, 2}); }, root, "the model wants 4 channels; images convert to 1 (gray) or 3 (RGB)");

        const std::string empty = folder("images_empty");
        expectError([&] { openDataset(empty); }, empty, "empty image folder");
        fs::create_directories(empty + "/a");
        expectError([&] { openDataset(empty); }, empty + "/a", "no images in this class folder");
        // No cache: decoded again per batch, same values.
        o.imageCacheBytes = 0;
        const auto nc = openDataset(root, o);
        QCOMPARE(batch(*nc, {2, 3, 2, 2}, 1, 2), planar);
        QCOMPARE(batch(*nc, {2, 3, 2, 2}, 1, 2), planar);
        // A PNG whose header reads but whose pixels are cut: found when the batch decodes it.
        std::ifstream pngFile(root + "/dog/b.png", std::ios::binary);
        const std::string cutPng = std::string(std::istreambuf_iterator<char>(pngFile), {}).substr(0, 40);
        const std::string lazy = folder("images_lazy");
        const std::string cut = writeIn(lazy, "k/cut.png", cutPng);
        const auto dl = openDataset(lazy);
        expectError([&] { batch(*dl, {1, 3, 2, 2}, 0, 1); }, cut, "cannot decode the image");

        const std::string corrupt = folder("images_corrupt");
        const std::string bad = writeIn(corrupt, "x/bad.png", "this is not a PNG");
        expectError([&] { openDataset(corrupt); }, bad, "not a readable image");

        // Hostile headers: stb_image would allocate what they claim, whatever the file's size.
        // A PNG whose IDAT chunk claims 2^31-1 bytes (the file has 70-odd) is refused, naming
        // the chunk's offset and length; a GIF header claiming 18747 x 16708 pixels in 13 bytes
        // is refused when the folder opens, naming the limit.
        std::string bigChunk = std::string(std::istreambuf_iterator<char>(
                                               *std::make_unique<std::ifstream>(root + "/dog/b.png", std::ios::binary)),
                                           {});
        const size_t idat = bigChunk.find("IDAT");
        QVERIFY(idat != std::string::npos && idat >= 4);
        bigChunk.replace(idat - 4, 4, std::string("\x7f\xff\xff\xff", 4));
        const std::string hostile = folder("images_hostile");
        const std::string chunk = writeIn(hostile, "k/chunk.png", bigChunk);
        const auto dh = openDataset(hostile);
        expectError([&] { batch(*dh, {1, 3, 2, 2}, 0, 1); }, chunk,
                    "PNG chunk at byte " + std::to_string(idat - 4) + " claims 2147483647 bytes, past the end of the file");
        const std::string huge = folder("images_huge");
        const std::string gif = writeIn(huge, "k/huge.gif", std::string("GIF89a\x3b\x49\x44\x41\x00\x00\x00", 13));
        expectError([&] { openDataset(huge); }, gif, "image of 18747x16708 pixels (at most 67108864 are read)");
    }

    void brokenIdx()
    {
        const std::string dir = folder("broken");
        const std::string imgs = writeIn(dir, "t10k-images-idx3-ubyte", idxImages(3, 2, 2, kPixels));
        const std::string labs = writeIn(dir, "short-labels", idxLabels(kLabels.substr(0, 2)));
        DatasetOptions o;
        o.labels = labs;
        expectError([&] { openDataset(imgs, o); }, labs, "has 2 labels but " + imgs + " has 3 images");
        o.labels = writeIn(dir, "ok-labels", idxLabels(kLabels));
        const std::string trunc = writeIn(dir, "trunc-images-idx3-ubyte", idxImages(3, 2, 2, kPixels.substr(0, 11)));
        expectError([&] { openDataset(trunc, o); }, trunc, "truncated: 11 data bytes, the header says 12");
        const std::string over = writeIn(dir, "over-images-idx3-ubyte", idxImages(3, 2, 2, kPixels + "x"));
        expectError([&] { openDataset(over, o); }, over, "oversized: 13 data bytes");
        expectError([&] { openDataset(o.labels, o); }, o.labels, "not an IDX images file (magic 0x00000801, expected 0x00000803)");
        const std::string gzTrunc = writeIn(dir, "gt-images.gz", deflateBytes(idxImages(3, 2, 2, kPixels), 31).substr(0, 20));
        expectError([&] { openDataset(gzTrunc, o); }, gzTrunc, "truncated");
        const std::string huge = writeIn(dir, "huge-images.gz", deflateBytes(idxImages(1000000000, 28, 28, kPixels), 31));
        expectError([&] { openDataset(huge, o); }, huge, "corrupt: 784000000016 bytes expected from");
        const std::string more = writeIn(dir, "more-images.gz", deflateBytes(idxImages(2, 2, 2, kPixels), 31));
        expectError([&] { openDataset(more, o); }, more, "more data than expected (24 bytes)");
        const std::string lonely = writeIn(folder("lonely"), "t10k-images-idx3-ubyte", idxImages(3, 2, 2, kPixels));
        expectError([&] { openDataset(lonely); }, lonely, "no labels file beside it (t10k-labels-idx1-ubyte with or without .gz)");
        expectError([&] { openDataset(dir + "/missing"); }, dir + "/missing", "no such file or folder");
        const std::string odd = writeIn(dir, "odd.bin", "whatever");
        expectError([&] { openDataset(odd); }, odd, "not a known data set");
        const auto d = openDataset(imgs, o);
        expectError([&] { d->preprocess({1, 3, 32, 32}); }, imgs, "the data is 1x2x2 (C x H x W) but the model wants 3x32x32");
        expectError([&] { d->preprocess({1, 1, -1, 2}); }, imgs, "unknown or invalid size");
        QVERIFY_THROWS_EXCEPTION(Error, batch(*d, {1, 1, 2, 2}, 2, 2));
        // .npy faults
        const std::string big = writeIn(dir, "big_x.npy", npyBytes(">f4", {1, 2}, std::string(8, '\0')));
        writeIn(dir, "big_y.npy", npyBytes("|u1", {1}, std::string(1, '\0')));
        expectError([&] { openDataset(big); }, big, "big-endian .npy data (>f4) is not supported");
        const std::string cut = writeIn(dir, "cut_x.npy", npyBytes("<f4", {2, 2}, std::string(12, '\0')));
        writeIn(dir, "cut_y.npy", npyBytes("|u1", {2}, std::string(2, '\0')));
        expectError([&] { openDataset(cut); }, cut, "truncated: 12 data bytes for 16 expected");
        const std::string none = writeIn(dir, "none_x.npy", npyBytes("<f4", {0, 2}, ""));
        writeIn(dir, "none_y.npy", npyBytes("|u1", {0}, ""));
        expectError([&] { openDataset(none); }, none, "no samples (shape [0,2])");
        const std::string scalar = writeIn(dir, "scalar_x.npy", npyBytes("<f4", {}, std::string(4, '\0')));
        writeIn(dir, "scalar_y.npy", npyBytes("|u1", {1}, std::string(1, '\0')));
        expectError([&] { openDataset(scalar); }, scalar, "must be [N,C,H,W]");
    }
};

QTEST_APPLESS_MAIN(TestDataset)
#include "tst_dataset.moc"
