// Tests of the integer fake-quantization kernels and the error metrics (the float and NF4
// formats: tst_quantize_float).
//
// Expected values are worked out by hand (FP16-rounded scales included, see the comments), or
// computed by the plain scalar reference functions in this file (std::nearbyint, division,
// brute-force nearest search), which share no code with the kernels.
#include "bonsai/error.h"
#include "bonsai/half.h"
#include "bonsai/quantize.h"

#include "testutil.h"

#include <QtTest>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

using namespace bonsai;

namespace {

float h16(float x) { return fp16ToFloat(floatToFp16(x)); }

std::vector<float> fq(const std::vector<float>& w, uint64_t rows, uint64_t cols, const IntQuantConfig& c)
{
    std::vector<float> out(w.size(), -999.0f);
    fakeQuantInt(w.data(), rows, cols, c, out.data());
    return out;
}

IntQuantConfig cfg(int bits, Granularity g, bool sym, uint32_t group = 128, bool clip = false)
{
    IntQuantConfig c;
    c.bits = bits;
    c.granularity = g;
    c.symmetric = sym;
    c.groupSize = group;
    c.clipSearch = clip;
    return c;
}

// Scalar reference for one group at clip ratio r, written straight from the definition.
void refGroup(const float* x, float* y, size_t n, int bits, bool sym, float r)
{
    double lo = 0, hi = 0;
    for (size_t i = 0; i < n; ++i) {
        lo = std::min<double>(lo, x[i]);
        hi = std::max<double>(hi, x[i]);
    }
    if (sym) {
        const float qmax = static_cast<float>((1 << (bits - 1)) - 1);
        const float amax = static_cast<float>(std::max(-lo, hi));
        float s = h16((amax * r) / qmax);
        if (std::isinf(s))
            s = 65504.0f;
        for (size_t i = 0; i < n; ++i) {
            if (s == 0) {
                y[i] = 0;
                continue;
            }
            float q = std::nearbyint(x[i] / s);
            q = std::fmin(std::fmax(q, -qmax), qmax);
            y[i] = q * s;
        }
    } else {
        const float qmax = static_cast<float>((1 << bits) - 1);
        const float l = static_cast<float>(lo) * r, u = static_cast<float>(hi) * r;
        float s = h16((u - l) / qmax);
        if (std::isinf(s))
            s = 65504.0f;
        const float z = s == 0 ? 0.0f : std::fmin(std::fmax(std::nearbyint(-l / s), 0.0f), qmax);
        for (size_t i = 0; i < n; ++i) {
            if (s == 0) {
                y[i] = 0;
                continue;
            }
            float q = std::nearbyint(x[i] / s) + z;
            q = std::fmin(std::fmax(q, 0.0f), qmax);
            y[i] = (q - z) * s;
        }
    }
}

double sqErr(const float* a, const float* b, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; ++i)
        e += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    return e;
}

// Scalar reference of a whole matrix: groups per the granularity, clip search by brute force.
std::vector<float> refInt(const std::vector<float>& w, size_t rows, size_t cols, const IntQuantConfig& c)
{
    std::vector<float> out(w.size());
    auto doGroup = [&](size_t first, size_t len) {
        std::vector<float> best(len), cand(len);
        refGroup(w.data() + first, best.data(), len, c.bits, c.symmetric, 1.0f);
        if (c.clipSearch) {
            double bestErr = sqErr(w.data() + first, best.data(), len);
            for (float r : {0.95f, 0.90f, 0.85f, 0.80f, 0.75f, 0.70f, 0.65f, 0.60f, 0.55f, 0.50f}) {
                refGroup(w.data() + first, cand.data(), len, c.bits, c.symmetric, r);
                const double e = sqErr(w.data() + first, cand.data(), len);
                if (e < bestErr) {
                    bestErr = e;
                    best = cand;
                }
            }
        }
        std::copy(best.begin(), best.end(), out.begin() + static_cast<std::ptrdiff_t>(first));
    };
    if (c.granularity == Granularity::PerTensor)
        doGroup(0, w.size());
    else if (c.granularity == Granularity::PerChannel)
        for (size_t r = 0; r < rows; ++r)
            doGroup(r * cols, cols);
    else
        for (size_t r = 0; r < rows; ++r)
            for (size_t j = 0; j < cols; j += c.groupSize)
                doGroup(r * cols + j, std::min<size_t>(c.groupSize, cols - j));
    return out;
}

