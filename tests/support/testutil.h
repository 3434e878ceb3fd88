#pragma once
// Helpers shared by the test executables: a per-process temporary directory, byte writers
// for hand-made files, and running bonsai-cli.
#include <QByteArray>
#include <QString>
#include <QStringList>

#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace testutil {

// A temporary directory that lives until the process exits.
QString tempDir();
// Writes bytes to tempDir()/name and returns the full path.
std::string writeTemp(const std::string& name, const std::string& bytes);
std::string tempPath(const std::string& name);
std::string dataPath(const std::string& name); // checked-in tests/data/<name>
std::string readFile(const std::string& path); // whole file (empty when unreadable)
std::vector<std::string> dirEntries(const std::string& dir); // the names in a folder, sorted

// Little-endian appenders for building binary files by hand.
template <typename T>
void put(std::string& out, T v)
{
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.append(b, sizeof(T));
}

struct CliResult {
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
};
// Runs a program to its end (killed after timeoutMs: exitCode -1, err "timeout: PROGRAM"; a crash:
// exitCode -2). runCli runs the build's bonsai-cli.
CliResult runProgram(const QString& program, const QStringList& args, const QString& workDir = {},
                     int timeoutMs = 120000);
CliResult runCli(const QStringList& args, int timeoutMs = 120000);

// Unwritable folders. Root writes into a folder of mode 0555 regardless, so when the tests run
// as root the write is made by a process that has become the unprivileged user 'nobody' (uid
// and gid 65534, no supplementary groups): a forked child, or bonsai-cli started as that user.
// Not root: the caller's own process, as it is.
//
// tempDir()/name made afresh, holding `files` (name, bytes), mode 0555 and owned by the
// caller (root's, so not 'nobody''s); tempDir() is made searchable for others to reach it.
std::string readOnlyFolder(const std::string& name, const std::vector<std::pair<std::string, std::string>>& files);
// Gives a readOnlyFolder back its write permission (so the temporary directory can be removed).
void makeWritable(const std::string& folder);
// f's text, computed without root's privileges (in a forked child that dropped them when the
// caller is root); nullopt, with the reason in *why, when they could not be dropped.
std::optional<std::string> runUnprivileged(const std::function<std::string()>& f, std::string* why);
// f's text, computed in this thread with the file identity of 'nobody' when the caller is root
// (setfsuid and setfsgid, which change only the calling thread and take its capabilities to
// override file permissions for the time): for code that cannot run in a forked child, as Qt's
// painting, which waits on its thread pool's threads (a child has none). nullopt, with the
// reason in *why, when the identity could not be changed.
std::optional<std::string> runWithNobodysFileAccess(const std::function<std::string()>& f, std::string* why);
// runCli without root's privileges; nullopt, with the reason in *why, when they could not be
// dropped.
std::optional<CliResult> runCliUnprivileged(const QStringList& args, std::string* why, int timeoutMs = 120000);

} // namespace testutil

namespace testutil {

// An independent safetensors writer for tests: tensors are laid out in the order given.
struct StEntry {
    std::string name;
    std::string dtype;
    std::vector<int64_t> shape;
    std::string bytes; // raw little-endian storage
};
std::string makeSafetensors(const std::vector<StEntry>& entries,
                            const std::string& metadataJson = "");
// Raw bytes of a float array.
std::string floatBytes(const std::vector<float>& v);
// An independent .npy writer (format 1.0): the header dict padded to 64 bytes, then `data`.
std::string npyBytes(const std::string& descr, const std::vector<int64_t>& shape, const std::string& data,
                     bool fortran = false);
// llama.cpp's convert_hf_to_gguf permute() of Q/K weights (rows x cols, row-major): within each
// head, rows (s, i) -> (i, s), the head's rows split into two halves s = 0, 1 of hd/2 rows.
std::vector<float> permuteHeadRows(const std::vector<float>& w, int64_t rows, int64_t cols, int64_t heads);
// n samples of N(0, sigma²) from a std::mt19937 seeded with `seed` (the same values on every
// run and platform with libstdc++).
std::vector<float> gaussian(size_t n, unsigned seed, float sigma = 1.0f);
// A Llama checkpoint folder (temporary "wide-llama") whose rows are multiples of 256 (the K
// types' block): 2 blocks, hidden 256, 4 heads (2 KV), MLP 512, the fixture's vocabulary and
// tokenizer, Gaussian weights (std 0.05; norms 1 +- 0.1) from fixed seeds. Returns the folder.
std::string writeWideLlama();

} // namespace testutil
