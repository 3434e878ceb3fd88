// The compression engine: layouts, exact storage sizes, order of the knobs, errors, CLI.
#include "testutil.h"

#include "bonsai/compress.h"
#include "bonsai/error.h"
#include "bonsai/half.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"

#include <QtTest>

#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include <nlohmann/json.hpp>

#include <cmath>
#include <random>

using namespace bonsai;

namespace {

std::vector<float> gaussian(size_t n, unsigned seed, float stdev = 0.05f) { return testutil::gaussian(n, seed, stdev); }

LayerConfig cfg(const char* json)
{
    return Recipe::parse(std::string(R"({"bonsai_recipe":1,"defaults":)") + json + "}").resolve("x");
}

} // namespace

class TstCompress : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void layoutRoundTrip();
    void identityKeepsSize();
    void sizes_data();
    void sizes();
    void fp16ErrorMatchesDirectComputation();
    void sparsityThenPrecision();
    void structuredChannels();
    void rankThenPrecision();
    void ggmlNeedsWholeBlocks();
    void rankCacheGivesIdenticalResults();
    void modelTotalsAndGlobalScope();
    void cliJson();

private:
    std::string path_;
    std::unique_ptr<Model> model_;
    std::vector<float> w_[4];
};

void TstCompress::initTestCase()
{
    w_[0] = gaussian(4 * 64, 1);      // a [4, 64]
    w_[1] = gaussian(6 * 8, 2);       // b [6, 8]
    w_[2] = gaussian(8 * 3 * 2 * 2, 3); // conv [8, 3, 2, 2]
    w_[3] = gaussian(16 * 8, 4);      // c [16, 8]
    std::string f16;
    for (float x : w_[1])
        testutil::put(f16, floatToFp16(x));
    path_ = testutil::writeTemp("c.safetensors", testutil::makeSafetensors({
        {"a.weight", "F32", {4, 64}, testutil::floatBytes(w_[0])},
        {"a.bias", "F32", {4}, testutil::floatBytes({0, 0, 0, 0})},
        {"b.weight", "F16", {6, 8}, f16},
        {"conv.weight", "F32", {8, 3, 2, 2}, testutil::floatBytes(w_[2])},
        {"c.weight", "F32", {16, 8}, testutil::floatBytes(w_[3])},
    }));
    model_ = Model::open(path_);
    QCOMPARE(model_->layers.size(), 4u);
}

void TstCompress::layoutRoundTrip()
{
    // Output channels on axis 1 (ONNX MatMul [in, out]): rows of the matrix are columns of W.
    Layer l = model_->layers[3]; // c: [16, 8]
    l.outAxis = 1;
    uint64_t rows = 0, cols = 0;
    const auto m = layerMatrix(*model_, l, rows, cols);
    QCOMPARE(rows, 8u);
    QCOMPARE(cols, 16u);
    for (uint64_t r = 0; r < rows; ++r)
        for (uint64_t c = 0; c < cols; ++c)
            QCOMPARE(m[r * cols + c], w_[3][c * 8 + r]);
    std::vector<float> back(m.size());
    matrixToLayout({16, 8}, 1, m.data(), back.data());
    QCOMPARE(back, w_[3]);
    // Conv [8, 3, 2, 2] with axis 0 flattens to [8, 12] unchanged.
    const auto conv = layerMatrix(*model_, model_->layers[2], rows, cols);
    QCOMPARE(rows, 8u);
    QCOMPARE(cols, 12u);
    QCOMPARE(conv, w_[2]);
}

void TstCompress::identityKeepsSize()
{
    for (int i = 0; i < 4; ++i) {
        std::vector<float> rec;
        const auto r = compressLayer(*model_, i, LayerConfig{}, &rec);
        QCOMPARE(r.compressedBits, r.originalBits);
        QCOMPARE(r.error.maxAbsError, 0.0);
        QCOMPARE(rec, model_->readFloat(model_->layers[static_cast<size_t>(i)].weight));
    }
    QCOMPARE(compressLayer(*model_, 1, LayerConfig{}).originalBits, 6u * 8u * 16u); // F16 source
}

