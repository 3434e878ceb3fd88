// Packed-weight kernels against dequantize-then-dot in double, on random weights quantized to
// each format, for 1..17 activation rows, on every kernel level the CPU has (each forced in
// turn).
//
// Tolerances:
//  - int8-activation path (packedMatmul on a quantized format): the activations' rounding
//    error is at most d/2 per element (d: its block's scale), so
//    |y - ref| <= 0.5 * sum_i |w_i| d(i) * 1.001 + 2e-5 * sum_i |w_i x_i| (float rounding of
//    the scaled integer sums);
//  - float-activation path (packedMatmulFloat, and F32 weights): |y - ref| <= 2e-5 * sum |w x|;
//  - every level against the scalar level: within 2e-5 * sum |w x| (same integer sums, only
//    the float summation order differs).
#include "bonsai/error.h"
#include "bonsai/ggml_blocks.h"
#include "bonsai/kernels.h"
#include "bonsai/quantize.h"
#include "testutil.h"

#include <QtTest>

#include <cmath>
#include <random>

using namespace bonsai;

namespace {

// Gaussian values with a few outliers, as real activations and weights have.
std::vector<float> gaussian(size_t n, unsigned seed, float sigma)
{
    std::vector<float> v = testutil::gaussian(n, seed, sigma);
    for (size_t i = 0; i < n; i += 97)
        v[i] *= 8.0f;
    return v;
}

std::vector<KernelIsa> levels()
{
    std::vector<KernelIsa> l;
    for (KernelIsa isa : {KernelIsa::Scalar, KernelIsa::Avx2, KernelIsa::Avx512})
        if (kernelIsaAvailable(isa))
            l.push_back(isa);
    return l;
}

struct Case {
    PackedMatrix w;
    int64_t rows = 0, cols = 0;
};

Case makeCase(const QString& kind, int64_t rows, int64_t cols, unsigned seed)
{
    const std::vector<float> f = gaussian(size_t(rows * cols), seed, 0.05f);
    Case c{{}, rows, cols};
    if (kind == "f32")
        c.w = PackedMatrix::fromFloat(f, rows, cols);
    else if (kind == "q8_0")
        c.w = PackedMatrix::quantizeGgml(DType::Q8_0, f.data(), rows, cols);
    else if (kind == "q4_0")
        c.w = PackedMatrix::quantizeGgml(DType::Q4_0, f.data(), rows, cols);
    else if (kind == "q4_k")
        c.w = PackedMatrix::quantizeGgml(DType::Q4_K, f.data(), rows, cols);
    else if (kind == "q6_k")
        c.w = PackedMatrix::quantizeGgml(DType::Q6_K, f.data(), rows, cols);
    else {
        IntQuantConfig cfg;
        cfg.bits = kind.startsWith("int8") ? 8 : kind.startsWith("int6") ? 6 : 4;
        cfg.symmetric = !kind.endsWith("asym");
        cfg.granularity = kind.contains("g64") ? Granularity::Group : Granularity::PerChannel;
        cfg.groupSize = 64;
        std::vector<float> q(f.size());
        fakeQuantInt(f.data(), uint64_t(rows), uint64_t(cols), cfg, q.data());
        c.w = PackedMatrix::packInt(q.data(), rows, cols, cfg.bits, cfg.symmetric,
                                    cfg.granularity == Granularity::Group ? 64 : cols);
        if (c.w.empty())
            return c;
        // The packed codes are the fake-quantized weights exactly.
        std::vector<float> row(static_cast<size_t>(cols));
        for (int64_t r = 0; r < rows; ++r) {
            c.w.dequantizeRow(r, row.data());
            for (int64_t i = 0; i < cols; ++i)
                if (row[size_t(i)] != q[size_t(r * cols + i)])
                    throw Error("packed code differs at " + std::to_string(r) + "," + std::to_string(i));
        }
    }
    return c;
}

} // namespace

class TestKernels : public QObject {
    Q_OBJECT

private slots:
    void cleanup() { setKernelIsa(bestKernelIsa()); }

