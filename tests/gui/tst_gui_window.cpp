// The main window end to end, headless: open a safetensors file written here, show a layer's
// statistics, report a corrupt file without losing the open model, and take a screenshot.
#include "decimate.h"
#include "evalpanel.h"
#include "helpdialogs.h"
#include "histogramview.h"
#include "layerdetailsview.h"
#include "layertablemodel.h"
#include "layertableview.h"
#include "mainwindow.h"
#include "panelutil.h"
#include "screenshotdriver.h"
#include "statsform.h"

#include "bonsai/model.h"
#include "testutil.h"

#include <QAreaSeries>
#include <QChart>
#include <QChartView>
#include <QDockWidget>
#include <QScreen>
#include <QLineSeries>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QStandardPaths>
#include <QTreeView>
#include <QtTest>

#include <cmath>
#include <random>

using bonsai::ui::MainWindow;

namespace {

struct Spec {
    std::string name;
    std::vector<int64_t> shape;
};

// A safetensors file of F32 tensors with Gaussian values (channel 3 of the first tensor has
// an outlier).
std::string writeSafetensors(const std::string& file, const std::vector<Spec>& specs)
{
    std::mt19937 rng(42);
    std::normal_distribution<float> gauss(0.0f, 0.02f);
    std::string header = "{";
    std::string data;
    for (size_t i = 0; i < specs.size(); ++i) {
        uint64_t n = 1;
        for (int64_t d : specs[i].shape)
            n *= static_cast<uint64_t>(d);
        const size_t begin = data.size();
        for (uint64_t k = 0; k < n; ++k)
            testutil::put(data, gauss(rng));
        if (i == 0) {
            const float outlier = 1.5f;
            std::memcpy(&data[begin + 3 * sizeof(float) * (n / static_cast<uint64_t>(specs[i].shape[0]))],
                        &outlier, sizeof outlier);
        }
        std::string shape;
        for (int64_t d : specs[i].shape) {
            if (!shape.empty())
                shape.append(",");
            shape.append(std::to_string(d));
        }
        if (i)
            header.append(",");
        header.append("\"").append(specs[i].name).append("\":{\"dtype\":\"F32\",\"shape\":[");
        header.append(shape).append("],\"data_offsets\":[").append(std::to_string(begin));
        header.append(",").append(std::to_string(data.size())).append("]}");
    }
    header += ",\"__metadata__\":{\"format\":\"pt\"}}";
    std::string bytes;
    testutil::put<uint64_t>(bytes, header.size());
    return testutil::writeTemp(file, bytes + header + data);
}

std::string goodModel()
{
    return writeSafetensors("good.safetensors", {{"fc1.weight", {64, 32}},
                                                 {"fc1.bias", {64}},
                                                 {"fc2.weight", {16, 64}},
                                                 {"conv.weight", {8, 3, 3, 3}}});
}

// Sum of the histogram's bin counts: each bin is drawn as two points at its count.
double histogramTotal(MainWindow& w)
{
    auto* view = w.findChild<QChartView*>(QStringLiteral("histogramView"));
    if (!view || !view->isVisible() || !view->chart())
        return -1;
    for (QAbstractSeries* s : view->chart()->series())
        if (auto* area = qobject_cast<QAreaSeries*>(s)) {
            double sum = 0;
            for (const QPointF& p : area->upperSeries()->points())
                sum += p.y();
            return sum / 2;
        }
    return -1;
}

bool selectTensor(MainWindow& w, int tensor)
{
    QTreeView* view = w.layerTable()->view();
    for (int r = 0; r < view->model()->rowCount(); ++r) {
        const QModelIndex idx = view->model()->index(r, 0);
        if (idx.data(bonsai::ui::LayerTableModel::TensorRole).toInt() == tensor) {
            view->setCurrentIndex(idx);
            return true;
        }
    }
    return false;
}

} // namespace