void TstCompress::sizes_data()
{
    QTest::addColumn<int>("layer");
    QTest::addColumn<QString>("config");
    QTest::addColumn<qulonglong>("bits");
    // a: [4, 64] F32
    QTest::newRow("int4 g32 sym") << 0 << R"({"precision":"int4","granularity":"group","group_size":32})"
                                  << qulonglong(256 * 4 + 4 * 2 * 16);
    QTest::newRow("int4 g32 asym") << 0 << R"({"precision":"int4","granularity":"group","group_size":32,"symmetric":false})"
                                   << qulonglong(256 * 4 + 8 * 16 + 8 * 4);
    QTest::newRow("int3 g48 short tail") << 0 << R"({"precision":"int3","granularity":"group","group_size":48})"
                                         << qulonglong(256 * 3 + 4 * 2 * 16);
    QTest::newRow("int8 channel") << 0 << R"({"precision":"int8"})" << qulonglong(256 * 8 + 4 * 16);
    QTest::newRow("int8 tensor") << 0 << R"({"precision":"int8","granularity":"tensor"})" << qulonglong(256 * 8 + 16);
    QTest::newRow("fp16") << 0 << R"({"precision":"fp16"})" << qulonglong(256 * 16);
    QTest::newRow("bf16") << 0 << R"({"precision":"bf16"})" << qulonglong(256 * 16);
    QTest::newRow("fp8 channel") << 0 << R"({"precision":"fp8_e4m3"})" << qulonglong(256 * 8 + 4 * 16);
    QTest::newRow("fp8 tensor") << 0 << R"({"precision":"fp8_e5m2","granularity":"tensor"})" << qulonglong(256 * 8 + 16);
    QTest::newRow("nf4") << 0 << R"({"precision":"nf4"})" << qulonglong(256 * 4 + 4 * 16);
    QTest::newRow("q8_0") << 0 << R"({"precision":"q8_0"})" << qulonglong(8 * 34 * 8);
    QTest::newRow("q4_0") << 0 << R"({"precision":"q4_0"})" << qulonglong(8 * 18 * 8);
    // 50% unstructured at int8 per channel: mask + kept values + scales
    QTest::newRow("unstructured") << 0 << R"({"precision":"int8","sparsity":0.5})"
                                  << qulonglong(256 + 128 * 8 + 4 * 16);
    // 2:4 at int8 per tensor: kept values and 2 index bits each, one scale
    QTest::newRow("2:4") << 0 << R"({"precision":"int8","granularity":"tensor","sparsity_pattern":"2:4"})"
                         << qulonglong(128 * 8 + 128 * 2 + 16);
    QTest::newRow("4:8") << 0 << R"({"precision":"int8","granularity":"tensor","sparsity_pattern":"4:8"})"
                         << qulonglong(128 * 8 + 128 * 3 + 16);
    // channels: 2 of 4 rows kept, fp16
    QTest::newRow("channels") << 0 << R"({"precision":"fp16","sparsity":0.5,"sparsity_pattern":"channels"})"
                              << qulonglong(2 * 64 * 16);
    // rank 2 of [4, 64] at fp16: U 4x2 + V 2x64
    QTest::newRow("rank fp16") << 0 << R"({"precision":"fp16","rank":2})" << qulonglong((8 + 128) * 16);
    // rank 2 at int8 per channel: U has 4 rows, V has 2 rows, each with a scale per row
    QTest::newRow("rank int8") << 0 << R"({"precision":"int8","rank":2})" << qulonglong(8 * 8 + 4 * 16 + 128 * 8 + 2 * 16);
    // "fp32" keeps the stored width: F16 layer b, 50% unstructured -> mask + 24 values x 16
    QTest::newRow("unchanged f16 sparse") << 1 << R"({"sparsity":0.5})" << qulonglong(48 + 24 * 16);
}

void TstCompress::sizes()
{
    QFETCH(int, layer);
    QFETCH(QString, config);
    QFETCH(qulonglong, bits);
    const auto r = compressLayer(*model_, layer, cfg(config.toUtf8().constData()));
    QCOMPARE(static_cast<qulonglong>(r.compressedBits), bits);
    QCOMPARE(r.bitsPerWeight(), static_cast<double>(bits) / static_cast<double>(r.params));
}

void TstCompress::fp16ErrorMatchesDirectComputation()
{
    std::vector<float> rec;
    const auto r = compressLayer(*model_, 0, cfg(R"({"precision":"fp16"})"), &rec);
    double num = 0, den = 0, maxErr = 0;
    for (size_t i = 0; i < w_[0].size(); ++i) {
        const double q = fp16ToFloat(floatToFp16(w_[0][i]));
        QCOMPARE(static_cast<double>(rec[i]), q);
        num += (w_[0][i] - q) * (w_[0][i] - q);
        den += static_cast<double>(w_[0][i]) * w_[0][i];
        maxErr = std::max(maxErr, std::abs(w_[0][i] - q));
    }
    QVERIFY(std::abs(r.error.relFrobenius - std::sqrt(num / den)) < 1e-9);
    QVERIFY(std::abs(r.error.sqnrDb - 10 * std::log10(den / num)) < 1e-6);
    QCOMPARE(r.error.maxAbsError, maxErr);
}