using testutil::gaussian;


} // namespace

class TestQuantize : public QObject {
    Q_OBJECT

private slots:
    // --- integers: hand-worked cases ---

    void int8PerTensorTiesToEven()
    {
        // absmax 127 -> scale 127/127 = 1 (exact in FP16): q = round-half-even(w).
        const std::vector<float> w = {127.0f, 2.5f, 3.5f, -2.5f, -0.5f, 1.5f, 0.4f, -126.6f};
        const auto out = fq(w, 2, 4, cfg(8, Granularity::PerTensor, true));
        const std::vector<float> want = {127, 2, 4, -2, 0, 2, 0, -127};
        for (size_t i = 0; i < w.size(); ++i)
            QCOMPARE(out[i], want[i]);
        QCOMPARE(intStorageBits(2, 4, cfg(8, Granularity::PerTensor, true)), uint64_t(8 * 8 + 16));
    }

    void int8Fp16ScaleRounding()
    {
        // absmax 1 -> scale 1/127 = 0.0078740..., which FP16 rounds to 0.00787353515625
        // (2^-7 + 8 * 2^-17). 1 / that = 127.0077 -> q = 127 -> 127 * s = 0.99993896484375,
        // not 1: the rounded scale is visible. -0.3 / s = -38.10 -> -38.
        const float s = 0.00787353515625f;
        QCOMPARE(h16(1.0f / 127.0f), s);
        const std::vector<float> w = {1.0f, -0.3f, 0.0f, 0.5f};
        const auto out = fq(w, 1, 4, cfg(8, Granularity::PerChannel, true));
        QCOMPARE(out[0], 127 * s);
        QCOMPARE(out[0], 0.99993896484375f);
        QCOMPARE(out[1], -38 * s);
        QCOMPARE(out[2], 0.0f);
        QCOMPARE(out[3], 64 * s); // 0.5 / s = 63.504 -> 64
    }

    void int4PerChannel()
    {
        // qmax 7. Row 0: absmax 7 -> s 1. Row 1: absmax 14 -> s 2; w/s = 7, 1.5, 2.5, -0.5
        // -> 7, 2, 2, -0 (ties to even). Row 2: all zero -> scale 0 -> 0, no NaN.
        const std::vector<float> w = {7, -3.2f, 0.49f, -6.5f, 14, 3, 5, -1, 0, 0, 0, 0};
        const auto c = cfg(4, Granularity::PerChannel, true);
        const auto out = fq(w, 3, 4, c);
        const std::vector<float> want = {7, -3, 0, -6, 14, 4, 4, 0, 0, 0, 0, 0};
        for (size_t i = 0; i < w.size(); ++i)
            QCOMPARE(out[i], want[i]);
        QCOMPARE(intStorageBits(3, 4, c), uint64_t(12 * 4 + 3 * 16));
        QCOMPARE(intGroupCount(3, 4, c), uint64_t(3));
    }

    void int4GroupShortLastGroup()
    {
        // cols 5, G 2 -> groups [0,2) [2,4) [4,5) per row (last one shorter).
        // Row 0: {7, -3.5 | 1, 2 | -0.7}
        //   g0: s = 1, -3.5 -> -4 (tie to even).
        //   g1: s = fp16(2/7) = 0.28564453125; 1/s = 3.5009 -> 4, 2/s = 7.0017 -> 7.
        //   g2: s = fp16(0.7/7) = 0.0999755859375; -0.7/s = -7.0017 -> -7.
        // Row 1: {0, 0 | 0, 0 | 5}: two all-zero groups, then s = fp16(5/7) = 0.71435546875,
        //   5/s = 6.9993 -> 7 -> 5.00048828125.
        const std::vector<float> w = {7, -3.5f, 1, 2, -0.7f, 0, 0, 0, 0, 5};
        const auto c = cfg(4, Granularity::Group, true, 2);
        const auto out = fq(w, 2, 5, c);
        const float s1 = 0.28564453125f, s2 = 0.0999755859375f, s3 = 0.71435546875f;
        QCOMPARE(h16(2.0f / 7.0f), s1);
        QCOMPARE(h16(0.7f / 7.0f), s2);
        QCOMPARE(h16(5.0f / 7.0f), s3);
        const std::vector<float> want = {7, -4, 4 * s1, 7 * s1, -7 * s2, 0, 0, 0, 0, 7 * s3};
        for (size_t i = 0; i < w.size(); ++i)
            QCOMPARE(out[i], want[i]);
        QCOMPARE(out[9], 5.00048828125f);
        QCOMPARE(intGroupCount(2, 5, c), uint64_t(6));
        QCOMPARE(intStorageBits(2, 5, c), uint64_t(10 * 4 + 6 * 16));
        // The same matrix in place (out == w).
        std::vector<float> inplace = w;
        fakeQuantInt(inplace.data(), 2, 5, c, inplace.data());
        QCOMPARE(inplace, out);
    }

