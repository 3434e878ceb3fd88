// Low-rank kernels against matrices with a known SVD: W = P diag(s) Q^T with P, Q orthonormal
// (thin Q of Householder QRs of Gaussian matrices, in double) and chosen s, so that the
// Eckart-Young error of every rank-r truncation, sqrt(sum_{i > r} s_i^2), is known exactly.
#include "bonsai/error.h"
#include "bonsai/lowrank.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized" // GCC 12 false positive in AVX-512 headers
#include <Eigen/Dense>
#pragma GCC diagnostic pop

#include <QtTest>

#include <cmath>
#include <random>

using namespace bonsai;

namespace {

using MatD = Eigen::MatrixXd;

MatD orthonormalColumns(Eigen::Index rows, Eigen::Index cols, uint32_t seed)
{
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> d;
    MatD g(rows, cols);
    for (Eigen::Index j = 0; j < cols; ++j)
        for (Eigen::Index i = 0; i < rows; ++i)
            g(i, j) = d(rng);
    Eigen::HouseholderQR<MatD> qr(g);
    return qr.householderQ() * MatD::Identity(rows, cols);
}

// Row-major float W = P diag(s) Q^T, rows x cols, s.size() <= min(rows, cols).
std::vector<float> knownMatrix(Eigen::Index rows, Eigen::Index cols, const std::vector<double>& s, uint32_t seed)
{
    const auto k = static_cast<Eigen::Index>(s.size());
    const MatD p = orthonormalColumns(rows, k, seed);
    const MatD q = orthonormalColumns(cols, k, seed + 1);
    const Eigen::VectorXd sv = Eigen::Map<const Eigen::VectorXd>(s.data(), k);
    const MatD w = p * sv.asDiagonal() * q.transpose();
    std::vector<float> out(static_cast<size_t>(rows * cols));
    for (Eigen::Index i = 0; i < rows; ++i)
        for (Eigen::Index j = 0; j < cols; ++j)
            out[static_cast<size_t>(i * cols + j)] = static_cast<float>(w(i, j));
    return out;
}

double tailNorm(const std::vector<double>& s, size_t r)
{
    double t = 0;
    for (size_t i = r; i < s.size(); ++i)
        t += s[i] * s[i];
    return std::sqrt(t);
}

// ||W - U V||_F computed in double, directly from the factors.
double factorError(const std::vector<float>& w, const LowRankFactors& f)
{
    double e = 0;
    for (uint64_t i = 0; i < f.rows; ++i)
        for (uint64_t j = 0; j < f.cols; ++j) {
            double a = 0;
            for (uint64_t k = 0; k < f.rank; ++k)
                a += static_cast<double>(f.u[i * f.rank + k]) * f.v[k * f.cols + j];
            const double d = w[i * f.cols + j] - a;
            e += d * d;
        }
    return std::sqrt(e);
}

double energyOf(const std::vector<float>& w)
{
    double e = 0;
    for (float x : w)
        e += static_cast<double>(x) * x;
    return e;
}

std::vector<double> geometric(size_t n, double first, double ratio)
{
    std::vector<double> s(n);
    for (size_t i = 0; i < n; ++i)
        s[i] = first * std::pow(ratio, static_cast<double>(i));
    return s;
}

} // namespace

class TestLowRank : public QObject {
    Q_OBJECT

private slots:
    void exactEckartYoung_data()
    {
        QTest::addColumn<int>("split");
        QTest::newRow("balanced") << int(FactorSplit::Balanced);
        QTest::newRow("fold into U") << int(FactorSplit::FoldIntoU);
    }

