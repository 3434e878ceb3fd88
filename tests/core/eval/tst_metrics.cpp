// Evaluation metrics against values computed by hand / by formula in the test.
#include "bonsai/error.h"
#include "bonsai/metrics.h"

#include <QtTest>

#include <cmath>
#include <limits>
#include <vector>

using namespace bonsai;

namespace {

// Softmax directly (no log-sum-exp), KL(p_ref || p) = sum p_ref log(p_ref / p).
double klByFormula(const std::vector<double>& ref, const std::vector<double>& l)
{
    double zr = 0, zp = 0;
    for (size_t j = 0; j < ref.size(); ++j)
        zr += std::exp(ref[j]), zp += std::exp(l[j]);
    double kl = 0;
    for (size_t j = 0; j < ref.size(); ++j) {
        const double pr = std::exp(ref[j]) / zr, p = std::exp(l[j]) / zp;
        kl += pr * std::log(pr / p);
    }
    return kl;
}

} // namespace

class TestMetrics : public QObject {
    Q_OBJECT
private slots:
    void threeSamplesFourClasses()
    {
        // label 0 is the argmax of sample 0; sample 1's label 2 ranks second; sample 2's
        // label 1 ties with class 0 behind class 2 (rank 2).
        const std::vector<float> logits = {2.0f, 1.0f, 0.5f, -1.0f, //
                                           0.1f, 0.3f, 0.2f, 0.0f,  //
                                           1.0f, 1.0f, 3.0f, 0.0f};
        const std::vector<float> ref = {2.5f, 0.5f, 0.0f, -0.5f, // argmax 0 (model 0): agree
                                        0.0f, 0.5f, 0.1f, 0.2f,  // argmax 1 (model 1): agree
                                        0.0f, 2.0f, 1.0f, 0.0f}; // argmax 1 (model 2): differ
        const std::vector<int64_t> labels = {0, 2, 1};
        Metrics m;
        m.add({logits.data(), 3, 4, labels.data(), ref.data()});
        const MetricsSnapshot s = m.snapshot();
        QCOMPARE(s.samples, int64_t(3));
        QCOMPARE(s.classes, int64_t(4));
        QCOMPARE(s.top1Correct, int64_t(1));
        QCOMPARE(s.top5Correct, int64_t(3)); // 4 classes: top-5 is top-4, always right
        QCOMPARE(s.top1, 1.0 / 3.0);
        QCOMPARE(s.top5, 1.0);
        QCOMPARE(s.agree, int64_t(2));
        QCOMPARE(s.agreement, 2.0 / 3.0);
        double kl = 0;
        for (int i = 0; i < 3; ++i)
            kl += klByFormula({ref.begin() + 4 * i, ref.begin() + 4 * i + 4},
                              {logits.begin() + 4 * i, logits.begin() + 4 * i + 4});
        QVERIFY(std::fabs(s.meanKl - kl / 3) < 1e-12);
        QVERIFY(s.meanKl > 0);
        const Interval ci = wilsonInterval(1, 3);
        QCOMPARE(s.top1Ci.lo, ci.lo);
        QCOMPARE(s.top1Ci.hi, ci.hi);

        // The same, batch by batch (2 + 1): identical running totals.
        Metrics inc;
        inc.add({logits.data(), 2, 4, labels.data(), ref.data()});
        const MetricsSnapshot half = inc.snapshot();
        QCOMPARE(half.top1Correct, int64_t(1));
        QCOMPARE(half.agree, int64_t(2));
        inc.add({logits.data() + 8, 1, 4, labels.data() + 2, ref.data() + 8});
        const MetricsSnapshot all = inc.snapshot();
        QCOMPARE(all.top1Correct, s.top1Correct);
        QCOMPARE(all.agree, s.agree);
        QVERIFY(std::fabs(all.meanKl - s.meanKl) < 1e-15);
    }

    void topFiveWithSevenClassesAndTies()
    {
        // Label 6 with logit 1: five classes larger -> rank 5, not in the top 5.
        // Label 4 tied with class 3 (lower index ranks first) -> rank 4: in the top 5.
        // Label 0 tied with 1..6 -> rank 0: top-1 (first argmax, as numpy).
        const std::vector<float> l = {7, 6, 5, 4, 3, 2, 1, //
                                      7, 6, 5, 2, 2, 1, 0, //
                                      1, 1, 1, 1, 1, 1, 1};
        const std::vector<int64_t> y = {6, 4, 0};
        Metrics m;
        m.add({l.data(), 3, 7, y.data(), nullptr});
        const auto s = m.snapshot();
        QCOMPARE(s.top1Correct, int64_t(1));
        QCOMPARE(s.top5Correct, int64_t(2));
        QCOMPARE(s.compared, int64_t(0));
        QCOMPARE(s.meanKl, 0.0);
    }

