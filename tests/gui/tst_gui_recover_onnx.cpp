// The recovery panel on a small MLP written by the test with a synthetic 4-class data set
// (.npy files): a QAT run through the panel reports what recover() returns for the same
// options, Cancel stops a run, a safetensors model is explained instead of trained, the
// note says what a method applies only after training, and the training curves' legend is
// whole in a 1366x768 window.
#include "onnx_build.h"

#include "compressiondocument.h"
#include "jobrunner.h"
#include "mainwindow.h"
#include "recoverpanel.h"

#include "bonsai/dataset.h"
#include "bonsai/npy.h"
#include "bonsai/recover.h"

#include <QAction>
#include <QChartView>
#include <QDockWidget>
#include <QGraphicsTextItem>
#include <QLegend>
#include <QSignalSpy>

#include <filesystem>
#include <random>

using namespace bonsai;
using namespace onnxtest;
using bonsai::ui::CompressionDocument;
using bonsai::ui::RecoverPanel;

namespace {

constexpr int64_t kDim = 16, kHidden = 32, kClasses = 4;

// x [N,16] -> Gemm fc1 16->32 -> Relu -> Gemm fc2 32->4 -> logits (random weights).
std::string mlpFile() { return save("recover_gui_mlp.onnx", mlpClassifier(3, kDim, kHidden, kClasses)); }


} // namespace

static const bool forceOffscreen = [] {
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    return true;
}();

class TstGuiRecoverOnnx : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void qatMatchesRecover();
    void cancelStopsARun();
    void cancelledRunKeepsThePreviousResult();
    void safetensorsIsExplained();
    void untrainableOnnxIsExplained();
    void menuOpensTheDock();
    void curvesLegendWholeAt1366();
    void noteSaysWhatIsAppliedAfterTraining();

private:
    void setUp(CompressionDocument& doc, RecoverPanel& panel);
    std::shared_ptr<const Model> model_;
    QString train_, test_;
};

void TstGuiRecoverOnnx::initTestCase()
{
    model_ = Model::open(mlpFile());
    train_ = QString::fromStdString(writeClusters("train", 1024, 1, kDim, kClasses));
    test_ = QString::fromStdString(writeClusters("test", 400, 2, kDim, kClasses));
}

void TstGuiRecoverOnnx::setUp(CompressionDocument& doc, RecoverPanel& panel)
{
    doc.setModel(model_);
    doc.edit({0, 1}, [](LayerConfig& c) { c.precision = {PrecisionKind::Int, 3}; }, QStringLiteral("int3"));
    panel.setTrainData(train_);
    panel.setTestData(test_);
}

void TstGuiRecoverOnnx::qatMatchesRecover()
{
    CompressionDocument doc;
    RecoverPanel panel(&doc);
    setUp(doc, panel);
    QVERIFY(panel.canStart());
    panel.setMethod(RecoverMethod::Qat);
    panel.setEpochs(2);
    panel.setLearningRate(3e-3);
    panel.setTrainLimit(512);
    panel.setTestLimit(0);
    QSignalSpy recovered(&panel, &RecoverPanel::recovered);
    panel.start();
    QVERIFY(panel.isBusy());
    QTRY_COMPARE_WITH_TIMEOUT(recovered.count(), 1, 20000);
    QVERIFY(!panel.isBusy());
    const RecoverResult* shown = panel.result();
    QVERIFY(shown);
    QCOMPARE(panel.resultLabel(), QStringLiteral("QAT 2 epochs"));
    QCOMPARE(panel.curvePointCount(), 2);
    QCOMPARE(panel.resultConfigs(), doc.configs());

    const auto o = panel.options();
    QCOMPARE(o.method, RecoverMethod::Qat);
    QCOMPARE(o.limit, int64_t(512));
    auto train = openDataset(train_.toStdString());
    auto test = openDataset(test_.toStdString());
    const RecoverResult direct = recover(*model_, doc.configs(), *train, *test, o);
    QCOMPARE(shown->accuracyBefore, direct.accuracyBefore);
    QCOMPARE(shown->accuracyAfter, direct.accuracyAfter);
    const QString after = QStringLiteral("%1%").arg(100 * direct.accuracyAfter, 0, 'f', 2);
    QVERIFY2(panel.message().contains(after), qPrintable(panel.message() + QStringLiteral(" vs ") + after));

    const QString out = QString::fromStdString(testutil::tempPath("recovered.onnx"));
    QString error;
    QVERIFY2(panel.saveRecovered(out, &error), qPrintable(error));
    auto back = Model::open(out.toStdString());
    QCOMPARE(weightsAccuracy(*back, {}, *test), direct.accuracyAfter);
}