    void exactEckartYoung()
    {
        QFETCH(int, split);
        const int rows = 120, cols = 80;
        const std::vector<double> s = geometric(80, 10.0, 0.9);
        const std::vector<float> w = knownMatrix(rows, cols, s, 1);
        const double norm = std::sqrt(energyOf(w));
        SvdOptions opt;
        opt.split = static_cast<FactorSplit>(split);
        for (uint64_t r : {0, 1, 5, 20, 79, 80}) {
            const LowRankFactors f = lowRankFactors(w.data(), rows, cols, r, opt);
            QVERIFY(f.exact);
            QCOMPARE(f.rank, r);
            QCOMPARE(f.u.size(), size_t(rows * r));
            QCOMPARE(f.v.size(), size_t(r * cols));
            QCOMPARE(f.singularValues.size(), size_t(r));
            for (size_t i = 0; i < r; ++i)
                QVERIFY(std::fabs(f.singularValues[i] - s[i]) <= 1e-5 * s[0]);
            const double err = factorError(w, f), best = tailNorm(s, r);
            QVERIFY2(std::fabs(err - best) <= 1e-3 * best + 1e-5 * norm,
                     qPrintable(QString("r %1: error %2, optimum %3").arg(r).arg(err).arg(best)));
            QVERIFY(std::fabs(f.totalEnergy - energyOf(w)) <= 1e-12 * energyOf(w));
            // The full approximation buffer equals U V.
            std::vector<float> approx(rows * cols);
            lowRankApproximation(f, approx.data());
            double e2 = 0;
            for (size_t i = 0; i < approx.size(); ++i)
                e2 += (static_cast<double>(w[i]) - approx[i]) * (static_cast<double>(w[i]) - approx[i]);
            QVERIFY(std::fabs(std::sqrt(e2) - err) <= 1e-4 * norm);
        }
        // Balanced: every column of U and row of V has norm sqrt(s_i); folded: U's are s_i.
        const LowRankFactors f = lowRankFactors(w.data(), rows, cols, 3, opt);
        for (uint64_t k = 0; k < 3; ++k) {
            double nu = 0, nv = 0;
            for (int i = 0; i < rows; ++i)
                nu += double(f.u[i * 3 + k]) * f.u[i * 3 + k];
            for (int j = 0; j < cols; ++j)
                nv += double(f.v[k * cols + j]) * f.v[k * cols + j];
            const bool balanced = opt.split == FactorSplit::Balanced;
            QVERIFY(std::fabs(std::sqrt(nu) - (balanced ? std::sqrt(s[k]) : s[k])) < 1e-4 * s[0]);
            QVERIFY(std::fabs(std::sqrt(nv) - (balanced ? std::sqrt(s[k]) : 1.0)) < 1e-4 * s[0]);
        }
        QVERIFY_THROWS_EXCEPTION(Error, lowRankFactors(w.data(), rows, cols, 81, opt));
    }

    void randomizedEckartYoung_data()
    {
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("cols");
        QTest::addColumn<int>("method");
        QTest::addColumn<double>("decay");
        // min(rows, cols) > 512: Auto takes the randomized path.
        QTest::newRow("auto 600x700, s_i = i^-1") << 600 << 700 << int(SvdMethod::Auto) << 1.0;
        QTest::newRow("auto 700x600, s_i = i^-0.5") << 700 << 600 << int(SvdMethod::Auto) << 0.5;
        QTest::newRow("forced 300x200, s_i = i^-1") << 300 << 200 << int(SvdMethod::Randomized) << 1.0;
    }

    void randomizedEckartYoung()
    {
        QFETCH(int, rows);
        QFETCH(int, cols);
        QFETCH(int, method);
        QFETCH(double, decay);
        const int k = std::min(rows, cols);
        std::vector<double> s(k);
        for (int i = 0; i < k; ++i)
            s[i] = std::pow(i + 1.0, -decay);
        const std::vector<float> w = knownMatrix(rows, cols, s, 7);
        SvdOptions opt;
        opt.method = static_cast<SvdMethod>(method);
        for (uint64_t r : {5, 20, 40}) {
            QVERIFY(!usesExactSvd(rows, cols, r, opt));
            const LowRankFactors f = lowRankFactors(w.data(), rows, cols, r, opt);
            QVERIFY(!f.exact);
            const double err = factorError(w, f), best = tailNorm(s, r);
            QVERIFY2(err >= best * (1 - 1e-4) && err <= best * 1.01,
                     qPrintable(QString("r %1: error %2, optimum %3").arg(r).arg(err).arg(best)));
            // Estimated singular values never exceed the true ones (beyond float rounding).
            for (size_t i = 0; i < r; ++i)
                QVERIFY(f.singularValues[i] <= s[i] * (1 + 1e-4));
        }
        // Seeded: identical results on a second run.
        const LowRankFactors a = lowRankFactors(w.data(), rows, cols, 10, opt);
        const LowRankFactors b = lowRankFactors(w.data(), rows, cols, 10, opt);
        QVERIFY(a.u == b.u && a.v == b.v);
        SvdOptions other = opt;
        other.seed = 12345;
        QVERIFY(lowRankFactors(w.data(), rows, cols, 10, other).u != a.u);
    }

