// Only regular files are read as data: a FIFO, a device or a directory where a file belongs is
// refused at once with a FileError naming it (a FIFO without a writer would block open() or
// read() forever, /dev/zero never ends). Files a model refers to beside itself that resolve
// outside its folder through a symbolic link are refused naming the link and its target; a
// link inside the folder is followed. Each case runs in a child process that is killed after
// a minute, so a read that blocks fails the case instead of hanging the test.
#include "bonsai/dataset.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"
#include "bonsai/tokenizer.h"
#include "common/regular_file.h"
#include "onnx_build.h"
#include "testutil.h"

#include <filesystem>
#include <functional>

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace bonsai;
using namespace onnxtest;
namespace fs = std::filesystem;

namespace {

// The message of the FileError `f` throws in a child process ("" when it throws none,
// "UNEXPECTED ..." for another exception, "BLOCKED" when it has not returned after 60 s).
QString errorInChild(const std::function<void()>& f)
{
    int fds[2];
    if (pipe(fds) != 0)
        qFatal("pipe");
    const pid_t pid = fork();
    if (pid == 0) {
        ::close(fds[0]);
        const std::string msg = errorOf(f).toStdString();
        size_t done = 0;
        while (done < msg.size()) {
            const ssize_t n = ::write(fds[1], msg.data() + done, msg.size() - done);
            if (n <= 0)
                break;
            done += static_cast<size_t>(n);
        }
        _exit(0);
    }
    ::close(fds[1]);
    std::string msg;
    bool blocked = false;
    for (;;) {
        pollfd p{fds[0], POLLIN, 0};
        const int ready = poll(&p, 1, 60000);
        if (ready == 0) {
            blocked = true;
            break;
        }
        char buf[4096];
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0)
            break;
        msg.append(buf, static_cast<size_t>(n));
    }
    ::close(fds[0]);
    if (blocked)
        kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (blocked)
        return QStringLiteral("BLOCKED");
    if (!WIFEXITED(status))
        return QStringLiteral("UNEXPECTED: the child died (signal %1)").arg(WTERMSIG(status));
    return QString::fromStdString(msg);
}

#define EXPECT_REFUSED(call, path, needle)                                                    \
    do {                                                                                      \
        const QString msg_ = errorInChild([&] { call; });                                      \
        EXPECT_FILE_ERROR(msg_, needle);                                                      \
        QVERIFY2(msg_.contains(QString::fromStdString(path)), qPrintable(msg_));                \
    } while (0)

std::string makeFifo(const std::string& path)
{
    fs::remove(path);
    if (mkfifo(path.c_str(), 0600) != 0)
        qFatal("mkfifo failed");
    return path;
}

