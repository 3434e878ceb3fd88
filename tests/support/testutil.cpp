#include "testutil.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>

#include <grp.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace testutil {

QString tempDir()
{
    static std::unique_ptr<QTemporaryDir> dir = std::make_unique<QTemporaryDir>();
    return dir->path();
}

std::string readFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::string bytes;
    if (in)
        bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return bytes;
}

std::vector<std::string> dirEntries(const std::string& dir)
{
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

std::string tempPath(const std::string& name)
{
    return (tempDir() + QLatin1Char('/') + QString::fromStdString(name)).toStdString();
}

std::string writeTemp(const std::string& name, const std::string& bytes)
{
    const std::string path = tempPath(name);
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
}

std::string dataPath(const std::string& name)
{
    return std::string(BONSAI_TEST_DATA) + "/" + name;
}

namespace {

// Starts p on program and args and waits for its end (killed after timeoutMs).
CliResult runProcess(QProcess& p, const QString& program, const QStringList& args, int timeoutMs)
{
    p.start(program, args);
    CliResult r;
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
        r.err = "timeout: " + program.toUtf8();
        return r;
    }
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

} // namespace

CliResult runProgram(const QString& program, const QStringList& args, const QString& workDir, int timeoutMs)
{
    QProcess p;
    if (!workDir.isEmpty())
        p.setWorkingDirectory(workDir);
    return runProcess(p, program, args, timeoutMs);
}

CliResult runCli(const QStringList& args, int timeoutMs)
{
    return runProgram(QStringLiteral(BONSAI_CLI_PATH), args, {}, timeoutMs);
}

namespace {

constexpr uid_t kNobody = 65534;
constexpr int kCannotDrop = 97; // exit status of a child that could not drop root's privileges

// Becomes 'nobody' for good (this process only; call it in a child). Async-signal-safe; false
// with the failing call in *what.
bool dropToNobody(const char** what)
{
    if (setgroups(0, nullptr) != 0) {
        *what = "setgroups";
        return false;
    }
    if (setresgid(kNobody, kNobody, kNobody) != 0) {
        *what = "setresgid";
        return false;
    }
    if (setresuid(kNobody, kNobody, kNobody) != 0) {
        *what = "setresuid";
        return false;
    }
    return true;
}

} // namespace

std::string readOnlyFolder(const std::string& name, const std::vector<std::pair<std::string, std::string>>& files)
{
    namespace fs = std::filesystem;
    fs::permissions(tempDir().toStdString(), fs::perms::others_exec | fs::perms::group_exec, fs::perm_options::add);
    const std::string dir = tempPath(name);
    if (fs::exists(dir))
        makeWritable(dir);
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const auto& [file, bytes] : files) {
        std::ofstream f(dir + "/" + file, std::ios::binary | std::ios::trunc);
        f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    fs::permissions(dir, fs::perms(0555));
    return dir;
}

void makeWritable(const std::string& folder)
{
    std::filesystem::permissions(folder, std::filesystem::perms(0755));
}

std::optional<std::string> runUnprivileged(const std::function<std::string()>& f, std::string* why)
{
    if (geteuid() != 0)
        return f();
    int fds[2];
    if (pipe(fds) != 0) {
        *why = "pipe failed";
        return std::nullopt;
    }
    const pid_t pid = fork();
    if (pid < 0) {
        *why = "fork failed";
        return std::nullopt;
    }
    if (pid == 0) {
        close(fds[0]);
        const char* what = nullptr;
        std::string text;
        int status = 0;
        if (dropToNobody(&what)) {
            text = f();
        } else {
            text = std::string(what) + ": " + std::strerror(errno);
            status = kCannotDrop;
        }
        for (size_t at = 0; at < text.size();) {
            const ssize_t n = write(fds[1], text.data() + at, text.size() - at);
            if (n <= 0)
                break;
            at += static_cast<size_t>(n);
        }
        _exit(status);
    }
    close(fds[1]);
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
        text.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == kCannotDrop) {
        *why = "cannot become uid " + std::to_string(kNobody) + ": " + text;
        return std::nullopt;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        *why = "the unprivileged child did not exit normally (status " + std::to_string(status) + ")";
        return std::nullopt;
    }
    return text;
}

std::optional<std::string> runWithNobodysFileAccess(const std::function<std::string()>& f, std::string* why)
{
    if (geteuid() != 0)
        return f();
    setfsgid(kNobody);
    setfsuid(kNobody);
    struct Restore {
        ~Restore()
        {
            setfsuid(0);
            setfsgid(0);
        }
    } restore;
    // Each call returns the identity before it: asking to set an invalid one reads it.
    if (setfsuid(static_cast<uid_t>(-1)) != static_cast<int>(kNobody) ||
        setfsgid(static_cast<gid_t>(-1)) != static_cast<int>(kNobody)) {
        *why = "setfsuid/setfsgid did not change the file identity";
        return std::nullopt;
    }
    return f();
}

std::optional<CliResult> runCliUnprivileged(const QStringList& args, std::string* why, int timeoutMs)
{
    if (geteuid() != 0)
        return runCli(args, timeoutMs);
    QProcess p;
    p.setChildProcessModifier([] {
        const char* what = nullptr;
        if (!dropToNobody(&what)) {
            const char msg[] = "cannot drop privileges: ";
            (void)!write(2, msg, sizeof msg - 1);
            (void)!write(2, what, std::strlen(what));
            _exit(kCannotDrop);
        }
    });
    CliResult r = runProcess(p, QStringLiteral(BONSAI_CLI_PATH), args, timeoutMs);
    if (r.exitCode == kCannotDrop && r.err.startsWith("cannot drop privileges")) {
        *why = r.err.toStdString();
        return std::nullopt;
    }
    return r;
}

} // namespace testutil