    void nanLogitIsWrong()
    {
        const float nan = std::numeric_limits<float>::quiet_NaN();
        const std::vector<float> l = {nan, 1, 2};
        const int64_t y = 0;
        Metrics m;
        m.add({l.data(), 1, 3, &y, nullptr});
        QCOMPARE(m.snapshot().top1Correct, int64_t(0));
        QCOMPARE(m.snapshot().top5Correct, int64_t(0));
    }

    void klIsStableForLargeLogits()
    {
        const std::vector<float> a = {1000.0f, 0.0f, -1000.0f}, b = {999.0f, 1000.0f, -1000.0f};
        QCOMPARE(klDivergence(a.data(), a.data(), 3), 0.0);
        const double kl = klDivergence(a.data(), b.data(), 3);
        QVERIFY(std::isfinite(kl));
        // p_ref is (1, 0, 0) to double precision; KL = -log p_0 = 1 + log(1 + e^-1).
        QVERIFY(std::fabs(kl - (1.0 + std::log1p(std::exp(-1.0)))) < 1e-12);
    }

    void wilsonClosedForm()
    {
        // 90 of 100 at 95%: (2np + z^2 -+ z sqrt(z^2 + 4np(1-p))) / (2(n + z^2)).
        const double z = 1.959963984540054, n = 100, p = 0.9;
        const double root = z * std::sqrt(z * z + 4 * n * p * (1 - p));
        const double lo = (2 * n * p + z * z - root) / (2 * (n + z * z));
        const double hi = (2 * n * p + z * z + root) / (2 * (n + z * z));
        const Interval ci = wilsonInterval(90, 100);
        QVERIFY(std::fabs(ci.lo - lo) < 1e-12);
        QVERIFY(std::fabs(ci.hi - hi) < 1e-12);
        QVERIFY(std::fabs(ci.lo - 0.825634) < 1e-6);
        QVERIFY(std::fabs(ci.hi - 0.944771) < 1e-6);
        // Edges stay inside [0, 1]; no trials: the whole range.
        QCOMPARE(wilsonInterval(0, 10).lo, 0.0);
        QCOMPARE(wilsonInterval(10, 10).hi, 1.0);
        QVERIFY(wilsonInterval(10, 10).lo > 0.6);
        QCOMPARE(wilsonInterval(0, 0).lo, 0.0);
        QCOMPARE(wilsonInterval(0, 0).hi, 1.0);
    }

    void badBatches()
    {
        const std::vector<float> l = {1, 2, 3, 4};
        const int64_t bad = 4;
        Metrics m;
        QVERIFY_THROWS_EXCEPTION(Error, m.add({l.data(), 1, 4, &bad, nullptr}));
        QCOMPARE(m.snapshot().samples, int64_t(0)); // nothing counted
        m.add({l.data(), 1, 4, nullptr, l.data()});
        QVERIFY_THROWS_EXCEPTION(Error, m.add({l.data(), 2, 2, nullptr, nullptr}));
        QCOMPARE(m.snapshot().agreement, 1.0);
        m.reset();
        QCOMPARE(m.snapshot().samples, int64_t(0));
    }

    void sqnr()
    {
        const std::vector<float> ref = {1, 2, 3}, x = {1, 2, 2.9f};
        const double d = 3.0 - double(2.9f);
        QVERIFY(std::fabs(outputSqnrDb(ref.data(), x.data(), 3) - 10 * std::log10(14.0 / (d * d))) < 1e-9);
        QVERIFY(std::isinf(outputSqnrDb(ref.data(), ref.data(), 3)));
        QVERIFY(outputSqnrDb(ref.data(), ref.data(), 3) > 0);
        const std::vector<float> zero = {0, 0, 0};
        QVERIFY(std::isinf(outputSqnrDb(zero.data(), x.data(), 3)) && outputSqnrDb(zero.data(), x.data(), 3) < 0);
        SqnrAccumulator acc; // batch by batch equals all at once
        acc.add(ref.data(), x.data(), 2);
        QVERIFY(std::isinf(acc.db()));
        acc.add(ref.data() + 2, x.data() + 2, 1);
        QCOMPARE(acc.db(), outputSqnrDb(ref.data(), x.data(), 3));
    }
};

QTEST_APPLESS_MAIN(TestMetrics)
#include "tst_metrics.moc"