    void autoThreshold()
    {
        QVERIFY(usesExactSvd(512, 4096, 64));
        QVERIFY(!usesExactSvd(513, 4096, 64));
        QVERIFY(usesExactSvd(4096, 4096, 1100)); // 4 * (1100 + 10) > 4096: a large rank
        QVERIFY(!usesExactSvd(4096, 4096, 1000));
        SvdOptions o;
        o.method = SvdMethod::Exact;
        QVERIFY(usesExactSvd(4096, 4096, 64, o));
    }

    void energyRankKnown()
    {
        // s = 4 3 2 1, total 30.
        const std::vector<double> s = {4, 3, 2, 1};
        QCOMPARE(*rankForEnergy(s, 30, 0.0, true), uint64_t(0));
        QCOMPARE(*rankForEnergy(s, 30, 0.5, true), uint64_t(1));  // 16 >= 15
        QCOMPARE(*rankForEnergy(s, 30, 0.55, true), uint64_t(2)); // 16 < 16.5 <= 25
        QCOMPARE(*rankForEnergy(s, 30, 0.9, true), uint64_t(3));  // 25 < 27 <= 29
        QCOMPARE(*rankForEnergy(s, 30, 1.0, true), uint64_t(4));
        QCOMPARE(*rankForEnergy(s, 30.0000001, 1.0, true), uint64_t(4)); // rounding shortfall
        QVERIFY(!rankForEnergy(std::vector<double>{4, 3}, 30, 0.9, false));
        QCOMPARE(*rankForEnergy(std::vector<double>{4, 3}, 30, 0.8, false), uint64_t(2));
        const std::vector<double> c = energyCurve(s, 30);
        QCOMPARE(c.size(), size_t(4));
        QVERIFY(std::fabs(c[0] - 16.0 / 30) < 1e-15 && std::fabs(c[1] - 25.0 / 30) < 1e-15 &&
                std::fabs(c[2] - 29.0 / 30) < 1e-15 && c[3] == 1.0);
        QCOMPARE(energyCurve(s, 0), (std::vector<double>{0, 0, 0, 0}));
    }

    void energyRankOnMatrix()
    {
        // Geometric spectrum: energy fractions well away from the rank boundaries.
        for (int path = 0; path < 2; ++path) {
            const int rows = path ? 640 : 200, cols = path ? 560 : 150;
            const std::vector<double> s = geometric(std::min(rows, cols), 5.0, 0.93);
            const std::vector<float> w = knownMatrix(rows, cols, s, 3);
            const double total = energyOf(w);
            for (double e : {0.5, 0.9, 0.99}) {
                // Reference on the known spectrum against the energy of the float matrix.
                uint64_t ref = 0;
                for (double acc = 0; acc < e * total; ++ref)
                    acc += s[ref] * s[ref];
                const LowRankFactors f = lowRankFactorsForEnergy(w.data(), rows, cols, e);
                QCOMPARE(f.exact, path == 0);
                QVERIFY2(f.rank == ref, qPrintable(QString("e %1: rank %2, expected %3").arg(e).arg(f.rank).arg(ref)));
                QVERIFY(f.retainedEnergy >= e * total * (1 - 1e-5));
                QVERIFY(std::fabs(factorError(w, f) - tailNorm(s, ref)) <= 0.01 * tailNorm(s, ref));
            }
            QCOMPARE(lowRankFactorsForEnergy(w.data(), rows, cols, 0.0).rank, uint64_t(0));
        }
        const std::vector<float> w(12, 1.0f);
        QVERIFY_THROWS_EXCEPTION(Error, lowRankFactorsForEnergy(w.data(), 3, 4, 1.5));
        QCOMPARE(lowRankFactorsForEnergy(w.data(), 3, 4, 0.99).rank, uint64_t(1)); // rank-1 matrix
    }