void TstCompress::sparsityThenPrecision()
{
    std::vector<float> rec;
    compressLayer(*model_, 0, cfg(R"({"precision":"int4","sparsity_pattern":"2:4"})"), &rec);
    // every group of 4 consecutive inputs keeps at most 2 nonzeros, and they are the 2 largest
    for (size_t g = 0; g < rec.size(); g += 4) {
        int nz = 0;
        for (size_t k = g; k < g + 4; ++k)
            nz += rec[k] != 0.0f;
        QVERIFY(nz <= 2);
        std::vector<float> mags = {std::abs(w_[0][g]), std::abs(w_[0][g + 1]), std::abs(w_[0][g + 2]), std::abs(w_[0][g + 3])};
        std::sort(mags.begin(), mags.end());
        for (size_t k = g; k < g + 4; ++k)
            if (std::abs(w_[0][k]) < mags[2])
                QCOMPARE(rec[k], 0.0f);
    }
    // unstructured 75%: exactly 192 of 256 zeros; pruned stay zero after asymmetric int4
    compressLayer(*model_, 0, cfg(R"({"precision":"int4","symmetric":false,"sparsity":0.75})"), &rec);
    QCOMPARE(std::count(rec.begin(), rec.end(), 0.0f), 192);
}

void TstCompress::structuredChannels()
{
    // c: [16, 8]; prune 25% of rows by L1 norm -> 4 rows zero, listed as removed.
    std::vector<float> rec;
    const auto r = compressLayer(*model_, 3, cfg(R"({"sparsity":0.25,"sparsity_pattern":"channels","channel_norm":"l1"})"), &rec);
    QCOMPARE(r.removedChannels.size(), 4u);
    std::vector<std::pair<double, size_t>> norms;
    for (size_t row = 0; row < 16; ++row) {
        double s = 0;
        for (size_t c = 0; c < 8; ++c)
            s += std::abs(w_[3][row * 8 + c]);
        norms.emplace_back(s, row);
    }
    std::sort(norms.begin(), norms.end());
    std::vector<uint64_t> expected;
    for (int k = 0; k < 4; ++k)
        expected.push_back(norms[static_cast<size_t>(k)].second);
    std::sort(expected.begin(), expected.end());
    QCOMPARE(r.removedChannels, expected);
    for (uint64_t row : expected)
        for (size_t c = 0; c < 8; ++c)
            QCOMPARE(rec[row * 8 + c], 0.0f);
    QCOMPARE(r.compressedBits, 12u * 8u * 32u); // kept rows at the stored F32 width
}

void TstCompress::rankThenPrecision()
{
    // rank 2 at fp32 of b [6, 8]: the error is the optimal rank-2 error (Eckart-Young),
    // checked against the squared singular values of W computed here another way: the
    // eigenvalues of W^T W (Eigen's symmetric eigensolver, ascending).
    const auto b = model_->readFloat(model_->layers[1].weight);
    Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> W(b.data(), 6, 8);
    const Eigen::MatrixXd Wd = W.cast<double>();
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(Wd.transpose() * Wd, Eigen::EigenvaluesOnly);
    const Eigen::VectorXd s2 = eig.eigenvalues().reverse().cwiseMax(0.0); // descending
    double tail = 0;
    for (int i = 2; i < s2.size(); ++i)
        tail += s2[i];
    const auto r = compressLayer(*model_, 1, cfg(R"({"rank":2})"));
    QCOMPARE(r.rankUsed, 2u);
    QVERIFY(std::abs(r.error.relFrobenius - std::sqrt(tail / s2.sum())) < 1e-5);
    // 2 >= 6*8/14 = 3.4 is false: rank 2 saves; rank 4 does not, and says so.
    QVERIFY(r.notes.empty());
    const auto r4 = compressLayer(*model_, 1, cfg(R"({"rank":4})"));
    QCOMPARE(r4.notes.size(), 1u);
    // energy 1.0 keeps everything: zero error
    QVERIFY(compressLayer(*model_, 1, cfg(R"({"energy":1.0})")).error.relFrobenius < 1e-5);
}

void TstCompress::rankCacheGivesIdenticalResults()
{
    // Moving a rank slider reuses the factors: the results equal uncached calls exactly.
    RankCache cache;
    for (int r : {3, 1, 2, 3}) {
        const auto c = cfg((std::string(R"({"precision":"int8","rank":)") + std::to_string(r) + "}").c_str());
        std::vector<float> a, b;
        const auto ra = compressLayer(*model_, 0, c, &a, nullptr, &cache);
        const auto rb = compressLayer(*model_, 0, c, &b);
        QCOMPARE(a, b);
        QCOMPARE(ra.compressedBits, rb.compressedBits);
        QCOMPARE(ra.rankUsed, static_cast<uint64_t>(r));
    }
    const auto* kept = cache.factors.get();
    compressLayer(*model_, 0, cfg(R"({"rank":2})"), nullptr, nullptr, &cache);
    QCOMPARE(cache.factors.get(), kept); // same sparsity and bucket: no new SVD
    compressLayer(*model_, 0, cfg(R"({"rank":2,"sparsity":0.5})"), nullptr, nullptr, &cache);
    QVERIFY(cache.factors.get() != kept); // the matrix changed
}

