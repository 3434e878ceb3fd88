// safetensors reader: every dtype against hand-worked values, metadata, shards, and corrupt files.
#include "testutil.h"

#include "bonsai/error.h"
#include "bonsai/model.h"

#include <QtTest>

#include <cmath>
#include <filesystem>
#include <fstream>

using namespace bonsai;
using testutil::StEntry;

namespace {

template <typename T>
std::string raw(std::initializer_list<T> v)
{
    std::string s;
    for (T x : v)
        testutil::put<T>(s, x);
    return s;
}

std::vector<float> readAll(const Model& m, const std::string& name)
{
    const int i = m.findTensor(name);
    if (i < 0)
        throw std::runtime_error("missing tensor " + name);
    return m.readFloat(i);
}

// Asserts that opening `bytes` as a safetensors file fails with a message naming the file and
// containing `fault`.
void expectFault(const std::string& fileName, const std::string& bytes, const char* fault)
{
    const std::string path = testutil::writeTemp(fileName, bytes);
    try {
        Model::open(path);
        QFAIL(qPrintable(QStringLiteral("no error for %1").arg(QString::fromStdString(fileName))));
    } catch (const FileError& e) {
        const std::string msg = e.what();
        QVERIFY2(msg.find(path) != std::string::npos, msg.c_str());
        QVERIFY2(msg.find(fault) != std::string::npos, msg.c_str());
        // nlohmann's exception names ("[json.exception.parse_error.101]") mean nothing to a user.
        QVERIFY2(msg.find("[json.exception") == std::string::npos, msg.c_str());
    }
}

} // namespace

class TstSafetensors : public QObject {
    Q_OBJECT
private slots:
    void everyDtype();
    void metadataAndLayers();
    void shardedDirectoryAndIndex();
    void corruptFiles();
    void missingShard();
};

void TstSafetensors::everyDtype()
{
    // Expected values are written out by hand from each format's definition.
    std::vector<StEntry> e = {
        {"f64", "F64", {2}, raw<double>({1.5, -0.25})},
        {"f32", "F32", {2, 2}, raw<float>({1.0f, -2.0f, 0.5f, 3.25f})},
        // F16: 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal), 1/3 rounded (0x3555)
        {"f16", "F16", {5}, raw<uint16_t>({0x3C00, 0xC000, 0x7BFF, 0x0001, 0x3555})},
        // BF16: 1.0, -5.0, 3.140625 (0x4049)
        {"bf16", "BF16", {3}, raw<uint16_t>({0x3F80, 0xC0A0, 0x4049})},
        {"i64", "I64", {2}, raw<int64_t>({-7, 1234567890123})},
        {"i32", "I32", {2}, raw<int32_t>({-100000, 42})},
        {"i16", "I16", {2}, raw<int16_t>({-32768, 32767})},
        {"i8", "I8", {3}, raw<int8_t>({-128, 0, 127})},
        {"u8", "U8", {2}, raw<uint8_t>({0, 255})},
        {"bool", "BOOL", {3}, raw<uint8_t>({0, 1, 1})},
        // E4M3 (fn): 0x38 = 1.0, 0xB8 = -1.0, 0x7E = 448, 0x01 = 2^-9, 0x7F = NaN
        {"e4m3", "F8_E4M3", {5}, raw<uint8_t>({0x38, 0xB8, 0x7E, 0x01, 0x7F})},
        // E5M2: 0x3C = 1.0, 0x7B = 57344, 0x01 = 2^-16, 0xC0 = -2.0
        {"e5m2", "F8_E5M2", {4}, raw<uint8_t>({0x3C, 0x7B, 0x01, 0xC0})},
        {"empty", "F32", {0, 3}, ""},
    };
    const auto path = testutil::writeTemp("dtypes.safetensors", testutil::makeSafetensors(e));
    auto m = Model::open(path);
    QCOMPARE(m->format, Format::Safetensors);
    QCOMPARE(m->tensors.size(), e.size());
    QCOMPARE(m->tensors[0].name, std::string("f64")); // file order kept
    QCOMPARE(readAll(*m, "f64"), (std::vector<float>{1.5f, -0.25f}));
    QCOMPARE(readAll(*m, "f32"), (std::vector<float>{1.0f, -2.0f, 0.5f, 3.25f}));
    auto f16 = readAll(*m, "f16");
    QCOMPARE(f16[0], 1.0f);
    QCOMPARE(f16[1], -2.0f);
    QCOMPARE(f16[2], 65504.0f);
    QCOMPARE(f16[3], std::ldexp(1.0f, -24));
    QCOMPARE(f16[4], 0.333251953125f);
    QCOMPARE(readAll(*m, "bf16"), (std::vector<float>{1.0f, -5.0f, 3.140625f}));
    QCOMPARE(readAll(*m, "i64"), (std::vector<float>{-7.0f, 1234567890123.0f}));
    QCOMPARE(readAll(*m, "i32"), (std::vector<float>{-100000.0f, 42.0f}));
    QCOMPARE(readAll(*m, "i16"), (std::vector<float>{-32768.0f, 32767.0f}));
    QCOMPARE(readAll(*m, "i8"), (std::vector<float>{-128.0f, 0.0f, 127.0f}));
    QCOMPARE(readAll(*m, "u8"), (std::vector<float>{0.0f, 255.0f}));
    QCOMPARE(readAll(*m, "bool"), (std::vector<float>{0.0f, 1.0f, 1.0f}));
    auto e4 = readAll(*m, "e4m3");
    QCOMPARE(e4[0], 1.0f);
    QCOMPARE(e4[1], -1.0f);
    QCOMPARE(e4[2], 448.0f);
    QCOMPARE(e4[3], std::ldexp(1.0f, -9));
    QVERIFY(std::isnan(e4[4]));
    QCOMPARE(readAll(*m, "e5m2"), (std::vector<float>{1.0f, 57344.0f, std::ldexp(1.0f, -16), -2.0f}));
    QCOMPARE(m->tensors[static_cast<size_t>(m->findTensor("empty"))].numel, 0u);
    QCOMPARE(m->tensors[static_cast<size_t>(m->findTensor("f32"))].nbytes, 16u);
}