void TstGuiRecoverOnnx::cancelStopsARun()
{
    CompressionDocument doc;
    RecoverPanel panel(&doc);
    setUp(doc, panel);
    panel.setMethod(RecoverMethod::Finetune);
    panel.setEpochs(1000); // far longer than the test waits
    panel.setTrainLimit(0);
    QSignalSpy recovered(&panel, &RecoverPanel::recovered);
    QSignalSpy cancelled(panel.runner(), &bonsai::ui::JobRunner::cancelled);
    panel.start();
    QVERIFY(panel.isBusy());
    // The curves are live: epochs appear while the run goes on.
    QTRY_VERIFY_WITH_TIMEOUT(panel.curvePointCount() >= 2, 10000);
    QVERIFY(panel.isBusy());
    panel.cancel();
    QTRY_VERIFY_WITH_TIMEOUT(!panel.isBusy(), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(cancelled.count(), 1, 10000);
    QCOMPARE(recovered.count(), 0);
    QVERIFY(!panel.result());
    QVERIFY2(panel.message().contains(QStringLiteral("cancelled")), qPrintable(panel.message()));
    QVERIFY(panel.canStart());
}

// A finished run, then a second one cancelled: the first result is shown again and still saves.
void TstGuiRecoverOnnx::cancelledRunKeepsThePreviousResult()
{
    CompressionDocument doc;
    RecoverPanel panel(&doc);
    setUp(doc, panel);
    panel.setMethod(RecoverMethod::Finetune);
    panel.setEpochs(1);
    panel.setTrainLimit(256);
    panel.setTestLimit(0);
    QSignalSpy recovered(&panel, &RecoverPanel::recovered);
    panel.start();
    QTRY_COMPARE_WITH_TIMEOUT(recovered.count(), 1, 20000);
    const RecoverResult first = *panel.result();
    QCOMPARE(panel.curvePointCount(), 1);

    QSignalSpy cancelled(panel.runner(), &bonsai::ui::JobRunner::cancelled);
    panel.setEpochs(1000);
    panel.setTrainLimit(0);
    panel.start();
    QTRY_VERIFY_WITH_TIMEOUT(panel.curvePointCount() >= 2, 10000); // the new run's curves
    panel.cancel();
    QTRY_COMPARE_WITH_TIMEOUT(cancelled.count(), 1, 10000);
    QCOMPARE(recovered.count(), 1);
    QVERIFY(panel.result());
    QCOMPARE(panel.result()->accuracyAfter, first.accuracyAfter);
    QCOMPARE(panel.curvePointCount(), 1); // the first run's curve again
    QVERIFY2(panel.message().contains(QStringLiteral("the previous result (%1) is kept").arg(panel.resultLabel())),
             qPrintable(panel.message()));
    const QString out = QString::fromStdString(testutil::tempPath("kept.onnx"));
    QString error;
    QVERIFY2(panel.saveRecovered(out, &error), qPrintable(error));
    auto test = openDataset(test_.toStdString());
    QCOMPARE(weightsAccuracy(*Model::open(out.toStdString()), {}, *test), first.accuracyAfter);
}

void TstGuiRecoverOnnx::safetensorsIsExplained()
{
    CompressionDocument doc;
    RecoverPanel panel(&doc);
    doc.setModel(Model::open(testutil::writeTemp("w.safetensors", testutil::makeSafetensors(
        {{"w", "F32", {2, 2}, testutil::floatBytes({1, 2, 3, 4})}}))));
    QVERIFY(!panel.canStart());
    QVERIFY2(panel.message().contains(QStringLiteral("Recovery trains ONNX classifiers; this safetensors checkpoint")),
             qPrintable(panel.message()));
    QSignalSpy failed(&panel, &RecoverPanel::recoverFailed);
    panel.start();
    QCOMPARE(failed.count(), 1);
    QVERIFY(!panel.isBusy());
}

// An ONNX graph with ops the trainer has no backward pass for: Start is off and says which.
void TstGuiRecoverOnnx::untrainableOnnxIsExplained()
{
    auto m = newModel();
    auto* g = m.mutable_graph();
    addInput(g, "x", {2, 4});
    addInit(g, "w", {4, 3}, 0.1f);
    addNode(g, "MatMul", {"x", "w"}, {"h"}, "mm");
    addNode(g, "Sigmoid", {"h"}, {"s"}, "sig");
    addNode(g, "Transpose", {"s"}, {"logits"}, "tr");
    addOutput(g, "logits");
    CompressionDocument doc;
    RecoverPanel panel(&doc);
    QSignalSpy ready(&panel, &RecoverPanel::readyChanged);
    doc.setModel(Model::open(save("untrainable.onnx", m)));
    QVERIFY(!panel.canStart());
    QCOMPARE(ready.count(), 1);
    QCOMPARE(ready.at(0).at(0).toBool(), false);
    const QString reason = ready.at(0).at(1).toString();
    QVERIFY2(reason.contains(QStringLiteral("no backward pass for Sigmoid, Transpose")), qPrintable(reason));
    QCOMPARE(panel.unsupportedReason(), reason);
}

// Evaluate > Recover Accuracy… is off (with the reason) until a trainable model is open, then
// opens the dock.
void TstGuiRecoverOnnx::menuOpensTheDock()
{
    bonsai::ui::MainWindow w;
    w.setErrorDialogsEnabled(false);
    QVERIFY(w.recoverPanel());
    auto* dock = w.findChild<QDockWidget*>(QStringLiteral("recoverDock"));
    QVERIFY(dock);
    QVERIFY(!dock->isVisibleTo(&w));
    QAction* open = nullptr;
    for (QAction* a : w.findChildren<QAction*>())
        if (a->text() == QStringLiteral("&Recover Accuracy…"))
            open = a;
    QVERIFY(open);
    QVERIFY(!open->isEnabled());
    QVERIFY2(open->statusTip().contains(QStringLiteral("Open an ONNX classifier")), qPrintable(open->statusTip()));
    QSignalSpy opened(&w, &bonsai::ui::MainWindow::modelOpened);
    w.openPath(QString::fromStdString(mlpFile()));
    QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 1, 30000);
    QVERIFY(open->isEnabled());
    open->trigger();
    QVERIFY(dock->isVisibleTo(&w));
}