void TstCompress::ggmlNeedsWholeBlocks()
{
    try {
        compressLayer(*model_, 1, cfg(R"({"precision":"q4_k"})")); // rows of 8 values
        QFAIL("no error");
    } catch (const Error& e) {
        QVERIFY2(std::string(e.what()).find("blocks of 256") != std::string::npos, e.what());
    }
    QVERIFY_THROWS_EXCEPTION(Error, compressLayer(*model_, 0, cfg(R"({"precision":"fp8_e4m3","granularity":"group"})")));
}

void TstCompress::modelTotalsAndGlobalScope()
{
    const Recipe recipe = Recipe::parse(R"({"bonsai_recipe":1,"defaults":{"precision":"int8"},
        "rules":[{"match":"^(a|c)$","sparsity":0.5,"sparsity_scope":"global"}]})");
    const auto configs = resolveConfigs(*model_, recipe);
    const ModelResult res = compressModel(*model_, configs);
    QCOMPARE(res.originalBytes, model_->totalBytes());
    uint64_t layerOrig = 0, layerComp = 0;
    for (const auto& l : res.layers) {
        layerOrig += l.originalBits / 8;
        layerComp += (l.compressedBits + 7) / 8;
    }
    QCOMPARE(res.compressedBytes, model_->totalBytes() - layerOrig + layerComp);
    QVERIFY(res.ratio() > 1);
    // One threshold over a and c together: exactly half of their 384 weights pruned in total,
    // the pruned ones the smallest magnitudes of both.
    const uint64_t kept = res.layers[0].keptValues + res.layers[3].keptValues;
    QCOMPARE(kept, 192u);
    std::vector<float> all;
    for (float x : w_[0]) all.push_back(std::abs(x));
    for (float x : w_[3]) all.push_back(std::abs(x));
    std::sort(all.begin(), all.end());
    const float threshold = all[191];
    std::vector<float> rec;
    auto it = std::find_if(res.layers.begin(), res.layers.end(), [](const LayerResult& l) { return l.name == "a"; });
    QVERIFY(it != res.layers.end());
    uint64_t keptA = 0;
    for (float x : w_[0])
        keptA += std::abs(x) > threshold;
    QCOMPARE(res.layers[0].keptValues, keptA);
}

void TstCompress::cliJson()
{
    const std::string recipe = testutil::writeTemp("r.json", R"({"bonsai_recipe":1,"defaults":{"precision":"int8"},"rules":[{"match":"zzz","rank":2}]})");
    auto r = testutil::runCli({QStringLiteral("compress"), QString::fromStdString(path_), QStringLiteral("--recipe"),
                               QString::fromStdString(recipe), QStringLiteral("--json")});
    QCOMPARE(r.exitCode, 0);
    QVERIFY2(r.err.contains("rule 1 (match \"zzz\") matches no layer"), r.err.constData());
    const auto j = nlohmann::json::parse(r.out.toStdString());
    QCOMPARE(j["layers"].size(), 4u);
    const auto& a = j["layers"][0];
    for (const char* key : {"name", "original_bytes", "compressed_bytes", "bits_per_weight", "rel_error", "sqnr_db"})
        QVERIFY2(a.contains(key), key);
    QCOMPARE(a["original_bytes"].get<uint64_t>(), 1024u);
    QCOMPARE(a["compressed_bytes"].get<uint64_t>(), (256u * 8 + 4 * 16) / 8);
    QCOMPARE(a["bits_per_weight"].get<double>(), 8.25);
    QCOMPARE(j["original_bytes"].get<uint64_t>(), model_->totalBytes());
    QVERIFY(std::abs(j["ratio"].get<double>() - double(j["original_bytes"].get<uint64_t>()) / j["compressed_bytes"].get<uint64_t>()) < 1e-12);
    // A bad recipe: clear error naming the file and the key.
    const std::string bad = testutil::writeTemp("bad.json", R"({"bonsai_recipe":1,"defaults":{"precison":"int8"}})");
    r = testutil::runCli({QStringLiteral("compress"), QString::fromStdString(path_), QStringLiteral("--recipe"),
                          QString::fromStdString(bad)});
    QVERIFY(r.exitCode != 0);
    QVERIFY2(r.err.contains("bad.json") && r.err.contains("unknown key 'precison'"), r.err.constData());
}

QTEST_GUILESS_MAIN(TstCompress)
#include "tst_compress.moc"