namespace testutil {

std::string makeSafetensors(const std::vector<StEntry>& entries, const std::string& metadataJson)
{
    std::string header = "{";
    uint64_t offset = 0;
    bool first = true;
    if (!metadataJson.empty()) {
        header += "\"__metadata__\":" + metadataJson;
        first = false;
    }
    for (const auto& e : entries) {
        header += first ? "" : ",";
        first = false;
        header += "\"" + e.name + "\":{\"dtype\":\"" + e.dtype + "\",\"shape\":[";
        for (size_t i = 0; i < e.shape.size(); ++i)
            header += (i ? "," : "") + std::to_string(e.shape[i]);
        header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
                  std::to_string(offset + e.bytes.size()) + "]}";
        offset += e.bytes.size();
    }
    header += "}";
    std::string out;
    put<uint64_t>(out, header.size());
    out += header;
    for (const auto& e : entries)
        out += e.bytes;
    return out;
}

std::string floatBytes(const std::vector<float>& v)
{
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

std::string npyBytes(const std::string& descr, const std::vector<int64_t>& shape, const std::string& data,
                     bool fortran)
{
    std::string dims;
    for (int64_t d : shape)
        dims += std::to_string(d) + ", ";
    std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                       ", 'shape': (" + dims + "), }";
    dict.append(63 - (10 + dict.size()) % 64, ' ');
    dict += '\n';
    std::string s("\x93NUMPY\x01\x00", 8);
    put<uint16_t>(s, static_cast<uint16_t>(dict.size()));
    return s + dict + data;
}

std::vector<float> permuteHeadRows(const std::vector<float>& w, int64_t rows, int64_t cols, int64_t heads)
{
    std::vector<float> out(w.size());
    const int64_t hd = rows / heads, half = hd / 2;
    for (int64_t h = 0; h < heads; ++h)
        for (int64_t s = 0; s < 2; ++s)
            for (int64_t i = 0; i < half; ++i) {
                const int64_t from = h * hd + s * half + i, to = h * hd + i * 2 + s;
                std::copy_n(w.begin() + from * cols, cols, out.begin() + to * cols);
            }
    return out;
}

std::vector<float> gaussian(size_t n, unsigned seed, float sigma)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, sigma);
    std::vector<float> v(n);
    for (auto& x : v)
        x = nd(rng);
    return v;
}

// A Llama checkpoint folder whose rows are multiples of 256 (the K types' block): 2 blocks,
// hidden 256, 4 heads (2 KV), MLP 512, the fixture's vocabulary and tokenizer, Gaussian
// weights (std 0.05; norms 1 ± 0.1) from fixed seeds.
std::string writeWideLlama()
{
    const std::string dir = tempPath("wide-llama");
    std::filesystem::create_directories(dir);
    std::vector<StEntry> t;
    unsigned seed = 1;
    auto add = [&](const std::string& name, std::vector<int64_t> shape, float mean, float sigma) {
        int64_t n = 1;
        for (int64_t d : shape)
            n *= d;
        std::vector<float> v = gaussian(size_t(n), seed++, sigma);
        for (float& x : v)
            x += mean;
        t.push_back({name, "F32", shape, floatBytes(v)});
    };
    add("model.embed_tokens.weight", {1024, 256}, 0, 0.05f);
    for (int b = 0; b < 2; ++b) {
        const std::string p = "model.layers." + std::to_string(b) + ".";
        add(p + "input_layernorm.weight", {256}, 1, 0.1f);
        add(p + "self_attn.q_proj.weight", {256, 256}, 0, 0.05f);
        add(p + "self_attn.k_proj.weight", {128, 256}, 0, 0.05f);
        add(p + "self_attn.v_proj.weight", {128, 256}, 0, 0.05f);
        add(p + "self_attn.o_proj.weight", {256, 256}, 0, 0.05f);
        add(p + "post_attention_layernorm.weight", {256}, 1, 0.1f);
        add(p + "mlp.gate_proj.weight", {512, 256}, 0, 0.05f);
        add(p + "mlp.up_proj.weight", {512, 256}, 0, 0.05f);
        add(p + "mlp.down_proj.weight", {256, 512}, 0, 0.05f);
    }
    add("model.norm.weight", {256}, 1, 0.1f);
    add("lm_head.weight", {1024, 256}, 0, 0.05f); // untied: llama.cpp's output.weight
    writeTemp("wide-llama/model.safetensors", makeSafetensors(t));
    writeTemp("wide-llama/config.json", R"({"architectures":["LlamaForCausalLM"],"model_type":"llama",
        "hidden_size":256,"intermediate_size":512,"num_hidden_layers":2,"num_attention_heads":4,
        "num_key_value_heads":2,"rms_norm_eps":1e-05,"rope_theta":10000.0,"vocab_size":1024,
        "max_position_embeddings":512,"tie_word_embeddings":false,"bos_token_id":1,"eos_token_id":2})");
    std::filesystem::copy_file(dataPath("tiny-llama/tokenizer.model"), dir + "/tokenizer.model",
                               std::filesystem::copy_options::overwrite_existing);
    return dir;
}

} // namespace testutil
