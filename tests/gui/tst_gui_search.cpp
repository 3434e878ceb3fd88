// The budget search dock on the demo CNN with Fashion-MNIST (skipped when it is not installed):
// a small measurement fills the sensitivity map (under QAbstractItemModelTester), each cell's
// bytes are compressLayer's for that layer and candidate, moving the budget gives the
// document the solver's choice (checked against solveSearch on the same table), a pin is one
// undo step (undo restores the previous choice), a second run comes from the cache, Cancel
// stops a run, and without data the dock says what to do. On a 1366 × 768 screen the dock
// leaves the layer details' charts their labels whole.
#include "budgetsearch.h"
#include "channelrangeview.h"
#include "compressiondocument.h"
#include "evalpanel.h"
#include "formatting.h"
#include "histogramview.h"
#include "jobrunner.h"
#include "layerdetailsview.h"
#include "mainwindow.h"
#include "modelestimator.h"
#include "previewrunner.h"
#include "searchpanel.h"
#include "sensitivitymodel.h"
#include "sensitivityrunner.h"
#include "tradeoffmodel.h"

#include "bonsai/compress.h"
#include "bonsai/dataset.h"
#include "bonsai/model.h"
#include "bonsai/presets.h"
#include "bonsai/search.h"

#include <QAbstractItemModelTester>
#include <QChart>
#include <QChartView>
#include <QDockWidget>
#include <QFileInfo>
#include <QGraphicsTextItem>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableView>
#include <QTemporaryDir>
#include <QUndoStack>
#include <QtTest>

using bonsai::ui::MainWindow;
using bonsai::ui::SearchPanel;
using bonsai::ui::SensitivityModel;

static const bool forceOffscreen = [] {
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    return true;
}();

namespace {

// A few candidates of the default list, by name.
std::vector<bonsai::SearchCandidate> someCandidates(const std::vector<std::string>& names)
{
    std::vector<bonsai::SearchCandidate> out;
    for (const auto& c : bonsai::defaultCandidates())
        if (std::find(names.begin(), names.end(), c.name) != names.end())
            out.push_back(c);
    return out;
}

// The configuration a candidate gives a layer that starts uncompressed.
bonsai::LayerConfig configOf(const bonsai::SearchCandidate& c)
{
    bonsai::LayerConfig cfg;
    c.patch.applyTo(cfg);
    return cfg;
}

} // namespace

class TstGuiSearch : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
        QVERIFY(m_cache.isValid());
        qputenv("BONSAI_CACHE_DIR", m_cache.path().toUtf8());
    }

    void emptyStateSaysWhatToDo();
    void measureSolvePin();
    void cancelStops();
    void laptopScreenKeepsChartsWhole();

private:
    // The demo CNN in a shown window with `data` in the Evaluation dock.
    static bool openDemo(MainWindow& w, const QString& data)
    {
        w.setErrorDialogsEnabled(false);
        w.resize(1400, 900);
        w.show();
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        w.openPath(QStringLiteral(BONSAI_DEMO_MODEL));
        if (!QTest::qWaitForWindowExposed(&w) || !QTest::qWaitFor([&] { return opened.size() == 1; }, 60000))
            return false;
        w.evalPanel()->setDataset(data);
        return true;
    }
    static QString fashionMnist()
    {
        const QString dir = QString::fromStdString(bonsai::defaultDatasetDir());
        return QFileInfo::exists(dir) ? dir : QString();
    }

    QTemporaryDir m_cache;
};

void TstGuiSearch::emptyStateSaysWhatToDo()
{
    MainWindow w;
    QVERIFY(openDemo(w, QString()));
    w.showSearchDock();
    SearchPanel* panel = w.searchPanel();
    QVERIFY(w.searchDock()->isVisible());
    QVERIFY(!panel->isMapShown());
    QVERIFY(!panel->canMeasure());
    QCOMPARE(panel->emptyText(), QStringLiteral("Choose a data set in the Evaluation dock, then press Measure."));
    panel->measure(); // refused, in words
    QVERIFY(!panel->isBusy());
    QCOMPARE(panel->message(), panel->emptyText());
}