void TstGuiRecoverOnnx::curvesLegendWholeAt1366()
{
    bonsai::ui::MainWindow w;
    w.setErrorDialogsEnabled(false);
    w.resize(1366, 768);
    w.show();
    QSignalSpy opened(&w, &bonsai::ui::MainWindow::modelOpened);
    w.openPath(QString::fromStdString(mlpFile()));
    QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 1, 30000);
    auto* dock = w.findChild<QDockWidget*>(QStringLiteral("recoverDock"));
    QVERIFY(dock);
    dock->show();
    dock->raise();
    auto* view = dock->findChild<QChartView*>();
    QVERIFY(view);
    QTRY_VERIFY(view->isVisible() && view->width() > 0);
    QApplication::processEvents();
    // Each entry's text as the legend draws it: the series' name, not elided.
    QStringList texts;
    const std::function<void(QGraphicsItem*)> collect = [&](QGraphicsItem* item) {
        for (QGraphicsItem* c : item->childItems()) {
            if (auto* t = dynamic_cast<QGraphicsTextItem*>(c); t && c->isVisible())
                texts << t->toPlainText();
            collect(c);
        }
    };
    collect(view->chart()->legend());
    QStringList names;
    for (QAbstractSeries* series : view->chart()->series())
        names << series->name();
    QCOMPARE(names.size(), 3);
    QVERIFY2(texts == names, qPrintable(texts.join(QStringLiteral(" | ")) + QStringLiteral(" at a chart width of ") +
                                        QString::number(view->width())));
    // Inside the chart, under the plot.
    const QRectF legend = view->chart()->legend()->geometry();
    QVERIFY2(view->chart()->rect().contains(legend) && legend.top() >= view->chart()->plotArea().bottom(),
             qPrintable(QStringLiteral("legend %1,%2 %3x%4 in %5x%6, plot bottom %7")
                            .arg(legend.x()).arg(legend.y()).arg(legend.width()).arg(legend.height())
                            .arg(view->chart()->rect().width()).arg(view->chart()->rect().height())
                            .arg(view->chart()->plotArea().bottom())));
}

void TstGuiRecoverOnnx::noteSaysWhatIsAppliedAfterTraining()
{
    CompressionDocument doc;
    RecoverPanel panel(&doc);
    setUp(doc, panel); // INT3 everywhere
    panel.setMethod(RecoverMethod::Finetune);
    QCOMPARE(panel.note(), QStringLiteral("Note: finetune trains float weights; the recipe's INT3 quantization is "
                                          "applied after training \u2014 use qat or distill to train through it."));
    panel.setMethod(RecoverMethod::Distill);
    QVERIFY2(panel.note().isEmpty(), qPrintable(panel.note()));
    panel.setMethod(RecoverMethod::Finetune);
    doc.edit({0, 1}, [](LayerConfig& c) { c.precision = {}; c.sparsity = 0.5; }, QStringLiteral("pruned"));
    QVERIFY2(panel.note().isEmpty(), qPrintable(panel.note())); // follows the configuration
}

QTEST_MAIN(TstGuiRecoverOnnx)
#include "tst_gui_recover_onnx.moc"
