// Language models in the main window, headless: the tiny Llama checkpoint in tests/data is
// listed in model order with groups and short role names, filtered by group, selected by role
// across blocks, and charted per block.
#include "blockbyteschart.h"
#include "compressiondocument.h"
#include "layerfilterproxy.h"
#include "layertablemodel.h"
#include "layertableview.h"
#include "mainwindow.h"

#include "bonsai/llm.h"
#include "bonsai/model.h"

#include <QComboBox>
#include <QHeaderView>
#include <QStandardPaths>
#include <QTreeView>
#include <QtTest>

using bonsai::ui::LayerTableModel;
using bonsai::ui::MainWindow;

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

bool openFixture(MainWindow& w)
{
    QSignalSpy opened(&w, &MainWindow::modelOpened);
    w.openPath(fixture());
    return QTest::qWaitFor([&] { return opened.size() == 1; }, 30000) && w.model();
}

} // namespace

class TstGuiLlm : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void layerTableGroupsInModelOrder()
    {
        MainWindow w;
        w.resize(1400, 900);
        w.show();
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
        w.resize(1400, 900);
        w.show();
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
};

QTEST_MAIN(TstGuiLlm)
#include "tst_gui_llm.moc"