void TstSafetensors::metadataAndLayers()
{
    std::vector<float> w(6 * 4, 0.5f), b(6, 0.1f), c(8 * 3 * 3 * 3, 1.0f), emb(10 * 4, 2.0f);
    const auto path = testutil::writeTemp(
        "layers.safetensors",
        testutil::makeSafetensors({{"embed_tokens.weight", "F32", {10, 4}, testutil::floatBytes(emb)},
                                   {"conv1.weight", "F32", {8, 3, 3, 3}, testutil::floatBytes(c)},
                                   {"fc.weight", "F32", {6, 4}, testutil::floatBytes(w)},
                                   {"fc.bias", "F32", {6}, testutil::floatBytes(b)}},
                                  R"({"format":"pt","note":"hello"})"));
    auto m = Model::open(path);
    bool sawNote = false;
    for (const auto& [k, v] : m->metadata)
        sawNote |= (k == "note" && v == "hello");
    QVERIFY(sawNote);
    QCOMPARE(m->layers.size(), 3u);
    QCOMPARE(m->layers[0].op, std::string("Embedding"));
    QCOMPARE(m->layers[1].op, std::string("Conv"));
    QCOMPARE(m->layers[1].name, std::string("conv1"));
    QCOMPARE(m->layers[2].op, std::string("Linear"));
    QCOMPARE(m->layers[2].bias, m->findTensor("fc.bias"));
    QCOMPARE(m->layers[2].outAxis, 0);
    QCOMPARE(m->totalParams(), static_cast<uint64_t>(40 + 216 + 24 + 6));
    QCOMPARE(m->totalBytes(), m->totalParams() * 4);
}

