// The speed dock: before a run the panel shows its empty state and the layer table's Latency
// column "—" with a tooltip saying how to fill it. A run on the demo CNN compressed to int8
// fills the summary (every value with its unit) and the per-node table, and the Latency column
// with each layer's measured time (the run's own figures, formatted independently here); a
// layer changed afterwards is marked. The trade-off chart's toggle plots the evaluated
// configurations against their measured latency (only those measured), and back against size.
// A language model (tiny-llama) fills prefill/decode tokens/s and its ten parts. Cancel stops
// a run; a new model clears the column. A language model whose uncompressed weights would take
// more than half the memory is measured only as configured. No timing value is asserted.
#include "compressiondocument.h"
#include "evalpanel.h"
#include "formatting.h"
#include "layertablemodel.h"
#include "layertableview.h"
#include "mainwindow.h"
#include "speedpanel.h"
#include "tradeoffchart.h"
#include "tradeoffmodel.h"
#include "testutil.h"

#include "bonsai/model.h"
#include "bonsai/presets.h"

#include <QAbstractItemModelTester>
#include <QRegularExpression>
#include <QComboBox>
#include <QDockWidget>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTreeView>
#include <QValueAxis>
#include <QtTest>

using bonsai::ui::LayerTableModel;
using bonsai::ui::MainWindow;
using bonsai::ui::SpeedPanel;
using bonsai::ui::TradeoffChart;

static const bool forceOffscreen = [] {
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    return true;
}();

namespace {

bool openModel(MainWindow& w, const QString& path)
{
    w.setErrorDialogsEnabled(false);
    w.resize(1400, 900);
    w.show();
    QSignalSpy opened(&w, &MainWindow::modelOpened);
    w.openPath(path);
    return QTest::qWaitForWindowExposed(&w) && QTest::qWaitFor([&] { return opened.size() == 1; }, 60000);
}

// Runs the panel with short settings and waits for the result.
bool measure(SpeedPanel* panel, int repeats = 1)
{
    bonsai::SpeedOptions o = panel->options();
    o.repeats = repeats;
    o.prompt = 8;
    o.tokens = 3;
    panel->setOptions(o);
    QSignalSpy measured(panel, &SpeedPanel::measured);
    panel->start();
    return QTest::qWaitFor([&] { return measured.size() == 1; }, 120000);
}

// The summary row named `name` (first column), or -1.
int summaryRow(QTableWidget* t, const QString& name)
{
    for (int r = 0; r < t->rowCount(); ++r)
        if (t->item(r, 0) && t->item(r, 0)->text() == name)
            return r;
    return -1;
}

// The Latency cell of a layer in the window's table (through the view's proxy).
QModelIndex latencyCell(MainWindow& w, int layer)
{
    const QAbstractItemModel* m = w.layerTable()->view()->model();
    for (int r = 0; r < m->rowCount(); ++r) {
        const QModelIndex i = m->index(r, LayerTableModel::Latency);
        if (i.data(LayerTableModel::LayerRole).toInt() == layer)
            return i;
    }
    return {};
}

} // namespace

