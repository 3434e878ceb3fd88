// Sparsity kernels against references computed directly in the test (full sorts of
// (magnitude, index) pairs, per-group sorts, hand-worked examples).
#include "bonsai/error.h"
#include "bonsai/sparsity.h"

#include "testutil.h"

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

using namespace bonsai;

namespace {

std::vector<float> gaussian(size_t n, float sigma, uint32_t seed) { return testutil::gaussian(n, seed, sigma); }

// Values on a coarse grid (k / 4 for k in -6..6): lots of equal magnitudes, both signs, +-0.
std::vector<float> tied(size_t n, uint32_t seed)
{
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> d(-6, 6);
    std::vector<float> v(n);
    for (auto& x : v) {
        const int k = d(rng);
        x = k == 0 ? (rng() & 1 ? -0.0f : 0.0f) : static_cast<float>(k) * 0.25f;
    }
    return v;
}

uint64_t expectedCount(uint64_t n, double s)
{
    return static_cast<uint64_t>(std::llround(s * static_cast<double>(n)));
}

// Reference: sort all indices by (|w| ascending, index descending), prune the first k.
KeepMask referenceMask(const std::vector<float>& w, uint64_t k)
{
    std::vector<size_t> idx(w.size());
    std::iota(idx.begin(), idx.end(), size_t(0));
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
        const float fa = std::fabs(w[a]), fb = std::fabs(w[b]);
        return fa < fb || (fa == fb && a > b);
    });
    KeepMask m(w.size(), 1);
    for (uint64_t i = 0; i < k; ++i)
        m[idx[i]] = 0;
    return m;
}

uint64_t zerosOf(const KeepMask& m)
{
    return static_cast<uint64_t>(std::count(m.begin(), m.end(), uint8_t(0)));
}

// Largest |w| among pruned <= smallest |w| among kept.
bool keptAreLargest(const float* w, const uint8_t* m, size_t n)
{
    float maxPruned = -1, minKept = INFINITY;
    for (size_t i = 0; i < n; ++i) {
        if (m[i])
            minKept = std::min(minKept, std::fabs(w[i]));
        else
            maxPruned = std::max(maxPruned, std::fabs(w[i]));
    }
    return maxPruned <= minKept;
}

} // namespace

class TestSparsity : public QObject {
    Q_OBJECT

private slots:
    void pruneCountRounding()
    {
        QCOMPARE(pruneCount(5, 0.5), uint64_t(3)); // 2.5 rounds up
        QCOMPARE(pruneCount(10, 0.0), uint64_t(0));
        QCOMPARE(pruneCount(10, 0.34), uint64_t(3));
        QCOMPARE(pruneCount(4, 0.375), uint64_t(2)); // 1.5 rounds up
        QCOMPARE(pruneCount(1, 0.99), uint64_t(1));
        QVERIFY_THROWS_EXCEPTION(Error, pruneCount(10, 1.0));
        QVERIFY_THROWS_EXCEPTION(Error, pruneCount(10, -0.1));
        QVERIFY_THROWS_EXCEPTION(Error, pruneCount(10, std::nan("")));
    }

    void unstructuredHandWorked()
    {
        // |w| = 1 1 1 2 1 0.5; k = round(0.5 * 6) = 3: 0.5 (index 5), then of the four 1s the
        // highest indices 4 and 2.
        const std::vector<float> w = {1, -1, 1, 2, -1, 0.5f};
        const KeepMask m = magnitudeMask(w.data(), 2, 3, 0.5);
        QCOMPARE(m, (KeepMask{1, 1, 0, 1, 0, 0}));
        std::vector<float> out(6);
        applyMask(w.data(), 6, m, out.data());
        QCOMPARE(out, (std::vector<float>{1, -1, 0, 2, 0, 0}));
        applyMask(w.data(), 6, m, const_cast<float*>(w.data())); // in place
        QCOMPARE(w, out);
        QCOMPARE(keptCount(m), uint64_t(3));
    }

    void unstructuredCounts_data()
    {
        QTest::addColumn<bool>("ties");
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("cols");
        QTest::newRow("ties 37x53") << true << 37 << 53;
        QTest::newRow("gaussian 37x53") << false << 37 << 53;
        QTest::newRow("ties 300x257") << true << 300 << 257;
        QTest::newRow("gaussian 512x384") << false << 512 << 384;
        QTest::newRow("single") << false << 1 << 1;
    }

