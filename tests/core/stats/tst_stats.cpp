// Weight statistics against values computed directly in the test (double-precision loops).
#include "testutil.h"

#include "bonsai/half.h"
#include "bonsai/model.h"
#include "bonsai/stats.h"

#include <QtTest>

#include <cmath>
#include <random>

using namespace bonsai;

namespace {

struct Expected {
    double min, max, mean, std, kurt;
    uint64_t outliers, zeros, count;
    std::vector<uint64_t> hist;
};

Expected reference(const std::vector<double>& v, int bins)
{
    Expected e{};
    std::vector<double> f;
    for (double x : v)
        if (std::isfinite(x))
            f.push_back(x);
    e.count = f.size();
    e.min = *std::min_element(f.begin(), f.end());
    e.max = *std::max_element(f.begin(), f.end());
    double s = 0;
    for (double x : f)
        s += x;
    e.mean = s / f.size();
    double m2 = 0, m4 = 0;
    for (double x : f) {
        m2 += (x - e.mean) * (x - e.mean);
        m4 += std::pow(x - e.mean, 4);
        e.zeros += x == 0;
    }
    m2 /= f.size();
    m4 /= f.size();
    e.std = std::sqrt(m2);
    e.kurt = m4 / (m2 * m2) - 3;
    e.hist.assign(bins, 0);
    for (double x : f) {
        int b = static_cast<int>(std::floor((x - e.min) / (e.max - e.min) * bins));
        e.hist[std::min(b, bins - 1)]++;
        e.outliers += std::abs(x - e.mean) > 6 * e.std;
    }
    return e;
}

void compare(const TensorStats& s, const Expected& e)
{
    QCOMPARE(s.count, e.count);
    QCOMPARE(s.min, e.min);
    QCOMPARE(s.max, e.max);
    QVERIFY(std::abs(s.mean - e.mean) <= 1e-6 * e.std);
    QVERIFY(std::abs(s.std - e.std) <= 1e-6 * e.std);
    QVERIFY2(std::abs(s.kurtosis - e.kurt) <= 1e-4, qPrintable(QStringLiteral("%1 vs %2").arg(s.kurtosis).arg(e.kurt)));
    QCOMPARE(s.outliers, e.outliers);
    QCOMPARE(s.zeros, e.zeros);
    QCOMPARE(s.histogram.size(), e.hist.size());
    // A value exactly on a bin edge may land on either side through rounding: allow a
    // difference of a few counts per bin, but the total must be exact.
    uint64_t total = 0;
    for (size_t i = 0; i < e.hist.size(); ++i) {
        total += s.histogram[i];
        QVERIFY2(std::llabs(static_cast<long long>(s.histogram[i]) - static_cast<long long>(e.hist[i])) <= 2,
                 qPrintable(QStringLiteral("bin %1: %2 vs %3").arg(i).arg(s.histogram[i]).arg(e.hist[i])));
    }
    QCOMPARE(total, e.count);
}

} // namespace

class TstStats : public QObject {
    Q_OBJECT
private slots:
    void float32Gaussian();
    void halfTypes();
    void knownKurtosis();
    void channelRanges();
    void nonFiniteAndEmpty();
    void cancellation();
};

void TstStats::float32Gaussian()
{
    std::mt19937 rng(7);
    std::normal_distribution<float> g(0.1f, 0.02f);
    const int rows = 300, cols = 1000; // spans several chunks
    std::vector<float> w(rows * cols);
    for (auto& x : w)
        x = g(rng);
    w[12345] = 0.9f; // an outlier beyond 6 std
    w[777] = 0.0f;
    const auto path = testutil::writeTemp("g.safetensors",
        testutil::makeSafetensors({{"w", "F32", {rows, cols}, testutil::floatBytes(w)}}));
    auto m = Model::open(path);
    const auto s = computeStats(*m, 0, {});
    compare(s, reference(std::vector<double>(w.begin(), w.end()), 256));
    QVERIFY(s.outliers >= 1);
}

void TstStats::halfTypes()
{
    std::mt19937 rng(3);
    std::normal_distribution<float> g(0.0f, 1.0f);
    const size_t n = 200000;
    std::string f16, b16;
    std::vector<double> v16, vb;
    for (size_t i = 0; i < n; ++i) {
        const float x = g(rng) * (i % 1000 == 0 ? 10.0f : 1.0f);
        const uint16_t h = floatToFp16(x), b = floatToBf16(x);
        testutil::put(f16, h);
        testutil::put(b16, b);
        v16.push_back(fp16ToFloat(h));
        vb.push_back(bf16ToFloat(b));
    }
    const auto path = testutil::writeTemp("h.safetensors", testutil::makeSafetensors(
        {{"h", "F16", {static_cast<int64_t>(n)}, f16}, {"b", "BF16", {static_cast<int64_t>(n)}, b16}}));
    auto m = Model::open(path);
    compare(computeStats(*m, 0, {64, -1}), reference(v16, 64));
    compare(computeStats(*m, 1, {100, -1}), reference(vb, 100));
}