void TstGuiSearch::measureSolvePin()
{
    const QString data = fashionMnist();
    if (data.isEmpty())
        QSKIP("Fashion-MNIST is not installed");
    MainWindow w;
    QVERIFY(openDemo(w, data));
    w.showSearchDock();
    SearchPanel* panel = w.searchPanel();
    bonsai::ui::CompressionDocument* doc = w.document();
    bonsai::ui::BudgetSearch* search = panel->search();
    SensitivityModel* model = panel->model();
    QAbstractItemModelTester tester(model, QAbstractItemModelTester::FailureReportingMode::QtTest);

    const auto candidates = someCandidates({"fp16", "int8", "int4 g32", "int2 g32"});
    QCOMPARE(candidates.size(), size_t(4));
    panel->setCandidates(candidates);
    panel->setSamples(64);
    QSignalSpy measured(panel, &SearchPanel::measured);
    panel->measure();
    QVERIFY(panel->isBusy());
    QTRY_COMPARE_WITH_TIMEOUT(measured.size(), 1, 180000);
    QVERIFY(!panel->isBusy());
    QVERIFY(panel->isMapShown());

    const bonsai::SensitivityTable* t = search->table();
    QVERIFY(t);
    const auto& m = *doc->model();
    QCOMPARE(model->rowCount(), int(t->layers.size()));
    QCOMPARE(model->rowCount(), 4); // the demo's two convolutions and two dense layers
    QCOMPARE(model->columnCount(), SensitivityModel::FirstCandidateColumn + 4);
    for (int r = 0; r < model->rowCount(); ++r) {
        QCOMPARE(model->index(r, SensitivityModel::LayerColumn).data().toString(),
                 QString::fromStdString(m.layers[size_t(t->layerIndex[size_t(r)])].name));
        for (int c = 0; c < 4; ++c) {
            const QModelIndex cell = model->index(r, SensitivityModel::FirstCandidateColumn + c);
            QCOMPARE(model->headerData(cell.column(), Qt::Horizontal).toString().replace(QLatin1Char('\n'), QLatin1Char(' ')),
                     QString::fromStdString(candidates[size_t(c)].name));
            QVERIFY(cell.data(SensitivityModel::ApplicableRole).toBool()); // every layer stores these
            QVERIFY(cell.data(SensitivityModel::MeasuredRole).toBool());
            // The bytes shown are the layer's storage with the candidate, as compressLayer gives them.
            const auto result = bonsai::compressLayer(m, t->layerIndex[size_t(r)], configOf(candidates[size_t(c)]));
            const qulonglong bytes = (result.compressedBits + 7) / 8;
            QCOMPARE(cell.data(SensitivityModel::BytesRole).toULongLong(), bytes);
            QCOMPARE(cell.data().toString(), bonsai::ui::formatBytes(bytes));
            const double kl = cell.data(SensitivityModel::KlRole).toDouble();
            QVERIFY(kl >= 0 && std::isfinite(kl));
            QCOMPARE(cell.data(SensitivityModel::SortRole).toDouble(), kl);
        }
        // Fewer bits, more harm: int2 costs more KL than int8 on every layer.
        QVERIFY(model->index(r, SensitivityModel::FirstCandidateColumn + 3).data(SensitivityModel::KlRole).toDouble() >
                model->index(r, SensitivityModel::FirstCandidateColumn + 1).data(SensitivityModel::KlRole).toDouble());
    }

    // The budget gives the document the solver's choice, layer by layer.
    bonsai::SearchSolution s;
    auto expectChoice = [&](const bonsai::SearchBudget& budget, const std::vector<int>& pins) {
        s = bonsai::solveSearch(*t, budget, pins);
        QVERIFY(s.feasible);
        for (size_t r = 0; r < t->layers.size(); ++r) {
            const int c = s.choices[r].candidate;
            QCOMPARE(doc->config(t->layerIndex[r]), configOf(candidates[size_t(c)]));
            QVERIFY(model->index(int(r), SensitivityModel::FirstCandidateColumn + c).data(SensitivityModel::ChosenRole).toBool());
            QCOMPARE(search->chosen(int(r)), c);
            QVERIFY(!model->index(int(r), SensitivityModel::ChoiceColumn).data(Qt::ToolTipRole).toString().isEmpty());
        }
    };
    panel->setBudgetKind(bonsai::BudgetKind::BitsPerWeight);
    panel->setBudgetValue(5.0);
    expectChoice({bonsai::BudgetKind::BitsPerWeight, 5.0}, {});
    if (QTest::currentTestFailed())
        return;
    const bonsai::SearchSolution at5 = s;
    QVERIFY(at5.bitsPerWeight <= 5.0 + 1e-9);
    const std::vector<bonsai::LayerConfig> configsAt5 = doc->configs();
    panel->setBudgetValue(12.0);
    expectChoice({bonsai::BudgetKind::BitsPerWeight, 12.0}, {});
    if (QTest::currentTestFailed())
        return;
    const bonsai::SearchSolution at12 = s;
    QVERIFY(at12.bitsPerWeight > at5.bitsPerWeight);
    QVERIFY(at12.predictedKl <= at5.predictedKl);
    QVERIFY(doc->configs() != configsAt5);
    QVERIFY(panel->solutionText().contains(QStringLiteral("bits/weight")));
    doc->undoStack()->undo(); // the budget step
    QCOMPARE(doc->configs(), configsAt5);
    doc->undoStack()->redo();

    // The predicted front reaches the trade-off chart.
    QTRY_VERIFY_WITH_TIMEOUT(!w.evalPanel()->tradeoffs()->predictedFront().empty(), 30000);

    // A pin: the layer takes the cell's candidate, the rest is solved around it; undo restores.
    const std::vector<bonsai::LayerConfig> before = doc->configs();
    const int row = 2; // fc1, most of the weights
    const int chosenBefore = search->chosen(row);
    const int pinTo = chosenBefore == 3 ? 0 : 3;
    panel->activateCell(model->index(row, SensitivityModel::FirstCandidateColumn + pinTo));
    QCOMPARE(search->pinned(row), pinTo);
    QVERIFY(model->index(row, SensitivityModel::FirstCandidateColumn + pinTo).data(SensitivityModel::PinnedRole).toBool());
    std::vector<int> pins(t->layers.size(), -1);
    pins[size_t(row)] = pinTo;
    expectChoice({bonsai::BudgetKind::BitsPerWeight, 12.0}, pins);
    if (QTest::currentTestFailed())
        return;
    QVERIFY(doc->undoStack()->undoText().startsWith(QStringLiteral("Pin ")));
    doc->undoStack()->undo();
    QCOMPARE(doc->configs(), before);
    QCOMPARE(search->pinned(row), -1);
    QCOMPARE(search->chosen(row), chosenBefore);
    doc->undoStack()->redo();
    QCOMPARE(search->pinned(row), pinTo);
    QCOMPARE(doc->config(t->layerIndex[size_t(row)]), configOf(candidates[size_t(pinTo)]));
    panel->activateCell(model->index(row, SensitivityModel::FirstCandidateColumn + pinTo)); // again: unpins
    QCOMPARE(search->pinned(row), -1);
    QCOMPARE(doc->configs(), before);

    // The explanation of the selected layer is the line under the map.
    panel->view()->setCurrentIndex(model->index(row, SensitivityModel::ChoiceColumn));
    QVERIFY(panel->detailText().startsWith(QString::fromStdString(t->layers[size_t(row)]) + QStringLiteral(": ")));

    // A second run reads every cell from the cache.
    panel->measure();
    QTRY_COMPARE_WITH_TIMEOUT(measured.size(), 2, 60000);
    QVERIFY2(panel->message().contains(QStringLiteral("16 from the cache")), qPrintable(panel->message()));
}