    void unstructuredCounts()
    {
        QFETCH(bool, ties);
        QFETCH(int, rows);
        QFETCH(int, cols);
        const size_t n = static_cast<size_t>(rows) * cols;
        const std::vector<float> w = ties ? tied(n, 7) : gaussian(n, 0.02f, 7);
        for (double s : {0.0, 0.001, 0.1, 0.25, 0.5, 0.5001, 0.73, 0.9, 0.999}) {
            const KeepMask m = magnitudeMask(w.data(), rows, cols, s);
            QCOMPARE(m.size(), n);
            const uint64_t k = expectedCount(n, s);
            QCOMPARE(zerosOf(m), k);
            QVERIFY(keptAreLargest(w.data(), m.data(), n));
            QVERIFY2(m == referenceMask(w, k), qPrintable(QString("s = %1").arg(s)));
        }
    }

    void unstructuredAllEqual()
    {
        // Every magnitude equal: the last k indices go.
        std::vector<float> w(10, 0.5f);
        for (size_t i = 0; i < w.size(); i += 2)
            w[i] = -0.5f;
        const KeepMask m = magnitudeMask(w.data(), 1, 10, 0.3);
        QCOMPARE(m, (KeepMask{1, 1, 1, 1, 1, 1, 1, 0, 0, 0}));
    }

    void globalThreshold()
    {
        // Three layers of different sizes and scales; layer 2 on the tie grid, so ties cross
        // layers (0.25-multiples also occur, rarely, in no other layer: make one explicit).
        std::vector<float> a = gaussian(100 * 30, 1.0f, 1);
        std::vector<float> b = gaussian(50 * 70, 0.5f, 2);
        std::vector<float> c = tied(7 * 11, 3);
        a[5] = 0.25f;
        b[9] = -0.25f;
        b[10] = 0.5f;
        const std::vector<std::span<const float>> layers = {a, b, c};
        std::vector<float> all;
        for (const auto& l : layers)
            all.insert(all.end(), l.begin(), l.end());
        std::vector<float> mags(all.size());
        for (size_t i = 0; i < all.size(); ++i)
            mags[i] = std::fabs(all[i]);
        std::vector<float> sorted = mags;
        std::sort(sorted.begin(), sorted.end());

        for (double s : {0.0, 0.05, 0.3, 0.5, 0.8, 0.97}) {
            const uint64_t k = expectedCount(all.size(), s);
            const GlobalPruneResult r = globalMagnitudeMasks(layers, s);
            const GlobalThreshold& g = r.threshold;
            QCOMPARE(g.total, uint64_t(all.size()));
            QCOMPARE(g.pruned, k);
            QCOMPARE(g.threshold, k ? sorted[k - 1] : 0.0f);
            // Masks: the reference over the concatenation (global index order).
            const KeepMask ref = referenceMask(all, k);
            size_t off = 0;
            uint64_t sum = 0;
            for (size_t l = 0; l < layers.size(); ++l) {
                const KeepMask refL(ref.begin() + off, ref.begin() + off + layers[l].size());
                QCOMPARE(r.masks[l], refL);
                QCOMPARE(g.prunedPerLayer[l], zerosOf(refL));
                uint64_t ties = 0;
                for (size_t i = 0; i < refL.size(); ++i)
                    ties += !refL[i] && std::fabs(layers[l][i]) == g.threshold;
                QCOMPARE(g.tiesPrunedPerLayer[l], k ? ties : 0);
                // The streaming form gives the same mask.
                QCOMPARE(thresholdMask(layers[l].data(), layers[l].size(), g.threshold, g.tiesPrunedPerLayer[l]),
                         refL);
                sum += g.prunedPerLayer[l];
                off += layers[l].size();
            }
            QCOMPARE(sum, k);
        }
    }

    void globalThresholdTiesAcrossLayers()
    {
        // All magnitudes 1: k = 4 of 9 are pruned from the end of the concatenation.
        const std::vector<float> a = {1, -1, 1}, b = {1, 1}, c = {-1, 1, 1, 1};
        const std::vector<std::span<const float>> layers = {a, b, c};
        const GlobalPruneResult r = globalMagnitudeMasks(layers, 0.4); // round(3.6) = 4
        QCOMPARE(r.threshold.threshold, 1.0f);
        QCOMPARE(r.threshold.prunedPerLayer, (std::vector<uint64_t>{0, 0, 4}));
        QCOMPARE(r.masks[2], (KeepMask{0, 0, 0, 0}));
        const GlobalPruneResult r2 = globalMagnitudeMasks(layers, 0.6); // round(5.4) = 5
        QCOMPARE(r2.threshold.prunedPerLayer, (std::vector<uint64_t>{0, 1, 4}));
        QCOMPARE(r2.masks[1], (KeepMask{1, 0}));
        QVERIFY_THROWS_EXCEPTION(Error, thresholdMask(a.data(), a.size(), 1.0f, 4));
    }