    void int3Asymmetric()
    {
        // qmax 7. Row 0: {-2, -1, 0.5, 5}: lo -2, hi 5 -> s 1, zero = 2; 0.5 -> 0 (tie) -> q 2.
        // Row 1: {1, 2, 3, 8} (all positive; the range is extended to 0): s = fp16(8/7) =
        // 1.142578125, zero 0; w/s = 0.875, 1.750, 2.626, 7.0017 -> 1, 2, 3, 7.
        const std::vector<float> w = {-2, -1, 0.5f, 5, 1, 2, 3, 8};
        const auto c = cfg(3, Granularity::Group, false, 4);
        const auto out = fq(w, 2, 4, c);
        const float s = 1.142578125f;
        QCOMPARE(h16(8.0f / 7.0f), s);
        const std::vector<float> want = {-2, -1, 0, 5, s, 2 * s, 3 * s, 7 * s};
        for (size_t i = 0; i < w.size(); ++i)
            QCOMPARE(out[i], want[i]);
        // 2 groups: 8 * 3 bits + 2 * 16 (scales) + 2 * 3 (zero points).
        QCOMPARE(intStorageBits(2, 4, c), uint64_t(8 * 3 + 2 * 16 + 2 * 3));
    }

    void int4AsymmetricZeroPoint()
    {
        // qmax 15, row {-1, 0.2, 3}: s = fp16(4/15) = 0.2666015625, zero = round(1/s = 3.7509)
        // = 4; q = round(w/s) + 4: -1 -> -4 + 4 = 0, 0.2 -> 1 + 4 = 5, 3 -> 11 + 4 = 15.
        const std::vector<float> w = {-1, 0.2f, 3};
        const auto c = cfg(4, Granularity::PerChannel, false);
        const auto out = fq(w, 1, 3, c);
        const float s = 0.2666015625f;
        QCOMPARE(h16(4.0f / 15.0f), s);
        QCOMPARE(out[0], -4 * s);
        QCOMPARE(out[1], 1 * s);
        QCOMPARE(out[2], 11 * s);
        QCOMPARE(intStorageBits(1, 3, c), uint64_t(3 * 4 + 16 + 4));
    }

    void int2SymAndAsym()
    {
        // Symmetric 2-bit: q in {-1, 0, 1}. s = fp16(0.9) = 0.89990234375; w/s = 1.0001,
        // -0.444, 0.556, 0.567 -> 1, 0, 1, 1.
        const std::vector<float> w = {0.9f, -0.4f, 0.5f, 0.51f};
        const float s = 0.89990234375f;
        const auto out = fq(w, 1, 4, cfg(2, Granularity::PerTensor, true));
        const std::vector<float> want = {s, 0, s, s};
        for (size_t i = 0; i < w.size(); ++i)
            QCOMPARE(out[i], want[i]);
        // Asymmetric 2-bit (qmax 3): {-1, 0, 0.5, 2, 1.5, -0.5}: s = 3/3 = 1, zero 1;
        // round: 0.5 -> 0, 1.5 -> 2, -0.5 -> -0 (ties to even).
        const std::vector<float> a = {-1, 0, 0.5f, 2, 1.5f, -0.5f};
        const auto outA = fq(a, 2, 3, cfg(2, Granularity::PerTensor, false));
        const std::vector<float> wantA = {-1, 0, 0, 2, 2, 0};
        for (size_t i = 0; i < a.size(); ++i)
            QCOMPARE(outA[i], wantA[i]);
        QCOMPARE(intStorageBits(2, 3, cfg(2, Granularity::PerTensor, false)), uint64_t(6 * 2 + 16 + 2));
    }

    void allZeroTensor()
    {
        const std::vector<float> w(37, 0.0f);
        for (bool sym : {true, false})
            for (auto g : {Granularity::PerTensor, Granularity::PerChannel, Granularity::Group})
                for (bool clip : {false, true}) {
                    const auto out = fq(w, 1, 37, cfg(4, g, sym, 8, clip));
                    for (float v : out)
                        QCOMPARE(v, 0.0f);
                }
    }