class TstGuiSpeed : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
    }

    void emptyStateBeforeARun()
    {
        MainWindow w;
        QVERIFY(openModel(w, QStringLiteral(BONSAI_DEMO_MODEL)));
        SpeedPanel* panel = w.speedPanel();
        QAbstractItemModelTester tester(w.layerTable()->tableModel(),
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QVERIFY(panel->canStart());
        QVERIFY(panel->showsEmptyState());
        QVERIFY(!panel->result());
        const QModelIndex cell = latencyCell(w, 0);
        QVERIFY(cell.isValid());
        QCOMPARE(cell.data().toString(), QStringLiteral("—"));
        QVERIFY2(cell.data(Qt::ToolTipRole).toString().contains(QStringLiteral("Speed")),
                 qPrintable(cell.data(Qt::ToolTipRole).toString()));
        QVERIFY(w.layerTable()->tableModel()->headerData(LayerTableModel::Latency, Qt::Horizontal, Qt::ToolTipRole)
                    .toString()
                    .contains(QStringLiteral("speed")));
    }

    void classifierFillsPanelColumnAndChart()
    {
        MainWindow w;
        QVERIFY(openModel(w, QStringLiteral(BONSAI_DEMO_MODEL)));
        w.applyPreset(bonsai::Preset::Int8PerChannel);
        const auto configs = w.document()->configs();
        // Two evaluated configurations on the trade-off chart: the int8 one (measured below) and
        // one that no speed run measures.
        bonsai::ui::TradeoffModel* tradeoffs = w.evalPanel()->tradeoffs();
        bonsai::ui::TradeoffPoint p;
        p.label = QStringLiteral("#1 int8");
        p.configs = configs;
        p.result.originalBytes = w.model()->totalBytes();
        p.result.compressedBytes = p.result.originalBytes / 4;
        p.result.metrics.top1 = 0.9;
        tradeoffs->add(p);
        bonsai::ui::TradeoffPoint other = p;
        other.label = QStringLiteral("#2 other");
        other.configs[0].precision = *bonsai::parsePrecision("int4");
        tradeoffs->add(other);

        SpeedPanel* panel = w.speedPanel();
        w.showSpeedDock();
        QVERIFY(w.speedDock()->isVisible());
        QVERIFY(measure(panel));
        const bonsai::ui::SpeedComparison* r = panel->result();
        QVERIFY(r && r->compressed());
        QVERIFY(!panel->showsEmptyState());
        QCOMPARE(r->configs, configs);
        // Deployed by default: the int8 layers ran in INT8, and the panel says so.
        QVERIFY(panel->options().deploy);
        QCOMPARE(r->configured->int8Layers.size(), w.model()->layers.size());
        QVERIFY2(panel->message().contains(QStringLiteral("4 layers ran in INT8")), qPrintable(panel->message()));

        // Summary: every measure with its unit, the original's column beside the configured.
        QTableWidget* summary = panel->summaryTable();
        QCOMPARE(summary->columnCount(), 4);
        QCOMPARE(summary->horizontalHeaderItem(1)->text(), QStringLiteral("FP32"));
        const int latency = summaryRow(summary, QStringLiteral("Latency"));
        const int throughput = summaryRow(summary, QStringLiteral("Throughput"));
        QVERIFY(latency >= 0 && throughput >= 0);
        const bonsai::Spread& l = r->configured->latency;
        QCOMPARE(summary->item(latency, 2)->text(), bonsai::ui::formatLatencySpread(l.median, l.min, l.max));
        QVERIFY(summary->item(latency, 1)->text().contains(QRegularExpression(QStringLiteral(" (µs|ms|s)$"))));
        QVERIFY(summary->item(throughput, 1)->text().endsWith(QStringLiteral(" samples/s")));
        for (const char* name : {"Resident weights", "Activations", "Peak memory"}) {
            const int row = summaryRow(summary, QString::fromLatin1(name));
            QVERIFY2(row >= 0, name);
            QVERIFY2(summary->item(row, 1)->text().contains(QRegularExpression(QStringLiteral(" (B|KiB|MiB|GiB)$"))),
                     name);
        }
        QCOMPARE(summary->item(summaryRow(summary, QStringLiteral("Resident weights")), 1)->text(),
                 bonsai::ui::formatBytes(w.model()->totalBytes()));
        QCOMPARE(panel->partsTable()->rowCount(), int(r->original->nodes.size()));

        // The Latency column: each layer's time from the run, and the uncompressed one.
        for (int li = 0; li < int(w.model()->layers.size()); ++li) {
            const QModelIndex cell = latencyCell(w, li);
            const double s = r->configured->layerSeconds[size_t(li)];
            QVERIFY(s > 0);
            QCOMPARE(cell.data().toString(), bonsai::ui::formatLatency(s));
            QVERIFY(cell.data(Qt::ToolTipRole).toString().contains(
                QStringLiteral("Uncompressed: ") + bonsai::ui::formatLatency(r->original->layerSeconds[size_t(li)])));
            QVERIFY(!cell.data(Qt::ForegroundRole).isValid());
        }
        // A layer changed since is marked, the others are not.
        w.document()->edit({1}, [](bonsai::LayerConfig& c) { c.precision = *bonsai::parsePrecision("int4"); },
                           QStringLiteral("test"));
        QVERIFY(latencyCell(w, 1).data(Qt::ForegroundRole).isValid());
        QVERIFY(latencyCell(w, 1).data(Qt::ToolTipRole).toString().contains(QStringLiteral("changed")));
        QVERIFY(!latencyCell(w, 0).data(Qt::ForegroundRole).isValid());

        // The trade-off chart: the measured configuration got its latency, the other did not.
        QCOMPARE(tradeoffs->point(0).latencySeconds, r->configured->latencySeconds());
        QCOMPARE(tradeoffs->point(1).latencySeconds, -1.0);
        QCOMPARE(tradeoffs->uncompressedLatency(), r->original->latencySeconds());
        TradeoffChart* chart = w.evalPanel()->tradeoffChart();
        QCOMPARE(chart->drawnPointCount(), 2);
        chart->axisToggle()->setCurrentIndex(1);
        QCOMPARE(chart->xAxis(), TradeoffChart::XAxis::Latency);
        QCOMPARE(chart->drawnPointCount(), 1);
        const double scale = chart->latencyUnit() == QStringLiteral("s") ? 1.0
                             : chart->latencyUnit() == QStringLiteral("ms") ? 1e-3 : 1e-6;
        QCOMPARE(chart->valueOf(0).x(), r->configured->latencySeconds() / scale);
        QVERIFY(std::isnan(chart->valueOf(1).x()));
        const auto axes = chart->chart()->axes(Qt::Horizontal);
        QCOMPARE(axes.size(), 1);
        QVERIFY2(axes[0]->titleText().contains(QStringLiteral("latency per batch (") + chart->latencyUnit()),
                 qPrintable(axes[0]->titleText()));
        QCOMPARE(chart->rowAt(chart->valueOf(0)), 0);
        // A configuration evaluated later with the measured configs is drawn at its latency too.
        bonsai::ui::TradeoffPoint again = p;
        again.label = QStringLiteral("#3 int8 again");
        tradeoffs->add(again);
        QCOMPARE(chart->drawnPointCount(), 2);
        chart->axisToggle()->setCurrentIndex(0);
        QCOMPARE(chart->xAxis(), TradeoffChart::XAxis::Size);
        QCOMPARE(chart->drawnPointCount(), 3);
        QVERIFY(chart->chart()->axes(Qt::Horizontal)[0]->titleText().contains(QStringLiteral("size")));

        // A new model: nothing measured any more.
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        w.openPath(QString::fromStdString(testutil::dataPath("tiny-llama")));
        QVERIFY(QTest::qWaitFor([&] { return opened.size() == 1; }, 60000));
        QVERIFY(panel->showsEmptyState());
        QCOMPARE(latencyCell(w, 0).data().toString(), QStringLiteral("—"));
        QCOMPARE(tradeoffs->uncompressedLatency(), -1.0);
    }

    void languageModelTokensPerSecond()
    {
        MainWindow w;
        QVERIFY(openModel(w, QString::fromStdString(testutil::dataPath("tiny-llama"))));
        w.applyPreset(bonsai::Preset::Int8PerChannel);
        SpeedPanel* panel = w.speedPanel();
        QVERIFY(measure(panel));
        const bonsai::ui::SpeedComparison* r = panel->result();
        QVERIFY(r && r->compressed());
        QCOMPARE(r->configured->decodeSteps, int64_t(3));
        QTableWidget* summary = panel->summaryTable();
        for (const char* name : {"Prefill", "Decode", "Throughput"}) {
            const int row = summaryRow(summary, QString::fromLatin1(name));
            QVERIFY2(row >= 0, name);
            QVERIFY2(summary->item(row, 2)->text().endsWith(QStringLiteral(" tokens/s")), name);
        }
        QVERIFY(summaryRow(summary, QStringLiteral("KV cache")) >= 0);
        QCOMPARE(summary->item(summaryRow(summary, QStringLiteral("Weights")), 2)->text(),
                 QStringLiteral("INT8: 29 layers"));
        QCOMPARE(panel->partsTable()->rowCount(), 10);
        // Every layer of the table is a linear layer timed on its own (the embedding as the tied head).
        for (int li = 0; li < int(w.model()->layers.size()); ++li)
            QCOMPARE(latencyCell(w, li).data().toString(),
                     bonsai::ui::formatLatency(r->configured->layerSeconds[size_t(li)]));
    }

    void originalTooLargeIsNotMeasured()
    {
        // tiny-llama's weights are F32, bound in place: 4 bytes per weight of every layer.
        auto model = bonsai::Model::open(testutil::dataPath("tiny-llama"));
        uint64_t bytes = 0;
        for (const bonsai::Layer& l : model->layers)
            bytes += model->tensors[size_t(l.weight)].numel * 4;
        using bonsai::ui::SpeedRunner;
        QVERIFY(SpeedRunner::originalTooLarge(*model, 2 * bytes).isEmpty());
        const QString why = SpeedRunner::originalTooLarge(*model, 2 * bytes - 2);
        QVERIFY2(why.contains(bonsai::ui::formatBytes(bytes)), qPrintable(why));
        QVERIFY(SpeedRunner::originalTooLarge(*bonsai::Model::open(BONSAI_DEMO_MODEL), 1).isEmpty()); // classifiers
    }

    void cancelStops()
    {
        MainWindow w;
        QVERIFY(openModel(w, QStringLiteral(BONSAI_DEMO_MODEL)));
        SpeedPanel* panel = w.speedPanel();
        bonsai::SpeedOptions o = panel->options();
        o.batch = 256;
        o.repeats = 1000;
        panel->setOptions(o);
        QSignalSpy cancelled(panel, &SpeedPanel::measureCancelled);
        QSignalSpy measured(panel, &SpeedPanel::measured);
        panel->start();
        QVERIFY(panel->isBusy());
        panel->cancel();
        QVERIFY(QTest::qWaitFor([&] { return cancelled.size() == 1; }, 60000));
        QVERIFY(!panel->isBusy());
        QCOMPARE(measured.size(), 0);
        QVERIFY(panel->message().contains(QStringLiteral("cancelled")));
        QVERIFY(panel->showsEmptyState());
    }
};

QTEST_MAIN(TstGuiSpeed)
#include "tst_gui_speed.moc"