void TstSafetensors::shardedDirectoryAndIndex()
{
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(testutil::tempPath("sharded"));
    fs::create_directories(dir);
    auto writeTo = [&](const std::string& name, const std::string& bytes) {
        std::ofstream(dir / name, std::ios::binary) << bytes;
    };
    writeTo("model-00001-of-00002.safetensors",
            testutil::makeSafetensors({{"a.weight", "F32", {2, 2}, testutil::floatBytes({1, 2, 3, 4})}}));
    writeTo("model-00002-of-00002.safetensors",
            testutil::makeSafetensors({{"b.weight", "F16", {2, 2}, raw<uint16_t>({0x3C00, 0x4000, 0x4200, 0x4400})}}));
    // Without an index: all shards of the directory.
    {
        auto m = Model::open(dir.string());
        QCOMPARE(m->tensors.size(), 2u);
        QCOMPARE(readAll(*m, "b.weight"), (std::vector<float>{1, 2, 3, 4}));
    }
    writeTo("model.safetensors.index.json",
            R"({"metadata":{"total_size":24},"weight_map":{"a.weight":"model-00001-of-00002.safetensors","b.weight":"model-00002-of-00002.safetensors"}})");
    writeTo("config.json", R"({"model_type":"llama","hidden_size":2})");
    for (const std::string& p : {dir.string(), (dir / "model.safetensors.index.json").string()}) {
        auto m = Model::open(p);
        QCOMPARE(m->tensors.size(), 2u);
        QCOMPARE(readAll(*m, "a.weight"), (std::vector<float>{1, 2, 3, 4}));
        QCOMPARE(m->files.size(), 2u);
        bool sawType = false;
        for (const auto& [k, v] : m->metadata)
            sawType |= (k == "config.model_type" && v == "llama");
        QVERIFY(sawType);
    }
}

void TstSafetensors::corruptFiles()
{
    const std::string good = testutil::makeSafetensors({{"w", "F32", {2, 2}, testutil::floatBytes({1, 2, 3, 4})}});
    expectFault("tiny.safetensors", "abc", "truncated");
    expectFault("cut.safetensors", good.substr(0, good.size() - 3), "beyond the data buffer");
    {
        std::string s;
        testutil::put<uint64_t>(s, 1000);
        s += "{}";
        expectFault("hdrlen.safetensors", s, "truncated: header needs 1000");
    }
    {
        std::string s;
        testutil::put<uint64_t>(s, uint64_t(1) << 62);
        expectFault("hugehdr.safetensors", s + "{}", "exceeds the 100 MB limit");
    }
    auto withHeader = [](const std::string& json, size_t dataBytes) {
        std::string s;
        testutil::put<uint64_t>(s, json.size());
        return s + json + std::string(dataBytes, '\0');
    };
    expectFault("badjson.safetensors", withHeader(R"({"w": {"dtype": "F32", )", 0), "bad header JSON");
    expectFault("notobj.safetensors", withHeader("[1,2]", 0), "not an object");
    expectFault("dtype.safetensors", withHeader(R"({"w":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}})", 4),
                "unknown dtype \"F17\"");
    expectFault("range.safetensors", withHeader(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8),
                "beyond the data buffer");
    expectFault("mismatch.safetensors", withHeader(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16),
                "needs 12 bytes but has 16");
    expectFault("overlap.safetensors",
                withHeader(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
                "overlap");
    expectFault("overflow.safetensors",
                withHeader(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}})", 4),
                "overflowing shape");
    expectFault("negshape.safetensors", withHeader(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
                "out of range");
    expectFault("backwards.safetensors", withHeader(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8),
                "is after end");
    expectFault("noshape.safetensors", withHeader(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4), "shape");
}

void TstSafetensors::missingShard()
{
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(testutil::tempPath("broken-shards"));
    fs::create_directories(dir);
    std::ofstream(dir / "model.safetensors.index.json")
        << R"({"weight_map":{"a.weight":"model-00001-of-00002.safetensors"}})";
    try {
        Model::open(dir.string());
        QFAIL("missing shard not reported");
    } catch (const FileError& e) {
        QVERIFY2(std::string(e.what()).find("missing shard 'model-00001-of-00002.safetensors'") != std::string::npos, e.what());
    }
    std::ofstream(dir / "model-00001-of-00002.safetensors", std::ios::binary)
        << testutil::makeSafetensors({{"other", "F32", {1}, testutil::floatBytes({1})}});
    try {
        Model::open(dir.string());
        QFAIL("tensor missing from shard not reported");
    } catch (const FileError& e) {
        QVERIFY2(std::string(e.what()).find("'a.weight' listed in the index is not in this shard") != std::string::npos, e.what());
    }
}

QTEST_APPLESS_MAIN(TstSafetensors)
#include "tst_safetensors.moc"