    void nmHandWorked()
    {
        const std::vector<float> w = {0.1f, -3, 2, 0.5f, /**/ 1, -1, 1, 1};
        QCOMPARE(nmMask(w.data(), 1, 8, 2, 4), (KeepMask{0, 1, 1, 0, 1, 1, 0, 0}));
        QCOMPARE(nmMask(w.data(), 2, 4, 2, 4), (KeepMask{0, 1, 1, 0, 1, 1, 0, 0})); // groups per row
        QCOMPARE(nmMask(w.data(), 1, 8, 4, 8), (KeepMask{0, 1, 1, 0, 1, 1, 0, 0}));
        QCOMPARE(nmMask(w.data(), 1, 8, 1, 4), (KeepMask{0, 1, 0, 0, 1, 0, 0, 0}));
    }

    void nmRandom_data()
    {
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("m");
        QTest::addColumn<bool>("ties");
        QTest::newRow("2:4") << 2 << 4 << false;
        QTest::newRow("2:4 ties") << 2 << 4 << true;
        QTest::newRow("4:8") << 4 << 8 << false;
        QTest::newRow("4:8 ties") << 4 << 8 << true;
        QTest::newRow("1:2") << 1 << 2 << false;
        QTest::newRow("8:32 (selection path)") << 8 << 32 << true;
        QTest::newRow("3:17 (selection path)") << 3 << 17 << false;
    }

    void nmRandom()
    {
        QFETCH(int, n);
        QFETCH(int, m);
        QFETCH(bool, ties);
        const uint64_t rows = 64, cols = static_cast<uint64_t>(m) * 24;
        const std::vector<float> w = ties ? tied(rows * cols, 11) : gaussian(rows * cols, 1.0f, 11);
        const KeepMask mask = nmMask(w.data(), rows, cols, n, m);
        QCOMPARE(mask.size(), size_t(rows * cols));
        for (uint64_t g = 0; g < rows * cols / m; ++g) {
            const float* x = w.data() + g * m;
            const uint8_t* k = mask.data() + g * m;
            QCOMPARE(std::count(k, k + m, uint8_t(1)), std::ptrdiff_t(n));
            QVERIFY(keptAreLargest(x, k, m));
            // Reference: sort the group by (|w| descending, index ascending), keep the first n.
            std::vector<int> idx(m);
            std::iota(idx.begin(), idx.end(), 0);
            std::stable_sort(idx.begin(), idx.end(),
                             [&](int a, int b) { return std::fabs(x[a]) > std::fabs(x[b]); });
            for (int i = 0; i < m; ++i)
                QCOMPARE(bool(k[idx[i]]), i < n);
        }
        const SparseStorage st = nmStorage(rows, cols, n, m);
        QCOMPARE(st.keptValues, keptCount(mask));
    }

    void nmPartialGroup()
    {
        // 2:4 on rows of 10: groups 4, 4, 2.
        const std::vector<float> w = {1, 2, 3, 4, 5, 6, 7, 8, 9, -10, /**/ 4, 3, 2, 1, 8, 7, 6, 5, 0, 1};
        QVERIFY_THROWS_EXCEPTION(Error, nmMask(w.data(), 2, 10, 2, 4));
        QVERIFY_THROWS_EXCEPTION(Error, nmMask(w.data(), 2, 10, 2, 4, NmTail::Reject));
        QCOMPARE(nmMask(w.data(), 2, 10, 2, 4, NmTail::Pad),
                 (KeepMask{0, 0, 1, 1, 0, 0, 1, 1, 1, 1, /**/ 1, 1, 0, 0, 1, 1, 0, 0, 1, 1}));
        // Proportional: ceil(2 * 2 / 4) = 1 of the 2.
        QCOMPARE(nmMask(w.data(), 2, 10, 2, 4, NmTail::Proportional),
                 (KeepMask{0, 0, 1, 1, 0, 0, 1, 1, 0, 1, /**/ 1, 1, 0, 0, 1, 1, 0, 0, 0, 1}));
        QCOMPARE(nmTailKeep(4, 8, 3, NmTail::Pad), 3u);
        QCOMPARE(nmTailKeep(4, 8, 3, NmTail::Proportional), 2u); // ceil(12 / 8)
        QCOMPARE(nmTailKeep(1, 4, 3, NmTail::Pad), 1u);
        QCOMPARE(nmTailKeep(1, 4, 3, NmTail::Proportional), 1u);
        QCOMPARE(nmTailKeep(2, 4, 1, NmTail::Proportional), 1u);
        QCOMPARE(nmTailKeep(4, 8, 7, NmTail::Proportional), 4u); // ceil(28 / 8)
        // Storage follows the same rule.
        QCOMPARE(nmStorage(2, 10, 2, 4, NmTail::Pad).keptValues, uint64_t(2 * (4 + 2)));
        QCOMPARE(nmStorage(2, 10, 2, 4, NmTail::Proportional).keptValues, uint64_t(2 * (4 + 1)));
        QVERIFY_THROWS_EXCEPTION(Error, nmStorage(2, 10, 2, 4));
        // Invalid N:M.
        QVERIFY_THROWS_EXCEPTION(Error, nmMask(w.data(), 1, 8, 4, 4));
        QVERIFY_THROWS_EXCEPTION(Error, nmMask(w.data(), 1, 8, 0, 4));
        QVERIFY_THROWS_EXCEPTION(Error, nmMask(w.data(), 1, 8, 5, 4));
    }

