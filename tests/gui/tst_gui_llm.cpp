// Language models in the main window, headless: the tiny Llama checkpoint in tests/data is
// listed in model order with groups and short role names, filtered by group, selected by role
// across blocks, and charted per block; the perplexity dock measures what the core measures,
// fills its chart while running, can be cancelled, and adds points to the trade-off chart.
#include "blockbyteschart.h"
#include "compressiondocument.h"
#include "evalpanel.h"
#include "layerfilterproxy.h"
#include "layertablemodel.h"
#include "layertableview.h"
#include "mainwindow.h"
#include "modelestimator.h"
#include "perplexitypanel.h"
#include "tradeoffchart.h"
#include "bonsai/describe.h"
#include "tradeoffmodel.h"

#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "bonsai/tokenizer.h"

#include <QComboBox>
#include <QDockWidget>
#include <QFile>
#include <QScrollArea>
#include <QScrollBar>
#include <QHeaderView>
#include <QStandardPaths>
#include <QTreeView>
#include <QtTest>

using bonsai::ui::LayerTableModel;
using bonsai::ui::MainWindow;
using bonsai::ui::PerplexityPanel;

// Headless by default, also when run by hand outside CTest.
static const bool forceOffscreen = [] {
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    return true;
}();

namespace {

QString fixture() { return QStringLiteral(BONSAI_TEST_DATA "/tiny-llama"); }

QStringList column(const QAbstractItemModel& model, int col, int role = Qt::DisplayRole)
{
    QStringList out;
    for (int r = 0; r < model.rowCount(); ++r)
        out << model.index(r, col).data(role).toString();
    return out;
}

// Shows `w` at 1400 × 900 and opens the tiny Llama in it.
bool openFixture(MainWindow& w)
{
    w.resize(1400, 900);
    w.show();
    QSignalSpy opened(&w, &MainWindow::modelOpened);
    w.openPath(fixture());
    return QTest::qWaitFor([&] { return opened.size() == 1; }, 30000) && w.model();
}

// Saves a picture of `widget` to the file the environment variable names, if it is set.
void saveGrabIfAsked(QWidget& widget, const char* variable)
{
    if (qEnvironmentVariableIsSet(variable))
        widget.grab().save(qEnvironmentVariable(variable));
}

// Every projection (not the embeddings) to `precision` with `method`, group 32.
void quantizeProjections(MainWindow& w, const char* precision, bonsai::QuantMethod method)
{
    QList<int> layers;
    for (size_t i = 0; i < w.model()->layers.size(); ++i)
        if (w.model()->layers[i].name.find("embed") == std::string::npos)
            layers << int(i);
    const auto p = bonsai::parsePrecision(precision);
    QVERIFY(p);
    w.document()->edit(layers, [&](bonsai::LayerConfig& c) {
        c.precision = *p;
        c.granularity = bonsai::Granularity::Group;
        c.groupSize = 32;
        c.method = method;
    }, QStringLiteral("test"));
}

std::vector<int32_t> evalTokens(const bonsai::LanguageModel& lm)
{
    QFile f(fixture() + QStringLiteral("/eval.txt"));
    if (!f.open(QIODevice::ReadOnly))
        return {};
    const QByteArray text = f.readAll();
    return lm.tokenizer().encode(std::string_view(text.constData(), size_t(text.size())));
}

} // namespace

