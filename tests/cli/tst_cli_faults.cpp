// bonsai-cli on hostile files and faulty disks, run as a separate process (killed after a
// minute, so a read that blocks fails instead of hanging): a FIFO or device given as the
// model, recipe, text or data set is refused at once naming it; a fault that is no Bonsai
// error (memory running out while loading) is told in words naming the file, never as raw
// exception text; a file size limit, a missing folder or a folder the user may not write into
// while writing gives exit 1, a message naming the output and no file left behind.
#include "testutil.h"

#include <QtTest>

#include <filesystem>

#include <sys/stat.h>
#include <unistd.h>

using testutil::runCli;
namespace fs = std::filesystem;

namespace {

const QString kLlama = QStringLiteral(BONSAI_TEST_DATA "/tiny-llama");
const QString kCnn = QStringLiteral(BONSAI_DEMO_MODEL);
constexpr int kWatchdogMs = 60000;

QString fifo(const std::string& name)
{
    const std::string p = testutil::tempPath(name);
    fs::remove(p);
    if (mkfifo(p.c_str(), 0600) != 0)
        qFatal("mkfifo failed");
    return QString::fromStdString(p);
}

// bonsai-cli ARGS under the shell's limits (`ulimit ...` commands), nothing else changed.
testutil::CliResult runLimited(const QString& limits, const QStringList& args)
{
    QStringList all{QStringLiteral("-c"), limits + QStringLiteral("; exec \"$0\" \"$@\""), QStringLiteral(BONSAI_CLI_PATH)};
    all += args;
    return testutil::runProgram(QStringLiteral("sh"), all, {}, kWatchdogMs);
}

#define EXPECT_CLI_ERROR(r, path, needle)                                                              \
    do {                                                                                               \
        const auto& r_ = (r);                                                                          \
        QVERIFY2(r_.exitCode == 1, qPrintable(QStringLiteral("exit %1: ").arg(r_.exitCode) + r_.err)); \
        QVERIFY2(r_.err.contains(QString(path).toUtf8()), r_.err.constData());                        \
        QVERIFY2(r_.err.contains(needle), r_.err.constData());                                         \
    } while (0)

} // namespace

class TstCliFaults : public QObject {
    Q_OBJECT
private slots:
    void nonRegularInputs();
    void outOfMemoryInWords();
    void fileSizeLimitWithoutTrap();
    void missingOutputFolder();
    void readOnlyOutputFolder();
};

void TstCliFaults::nonRegularInputs()
{
    const QString model = fifo("cli-fifo.onnx");
    EXPECT_CLI_ERROR(runCli({QStringLiteral("info"), model}, kWatchdogMs), model, "not a regular file (a FIFO)");
    EXPECT_CLI_ERROR(runCli({QStringLiteral("info"), QStringLiteral("/dev/zero")}, kWatchdogMs),
                     QStringLiteral("/dev/zero"), "not a regular file (a character device)");
    const QString recipe = fifo("cli-fifo-recipe.json");
    EXPECT_CLI_ERROR(runCli({QStringLiteral("compress"), kCnn, QStringLiteral("--recipe"), recipe}, kWatchdogMs), recipe,
                     "not a regular file (a FIFO)");
    const QString text = fifo("cli-fifo.txt");
    EXPECT_CLI_ERROR(runCli({QStringLiteral("ppl"), kLlama, QStringLiteral("--text"), text}, kWatchdogMs), text,
                     "not a regular file (a FIFO)");
    const QString data = fifo("cli-fifo.npz");
    EXPECT_CLI_ERROR(runCli({QStringLiteral("eval"), kCnn, QStringLiteral("--dataset"), data}, kWatchdogMs), data,
                     "not a regular file (a FIFO)");
    const QString dir = QString::fromStdString(testutil::tempPath("cli-dir.json"));
    fs::create_directories(dir.toStdString());
    EXPECT_CLI_ERROR(runCli({QStringLiteral("compress"), kCnn, QStringLiteral("--recipe"), dir}, kWatchdogMs), dir,
                     "not a regular file (a directory)");
}

