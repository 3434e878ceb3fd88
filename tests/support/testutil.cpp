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

CliResult runProgram(const QString& program, const QStringList& args, const QString& workDir, int timeoutMs)
{
    QProcess p;
    if (!workDir.isEmpty())
        p.setWorkingDirectory(workDir);
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

CliResult runCli(const QStringList& args, int timeoutMs)
{
    return runProgram(QStringLiteral(BONSAI_CLI_PATH), args, {}, timeoutMs);
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

} // namespace testutil