void TstGuiSearch::cancelStops()
{
    const QString data = fashionMnist();
    if (data.isEmpty())
        QSKIP("Fashion-MNIST is not installed");
    QTemporaryDir cache; // nothing measured yet
    MainWindow w;
    QVERIFY(openDemo(w, data));
    w.showSearchDock();
    SearchPanel* panel = w.searchPanel();
    panel->setCacheDir(cache.path());
    panel->setSamples(2000); // every default candidate on 2,000 images: long enough to cancel
    QSignalSpy measured(panel, &SearchPanel::measured);
    QSignalSpy cancelled(panel, &SearchPanel::measureCancelled);
    QSignalSpy running(panel, &SearchPanel::runningChanged);
    panel->measure();
    QVERIFY(panel->isBusy());
    QTRY_VERIFY_WITH_TIMEOUT(panel->search()->table() != nullptr, 60000); // the map started to fill
    panel->cancel();
    QTRY_COMPARE_WITH_TIMEOUT(cancelled.size(), 1, 30000);
    QVERIFY(!panel->isBusy());
    panel->runner()->runner()->waitForIdle(); // the worker is free again
    QTest::qWait(200);
    QCOMPARE(measured.size(), 0);
    QVERIFY(!running.isEmpty() && !running.last().at(0).toBool());
    QVERIFY2(panel->message().startsWith(QStringLiteral("Cancelled")), qPrintable(panel->message()));
    const auto* t = panel->search()->table();
    QVERIFY(t->measuredCells() < t->applicableCells());
}