void TstCliFaults::outOfMemoryInWords()
{
    // A 1 GiB F16 tensor (a sparse file: no disk used) whose float32 copy cannot fit in a 2.5 GiB
    // address space that already holds the 1 GiB mapping: std::bad_alloc while compressing.
    const std::string path = testutil::tempPath("cli-huge.safetensors");
    const int64_t rows = 16384, cols = 32768;
    const std::string header = R"({"w.weight":{"dtype":"F16","shape":[)" + std::to_string(rows) + "," +
                               std::to_string(cols) + R"(],"data_offsets":[0,)" + std::to_string(rows * cols * 2) + "]}}";
    {
        std::string head;
        testutil::put<uint64_t>(head, header.size());
        head += header;
        FILE* f = std::fopen(path.c_str(), "wb");
        std::fwrite(head.data(), 1, head.size(), f);
        std::fclose(f);
        QCOMPARE(truncate(path.c_str(), off_t(head.size()) + rows * cols * 2), 0);
    }
    const auto r = runLimited(QStringLiteral("ulimit -v 2621440"),
                              {QStringLiteral("compress"), QString::fromStdString(path), QStringLiteral("--preset"), QStringLiteral("int8")});
    fs::remove(path);
    EXPECT_CLI_ERROR(r, QString::fromStdString(path), "not enough memory");
    QVERIFY2(!r.err.contains("bad_alloc") && !r.err.contains("unexpected error"), r.err.constData());
}

void TstCliFaults::fileSizeLimitWithoutTrap()
{
    // bonsai-cli ignores SIGXFSZ itself: past the limit write() fails, the temporary goes, and
    // the message names the file (before, the signal killed it with the temporary left behind).
    const std::string dir = testutil::tempPath("cli-limit");
    fs::remove_all(dir);
    fs::create_directories(dir);
    const QString npy = QString::fromStdString(dir + "/embed.npy");
    const auto r = runLimited(QStringLiteral("ulimit -f 8"), // 4 KiB; the embedding is far larger
                              {QStringLiteral("tensor"), kLlama, QStringLiteral("model.embed_tokens.weight"),
                               QStringLiteral("--npy"), npy});
    EXPECT_CLI_ERROR(r, npy, "File too large");
    QVERIFY2(fs::is_empty(dir), "something was left in the folder");
}

void TstCliFaults::missingOutputFolder()
{
    const std::string dir = testutil::tempPath("cli-gone");
    fs::create_directories(dir);
    fs::remove_all(dir);
    const QString out = QString::fromStdString(dir + "/out.onnx");
    EXPECT_CLI_ERROR(runCli({QStringLiteral("export"), kCnn, QStringLiteral("--preset"), QStringLiteral("int8"),
                             QStringLiteral("--format"), QStringLiteral("onnx"), QStringLiteral("--out"), out},
                            kWatchdogMs),
                     out, "No such file or directory");
    const QString npy = QString::fromStdString(dir + "/w.npy");
    EXPECT_CLI_ERROR(runCli({QStringLiteral("tensor"), kLlama, QStringLiteral("model.embed_tokens.weight"),
                             QStringLiteral("--npy"), npy},
                            kWatchdogMs),
                     npy, "No such file or directory");
    QVERIFY(!fs::exists(dir));
}

void TstCliFaults::readOnlyOutputFolder()
{
    // As root, bonsai-cli runs as 'nobody' (root writes into a folder of mode 0555 regardless).
    const std::string dir = testutil::readOnlyFolder("cli-readonly", {{"out.onnx", "old"}});
    const QString out = QString::fromStdString(dir + "/out.onnx");
    std::string why;
    const auto r = testutil::runCliUnprivileged({QStringLiteral("export"), kCnn, QStringLiteral("--preset"), QStringLiteral("int8"),
                                                 QStringLiteral("--format"), QStringLiteral("onnx"), QStringLiteral("--out"), out,
                                                 QStringLiteral("--force")},
                                                &why, kWatchdogMs);
    testutil::makeWritable(dir);
    if (!r)
        QSKIP(qPrintable(QString::fromStdString("no unprivileged user to run as: " + why)));
    EXPECT_CLI_ERROR(*r, out, "Permission denied");
    QCOMPARE(testutil::dirEntries(dir), std::vector<std::string>{"out.onnx"});
    QCOMPARE(testutil::readFile(dir + "/out.onnx"), std::string("old"));
}

QTEST_GUILESS_MAIN(TstCliFaults)
#include "tst_cli_faults.moc"