    void clipSearchLowersErrorWithOutlier()
    {
        // 255 Gaussian values (sigma 0.5) and one outlier of 5 (10 sigma): without clipping
        // the 4-bit step is 5/7 and most values fall on 0 or +-1 step; clipping the range trades
        // the outlier's error for a finer step (about 26% less squared error here).
        std::vector<float> w = gaussian(256, 7, 0.5f);
        w[17] = 5.0f;
        const auto plain = fq(w, 1, 256, cfg(4, Granularity::PerChannel, true));
        const auto clipped = fq(w, 1, 256, cfg(4, Granularity::PerChannel, true, 128, true));
        const double e0 = sqErr(w.data(), plain.data(), 256), e1 = sqErr(w.data(), clipped.data(), 256);
        QVERIFY2(e1 < 0.8 * e0, qPrintable(QString("clip %1 vs plain %2").arg(e1).arg(e0)));
        QVERIFY(clipped[17] < 4.5f); // the outlier was clipped
        // And it is the brute-force best over the documented grid.
        QCOMPARE(clipped, refInt(w, 1, 256, cfg(4, Granularity::PerChannel, true, 128, true)));
        QCOMPARE(kClipRatioCount, 11);
        QCOMPARE(kClipRatios[0], 1.0f);
        QCOMPARE(kClipRatios[10], 0.5f);
    }

    // --- integers: every configuration against the scalar reference on random data ---

    void randomAgainstReference_data()
    {
        QTest::addColumn<int>("bits");
        QTest::addColumn<int>("gran");
        QTest::addColumn<bool>("sym");
        QTest::addColumn<int>("group");
        QTest::addColumn<bool>("clip");
        for (int bits : {8, 7, 6, 5, 4, 3, 2})
            for (int g = 0; g < 3; ++g)
                for (bool sym : {true, false})
                    for (bool clip : {false, true})
                        for (int group : {32, 128}) {
                            if (g != 2 && group != 32)
                                continue;
                            QTest::addRow("b%d_g%d_%s_G%d_%s", bits, g, sym ? "sym" : "asym", group,
                                          clip ? "clip" : "noclip")
                                << bits << g << sym << group << clip;
                        }
    }

    void randomAgainstReference()
    {
        QFETCH(int, bits);
        QFETCH(int, gran);
        QFETCH(bool, sym);
        QFETCH(int, group);
        QFETCH(bool, clip);
        const size_t rows = 7, cols = 300; // 300 is not a multiple of 32 or 128
        auto w = gaussian(rows * cols, static_cast<unsigned>(bits * 100 + gran * 10 + group));
        for (size_t c = 0; c < cols; ++c)
            w[2 * cols + c] = 0; // an all-zero row
        w[5 * cols + 3] = 8.0f;  // an outlier
        const auto c = cfg(bits, static_cast<Granularity>(gran), sym, static_cast<uint32_t>(group), clip);
        const auto out = fq(w, rows, cols, c);
        const auto want = refInt(w, rows, cols, c);
        for (size_t i = 0; i < w.size(); ++i)
            if (out[i] != want[i])
                QFAIL(qPrintable(QString("index %1: %2 vs reference %3").arg(i).arg(out[i]).arg(want[i])));
        const uint64_t groups = gran == 0 ? 1 : gran == 1 ? rows : rows * ((cols + group - 1) / group);
        QCOMPARE(intStorageBits(rows, cols, c),
                 rows * cols * bits + groups * 16 + (sym ? 0 : groups * bits));
    }

