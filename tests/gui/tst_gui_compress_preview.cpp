// The compression editor's live preview and window integration, headless: the preview equals
// compressLayer() computed here, newest request wins, the histogram overlays the compressed
// weights after choosing int4, the title marks unsaved changes, bad recipes change nothing.
#include "compressionchart.h"
#include "compressiondocument.h"
#include "bonsai/presets.h"
#include "histogramview.h"
#include "layerdetailsview.h"
#include "layertableview.h"
#include "mainwindow.h"
#include "modelestimator.h"
#include "previewform.h"
#include "previewrunner.h"

#include "bonsai/compress.h"
#include "bonsai/model.h"
#include "testutil.h"

#include <QChart>
#include <QChartView>
#include <QLineSeries>
#include <QUndoStack>
#include <QtTest>

#include <random>

using bonsai::ui::MainWindow;
using bonsai::ui::PreviewResult;
using bonsai::ui::PreviewRunner;

namespace {

std::string modelPath()
{
    static const std::string path = [] {
        std::mt19937 rng(7);
        std::normal_distribution<float> g(0.0f, 0.05f);
        std::vector<testutil::StEntry> e;
        auto add = [&](const std::string& name, int64_t rows, int64_t cols) {
            std::vector<float> v(size_t(rows * cols));
            for (auto& x : v)
                x = g(rng);
            e.push_back({name, "F32", {rows, cols}, testutil::floatBytes(v)});
        };
        add("embed_tokens.weight", 32, 16);
        add("layers.0.mlp.up_proj.weight", 96, 64); // the largest layer
        add("layers.0.mlp.down_proj.weight", 64, 32);
        return testutil::writeTemp("preview.safetensors", testutil::makeSafetensors(e));
    }();
    return path;
}

bonsai::LayerConfig int4PerChannel()
{
    bonsai::LayerConfig c;
    c.precision = {bonsai::PrecisionKind::Int, 4};
    return c;
}

QLineSeries* overlaySeries(MainWindow& w)
{
    QChart* chart = w.details()->histogram()->chartView()->chart();
    for (QAbstractSeries* s : chart->series())
        if (s->name().startsWith(QStringLiteral("compressed")))
            return qobject_cast<QLineSeries*>(s);
    return nullptr;
}

void openAndWait(MainWindow& w)
{
    QSignalSpy opened(&w, &MainWindow::modelOpened);
    QSignalSpy stats(&w, &MainWindow::statsShown);
    w.openPath(QString::fromStdString(modelPath()));
    QTRY_COMPARE_WITH_TIMEOUT(opened.size(), 1, 30000);
    QTRY_VERIFY_WITH_TIMEOUT(stats.size() >= 1, 30000);
}

} // namespace

static const bool forceOffscreen = [] {
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    return true;
}();