// Headless by default, also when run by hand outside CTest.
static const bool forceOffscreen = [] {
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    return true;
}();

class TstGuiWindow : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("BonsaiTest"));
        QSettings().clear();
    }

    // Help has a quick start and a shortcut list made from the menus' real bindings;
    // Presets (Ctrl+1..5), Recover (F7) and Save Recipe As have shortcuts.
    void helpAndShortcuts()
    {
        bonsai::ui::MainWindow w;
        QStringList help;
        for (QAction* a : w.menuBar()->actions())
            if (a->menu() && a->text() == QStringLiteral("&Help"))
                for (QAction* h : a->menu()->actions())
                    help << h->text();
        QVERIFY(help.contains(QStringLiteral("&Quick Start")));
        QVERIFY(help.contains(QStringLiteral("&Keyboard Shortcuts")));
        const QString table = bonsai::ui::shortcutTable(w.menuBar());
        for (const char* row : {"Evaluate › Evaluate", "Evaluate › Recover Accuracy", "Presets › INT8 everywhere",
                                "File › Save Recipe As"})
            QVERIFY2(table.contains(QString::fromUtf8(row)), row);
        QVERIFY(table.contains(QStringLiteral("<b>F7</b>")));
        QVERIFY(table.contains(QStringLiteral("<b>Ctrl+1</b>")));
        QVERIFY(bonsai::ui::quickStartText().contains(QStringLiteral("F5")));
    }

    // The Evaluate menu and the evaluation dock show one state: Auto-evaluate checked in one is
    // checked in the other, and Cancel is off while nothing runs.
    void evaluateMenuFollowsThePanel()
    {
        MainWindow w;
        QAction* cancel = nullptr;
        QAction* autoEval = nullptr;
        for (QAction* a : w.findChildren<QAction*>()) {
            if (a->text() == QStringLiteral("&Cancel Evaluation"))
                cancel = a;
            if (a->text() == QStringLiteral("&Auto-evaluate"))
                autoEval = a;
        }
        QVERIFY(cancel && autoEval);
        QVERIFY(!cancel->isEnabled());
        QCOMPARE(autoEval->isChecked(), w.evalPanel()->autoEvaluate());
        w.evalPanel()->setAutoEvaluate(!autoEval->isChecked()); // the dock's box
        QCOMPARE(autoEval->isChecked(), w.evalPanel()->autoEvaluate());
        autoEval->setChecked(!autoEval->isChecked()); // the menu
        QCOMPARE(w.evalPanel()->autoEvaluate(), autoEval->isChecked());
    }

    // Save dialogs start beside the model with a name made from it.
    void suggestedSavePaths()
    {
        using bonsai::ui::suggestedSavePath;
        const QString demo = QStringLiteral(BONSAI_DEMO_MODEL);
        QCOMPARE(suggestedSavePath(demo, QStringLiteral("-recovered.onnx")),
                 QFileInfo(demo).absolutePath() + QStringLiteral("/fashion_cnn-recovered.onnx"));
        const QString folder = QStringLiteral(BONSAI_TEST_DATA "/tiny-llama");
        QCOMPARE(suggestedSavePath(folder, QStringLiteral("-tradeoffs.csv")),
                 QFileInfo(folder).absoluteFilePath() + QStringLiteral("/tiny-llama-tradeoffs.csv"));
        QCOMPARE(suggestedSavePath(QString(), QStringLiteral("-chart.svg")), QStringLiteral("model-chart.svg"));
    }

    void emptyWindow()
    {
        QSettings().clear(); // a first run
        MainWindow w;
        w.restoreSettings(); // as main() does
        // The first window fills the screen's available area (maximized).
        QVERIFY(w.windowState() & Qt::WindowMaximized);
        QCOMPARE(w.geometry().size(), w.screen()->availableGeometry().size());
        w.show();
        QVERIFY(!w.model());
        QVERIFY(w.findChild<QWidget*>(QStringLiteral("emptyState"))->isVisible());
        QVERIFY(w.windowTitle().startsWith(QStringLiteral("Bonsai")));
    }

    void openSelectAndShowHistogram()
    {
        const std::string path = goodModel();
        MainWindow w;
        w.resize(1200, 800);
        w.show();
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        w.openPath(QString::fromStdString(path));
        QTRY_COMPARE_WITH_TIMEOUT(opened.size(), 1, 30000);
        QVERIFY(w.model());
        QCOMPARE(w.model()->layers.size(), size_t(3));
        QCOMPARE(w.windowTitle().remove(QStringLiteral("[*]")), QStringLiteral("Bonsai — good.safetensors"));
        QVERIFY(!w.isWindowModified());

        const int fc2 = w.model()->findTensor("fc2.weight");
        QVERIFY(selectTensor(w, fc2));
        QTRY_COMPARE_WITH_TIMEOUT(w.details()->shownTensor(), fc2, 30000);
        QCOMPARE(histogramTotal(w), 16.0 * 64.0);
        QCOMPARE(w.details()->statsForm()->valueText(QStringLiteral("count")), QStringLiteral("1,024"));

        // The largest layer holds the outlier channel; its histogram counts every element.
        const int fc1 = w.model()->findTensor("fc1.weight");
        QVERIFY(selectTensor(w, fc1));
        QTRY_COMPARE_WITH_TIMEOUT(w.details()->shownTensor(), fc1, 30000);
        QCOMPARE(histogramTotal(w), 64.0 * 32.0);
        QCOMPARE(w.details()->statsForm()->valueText(QStringLiteral("outliers")).left(2), QStringLiteral("1 "));

        // Log scale keeps the chart (no empty axes).
        w.details()->histogram()->setLogScale(true);
        QVERIFY(w.details()->histogram()->chartView()->isVisible());
    }

    // The View menu hides and shows each panel; Reset Layout docks every panel back where it
    // starts; Lock Panels (on at first) keeps docks from being dragged; which panels are hidden
    // and whether they are locked is remembered for the next window.
    void viewMenuAndResetLayout()
    {
        QSettings().clear();
        const std::string path = goodModel();
        {
            MainWindow w;
            w.resize(1400, 900);
            w.show();
            QVERIFY(QTest::qWaitForWindowExposed(&w));
            QSignalSpy opened(&w, &MainWindow::modelOpened);
            w.openPath(QString::fromStdString(path));
            QTRY_COMPARE_WITH_TIMEOUT(opened.size(), 1, 30000);
            auto* view = w.findChild<QMenu*>(QStringLiteral("viewMenu"));
            QVERIFY(view);
            auto* inspector = w.findChild<QDockWidget*>(QStringLiteral("inspectorDock"));
            auto* eval = w.findChild<QDockWidget*>(QStringLiteral("evalDock"));
            QVERIFY(inspector && eval);
            QAction* inspectorAction = nullptr;
            QAction* reset = nullptr;
            QAction* lock = nullptr;
            for (QAction* a : view->actions()) {
                if (a == inspector->toggleViewAction())
                    inspectorAction = a;
                if (a->text() == QStringLiteral("&Reset Layout"))
                    reset = a;
                if (a->text() == QStringLiteral("&Lock Panels"))
                    lock = a;
            }
            QVERIFY(inspectorAction && reset && lock);
            // Locked at first: every dock can close, none can be dragged off or floated.
            QVERIFY(lock->isChecked());
            for (QDockWidget* d : w.findChildren<QDockWidget*>()) {
                QVERIFY2(d->features() == QDockWidget::DockWidgetClosable, qPrintable(d->objectName()));
                QVERIFY(d->toggleViewAction()->isEnabled());
            }
            lock->trigger();
            QVERIFY(!lock->isChecked());
            for (QDockWidget* d : w.findChildren<QDockWidget*>())
                QVERIFY(d->features().testFlags(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable));
            QTRY_VERIFY(inspector->isVisible());
            QVERIFY(inspectorAction->isEnabled() && inspectorAction->isChecked());
            inspectorAction->trigger();
            QTRY_VERIFY(!inspector->isVisible());
            inspectorAction->trigger();
            QTRY_VERIFY(inspector->isVisible());

            // A slip of the mouse: the compression dock floats, the evaluation dock lands on
            // the left. Reset Layout puts both back: right and bottom of a 900-pixel window.
            inspector->setFloating(true);
            w.addDockWidget(Qt::LeftDockWidgetArea, eval);
            reset->trigger();
            QVERIFY(!inspector->isFloating());
            QCOMPARE(w.dockWidgetArea(inspector), Qt::RightDockWidgetArea);
            QVERIFY(!eval->isFloating());
            QCOMPARE(w.dockWidgetArea(eval), Qt::BottomDockWidgetArea);

            // Hidden on close, hidden in the next window.
            QAction* overview = nullptr;
            for (QAction* a : view->actions())
                if (a->text() == QStringLiteral("Model &Overview"))
                    overview = a;
            QVERIFY(overview && overview->isChecked());
            overview->trigger();
            QVERIFY(!overview->isChecked());
            w.close();
        }
        MainWindow again;
        again.restoreSettings();
        again.resize(1400, 900);
        again.show();
        QVERIFY(QTest::qWaitForWindowExposed(&again));
        auto* view = again.findChild<QMenu*>(QStringLiteral("viewMenu"));
        QAction* overview = nullptr;
        for (QAction* a : view->actions())
            if (a->text() == QStringLiteral("Model &Overview"))
                overview = a;
        QVERIFY(overview);
        QVERIFY(!overview->isChecked());
        // Unlocked on close, unlocked in the next window.
        for (QDockWidget* d : again.findChildren<QDockWidget*>())
            QVERIFY(d->features().testFlag(QDockWidget::DockWidgetFloatable));
        QSettings().clear();
    }

    void dropOpensAndRemembersRecent()
    {
        const QString path = QString::fromStdString(goodModel());
        MainWindow w;
        w.show();
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        auto* mime = new QMimeData;
        mime->setUrls({QUrl::fromLocalFile(path)});
        QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, mime, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&w, &enter);
        QVERIFY(enter.isAccepted());
        QDropEvent drop(QPointF(10, 10), Qt::CopyAction, mime, Qt::LeftButton, Qt::NoModifier);
        QApplication::sendEvent(&w, &drop);
        QTRY_COMPARE_WITH_TIMEOUT(opened.size(), 1, 30000);
        delete mime;

        QMenu* recent = nullptr;
        for (QMenu* m : w.menuBar()->findChildren<QMenu*>())
            if (m->title().contains(QStringLiteral("Recent")))
                recent = m;
        QVERIFY(recent);
        QStringList texts;
        for (QAction* a : recent->actions())
            texts << a->text();
        QVERIFY2(texts.first().endsWith(QStringLiteral("good.safetensors")), qPrintable(texts.join(QLatin1Char('|'))));
        QVERIFY(texts.last().contains(QStringLiteral("Clear")));
    }

    void channelDecimationKeepsExtremes()
    {
        std::vector<float> lo(10000, -1.0f), hi(10000, 1.0f);
        lo[4321] = -9.0f;
        hi[777] = 7.0f;
        const auto curves = bonsai::ui::decimateRanges(lo, hi, 1000);
        QCOMPARE(curves.bucketSize, 10);
        QCOMPARE(curves.min.size(), 1000);
        double minY = 0, maxY = 0;
        for (const QPointF& p : curves.min)
            minY = std::min(minY, p.y());
        for (const QPointF& p : curves.max)
            maxY = std::max(maxY, p.y());
        QCOMPARE(minY, -9.0);
        QCOMPARE(maxY, 7.0);
        QCOMPARE(curves.max.at(77).x(), 770.0);
        QCOMPARE(bonsai::ui::decimateRanges(lo, hi, 20000).bucketSize, 1);
    }

    void newestSelectionWins()
    {
        const std::string path = goodModel();
        MainWindow w;
        w.show();
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        w.openPath(QString::fromStdString(path));
        QTRY_COMPARE_WITH_TIMEOUT(opened.size(), 1, 30000);
        const int conv = w.model()->findTensor("conv.weight");
        const int fc2 = w.model()->findTensor("fc2.weight");
        QVERIFY(selectTensor(w, fc2));
        QVERIFY(selectTensor(w, conv)); // before fc2's statistics arrive
        QTRY_COMPARE_WITH_TIMEOUT(w.details()->shownTensor(), conv, 30000);
        QTest::qWait(200);
        QCOMPARE(w.details()->shownTensor(), conv);
        QCOMPARE(histogramTotal(w), 8.0 * 3 * 3 * 3);
    }

    void corruptFileKeepsModel()
    {
        const std::string good = goodModel();
        std::string bad;
        testutil::put<uint64_t>(bad, 1000000); // header longer than the file
        bad += "{\"x\":";
        const std::string badPath = testutil::writeTemp("corrupt.safetensors", bad);

        MainWindow w;
        w.show();
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        QSignalSpy failed(&w, &MainWindow::openFailed);
        w.openPath(QString::fromStdString(good));
        QTRY_COMPARE_WITH_TIMEOUT(opened.size(), 1, 30000);
        const auto before = w.model();

        w.openPath(QString::fromStdString(badPath));
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, 30000);
        QVERIFY2(w.lastError().contains(QStringLiteral("corrupt.safetensors")), qPrintable(w.lastError()));
        QCOMPARE(w.model(), before);
        QCOMPARE(w.windowTitle().remove(QStringLiteral("[*]")), QStringLiteral("Bonsai — good.safetensors"));
        QVERIFY(!w.isWindowModified());
        auto* box = w.findChild<QMessageBox*>(QStringLiteral("openErrorBox"));
        QVERIFY(box);
        QTRY_VERIFY(box->isVisible());
        QVERIFY(box->informativeText().contains(QStringLiteral("corrupt.safetensors")));
        box->close();
    }

    void screenshot_data()
    {
        QTest::addColumn<bool>("withModel");
        QTest::newRow("model") << true;
        QTest::newRow("empty") << false;
    }

    void screenshot()
    {
        QFETCH(bool, withModel);
        const QString out = testutil::tempDir() + (withModel ? QStringLiteral("/shot.png") : QStringLiteral("/empty.png"));
        MainWindow w;
        bonsai::ui::ScreenshotDriver driver(&w, out, withModel ? QString::fromStdString(goodModel()) : QString());
        QSignalSpy finished(&driver, &bonsai::ui::ScreenshotDriver::finished);
        driver.start(QSize(1000, 700));
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 60000);
        QCOMPARE(finished.at(0).at(0).toInt(), 0);
        QVERIFY(QFileInfo(out).size() > 0);
        const QImage image(out);
        QCOMPARE(image.size(), QSize(1000, 700));
        if (withModel)
            QVERIFY(w.details()->shownTensor() >= 0);
    }

    void screenshotOfBadModelFails()
    {
        MainWindow w;
        bonsai::ui::ScreenshotDriver driver(&w, testutil::tempDir() + QStringLiteral("/bad.png"),
                                            testutil::tempDir() + QStringLiteral("/missing.safetensors"));
        QSignalSpy finished(&driver, &bonsai::ui::ScreenshotDriver::finished);
        driver.start(QSize(800, 600));
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 30000);
        QVERIFY(finished.at(0).at(0).toInt() != 0);
        QVERIFY(driver.errorString().contains(QStringLiteral("missing.safetensors")));
    }
};

QTEST_MAIN(TstGuiWindow)
#include "tst_gui_window.moc"