    void channelsL1VersusL2()
    {
        // L1 / L2 per row: row 0: 3 / 3; row 1: 4 / 2; row 2: 8 / 4; row 3: 0.5 / 0.5.
        const std::vector<float> w = {3, 0, 0, 0, /**/ 1, -1, 1, -1, /**/ 2, 2, -2, 2, /**/ 0.5f, 0, 0, 0};
        const ChannelPruneResult l1 = selectChannels(w.data(), 4, 4, 0.5, ChannelNorm::L1);
        QCOMPARE(l1.norms, (std::vector<double>{3, 4, 8, 0.5}));
        QCOMPARE(l1.removedRows, (std::vector<uint64_t>{0, 3}));
        QCOMPARE(l1.keptRows, (std::vector<uint64_t>{1, 2}));
        const ChannelPruneResult l2 = selectChannels(w.data(), 4, 4, 0.5, ChannelNorm::L2);
        QCOMPARE(l2.norms, (std::vector<double>{3, 2, 4, 0.5}));
        QCOMPARE(l2.removedRows, (std::vector<uint64_t>{1, 3}));
        QCOMPARE(l2.keptRows, (std::vector<uint64_t>{0, 2}));

        const std::vector<float> c1 = compactRows(w.data(), 4, 4, l1.keptRows);
        QCOMPARE(c1, (std::vector<float>{1, -1, 1, -1, 2, 2, -2, 2}));
        const std::vector<float> c2 = compactRows(w.data(), 4, 4, l2.keptRows);
        QCOMPARE(c2.size(), size_t(2 * 4));
        QCOMPARE(c2, (std::vector<float>{3, 0, 0, 0, 2, 2, -2, 2}));
        QCOMPARE(channelStorage(l2.keptRows.size(), 4).keptValues, uint64_t(8));

        // s = 0.3 of 4 rows: round(1.2) = 1 row.
        QCOMPARE(selectChannels(w.data(), 4, 4, 0.3, ChannelNorm::L1).removedRows, (std::vector<uint64_t>{3}));
        QCOMPARE(selectChannels(w.data(), 4, 4, 0.0, ChannelNorm::L1).keptRows,
                 (std::vector<uint64_t>{0, 1, 2, 3}));
        QVERIFY_THROWS_EXCEPTION(Error, compactRows(w.data(), 4, 4, std::vector<uint64_t>{2, 1}));
        QVERIFY_THROWS_EXCEPTION(Error, compactRows(w.data(), 4, 4, std::vector<uint64_t>{4}));
    }

    void channelsTies()
    {
        // Rows 0, 2, 3 have equal norms (permutations / sign flips); removing 2 takes 3 then 2.
        const std::vector<float> w = {1, 2, /**/ 5, 5, /**/ 2, -1, /**/ -2, 1};
        for (ChannelNorm nrm : {ChannelNorm::L1, ChannelNorm::L2}) {
            const ChannelPruneResult r = selectChannels(w.data(), 4, 2, 0.5, nrm);
            QCOMPARE(r.removedRows, (std::vector<uint64_t>{2, 3}));
            QCOMPARE(r.keptRows, (std::vector<uint64_t>{0, 1}));
        }
    }