class TstGuiCompressPreview : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("BonsaiTest"));
    }

    void previewEqualsCompressLayer_data()
    {
        QTest::addColumn<QString>("what");
        QTest::newRow("int4 channel") << QStringLiteral("int4");
        QTest::newRow("nf4 + 30%") << QStringLiteral("nf4");
        QTest::newRow("int8 + rank 8") << QStringLiteral("rank");
    }

    void previewEqualsCompressLayer()
    {
        QFETCH(QString, what);
        bonsai::LayerConfig c = int4PerChannel();
        if (what == QLatin1String("nf4")) {
            c.precision = {bonsai::PrecisionKind::NF4};
            c.sparsity = 0.3;
        } else if (what == QLatin1String("rank")) {
            c.precision = {bonsai::PrecisionKind::Int, 8};
            c.rank = 8;
        }
        std::shared_ptr<const bonsai::Model> model = bonsai::Model::open(modelPath());
        PreviewRunner runner;
        runner.setModel(model);
        QSignalSpy finished(&runner, &PreviewRunner::finished);
        runner.request(1, c);
        QVERIFY(runner.isBusy());
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 30000);
        const auto p = finished.at(0).at(0).value<PreviewResult>();
        QVERIFY2(p.error.isEmpty(), qPrintable(p.error));
        QCOMPARE(p.layer, 1);

        std::vector<float> reconstructed;
        const bonsai::LayerResult direct = bonsai::compressLayer(*model, 1, c, &reconstructed);
        QCOMPARE(p.result.compressedBits, direct.compressedBits);
        QCOMPARE(p.result.originalBits, direct.originalBits);
        QCOMPARE(p.result.bitsPerWeight(), direct.bitsPerWeight());
        QCOMPARE(p.result.error.relFrobenius, direct.error.relFrobenius);
        QCOMPARE(p.result.error.sqnrDb, direct.error.sqnrDb);
        QCOMPARE(p.result.error.cosine, direct.error.cosine);
        QCOMPARE(p.result.error.maxAbsError, direct.error.maxAbsError);
        QCOMPARE(p.result.rankUsed, direct.rankUsed);
        // Both histograms count every weight on the same bins.
        QCOMPARE(p.original.size(), size_t(PreviewRunner::Bins));
        QCOMPARE(std::accumulate(p.original.begin(), p.original.end(), uint64_t(0)), uint64_t(96 * 64));
        QCOMPARE(std::accumulate(p.compressed.begin(), p.compressed.end(), uint64_t(0)), uint64_t(reconstructed.size()));
    }

    void int4GridHasFewDistinctBins()
    {
        std::shared_ptr<const bonsai::Model> model = bonsai::Model::open(modelPath());
        bonsai::LayerConfig c = int4PerChannel();
        c.granularity = bonsai::Granularity::PerTensor;
        const PreviewResult p = PreviewRunner::compute(*model, 1, c);
        // One scale: at most 16 levels, so at most 16 non-empty bins (spikes at the grid).
        const auto nonEmpty = std::count_if(p.compressed.begin(), p.compressed.end(), [](uint64_t n) { return n > 0; });
        QVERIFY2(nonEmpty <= 16, qPrintable(QString::number(nonEmpty)));
        QVERIFY(std::count_if(p.original.begin(), p.original.end(), [](uint64_t n) { return n > 0; }) > 40);
    }

    void newestRequestWins()
    {
        std::shared_ptr<const bonsai::Model> model = bonsai::Model::open(modelPath());
        PreviewRunner runner;
        runner.setModel(model);
        QSignalSpy finished(&runner, &PreviewRunner::finished);
        runner.request(1, int4PerChannel());
        runner.request(0, int4PerChannel()); // before the first finishes
        runner.request(2, int4PerChannel());
        QTRY_VERIFY_WITH_TIMEOUT(!runner.isBusy(), 30000);
        QVERIFY(finished.size() >= 1);
        for (const auto& args : finished)
            QCOMPARE(args.at(0).value<PreviewResult>().layer, 2);
    }

    void histogramOverlayAfterInt4()
    {
        MainWindow w;
        w.setErrorDialogsEnabled(false);
        w.resize(1300, 850);
        w.show();
        openAndWait(w);
        const int layer = w.layerTable()->currentLayer();
        QCOMPARE(layer, 1); // the largest
        QVERIFY(!overlaySeries(w)); // unchanged: nothing to overlay

        QSignalSpy preview(&w, &MainWindow::previewShown);
        w.document()->edit({layer}, [](bonsai::LayerConfig& c) { c.precision = {bonsai::PrecisionKind::Int, 4}; },
                           QStringLiteral("int4"));
        QTRY_VERIFY_WITH_TIMEOUT(overlaySeries(w), 30000);
        QVERIFY(overlaySeries(w)->name().contains(QStringLiteral("int4")));
        QVERIFY(overlaySeries(w)->count() > 0);
        QTRY_VERIFY_WITH_TIMEOUT(!w.previewRunner()->isBusy(), 30000);
        const auto direct = bonsai::compressLayer(*w.model(), layer, w.document()->config(layer));
        QCOMPARE(w.previewForm()->valueText(QStringLiteral("sqnr")),
                 QStringLiteral("%1 dB").arg(direct.error.sqnrDb, 0, 'f', 2));

        // Undo removes it again.
        w.document()->undoStack()->undo();
        QTRY_VERIFY_WITH_TIMEOUT(!overlaySeries(w), 30000);
    }

    void titleMarksUnsavedChanges()
    {
        MainWindow w;
        w.setErrorDialogsEnabled(false);
        w.show();
        openAndWait(w);
        QVERIFY(!w.isWindowModified());
        w.applyPreset(bonsai::Preset::Int8PerChannel);
        QVERIFY(w.isWindowModified());
        QCOMPARE(w.document()->config(0).precision.bits, 8);
        const QString path = testutil::tempDir() + QStringLiteral("/int8.json");
        QVERIFY(w.saveRecipeTo(path));
        QTRY_VERIFY_WITH_TIMEOUT(!w.isWindowModified(), 30000); // hashed and written in the background
        QVERIFY(w.windowTitle().contains(QStringLiteral("int8.json")));
        QTRY_VERIFY_WITH_TIMEOUT(w.estimator()->isComplete(), 30000);
        QVERIFY2(w.compressionChart()->titleText().contains(QStringLiteral("smaller")),
                 qPrintable(w.compressionChart()->titleText()));
    }

    void applyToMatching()
    {
        MainWindow w;
        w.setErrorDialogsEnabled(false);
        w.show();
        openAndWait(w);
        w.document()->edit({1}, [](bonsai::LayerConfig& c) { c.precision = {bonsai::PrecisionKind::NF4}; },
                           QStringLiteral("nf4"));
        QVERIFY(w.applyToMatching(QStringLiteral("mlp")));
        QCOMPARE(w.document()->config(2).precision.kind, bonsai::PrecisionKind::NF4);
        QVERIFY(w.document()->config(0).isIdentity());
        QCOMPARE(w.layerTable()->selectedLayers().size(), 2);
        QVERIFY(!w.applyToMatching(QStringLiteral("(")));
        QCOMPARE(w.document()->undoStack()->count(), 2);
    }

    void badRecipeInWindow()
    {
        MainWindow w;
        w.setErrorDialogsEnabled(false);
        w.show();
        openAndWait(w);
        const std::string bad = testutil::writeTemp(
            "window_bad.json", R"({"bonsai_recipe": 1, "defaults": {"precision": "int17"}})");
        QSignalSpy failed(&w, &MainWindow::recipeFailed);
        QVERIFY(!w.applyRecipeFile(QString::fromStdString(bad)));
        QCOMPARE(failed.size(), 1);
        QVERIFY2(w.lastError().contains(QStringLiteral("window_bad.json")), qPrintable(w.lastError()));
        QVERIFY2(w.lastError().contains(QStringLiteral("precision")), qPrintable(w.lastError()));
        for (const auto& c : w.document()->configs())
            QVERIFY(c.isIdentity());
        QVERIFY(!w.isWindowModified());
    }
};

QTEST_MAIN(TstGuiCompressPreview)
#include "tst_gui_compress_preview.moc"