    void largeMatrixAgainstReference()
    {
        // 70 x 3001: several parallel chunks per tensor (per-tensor statistics are reduced
        // across threads) and the row-wise group loop (>= 64 rows); G = 64 leaves a last group
        // of 57 per row.
        const size_t rows = 70, cols = 3001;
        auto w = gaussian(rows * cols, 99, 0.3f);
        w[12345] = -6.0f;
        for (auto g : {Granularity::PerTensor, Granularity::PerChannel, Granularity::Group})
            for (bool sym : {true, false})
                for (bool clip : {false, true}) {
                    const auto c = cfg(3, g, sym, 64, clip);
                    const auto out = fq(w, rows, cols, c);
                    const auto want = refInt(w, rows, cols, c);
                    for (size_t i = 0; i < w.size(); ++i)
                        if (out[i] != want[i])
                            QFAIL(qPrintable(QString("granularity %1 sym %2 clip %3 index %4: %5 vs %6")
                                                 .arg(int(g)).arg(sym).arg(clip).arg(i).arg(out[i]).arg(want[i])));
                }
        std::vector<float> o8(w.size()), o4(w.size());
        fakeQuantFloat(w.data(), rows, cols, FloatFormat::FP8_E4M3, Granularity::PerTensor, o8.data());
        float amax = 0;
        for (float v : w)
            amax = std::max(amax, std::fabs(v));
        const float s = h16(amax / 448.0f);
        for (size_t i = 0; i < w.size(); ++i)
            QCOMPARE(o8[i], fp8e4m3ToFloat(floatToFp8E4M3(w[i] / s)) * s);
    }

    void invalidConfig()
    {
        std::vector<float> w(4, 1.0f), out(4);
        QVERIFY_THROWS_EXCEPTION(Error, fakeQuantInt(w.data(), 1, 4, cfg(9, Granularity::PerTensor, true), out.data()));
        QVERIFY_THROWS_EXCEPTION(Error, fakeQuantInt(w.data(), 1, 4, cfg(1, Granularity::PerTensor, true), out.data()));
        QVERIFY_THROWS_EXCEPTION(Error, fakeQuantInt(w.data(), 1, 4, cfg(4, Granularity::Group, true, 0), out.data()));
    }

    // --- error metrics ---

    void metricsHandComputed()
    {
        const std::vector<float> a = {1, 2, 3, 4}, b = {1, 2, 3, 5};
        const ErrorMetrics m = errorMetrics(a.data(), b.data(), 4);
        // sum w^2 = 30, sum e^2 = 1, <a,b> = 34, |b|^2 = 39.
        QCOMPARE(m.relFrobenius, std::sqrt(1.0 / 30.0));
        QVERIFY(std::fabs(m.sqnrDb - 10 * std::log10(30.0)) < 1e-12);
        QVERIFY(std::fabs(m.cosine - 34.0 / std::sqrt(30.0 * 39.0)) < 1e-12);
        QCOMPARE(m.maxAbsError, 1.0);
        const ErrorMetrics e = errorMetrics(a.data(), a.data(), 4);
        QCOMPARE(e.relFrobenius, 0.0);
        QVERIFY(std::isinf(e.sqnrDb) && e.sqnrDb > 0);
        QVERIFY(std::fabs(e.cosine - 1.0) < 1e-15);
        QCOMPARE(e.maxAbsError, 0.0);
        const std::vector<float> z(4, 0.0f);
        const ErrorMetrics zz = errorMetrics(z.data(), z.data(), 4);
        QCOMPARE(zz.cosine, 1.0);
        QCOMPARE(zz.relFrobenius, 0.0);
        const ErrorMetrics az = errorMetrics(a.data(), z.data(), 4);
        QCOMPARE(az.cosine, 0.0);
        QCOMPARE(az.relFrobenius, 1.0);
        QCOMPARE(az.sqnrDb, 0.0);
        QCOMPARE(az.maxAbsError, 4.0);
        // A long vector (exercises the parallel/vector reduction) against a plain loop.
        const auto w = gaussian(100003, 9);
        std::vector<float> q(w.size());
        fakeQuantInt(w.data(), 1, w.size(), cfg(4, Granularity::Group, true, 64), q.data());
        double sw = 0, se = 0, sq = 0, swq = 0, mx = 0;
        for (size_t i = 0; i < w.size(); ++i) {
            sw += double(w[i]) * w[i];
            sq += double(q[i]) * q[i];
            swq += double(w[i]) * q[i];
            se += (double(w[i]) - q[i]) * (double(w[i]) - q[i]);
            mx = std::max(mx, std::fabs(double(w[i]) - q[i]));
        }
        const ErrorMetrics r = errorMetrics(w.data(), q.data(), w.size());
        QVERIFY(std::fabs(r.relFrobenius - std::sqrt(se / sw)) < 1e-9);
        QVERIFY(std::fabs(r.sqnrDb - 10 * std::log10(sw / se)) < 1e-9);
        QVERIFY(std::fabs(r.cosine - swq / std::sqrt(sw * sq)) < 1e-12);
        QCOMPARE(r.maxAbsError, mx);
    }
};

QTEST_APPLESS_MAIN(TestQuantize)
#include "tst_quantize.moc"
