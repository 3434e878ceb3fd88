// Outputs are written atomically: through a temporary in the destination folder, renamed into
// place on commit. A write that fails (a file size limit, as a full disk; a folder that is not
// writable or not a folder; a folder removed during the write) raises a FileError naming the
// destination and the fault, keeps the file that was there and leaves no temporary behind.
#include "bonsai/error.h"
#include "bonsai/model.h"
#include "bonsai/npy.h"
#include "bonsai/recipe.h"
#include "common/atomic_file.h"
#include "testutil.h"

#include <filesystem>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace bonsai;
namespace fs = std::filesystem;

namespace {

std::string freshDir(const std::string& name)
{
    const std::string dir = testutil::tempPath(name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

// The FileError message of f ("" when none; "UNEXPECTED ..." for another exception).
std::string errorOf(const std::function<void()>& f)
{
    try {
        f();
    } catch (const FileError& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("UNEXPECTED: ") + e.what();
    }
    return {};
}

#define EXPECT_FAULT(msg, path, needle)                                                          \
    do {                                                                                         \
        const std::string m_ = (msg);                                                            \
        QVERIFY2(!m_.empty(), "no error was raised");                                           \
        QVERIFY2(m_.rfind("UNEXPECTED", 0) != 0, m_.c_str());                                  \
        QVERIFY2(m_.find(path) != std::string::npos, m_.c_str());                               \
        QVERIFY2(m_.find(needle) != std::string::npos, (m_ + " [wanted: " + needle + "]").c_str()); \
    } while (0)

const std::vector<std::string> kOnlyOld{"out.bin"};

} // namespace

class TstAtomicFile : public QObject {
    Q_OBJECT
private slots:
    void writesAndReplaces();
    void abandonedKeepsOld();
    void fileSizeLimit();
    void notAFolder();
    void readOnlyFolder();
    void folderRemovedDuringWrite();
    void writersReportFaults();
};

void TstAtomicFile::writesAndReplaces()
{
    const std::string dir = freshDir("atomic-write");
    const std::string out = dir + "/out.bin";
    writeFileAtomically(out, "first");
    writeFileAtomically(out, "second, longer");
    QCOMPARE(testutil::readFile(out), std::string("second, longer"));
    QCOMPARE(testutil::dirEntries(dir), kOnlyOld);
    struct stat st {};
    QCOMPARE(stat(out.c_str(), &st), 0);
    QCOMPARE(st.st_mode & 0777, mode_t(0644));
}

void TstAtomicFile::abandonedKeepsOld()
{
    const std::string dir = freshDir("atomic-abandon");
    const std::string out = dir + "/out.bin";
    writeFileAtomically(out, "old");
    {
        AtomicFile f(out);
        f.write("new bytes", 9);
        QCOMPARE(testutil::dirEntries(dir).size(), size_t(2)); // the temporary sits beside it
        QVERIFY(testutil::dirEntries(dir)[1].rfind("out.bin.tmp-", 0) == 0);
    } // never committed
    QCOMPARE(testutil::readFile(out), std::string("old"));
    QCOMPARE(testutil::dirEntries(dir), kOnlyOld);
}

void TstAtomicFile::fileSizeLimit()
{
    // RLIMIT_FSIZE with SIGXFSZ ignored: write() fails with EFBIG as on a full disk. In a child
    // process, where the limit cannot reach the test's own files.
    const std::string dir = freshDir("atomic-limit");
    const std::string out = dir + "/out.bin";
    writeFileAtomically(out, "old");
    const std::string msgFile = testutil::tempPath("atomic-limit.msg");
    const pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        const rlimit lim{16384, 16384};
        setrlimit(RLIMIT_FSIZE, &lim);
        const std::string big(1 << 20, 'x');
        std::string msg = errorOf([&] { writeFileAtomically(out, big); });
        msg += "\n" + errorOf([&] { Recipe::fromConfigs({}, {}, LayerConfig{}).save(out); }); // small: fits
        FILE* f = std::fopen(msgFile.c_str(), "w");
        std::fputs(msg.c_str(), f);
        std::fclose(f);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    QVERIFY(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    const std::string msg = testutil::readFile(msgFile);
    const std::string first = msg.substr(0, msg.find('\n'));
    EXPECT_FAULT(first, out, "File too large");
    QCOMPARE(msg.substr(msg.find('\n') + 1), std::string()); // the small recipe was written
    QCOMPARE(testutil::dirEntries(dir), kOnlyOld);
    QVERIFY(testutil::readFile(out).find("bonsai_recipe") != std::string::npos);
}

void TstAtomicFile::notAFolder()
{
    const std::string dir = freshDir("atomic-under-file");
    const std::string file = testutil::writeTemp("atomic-under-file/plain", "x");
    EXPECT_FAULT(errorOf([&] { writeFileAtomically(file + "/out.bin", "data"); }), file + "/out.bin",
                 "cannot create: Not a directory");
    EXPECT_FAULT(errorOf([&] { writeFileAtomically(dir + "/missing/out.bin", "data"); }), dir + "/missing/out.bin",
                 "cannot create: No such file or directory");
    QCOMPARE(testutil::dirEntries(dir), std::vector<std::string>{"plain"});
}

void TstAtomicFile::readOnlyFolder()
{
    // Written by a user without write permission on the folder (as root: 'nobody', in a child).
    const std::string dir = testutil::readOnlyFolder("atomic-readonly", {{"out.bin", "old"}});
    std::string why;
    const auto msg = testutil::runUnprivileged([&] { return errorOf([&] { writeFileAtomically(dir + "/out.bin", "new"); }); },
                                               &why);
    testutil::makeWritable(dir);
    if (!msg)
        QSKIP(qPrintable(QString::fromStdString("no unprivileged user to write as: " + why)));
    EXPECT_FAULT(*msg, dir + "/out.bin", "Permission denied");
    QCOMPARE(testutil::readFile(dir + "/out.bin"), std::string("old"));
    QCOMPARE(testutil::dirEntries(dir), kOnlyOld);
}

void TstAtomicFile::folderRemovedDuringWrite()
{
    const std::string dir = freshDir("atomic-removed");
    const std::string out = dir + "/out.bin";
    std::string msg;
    {
        AtomicFile f(out);
        f.write("part one", 8);
        fs::remove_all(dir);
        f.write("part two", 8); // the open temporary outlives its folder entry
        msg = errorOf([&] { f.commit(); });
    }
    EXPECT_FAULT(msg, out, "cannot rename into place");
    QVERIFY(!fs::exists(dir));

    // Removed and made again (empty): the rename fails and the new folder stays empty.
    {
        fs::create_directories(dir);
        AtomicFile f(out);
        f.write("data", 4);
        fs::remove_all(dir);
        fs::create_directories(dir);
        msg = errorOf([&] { f.commit(); });
    }
    EXPECT_FAULT(msg, out, "No such file or directory");
    QVERIFY(fs::is_empty(dir));
}

void TstAtomicFile::writersReportFaults()
{
    // The recipe and .npy writers go through the same path: a missing folder is a FileError
    // naming the destination, and nothing is created.
    const std::string dir = freshDir("atomic-writers");
    const std::string recipe = dir + "/gone/r.json";
    EXPECT_FAULT(errorOf([&] { Recipe::fromConfigs({}, {}, LayerConfig{}).save(recipe); }), recipe, "cannot create");
    const std::string model = testutil::writeTemp("atomic-writers.safetensors",
        testutil::makeSafetensors({{"w", "F32", {2}, testutil::floatBytes({1, 2})}}));
    const auto m = Model::open(model);
    const std::string npy = dir + "/gone/w.npy";
    EXPECT_FAULT(errorOf([&] { writeTensorNpy(*m, 0, npy); }), npy, "cannot create");
    QVERIFY(fs::is_empty(dir));
}

QTEST_GUILESS_MAIN(TstAtomicFile)
#include "tst_atomic_file.moc"
