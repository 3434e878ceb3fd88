// Distillation trains through the compression (recover.h): on the shipped demo CNN with the
// Fashion-MNIST data of Debian's dataset-fashion-mnist and an INT2 per-channel recipe, seeded
// short QAT and distillation runs from the same start. Distillation uses QAT's straight-through
// fake quantization, so it wins back at least as much accuracy as QAT, and at least half of
// what the recipe cost (training float weights and rounding them to INT2 only at the end, as
// distillation used to, won back a small part of it).
#include "bonsai/compress.h"
#include "bonsai/dataset.h"
#include "bonsai/layout.h"
#include "bonsai/model.h"
#include "bonsai/recover.h"

#include <QtTest>

#include <filesystem>
#include <set>

using namespace bonsai;

class TestRecoverDistill : public QObject {
    Q_OBJECT
private slots:
    void distillRecoversInt2AtLeastAsMuchAsQat()
    {
#if defined(__SANITIZE_ADDRESS__)
        QSKIP("real training is too slow under the sanitizers; tst_onnx_recover covers the code on an MLP");
#endif
        const std::string demo = BONSAI_DEMO_MODEL;
        if (!std::filesystem::exists(defaultDatasetDir()) || !std::filesystem::exists(demo))
            QSKIP("the Fashion-MNIST data set (dataset-fashion-mnist) is not installed");
        auto model = Model::open(demo);
        DatasetOptions trainOpts;
        trainOpts.split = "train";
        const auto train = openDataset(defaultDatasetPath(), trainOpts);
        const auto test = openDataset(defaultDatasetPath(), {});
        LayerConfig int2;
        int2.precision = Precision{PrecisionKind::Int, 2, DType::Q8_0};
        int2.granularity = Granularity::PerChannel;
        const std::vector<LayerConfig> configs(model->layers.size(), int2);

        RecoverOptions o;
        o.steps = 120;
        o.limit = o.steps * o.batch;
        o.lr = 1e-3;
        o.evalEachEpoch = false;
        o.evalLimit = 1000;
        o.method = RecoverMethod::Qat;
        const auto qat = recover(*model, configs, *train, *test, o);
        o.method = RecoverMethod::Distill;
        const auto distill = recover(*model, configs, *train, *test, o);
        const double uncompressed = weightsAccuracy(*model, {}, *test, o.evalLimit);
        qInfo("demo CNN, INT2 per channel, %lld steps, 1000 test images: uncompressed %.4f, post-training %.4f, "
              "QAT %.4f, distillation %.4f",
              static_cast<long long>(o.steps), uncompressed, qat.accuracyBefore, qat.accuracyAfter,
              distill.accuracyAfter);

        QCOMPARE(distill.accuracyBefore, qat.accuracyBefore); // the same start
        const double lost = uncompressed - distill.accuracyBefore;
        QVERIFY2(lost > 0.3, qPrintable(QString("INT2 costs only %1").arg(lost))); // a real loss to win back
        QVERIFY2(distill.accuracyAfter >= qat.accuracyAfter,
                 qPrintable(QString("QAT %1, distillation %2").arg(qat.accuracyAfter).arg(distill.accuracyAfter)));
        QVERIFY2(distill.accuracyAfter - distill.accuracyBefore >= 0.5 * lost,
                 qPrintable(QString("distillation %1 -> %2, uncompressed %3")
                                .arg(distill.accuracyBefore)
                                .arg(distill.accuracyAfter)
                                .arg(uncompressed)));
        QVERIFY(distill.notes.empty()); // nothing is applied only after training

        // The result holds INT2 values: at most 4 levels per output channel of every layer.
        for (const auto& l : model->layers) {
            const auto& t = model->tensors[static_cast<size_t>(l.weight)];
            const auto& w = distill.weights.at(t.name);
            std::vector<float> m(w.size());
            layoutToMatrix(t.shape, l.outAxis, w.data(), m.data()); // output channels first
            const size_t rows = static_cast<size_t>(t.shape[static_cast<size_t>(l.outAxis)]), cols = m.size() / rows;
            for (size_t r = 0; r < rows; ++r) {
                const std::set<float> levels(m.begin() + static_cast<std::ptrdiff_t>(r * cols),
                                             m.begin() + static_cast<std::ptrdiff_t>((r + 1) * cols));
                QVERIFY2(levels.size() <= 4, qPrintable(QString::fromStdString(t.name)));
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestRecoverDistill)
#include "tst_onnx_recover_distill.moc"