    void spectrum()
    {
        const std::vector<double> s = geometric(60, 3.0, 0.8);
        const std::vector<float> w = knownMatrix(90, 60, s, 5);
        const Spectrum sp = singularSpectrum(w.data(), 90, 60);
        QVERIFY(sp.complete);
        QCOMPARE(sp.values.size(), size_t(60));
        for (size_t i = 0; i < 60; ++i)
            QVERIFY(std::fabs(sp.values[i] - s[i]) <= 1e-5 * s[0]);
        QVERIFY(std::fabs(sp.totalEnergy - energyOf(w)) <= 1e-12 * energyOf(w));
        const std::vector<double> c = energyCurve(sp.values, sp.totalEnergy);
        QVERIFY(std::fabs(c.back() - 1.0) < 1e-5);

        // Large: top k by the randomized path, exact total.
        std::vector<double> s2(600);
        for (size_t i = 0; i < s2.size(); ++i)
            s2[i] = 1.0 / std::sqrt(i + 1.0);
        const std::vector<float> w2 = knownMatrix(600, 800, s2, 9);
        const Spectrum sp2 = singularSpectrum(w2.data(), 600, 800, 30);
        QVERIFY(!sp2.complete);
        QCOMPARE(sp2.values.size(), size_t(30));
        QVERIFY(std::fabs(sp2.totalEnergy - energyOf(w2)) <= 1e-12 * energyOf(w2));
        for (size_t i = 0; i < 30; ++i)
            QVERIFY2(sp2.values[i] <= s2[i] * (1 + 1e-4) && sp2.values[i] >= s2[i] * 0.95,
                     qPrintable(QString("s_%1 = %2, estimate %3").arg(i).arg(s2[i]).arg(sp2.values[i])));
    }

    void rankSavesBoundary()
    {
        // 4096 x 4096: r < 16777216 / 8192 = 2048.
        QVERIFY(rankSaves(4096, 4096, 2047));
        QVERIFY(!rankSaves(4096, 4096, 2048));
        QCOMPARE(maxSavingRank(4096, 4096), uint64_t(2047));
        // 5 x 7: 35 / 12 = 2.92 -> 2 * 12 = 24 < 35 saves, 3 * 12 = 36 does not.
        QVERIFY(rankSaves(5, 7, 2));
        QVERIFY(!rankSaves(5, 7, 3));
        QCOMPARE(maxSavingRank(5, 7), uint64_t(2));
        // 3 x 6: 18 / 9 = 2 exactly: rank 2 stores 18 = dense, saves nothing.
        QVERIFY(rankSaves(3, 6, 1));
        QVERIFY(!rankSaves(3, 6, 2));
        QCOMPARE(maxSavingRank(3, 6), uint64_t(1));
        QCOMPARE(maxSavingRank(1, 1), uint64_t(0));
        QVERIFY(rankSaves(1, 1, 0));
        QVERIFY(!rankSaves(1, 1, 1));
        // Huge shapes do not overflow.
        QVERIFY(rankSaves(uint64_t(1) << 40, uint64_t(1) << 40, (uint64_t(1) << 39) - 1));
        QVERIFY(!rankSaves(uint64_t(1) << 40, uint64_t(1) << 40, uint64_t(1) << 39));

        const std::string yes = rankSavingText(4096, 4096, 64);
        QCOMPARE(QString::fromStdString(yes),
                 QStringLiteral("Rank 64 stores 64 x (4096 + 4096) = 524,288 values instead of 16,777,216 "
                                "(3.1% of the dense matrix); ranks up to 2047 save storage."));
        const std::string no = rankSavingText(3, 6, 2);
        QCOMPARE(QString::fromStdString(no),
                 QStringLiteral("Rank 2 stores 2 x (3 + 6) = 18 values instead of 18, which is not smaller than "
                                "the dense matrix; only ranks up to 1 save storage."));

        const FactorShapes fs = factorShapes(300, 200, 16);
        QCOMPARE(fs.uRows, uint64_t(300));
        QCOMPARE(fs.uCols, uint64_t(16));
        QCOMPARE(fs.vRows, uint64_t(16));
        QCOMPARE(fs.vCols, uint64_t(200));
        QCOMPARE(fs.values(), uint64_t(16 * 500));
    }
};

QTEST_APPLESS_MAIN(TestLowRank)
#include "tst_lowrank.moc"