    void channelsRandom()
    {
        const uint64_t rows = 97, cols = 3 * 3 * 16;
        std::vector<float> w = gaussian(rows * cols, 1.0f, 5);
        for (uint64_t r = 0; r < rows; ++r) // varied row scales
            for (uint64_t c = 0; c < cols; ++c)
                w[r * cols + c] *= 0.2f + static_cast<float>((r * 37) % 11);
        for (ChannelNorm nrm : {ChannelNorm::L1, ChannelNorm::L2}) {
            for (double s : {0.1, 0.5, 0.9}) {
                const ChannelPruneResult res = selectChannels(w.data(), rows, cols, s, nrm);
                const uint64_t k = expectedCount(rows, s);
                QCOMPARE(uint64_t(res.removedRows.size()), k);
                QCOMPARE(uint64_t(res.keptRows.size()), rows - k);
                // Reference norms and order.
                std::vector<double> ref(rows);
                for (uint64_t r = 0; r < rows; ++r) {
                    double a = 0;
                    for (uint64_t c = 0; c < cols; ++c) {
                        const double x = w[r * cols + c];
                        a += nrm == ChannelNorm::L1 ? std::fabs(x) : x * x;
                    }
                    ref[r] = nrm == ChannelNorm::L1 ? a : std::sqrt(a);
                    QVERIFY(std::fabs(ref[r] - res.norms[r]) <= 1e-9 * ref[r]);
                }
                double maxRemoved = -1, minKept = INFINITY;
                for (uint64_t r : res.removedRows)
                    maxRemoved = std::max(maxRemoved, ref[r]);
                for (uint64_t r : res.keptRows)
                    minKept = std::min(minKept, ref[r]);
                QVERIFY(maxRemoved <= minKept);
                const std::vector<float> compact = compactRows(w.data(), rows, cols, res.keptRows);
                QCOMPARE(compact.size(), size_t((rows - k) * cols));
                for (size_t i = 0; i < res.keptRows.size(); ++i)
                    QVERIFY(std::equal(compact.begin() + i * cols, compact.begin() + (i + 1) * cols,
                                       w.begin() + res.keptRows[i] * cols));
            }
        }
    }

    void consumerInputChannels()
    {
        // Consumer: 2 output rows, 3 input channels x 2 (kernel) = 6 columns.
        const std::vector<float> w = {0, 1, 2, 3, 4, 5, /**/ 10, 11, 12, 13, 14, 15};
        const std::vector<uint64_t> kept = {0, 2};
        QCOMPARE(compactInputChannels(w.data(), 2, 6, 3, kept),
                 (std::vector<float>{0, 1, 4, 5, 10, 11, 14, 15}));
        QCOMPARE(compactInputChannels(w.data(), 2, 6, 6, kept), (std::vector<float>{0, 2, 10, 12}));
        QVERIFY_THROWS_EXCEPTION(Error, compactInputChannels(w.data(), 2, 6, 4, kept));
    }

    void storageSizes()
    {
        const SparseStorage u = unstructuredStorage(1000, 300);
        QCOMPARE(u.keptValues, uint64_t(700));
        QCOMPARE(u.overheadBits, uint64_t(1000));
        QCOMPARE(u.totalBits(4, 160), uint64_t(1000 + 700 * 4 + 160));
        QCOMPARE(u.totalBits([](uint64_t kept) { return kept * 8 + 16; }), uint64_t(1000 + 5600 + 16));
        QVERIFY_THROWS_EXCEPTION(Error, unstructuredStorage(10, 11));

        QCOMPARE(nmIndexBits(2), 1u);
        QCOMPARE(nmIndexBits(4), 2u);
        QCOMPARE(nmIndexBits(5), 3u);
        QCOMPARE(nmIndexBits(8), 3u);
        QCOMPARE(nmIndexBits(16), 4u);
        QCOMPARE(nmIndexBits(17), 5u);
        const SparseStorage s24 = nmStorage(8, 16, 2, 4);
        QCOMPARE(s24.keptValues, uint64_t(8 * 8));
        QCOMPARE(s24.overheadBits, uint64_t(64 * 2));
        const SparseStorage s48 = nmStorage(8, 16, 4, 8);
        QCOMPARE(s48.keptValues, uint64_t(64));
        QCOMPARE(s48.overheadBits, uint64_t(64 * 3));
        QCOMPARE(s48.totalBits(16), uint64_t(64 * 3 + 64 * 16));

        const SparseStorage ch = channelStorage(6, 10);
        QCOMPARE(ch.keptValues, uint64_t(60));
        QCOMPARE(ch.overheadBits, uint64_t(0));
        QCOMPARE(ch.keptRows, uint64_t(6));
        QCOMPARE(ch.cols, uint64_t(10));
    }
};

QTEST_APPLESS_MAIN(TestSparsity)
#include "tst_sparsity.moc"