// The dock opens below the central area of a 1366 × 768 window (a laptop screen): the
// histogram (with the compressed overlay and its legend) and the channel ranges keep every
// text whole, the layer details scrolling rather than squeezing them ("..." tick labels).
void TstGuiSearch::laptopScreenKeepsChartsWhole()
{
    MainWindow w;
    w.setErrorDialogsEnabled(false);
    w.resize(1366, 768);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QSignalSpy opened(&w, &MainWindow::modelOpened);
    QSignalSpy stats(&w, &MainWindow::statsShown);
    QSignalSpy preview(&w, &MainWindow::previewShown);
    w.openPath(QStringLiteral(BONSAI_DEMO_MODEL));
    QVERIFY(QTest::qWaitFor([&] { return opened.size() == 1; }, 60000));
    QVERIFY(QTest::qWaitFor([&] { return !stats.isEmpty(); }, 60000));
    preview.clear();
    w.applyPreset(bonsai::Preset::Int4Group128);
    QVERIFY(QTest::qWaitFor([&] {
        return !preview.isEmpty() && !w.previewRunner()->isBusy() && w.estimator()->isComplete() &&
               !w.estimator()->isBusy();
    }, 120000));
    w.showSearchDock();
    QTest::qWait(200); // layouts and chart geometry settle
    QCOMPARE(w.dockWidgetArea(w.searchDock()), Qt::BottomDockWidgetArea);
    QVERIFY(w.searchDock()->isVisible());
    // Its panel whole: the settings, the budget row and three rows of the map.
    QVERIFY2(w.searchPanel()->height() >= w.searchPanel()->compactHeight(),
             qPrintable(QStringLiteral("%1 < %2").arg(w.searchPanel()->height()).arg(w.searchPanel()->compactHeight())));
    QVERIFY(w.details()->histogram()->hasOverlay());
    QStringList problems;
    for (QChartView* v : {w.details()->histogram()->chartView(), w.details()->channelRanges()->chartView()}) {
        QVERIFY(v->chart() && !v->chart()->series().isEmpty());
        for (QGraphicsItem* item : v->scene()->items()) {
            auto* text = dynamic_cast<QGraphicsTextItem*>(item);
            if (text && text->isVisible() &&
                (text->toPlainText().contains(QChar(0x2026)) || text->toPlainText().contains(QStringLiteral("..."))))
                problems << v->objectName() + QStringLiteral(": \"") + text->toPlainText() + QLatin1Char('"');
        }
    }
    // The histogram's plot is more than a sliver.
    const QRectF plot = w.details()->histogram()->chartView()->chart()->plotArea();
    if (plot.height() < 60)
        problems << QStringLiteral("histogram plot %1 px high").arg(plot.height(), 0, 'f', 0);
    if (!problems.isEmpty())
        QFAIL(qPrintable(problems.join(QStringLiteral("\n  "))));
}

QTEST_MAIN(TstGuiSearch)
#include "tst_gui_search.moc"
