// GPTQ / AWQ on a classifier: the Evaluator gathers each calibrated layer's inputs (Conv as
// im2col patches, Gemm / MatMul rows) with the uncompressed model and hands them to
// compressLayer. On the demo CNN (Fashion-MNIST), GPTQ at 3 and 2 bits must follow the
// uncompressed model more closely than round-to-nearest at exactly the same size.
#include "testutil.h"

#include "bonsai/compress.h"
#include "bonsai/dataset.h"
#include "bonsai/error.h"
#include "bonsai/evaluate.h"
#include "bonsai/model.h"

#include <QtTest>

#include <QFileInfo>

using namespace bonsai;

namespace {

std::vector<LayerConfig> uniform(const Model& m, int bits, Granularity g, uint32_t group, QuantMethod method)
{
    LayerConfig c;
    c.precision = *parsePrecision("int" + std::to_string(bits));
    c.granularity = g;
    c.groupSize = group;
    c.method = method;
    c.calibSamples = 128;
    return std::vector<LayerConfig>(m.layers.size(), c);
}

bool anyNoteContains(const EvalResult& r, const std::string& s)
{
    for (const auto& n : r.notes)
        if (n.find(s) != std::string::npos)
            return true;
    return false;
}

} // namespace

class TstOnnxGptq : public QObject {
    Q_OBJECT
private slots:
    void demoCnnGptqBeatsRtn()
    {
        if (!QFileInfo::exists(QString::fromStdString(defaultDatasetPath())))
            QSKIP("Fashion-MNIST (dataset-fashion-mnist) is not installed");
        auto model = Model::open(BONSAI_DEMO_MODEL);
        auto data = openDataset(defaultDatasetPath());
        EvalOptions opt;
        opt.limit = 2000;
        opt.quickSamples = 0;
        Evaluator ev(*model, *data, opt);
        const EvalResult ref = ev.reference();
        struct Case {
            int bits;
            Granularity g;
            uint32_t group;
        };
        for (const auto& k : {Case{3, Granularity::PerChannel, 0}, Case{2, Granularity::Group, 32}}) {
            const EvalResult rtn = ev.evaluate(uniform(*model, k.bits, k.g, k.group, QuantMethod::RTN));
            const EvalResult gptq = ev.evaluate(uniform(*model, k.bits, k.g, k.group, QuantMethod::GPTQ));
            qInfo("int%d %s: reference top-1 %.4f; RTN top-1 %.4f agreement %.4f KL %.4f; GPTQ top-1 %.4f agreement %.4f KL %.4f; %llu bytes",
                  k.bits, k.g == Granularity::Group ? "group 32" : "per channel", ref.metrics.top1, rtn.metrics.top1,
                  rtn.metrics.agreement, rtn.metrics.meanKl, gptq.metrics.top1, gptq.metrics.agreement, gptq.metrics.meanKl,
                  static_cast<unsigned long long>(gptq.compressedBytes));
            for (const auto& n : gptq.notes)
                qInfo("  %s", n.c_str());
            QCOMPARE(gptq.compressedBytes, rtn.compressedBytes); // same grid, same storage
            QVERIFY(anyNoteContains(gptq, "gptq: calibrated proxy error"));
            QVERIFY(!anyNoteContains(gptq, "round-to-nearest used"));
            QVERIFY(rtn.notes.empty());
            QVERIFY2(gptq.metrics.meanKl < 0.8 * rtn.metrics.meanKl, "GPTQ's KL to the reference is not clearly below RTN's");
            QVERIFY(gptq.metrics.agreement > rtn.metrics.agreement);
            // Per layer, the output SQNR of the consuming node is higher for most layers.
            QCOMPARE(gptq.layerErrors.size(), rtn.layerErrors.size());
            size_t better = 0;
            for (size_t i = 0; i < gptq.layerErrors.size(); ++i)
                better += gptq.layerErrors[i].sqnrDb > rtn.layerErrors[i].sqnrDb;
            QVERIFY(better * 2 > gptq.layerErrors.size());
        }
        // AWQ runs on the same data, at the same size, and says what it chose.
        const EvalResult rtn = ev.evaluate(uniform(*model, 3, Granularity::PerChannel, 0, QuantMethod::RTN));
        const EvalResult awq = ev.evaluate(uniform(*model, 3, Granularity::PerChannel, 0, QuantMethod::AWQ));
        qInfo("int3 per channel: AWQ top-1 %.4f agreement %.4f KL %.4f", awq.metrics.top1, awq.metrics.agreement,
              awq.metrics.meanKl);
        QCOMPARE(awq.compressedBytes, rtn.compressedBytes);
        QVERIFY(anyNoteContains(awq, "awq: alpha"));
    }

    void noDataMeansRtn()
    {
        // compressModel has no calibration data: RTN, bit for bit, and a note saying so.
        auto model = Model::open(BONSAI_DEMO_MODEL);
        auto rtnCfg = uniform(*model, 4, Granularity::PerChannel, 0, QuantMethod::RTN);
        auto gptqCfg = uniform(*model, 4, Granularity::PerChannel, 0, QuantMethod::GPTQ);
        for (size_t i = 0; i < model->layers.size(); ++i) {
            std::vector<float> a, b;
            const auto ra = compressLayer(*model, static_cast<int>(i), rtnCfg[i], &a);
            const auto rb = compressLayer(*model, static_cast<int>(i), gptqCfg[i], &b);
            QCOMPARE(a, b);
            QCOMPARE(ra.compressedBits, rb.compressedBits);
            QVERIFY(rb.notes.size() == 1 && rb.notes[0] == "gptq needs calibration data; round-to-nearest used");
        }
    }
};

QTEST_APPLESS_MAIN(TstOnnxGptq)
#include "tst_onnx_gptq.moc"