    void levelsRun()
    {
        QVERIFY(kernelIsaAvailable(KernelIsa::Scalar));
        QVERIFY(kernelIsaAvailable(bestKernelIsa()));
        for (KernelIsa isa : levels()) {
            setKernelIsa(isa);
            QCOMPARE(kernelIsa(), isa);
        }
        qInfo("kernel levels here: %zu (best %s)", levels().size(), std::string(kernelIsaName(bestKernelIsa())).c_str());
    }

    void againstDouble_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<int>("cols");
        for (const char* k : {"f32", "q8_0", "q4_0", "q4_k", "q6_k", "int8", "int8 g64", "int6 asym", "int4 g64",
                              "int4 g64 asym", "int4"})
            for (int cols : {256, 768})
                QTest::newRow((std::string(k) + " " + std::to_string(cols)).c_str()) << QString(k) << cols;
        // Q4_K's several-row products go over the super-blocks in passes of eight: rows of nine
        // super-blocks take two.
        QTest::newRow("q4_k 2304") << QString("q4_k") << 2304;
    }

    void againstDouble()
    {
        QFETCH(QString, kind);
        QFETCH(int, cols);
        const int64_t rows = 37;
        const Case c = makeCase(kind, rows, cols, 11u + unsigned(cols));
        QVERIFY2(!c.w.empty(), "packing refused");
        const bool quantized = c.w.format() != PackedFormat::F32;
        std::vector<float> wrow(size_t(rows * cols));
        for (int64_t r = 0; r < rows; ++r)
            c.w.dequantizeRow(r, wrow.data() + r * cols);
        for (int64_t n : {1, 2, 3, 4, 5, 8, 17}) {
            const std::vector<float> x = gaussian(size_t(n * cols), 5u + unsigned(n), 1.0f);
            QuantizedActivations qa;
            if (quantized)
                quantizeActivations(x.data(), n, cols, activationBlock(c.w.format()), qa);
            std::vector<float> scalar;
            for (KernelIsa isa : levels()) {
                setKernelIsa(isa);
                std::vector<float> y(size_t(n * rows)), yf(size_t(n * rows));
                packedMatmul(c.w, x.data(), n, y.data());
                packedMatmulFloat(c.w, x.data(), n, yf.data());
                for (int64_t i = 0; i < n; ++i)
                    for (int64_t r = 0; r < rows; ++r) {
                        double ref = 0, mag = 0, actErr = 0;
                        for (int64_t k = 0; k < cols; ++k) {
                            const double wv = wrow[size_t(r * cols + k)], xv = x[size_t(i * cols + k)];
                            ref += wv * xv;
                            mag += std::fabs(wv * xv);
                            if (quantized)
                                actErr += std::fabs(wv) * qa.d[size_t((i * cols + k) / 32)];
                        }
                        const double got = y[size_t(i * rows + r)], gotF = yf[size_t(i * rows + r)];
                        const double tol = 0.5 * actErr * 1.001 + 2e-5 * mag + 1e-7;
                        if (std::fabs(got - ref) > tol || std::fabs(gotF - ref) > 2e-5 * mag + 1e-7)
                            QFAIL(qPrintable(QString("%1, n %2, row %3/%4: int8 path %5, float path %6, reference "
                                                     "%7 (tolerance %8)")
                                                 .arg(QString::fromStdString(std::string(kernelIsaName(isa))))
                                                 .arg(n).arg(i).arg(r).arg(got).arg(gotF).arg(ref).arg(tol)));
                        if (!scalar.empty() && std::fabs(got - scalar[size_t(i * rows + r)]) > 2e-5 * mag + 1e-7)
                            QFAIL(qPrintable(QString("%1 differs from the scalar level: %2 vs %3")
                                                 .arg(QString::fromStdString(std::string(kernelIsaName(isa))))
                                                 .arg(got).arg(scalar[size_t(i * rows + r)])));
                    }
                if (scalar.empty())
                    scalar = y;
            }
        }
    }

    // Products of one input in one pass equal the products one at a time exactly (the same
    // quantized activations and integer sums), whatever mix of formats and activation blocks;
    // the time split covers every product.
    void manyEqualsOne()
    {
        const int64_t cols = 512, n = 5;
        std::vector<Case> cases;
        for (const char* k : {"q4_k", "q8_0", "f32", "int4 g64", "q6_k", "int8", "q4_0"})
            cases.push_back(makeCase(k, 13 + int64_t(cases.size()) * 4, cols, 40u + unsigned(cases.size())));
        const std::vector<float> x = gaussian(size_t(n * cols), 77, 1.0f);
        for (KernelIsa isa : levels()) {
            setKernelIsa(isa);
            std::vector<const PackedMatrix*> ws;
            std::vector<std::vector<float>> one, many;
            for (const Case& c : cases) {
                QVERIFY(!c.w.empty());
                ws.push_back(&c.w);
                one.emplace_back(size_t(n * c.rows));
                many.emplace_back(size_t(n * c.rows), -1.0f);
                packedMatmul(c.w, x.data(), n, one.back().data());
            }
            std::vector<float*> ys;
            for (auto& m : many)
                ys.push_back(m.data());
            std::vector<double> secs(ws.size(), -1.0);
            packedMatmulMany(ws.data(), int(ws.size()), x.data(), n, ys.data(), secs.data());
            for (size_t k = 0; k < ws.size(); ++k) {
                QVERIFY2(one[k] == many[k], qPrintable(QString("product %1 on %2").arg(k).arg(
                                                QString::fromStdString(std::string(kernelIsaName(isa))))));
                QVERIFY(secs[k] >= 0);
            }
        }
        const PackedMatrix narrow = makeCase("q8_0", 4, 256, 3).w;
        const PackedMatrix* mixed[2] = {&cases[0].w, &narrow};
        std::vector<float> y0(size_t(n * cases[0].rows)), y1(size_t(n * 4));
        float* ys[2] = {y0.data(), y1.data()};
        QVERIFY_THROWS_EXCEPTION(Error, packedMatmulMany(mixed, 2, x.data(), n, ys));
    }

    // Inputs whose weights are no integer grid, or groups that are not whole 32-blocks, are
    // refused (the caller keeps float weights).
    void packIntRefuses()
    {
        const std::vector<float> f = gaussian(64 * 64, 3, 0.05f);
        QVERIFY(PackedMatrix::packInt(f.data(), 64, 64, 4, true, 64).empty());
        std::vector<float> q(f.size());
        IntQuantConfig cfg;
        cfg.bits = 4;
        cfg.granularity = Granularity::Group;
        cfg.groupSize = 16;
        fakeQuantInt(f.data(), 64, 64, cfg, q.data());
        QVERIFY(PackedMatrix::packInt(q.data(), 64, 64, 4, true, 16).empty());
        QVERIFY(!PackedMatrix::packInt(std::vector<float>(64 * 64, 0.0f).data(), 64, 64, 4, true, 64).empty());
    }

    // A view reads the blocks in place: resident bytes are the blocks' own.
    void viewIsInPlace()
    {
        const std::vector<float> f = gaussian(8 * 512, 9, 0.05f);
        std::vector<uint8_t> blocks(*storageBytes(DType::Q4_K, 8 * 512));
        for (int r = 0; r < 8; ++r)
            quantizeGgmlRow(DType::Q4_K, f.data() + r * 512, 512, blocks.data() + r * *storageBytes(DType::Q4_K, 512));
        const PackedMatrix v = PackedMatrix::view(DType::Q4_K, blocks.data(), 8, 512);
        QCOMPARE(v.data(), blocks.data());
        QVERIFY(!v.owning());
        QCOMPARE(v.bytes(), uint64_t(blocks.size()));
        QVERIFY_THROWS_EXCEPTION(Error, PackedMatrix::view(DType::Q4_K, blocks.data(), 8, 128));
        QVERIFY_THROWS_EXCEPTION(Error, PackedMatrix::view(DType::Q5_K, blocks.data(), 8, 512));
    }
};

QTEST_APPLESS_MAIN(TestKernels)
#include "tst_kernels.moc"