void TstStats::knownKurtosis()
{
    // Values +-1 in equal numbers: mean 0, std 1, excess kurtosis exactly -2.
    std::vector<float> v(1000);
    for (size_t i = 0; i < v.size(); ++i)
        v[i] = (i % 2) ? 1.0f : -1.0f;
    const auto path = testutil::writeTemp("k.safetensors",
        testutil::makeSafetensors({{"k", "F32", {1000}, testutil::floatBytes(v)}}));
    auto m = Model::open(path);
    const auto s = computeStats(*m, 0, {2, -1});
    QCOMPARE(s.mean, 0.0);
    QCOMPARE(s.std, 1.0);
    QCOMPARE(s.kurtosis, -2.0);
    QCOMPARE(s.histogram, (std::vector<uint64_t>{500, 500}));
}

void TstStats::channelRanges()
{
    // [4, 3] weight: channel axis 0 = rows, axis 1 = columns.
    std::vector<float> w = {1, -2, 3,   4, 5, -6,   -7, 8, 9,   10, 11, 12};
    std::vector<uint16_t> h;
    std::string hb;
    for (float x : w)
        testutil::put(hb, floatToFp16(x));
    const auto path = testutil::writeTemp("c.safetensors", testutil::makeSafetensors(
        {{"w", "F32", {4, 3}, testutil::floatBytes(w)}, {"h", "F16", {4, 3}, hb}}));
    auto m = Model::open(path);
    for (int t : {0, 1}) {
        auto r = computeStats(*m, t, {16, 0});
        QCOMPARE(r.channelMin, (std::vector<float>{-2, -6, -7, 10}));
        QCOMPARE(r.channelMax, (std::vector<float>{3, 5, 9, 12}));
        auto c = computeStats(*m, t, {16, 1});
        QCOMPARE(c.channelMin, (std::vector<float>{-7, -2, -6}));
        QCOMPARE(c.channelMax, (std::vector<float>{10, 11, 12}));
    }
    // A 4-D conv weight [2, 2, 2, 2]: channel 1 along axis 1 takes elements 4..7 and 12..15.
    std::vector<float> conv(16);
    for (int i = 0; i < 16; ++i)
        conv[i] = static_cast<float>(i);
    const auto p2 = testutil::writeTemp("conv.safetensors",
        testutil::makeSafetensors({{"c", "F32", {2, 2, 2, 2}, testutil::floatBytes(conv)}}));
    auto m2 = Model::open(p2);
    auto c = computeStats(*m2, 0, {8, 1});
    QCOMPARE(c.channelMin, (std::vector<float>{0, 4}));
    QCOMPARE(c.channelMax, (std::vector<float>{11, 15}));
}

void TstStats::nonFiniteAndEmpty()
{
    std::vector<float> v = {1, NAN, 3, INFINITY, 5};
    const auto path = testutil::writeTemp("nf.safetensors", testutil::makeSafetensors(
        {{"v", "F32", {5}, testutil::floatBytes(v)}, {"e", "F32", {0}, ""}}));
    auto m = Model::open(path);
    auto s = computeStats(*m, 0, {4, -1});
    QCOMPARE(s.count, 3u);
    QCOMPARE(s.nonFinite, 2u);
    QCOMPARE(s.mean, 3.0);
    QCOMPARE(s.min, 1.0);
    QCOMPARE(s.max, 5.0);
    auto e = computeStats(*m, 1, {4, 0});
    QCOMPARE(e.count, 0u);
    QCOMPARE(e.histogram, (std::vector<uint64_t>{0, 0, 0, 0}));
}

void TstStats::cancellation()
{
    std::vector<float> v(1 << 20, 1.0f);
    const auto path = testutil::writeTemp("cancel.safetensors",
        testutil::makeSafetensors({{"v", "F32", {1 << 20}, testutil::floatBytes(v)}}));
    auto m = Model::open(path);
    int calls = 0;
    QVERIFY_THROWS_EXCEPTION(Cancelled, computeStats(*m, 0, {}, [&](double) { return ++calls < 2; }));
    double last = -1;
    bool monotonic = true;
    computeStats(*m, 0, {}, [&](double f) { monotonic &= f >= last; last = f; return true; });
    QVERIFY(monotonic);
    QCOMPARE(last, 1.0);
}

QTEST_APPLESS_MAIN(TstStats)
#include "tst_stats.moc"