class TstGuiLlm : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void layerTableGroupsInModelOrder()
    {
        MainWindow w;
        QVERIFY(openFixture(w));
        QVERIFY(bonsai::isLanguageModel(*w.model()));
        auto* table = w.layerTable();
        auto* view = table->view();
        QVERIFY(!view->header()->isSectionHidden(LayerTableModel::Group));
        QCOMPARE(view->model()->headerData(LayerTableModel::Group, Qt::Horizontal).toString(), QStringLiteral("Group"));
        QVERIFY(table->groupCombo()->isVisible());

        // Embeddings (tied: no lm_head), then 4 blocks of q, k, v, o, gate, up, down.
        const QAbstractItemModel& rows = *view->model();
        QCOMPARE(rows.rowCount(), 1 + 4 * 7);
        QStringList names{QStringLiteral("embed_tokens")};
        QStringList groups{QStringLiteral("Embeddings")};
        QStringList full{QStringLiteral("model.embed_tokens")};
        for (int b = 0; b < 4; ++b) {
            for (const char* p : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
                names << QString::fromLatin1(p);
                groups << QStringLiteral("Block %1 · attention").arg(b);
                full << QStringLiteral("model.layers.%1.self_attn.%2").arg(b).arg(QString::fromLatin1(p));
            }
            for (const char* p : {"gate_proj", "up_proj", "down_proj"}) {
                names << QString::fromLatin1(p);
                groups << QStringLiteral("Block %1 · MLP").arg(b);
                full << QStringLiteral("model.layers.%1.mlp.%2").arg(b).arg(QString::fromLatin1(p));
            }
        }
        QCOMPARE(column(rows, LayerTableModel::Name), names);
        QCOMPARE(column(rows, LayerTableModel::Group), groups);
        QCOMPARE(column(rows, LayerTableModel::Name, LayerTableModel::FullNameRole), full);

        // Group filter: one block, a part across blocks, all.
        QStringList items;
        for (int i = 0; i < table->groupCombo()->count(); ++i)
            items << table->groupCombo()->itemText(i);
        QCOMPARE(items, (QStringList{QStringLiteral("All groups"), QStringLiteral("Embeddings"), QStringLiteral("Block 0"),
                                     QStringLiteral("Block 1"), QStringLiteral("Block 2"), QStringLiteral("Block 3"),
                                     QStringLiteral("Attention (all blocks)"), QStringLiteral("MLP (all blocks)")}));
        table->groupCombo()->setCurrentIndex(table->groupCombo()->findText(QStringLiteral("Block 2")));
        QCOMPARE(rows.rowCount(), 7);
        for (const QString& g : column(rows, LayerTableModel::Group))
            QVERIFY2(g.startsWith(QStringLiteral("Block 2 ·")), qPrintable(g));
        QVERIFY(table->setGroupFilter(QStringLiteral("part:attention")));
        QCOMPARE(rows.rowCount(), 16);
        QVERIFY(table->setGroupFilter(QStringLiteral("part:mlp")));
        QCOMPARE(rows.rowCount(), 12);
        QVERIFY(table->setGroupFilter(QStringLiteral("Embeddings")));
        QCOMPARE(rows.rowCount(), 1);

        // Role selection across blocks shows all groups again and selects the four q_proj.
        QVERIFY(table->setGroupFilter(QStringLiteral("Block 1")));
        QCOMPARE(table->selectRole(int(bonsai::LlmRole::Q)), 4);
        QCOMPARE(rows.rowCount(), 29);
        QList<int> selected = table->selectedLayers();
        QCOMPARE(selected.size(), 4);
        for (int l : selected)
            QVERIFY(QString::fromStdString(w.model()->layers[size_t(l)].name).endsWith(QStringLiteral("q_proj")));

        // One edit applies to every selected q_proj.
        const int row = [&] {
            for (int r = 0; r < rows.rowCount(); ++r)
                if (rows.index(r, 0).data(LayerTableModel::LayerRole).toInt() == selected.first())
                    return r;
            return -1;
        }();
        QVERIFY(row >= 0);
        QVERIFY(view->model()->setData(rows.index(row, LayerTableModel::Precision), QStringLiteral("int4")));
        for (int l : selected)
            QCOMPARE(bonsai::precisionName(w.document()->config(l).precision), std::string("int4"));
        const int kLayer = rows.index(2, 0).data(LayerTableModel::LayerRole).toInt(); // block 0 k_proj
        QVERIFY(!selected.contains(kLayer));
        QVERIFY(bonsai::precisionName(w.document()->config(kLayer).precision) != "int4");

        // Searching matches full names too.
        QVERIFY(table->setGroupFilter(QString()));
        table->proxy()->setSearchText(QStringLiteral("layers.3.mlp"));
        QCOMPARE(rows.rowCount(), 3);
    }

    void blockChart()
    {
        MainWindow w;
        QVERIFY(openFixture(w));
        auto* chart = w.blockChart();
        QVERIFY(chart->hasData());
        QVERIFY(chart->isVisible());
        const auto& bars = chart->bars();
        QCOMPARE(bars.size(), size_t(5)); // embeddings and 4 blocks (tied head)
        QCOMPARE(bars.front().group, QStringLiteral("Embeddings"));
        QCOMPARE(bars.front().other, uint64_t(1024) * 128 * 4);
        QCOMPARE(bars[1].group, QStringLiteral("Block 0"));
        QCOMPARE(bars[1].attention, uint64_t(128 * 128 * 2 + 128 * 64 * 2) * 4);
        QCOMPARE(bars[1].mlp, uint64_t(3) * 128 * 352 * 4);
        QTRY_VERIFY_WITH_TIMEOUT(chart->bars()[1].compressed, 30000);
        QVERIFY(chart->titleText().contains(QStringLiteral("4 blocks")));
    }

    // 40 blocks (names only, no data): one bar per block, thinned labels, horizontal scrolling.
    void blockChartManyBlocks()
    {
        auto m = std::make_shared<bonsai::Model>();
        m->path = "many.safetensors";
        auto add = [&](const std::string& name, std::vector<int64_t> shape) {
            bonsai::TensorInfo t;
            t.name = name;
            t.dtype = bonsai::DType::F16;
            t.shape = std::move(shape);
            t.nbytes = *bonsai::storageBytes(t.dtype, *bonsai::checkedNumel(t.shape));
            m->addTensor(std::move(t));
        };
        add("model.embed_tokens.weight", {256, 64});
        for (int b = 0; b < 40; ++b) {
            const std::string p = "model.layers." + std::to_string(b) + ".";
            for (const char* n : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj"})
                add(p + n + ".weight", {64, 64});
            for (const char* n : {"mlp.gate_proj", "mlp.up_proj"})
                add(p + n + ".weight", {128, 64});
            add(p + "mlp.down_proj.weight", {64, 128});
        }
        add("lm_head.weight", {256, 64});
        m->inferLayersFromNames();
        QVERIFY(bonsai::isLanguageModel(*m));
        bonsai::ui::CompressionDocument doc;
        bonsai::ui::ModelEstimator estimator(&doc);
        bonsai::ui::BlockBytesChart chart(&doc, &estimator);
        chart.resize(600, 320);
        chart.show();
        doc.setModel(m);
        QCOMPARE(chart.bars().size(), size_t(42));
        QCOMPARE(chart.bars().back().group, QStringLiteral("Output head"));
        QCOMPARE(chart.bars()[40].label, QStringLiteral("39"));
        auto* scroll = chart.findChild<QScrollArea*>();
        QVERIFY(scroll);
        QTRY_VERIFY(scroll->widget()->width() > scroll->viewport()->width());
        saveGrabIfAsked(chart, "BONSAI_TEST_GRAB_BLOCKS");
    }

    void perplexityMatchesCore()
    {
        MainWindow w;
        QVERIFY(openFixture(w));
        auto* panel = w.perplexityPanel();
        QVERIFY(panel->canStart());
        QCOMPARE(QFileInfo(panel->textFile()).canonicalFilePath(),
                 QFileInfo(fixture() + QStringLiteral("/eval.txt")).canonicalFilePath());
        QCOMPARE(panel->options().ctx, 128);
        quantizeProjections(w, "int4", bonsai::QuantMethod::RTN);
        QCOMPARE(QString::fromStdString(bonsai::runLabel(w.document()->configs())), QStringLiteral("RTN int4 g32"));
        panel->setMaxChunks(8);
        QSignalSpy measured(panel, &PerplexityPanel::measured);
        QSignalSpy failed(panel, &PerplexityPanel::measureFailed);
        panel->start();
        QVERIFY(panel->isBusy());
        QTRY_VERIFY_WITH_TIMEOUT(measured.size() == 1 || failed.size() == 1, 300000);
        QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.first().first().toString()));
        QVERIFY(!panel->isBusy());
        QCOMPARE(panel->curvePointCount(), 8);
        QCOMPARE(panel->resultLabel(), QStringLiteral("RTN int4 g32"));

        bonsai::LanguageModel lm(*w.model());
        bonsai::PerplexityOptions opts;
        opts.ctx = 128;
        opts.maxChunks = 8;
        const auto direct = lm.perplexity(evalTokens(lm), w.document()->configs(), opts);
        const auto* r = panel->result();
        QVERIFY(r);
        QCOMPARE(r->tokens, direct.tokens);
        QCOMPARE(r->chunks, int64_t(8));
        QVERIFY2(std::abs(r->perplexity - direct.perplexity) <= 1e-9 * direct.perplexity,
                 qPrintable(QStringLiteral("%1 vs %2").arg(r->perplexity, 0, 'g', 17).arg(direct.perplexity, 0, 'g', 17)));
        QVERIFY(std::abs(r->basePerplexity - direct.basePerplexity) <= 1e-9 * direct.basePerplexity);
        QVERIFY(std::abs(r->kl - direct.kl) <= 1e-9 + 1e-9 * direct.kl);

        // A point on the trade-off chart, measured by perplexity.
        auto* tradeoffs = w.evalPanel()->tradeoffs();
        QCOMPARE(tradeoffs->metric(), bonsai::ui::TradeoffMetric::Perplexity);
        QCOMPARE(tradeoffs->rowCount(), 1);
        QCOMPARE(tradeoffs->point(0).label, QStringLiteral("RTN int4 g32"));
        QCOMPARE(tradeoffs->point(0).perplexity, r->perplexity);
        QVERIFY(tradeoffs->point(0).result.compressedBytes < tradeoffs->point(0).result.originalBytes);

        // A smaller, worse configuration: both on the front (smaller vs lower perplexity).
        quantizeProjections(w, "int2", bonsai::QuantMethod::RTN);
        panel->start();
        QTRY_VERIFY_WITH_TIMEOUT(measured.size() == 2 || !failed.isEmpty(), 300000);
        QCOMPARE(tradeoffs->rowCount(), 2);
        QVERIFY(tradeoffs->point(1).perplexity > tradeoffs->point(0).perplexity);
        QCOMPARE(tradeoffs->front().size(), size_t(2));
        QCOMPARE(tradeoffs->headerData(bonsai::ui::TradeoffModel::Top1Column, Qt::Horizontal).toString(),
                 QStringLiteral("Perplexity"));
        // Clicking the int4 point restores its configuration.
        panel->tradeoffChart()->activatePoint(0);
        QCOMPARE(w.document()->configs(), tradeoffs->point(0).configs);
        if (qEnvironmentVariableIsSet("BONSAI_TEST_GRAB")) {
            w.showPerplexityDock();
            panel->showTab(PerplexityPanel::TradeoffTab);
            QTest::qWait(200);
            saveGrabIfAsked(w, "BONSAI_TEST_GRAB");
        }
    }

    void threeMethodsAtOneSize()
    {
        // RTN, GPTQ and AWQ at INT3 group 32: three points of equal size on the trade-off chart,
        // GPTQ below RTN (the dock calibrates on the evaluated text, 32 chunks).
        MainWindow w;
        QVERIFY(openFixture(w));
        auto* panel = w.perplexityPanel();
        panel->setMaxChunks(8);
        QSignalSpy measured(panel, &PerplexityPanel::measured);
        QSignalSpy failed(panel, &PerplexityPanel::measureFailed);
        const bonsai::QuantMethod methods[] = {bonsai::QuantMethod::RTN, bonsai::QuantMethod::GPTQ,
                                               bonsai::QuantMethod::AWQ};
        for (int i = 0; i < 3; ++i) {
            quantizeProjections(w, "int3", methods[i]);
            panel->start();
            QTRY_VERIFY_WITH_TIMEOUT(measured.size() == i + 1 || !failed.isEmpty(), 300000);
            QVERIFY(failed.isEmpty());
        }
        auto* tradeoffs = w.evalPanel()->tradeoffs();
        QCOMPARE(tradeoffs->rowCount(), 3);
        QCOMPARE(tradeoffs->point(0).label, QStringLiteral("RTN int3 g32"));
        QCOMPARE(tradeoffs->point(1).label, QStringLiteral("GPTQ int3 g32"));
        QCOMPARE(tradeoffs->point(2).label, QStringLiteral("AWQ int3 g32"));
        for (int i = 1; i < 3; ++i)
            QCOMPARE(tradeoffs->point(i).result.compressedBytes, tradeoffs->point(0).result.compressedBytes);
        QVERIFY(tradeoffs->point(1).perplexity < tradeoffs->point(0).perplexity);
        if (qEnvironmentVariableIsSet("BONSAI_TEST_GRAB")) {
            w.showPerplexityDock();
            panel->showTab(PerplexityPanel::TradeoffTab);
            QTest::qWait(200);
            saveGrabIfAsked(w, "BONSAI_TEST_GRAB");
        }
    }

    void perplexityChartFillsAndCancel()
    {
        MainWindow w;
        QVERIFY(openFixture(w));
        auto* panel = w.perplexityPanel();
        quantizeProjections(w, "int4", bonsai::QuantMethod::RTN);
        panel->setContextLength(32);
        panel->setMaxChunks(0); // the whole text: long enough to cancel
        QSignalSpy cancelled(panel, &PerplexityPanel::measureCancelled);
        QSignalSpy measured(panel, &PerplexityPanel::measured);
        panel->start();
        QTRY_VERIFY_WITH_TIMEOUT(panel->curvePointCount() >= 2 || !panel->isBusy(), 300000);
        QVERIFY2(panel->isBusy(), "the run ended before it could be cancelled");
        panel->cancel();
        QTRY_COMPARE_WITH_TIMEOUT(cancelled.size(), 1, 60000);
        QVERIFY(!panel->isBusy());
        QVERIFY(measured.isEmpty());
        QVERIFY(!panel->result());
        QCOMPARE(w.evalPanel()->tradeoffs()->rowCount(), 0);
        QVERIFY(panel->message().contains(QStringLiteral("cancelled")));
    }

    void perplexityParetoFrontIsLowerLeft()
    {
        using bonsai::ui::TradeoffMetric;
        using bonsai::ui::TradeoffPoint;
        std::vector<TradeoffPoint> points(4);
        const uint64_t sizes[] = {100, 200, 300, 150};
        const double ppl[] = {20, 12, 14, 25};
        for (size_t i = 0; i < points.size(); ++i) {
            points[i].result.compressedBytes = sizes[i];
            points[i].perplexity = ppl[i];
        }
        QCOMPARE(bonsai::ui::paretoFront(points, TradeoffMetric::Perplexity), (std::vector<int>{0, 1}));
        bonsai::LayerConfig gptq;
        gptq.precision = *bonsai::parsePrecision("int4");
        gptq.granularity = bonsai::Granularity::Group;
        gptq.groupSize = 32;
        gptq.method = bonsai::QuantMethod::GPTQ;
        bonsai::LayerConfig awq = gptq;
        awq.method = bonsai::QuantMethod::AWQ;
        QCOMPARE(QString::fromStdString(bonsai::runLabel({bonsai::LayerConfig{}, gptq, gptq})), QStringLiteral("GPTQ int4 g32"));
        QCOMPARE(QString::fromStdString(bonsai::runLabel({awq, awq, gptq})), QStringLiteral("AWQ int4 g32 (+1 other)"));
        QCOMPARE(QString::fromStdString(bonsai::runLabel({bonsai::LayerConfig{}})), QStringLiteral("uncompressed"));
        bonsai::LayerConfig perChannel = gptq;
        perChannel.granularity = bonsai::Granularity::PerChannel;
        QCOMPARE(QString::fromStdString(bonsai::runLabel({perChannel})), QStringLiteral("GPTQ int4 per channel"));
    }

    // At 1400 × 900 the inspector shows all its groups without scrolling: for the tiny Llama
    // (no bottom dock) and for the ONNX demo, which opens the Evaluation dock below.
    void inspectorFitsWithoutScrolling()
    {
        for (const QString& path : {fixture(), QStringLiteral(BONSAI_DEMO_MODEL)}) {
            MainWindow w;
            w.resize(1400, 900);
            w.show();
            QVERIFY(QTest::qWaitForWindowExposed(&w));
            QSignalSpy opened(&w, &MainWindow::modelOpened);
            w.openPath(path);
            QTRY_COMPARE_WITH_TIMEOUT(opened.size(), 1, 30000);
            QTest::qWait(200); // docks shown, layouts settled
            auto* inspector = w.findChild<QWidget*>(QStringLiteral("configInspector"));
            QVERIFY(inspector && inspector->isVisible());
            auto* scroll = inspector->findChild<QScrollArea*>();
            QVERIFY(scroll && scroll->widget()->height() > 300);
            QVERIFY2(scroll->verticalScrollBar()->maximum() == 0,
                     qPrintable(QStringLiteral("%1: %2 px to scroll").arg(path).arg(scroll->verticalScrollBar()->maximum())));
        }
    }

    void perplexityNeedsLanguageModel()
    {
        MainWindow w;
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        w.openPath(QStringLiteral(BONSAI_DEMO_MODEL));
        QTRY_COMPARE_WITH_TIMEOUT(opened.size(), 1, 30000);
        QVERIFY(!w.perplexityPanel()->canStart());
        QVERIFY(!w.layerTable()->groupCombo()->isVisibleTo(&w));
        QVERIFY(w.layerTable()->view()->header()->isSectionHidden(LayerTableModel::Group));
        QCOMPARE(w.evalPanel()->tradeoffs()->metric(), bonsai::ui::TradeoffMetric::Top1);
    }
};

QTEST_MAIN(TstGuiLlm)
#include "tst_gui_llm.moc"