std::string freshDir(const std::string& name)
{
    const std::string dir = testutil::tempPath(name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

// testutil::writeTemp into a sub-folder of the temporary directory, created as needed.
std::string writeAt(const std::string& name, const std::string& bytes)
{
    fs::create_directories(fs::path(testutil::tempPath(name)).parent_path());
    return testutil::writeTemp(name, bytes);
}

std::string smallSafetensors()
{
    return testutil::makeSafetensors({{"fc.weight", "F32", {2, 2}, testutil::floatBytes({1, 2, 3, 4})}});
}

std::string indexJson(const std::string& shard)
{
    return R"({"metadata":{},"weight_map":{"fc.weight":")" + shard + R"("}})";
}

// A model whose 2x3 initializer lies in `location` beside it.
std::string externalOnnx(const std::string& dir, const std::string& location)
{
    onnx::ModelProto m = externalModel(location, "0", "24");
    std::string bytes;
    m.SerializeToString(&bytes);
    return writeAt(fs::path(dir).filename().string() + "/model.onnx", bytes);
}

const std::string kWeights = testutil::floatBytes({1, 2, 3, 4, 5, 6});

} // namespace

class TstRegularFiles : public QObject {
    Q_OBJECT
private slots:
    void fifoAsModel();
    void deviceAsModel();
    void directoryWhereFileBelongs();
    void fifoAsShardAndSideFile();
    void fifoAsTokenizer();
    void fifoAsDataset();
    void fifoAsRecipeAndText();
    void readCapped();
    void symlinkedShard();
    void symlinkedExternalData();
    void symlinkedTokenizer();
    void huggingFaceCache();
};

void TstRegularFiles::fifoAsModel()
{
    const std::string dir = freshDir("fifo-model");
    for (const char* name : {"m.onnx", "m.gguf", "m.safetensors", "m.bin"}) {
        const std::string p = makeFifo(dir + "/" + name);
        EXPECT_REFUSED(Model::open(p), p, "not a regular file (a FIFO)");
    }
}

void TstRegularFiles::deviceAsModel()
{
    // /dev/zero never ends: it must be refused, not read.
    EXPECT_REFUSED(Model::open("/dev/zero"), std::string("/dev/zero"), "not a regular file (a character device)");
    EXPECT_REFUSED(Recipe::load("/dev/zero"), std::string("/dev/zero"), "a character device");
    EXPECT_REFUSED(readTextFile("/dev/zero"), std::string("/dev/zero"), "a character device");
}

void TstRegularFiles::directoryWhereFileBelongs()
{
    const std::string dir = freshDir("dir-as-file");
    // An index naming a shard that is a directory; ONNX external data that is a directory.
    fs::create_directories(dir + "/shard.safetensors");
    const std::string index = writeAt("dir-as-file/model.safetensors.index.json", indexJson("shard.safetensors"));
    EXPECT_REFUSED(Model::open(index), dir + "/shard.safetensors", "not a regular file (a directory)");
    fs::create_directories(dir + "/weights.bin");
    const std::string onnx = externalOnnx(dir, "weights.bin");
    EXPECT_REFUSED(Model::open(onnx), "weights.bin", "not a regular file (a directory)");
    fs::create_directories(dir + "/r.json");
    EXPECT_REFUSED(Recipe::load(dir + "/r.json"), dir + "/r.json", "not a regular file (a directory)");
    fs::create_directories(dir + "/tok/tokenizer.json");
    EXPECT_REFUSED(Tokenizer::fromTokenizerJson(dir + "/tok/tokenizer.json"), dir + "/tok/tokenizer.json",
                   "a directory");
}

void TstRegularFiles::fifoAsShardAndSideFile()
{
    const std::string dir = freshDir("fifo-shard");
    makeFifo(dir + "/shard.safetensors");
    const std::string index = writeAt("fifo-shard/model.safetensors.index.json", indexJson("shard.safetensors"));
    EXPECT_REFUSED(Model::open(index), dir + "/shard.safetensors", "a FIFO");

    // ONNX external data in a FIFO.
    const std::string odir = freshDir("fifo-external");
    makeFifo(odir + "/weights.bin");
    EXPECT_REFUSED(Model::open(externalOnnx(odir, "weights.bin")), odir + "/weights.bin", "a FIFO");

    // The checkpoint's config.json as a FIFO.
    const std::string cdir = freshDir("fifo-config");
    writeAt("fifo-config/model.safetensors", smallSafetensors());
    makeFifo(cdir + "/config.json");
    EXPECT_REFUSED(Model::open(cdir), cdir + "/config.json", "a FIFO");
}

void TstRegularFiles::fifoAsTokenizer()
{
    const std::string dir = freshDir("fifo-tokenizer");
    makeFifo(dir + "/tokenizer.json");
    EXPECT_REFUSED(Tokenizer::fromTokenizerJson(dir + "/tokenizer.json"), dir + "/tokenizer.json", "a FIFO");
    makeFifo(dir + "/tokenizer.model");
    EXPECT_REFUSED(Tokenizer::fromSentencePiece(dir + "/tokenizer.model"), dir + "/tokenizer.model",
                   "not a regular file");
    // Found beside a model.
    const std::string model = writeAt("fifo-tokenizer/model.safetensors", smallSafetensors());
    EXPECT_REFUSED(Tokenizer::forModel(*Model::open(model)), dir + "/tokenizer.model", "not a regular file");
}

void TstRegularFiles::fifoAsDataset()
{
    // Each FIFO has real labels beside it, so that the data file itself is opened.
    const std::string dir = freshDir("fifo-dataset");
    std::string label;
    testutil::put<int64_t>(label, 3);
    writeAt("fifo-dataset/y.npy", testutil::npyBytes("<i8", {1}, label));
    writeAt("fifo-dataset/t10k-labels-idx1-ubyte", std::string("\0\0\x08\x01\0\0\0\x01\x03", 9));
    for (const char* name : {"x.npy", "d.npz", "t10k-images-idx3-ubyte"}) {
        const std::string p = makeFifo(dir + "/" + name);
        EXPECT_REFUSED(openDataset(p), p, "a FIFO");
    }
    // An image of an image folder: not listed as an image, never opened.
    const std::string images = freshDir("fifo-images");
    fs::create_directories(images + "/cat");
    makeFifo(images + "/cat/a.png");
    EXPECT_REFUSED(openDataset(images), images + "/cat", "no images");
}

void TstRegularFiles::fifoAsRecipeAndText()
{
    const std::string dir = freshDir("fifo-recipe");
    const std::string recipe = makeFifo(dir + "/r.json");
    EXPECT_REFUSED(Recipe::load(recipe), recipe, "a FIFO");
    const std::string text = makeFifo(dir + "/t.txt");
    EXPECT_REFUSED(readTextFile(text), text, "a FIFO");
    EXPECT_REFUSED(readRegularFile(dir, 100, "file"), dir, "a directory");
}

void TstRegularFiles::readCapped()
{
    const std::string p = writeAt("capped.txt", std::string(100, 'a'));
    QCOMPARE(readRegularFile(p, 100, "file"), std::string(100, 'a'));
    EXPECT_REFUSED(readRegularFile(p, 99, "text file"), p, "text file larger than 99 bytes");
    EXPECT_REFUSED(readRegularFile(p + ".missing", 99, "file"), p + ".missing", "no such file");
}

void TstRegularFiles::symlinkedShard()
{
    const std::string outside = freshDir("shard-outside");
    writeAt("shard-outside/real.safetensors", smallSafetensors());
    const std::string dir = freshDir("shard-link");
    fs::create_symlink(outside + "/real.safetensors", dir + "/shard.safetensors");
    const std::string index = writeAt("shard-link/model.safetensors.index.json", indexJson("shard.safetensors"));
    const QString m = errorInChild([&] { Model::open(index); });
    EXPECT_FILE_ERROR(m, "outside the model's folder");
    QVERIFY2(m.contains(QString::fromStdString(dir + "/shard.safetensors")), qPrintable(m)); // the link
    QVERIFY2(m.contains(QString::fromStdString(outside + "/real.safetensors")), qPrintable(m)); // its target
    // A folder of shards (no index) refuses it too.
    fs::remove(index);
    EXPECT_REFUSED(Model::open(dir), dir + "/shard.safetensors", "outside the model's folder");

    // A link inside the folder is followed: the tensor reads back.
    const std::string in = freshDir("shard-inside");
    writeAt("shard-inside/sub/real.safetensors", smallSafetensors());
    fs::create_symlink("sub/real.safetensors", in + "/shard.safetensors");
    writeAt("shard-inside/model.safetensors.index.json", indexJson("shard.safetensors"));
    const auto model = Model::open(in + "/model.safetensors.index.json");
    QCOMPARE(model->tensors.size(), size_t(1));
    QCOMPARE(model->tensors[0].name, std::string("fc.weight"));
}

void TstRegularFiles::symlinkedExternalData()
{
    const std::string outside = freshDir("external-outside");
    writeAt("external-outside/w.bin", kWeights);
    const std::string dir = freshDir("external-link");
    fs::create_symlink(outside + "/w.bin", dir + "/weights.bin");
    const QString m = errorInChild([&] { Model::open(externalOnnx(dir, "weights.bin")); });
    EXPECT_FILE_ERROR(m, "outside the model's folder");
    QVERIFY2(m.contains(QString::fromStdString(outside + "/w.bin")), qPrintable(m));
    // A link to a folder outside, used as a path component, too.
    fs::create_symlink(outside, dir + "/sub");
    EXPECT_REFUSED(Model::open(externalOnnx(dir, "sub/w.bin")), outside + "/w.bin", "outside the model's folder");

    const std::string in = freshDir("external-inside");
    writeAt("external-inside/data/w.bin", kWeights);
    fs::create_symlink("data/w.bin", in + "/weights.bin");
    const auto model = Model::open(externalOnnx(in, "weights.bin"));
    QVERIFY(model->findTensor("ext.weight") >= 0);
}

void TstRegularFiles::symlinkedTokenizer()
{
    const std::string outside = freshDir("tok-outside");
    fs::copy_file(testutil::dataPath("tokenizers/bpe_gpt2.json"), outside + "/tokenizer.json");
    const std::string dir = freshDir("tok-link");
    const std::string model = writeAt("tok-link/model.safetensors", smallSafetensors());
    fs::create_symlink(outside + "/tokenizer.json", dir + "/tokenizer.json");
    EXPECT_REFUSED(Tokenizer::forModel(*Model::open(model)), dir + "/tokenizer.json", "outside the model's folder");
    fs::remove(dir + "/tokenizer.json");
    fs::create_symlink(outside + "/tokenizer.json", dir + "/config.json");
    EXPECT_REFUSED(Model::open(dir), dir + "/config.json", "outside the model's folder");
}

void TstRegularFiles::huggingFaceCache()
{
    // A hub cache snapshot links its files into the repository's blobs/: that is the model's.
    const std::string repo = freshDir("models--org--tiny");
    writeAt("models--org--tiny/blobs/0123abcd", smallSafetensors());
    fs::create_directories(repo + "/snapshots/rev1");
    fs::create_symlink("../../blobs/0123abcd", repo + "/snapshots/rev1/model.safetensors");
    const auto model = Model::open(repo + "/snapshots/rev1");
    QCOMPARE(model->tensors.size(), size_t(1));
    // Outside the repository folder is still outside.
    const std::string outside = freshDir("hf-outside");
    writeAt("hf-outside/x.safetensors", smallSafetensors());
    fs::create_symlink(outside + "/x.safetensors", repo + "/snapshots/rev1/other.safetensors");
    EXPECT_REFUSED(Model::open(repo + "/snapshots/rev1"), outside + "/x.safetensors", "outside the model's folder");
}

QTEST_GUILESS_MAIN(TstRegularFiles)
#include "tst_regular_files.moc"
