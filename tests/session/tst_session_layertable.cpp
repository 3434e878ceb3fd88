// The layer table model and its sort/filter proxy; the Latency column before and after a
// speed measurement.
#include "compressiondocument.h"
#include "formatting.h"
#include "layerfilterproxy.h"
#include "layertablemodel.h"

#include "bonsai/model.h"

#include <QAbstractItemModelTester>
#include <QtTest>

using bonsai::ui::LayerFilterProxy;
using bonsai::ui::LayerTableModel;

namespace {

void addTensor(bonsai::Model& m, const std::string& name, bonsai::DType dt, std::vector<int64_t> shape)
{
    bonsai::TensorInfo t;
    t.name = name;
    t.dtype = dt;
    t.shape = std::move(shape);
    t.nbytes = *bonsai::storageBytes(dt, *bonsai::checkedNumel(t.shape));
    m.addTensor(std::move(t)); // descriptions only: the table never reads values
}

// Layers with 900 and 1,000 parameters so that text order ("900" > "1,000") differs from
// numeric order.
std::shared_ptr<const bonsai::Model> makeModel()
{
    auto m = std::make_shared<bonsai::Model>();
    m->path = "test.safetensors";
    addTensor(*m, "embed_tokens.weight", bonsai::DType::F16, {50, 20});     // 1,000
    addTensor(*m, "encoder.fc1.weight", bonsai::DType::F32, {30, 30});     // 900
    addTensor(*m, "encoder.fc1.bias", bonsai::DType::F32, {30});
    addTensor(*m, "encoder.conv.weight", bonsai::DType::F16, {8, 4, 3, 3}); // 288
    addTensor(*m, "norm.weight", bonsai::DType::F32, {20});
    m->inferLayersFromNames();
    return m;
}

std::shared_ptr<const bonsai::Model> makeOtherModel()
{
    auto m = std::make_shared<bonsai::Model>();
    m->path = "other.safetensors";
    addTensor(*m, "a.weight", bonsai::DType::BF16, {4, 4});
    m->inferLayersFromNames();
    return m;
}

QStringList column(const QAbstractItemModel& model, int col)
{
    QStringList out;
    for (int r = 0; r < model.rowCount(); ++r)
        out << model.index(r, col).data().toString();
    return out;
}

} // namespace

// Headless by default, also when run by hand outside CTest.
static const bool forceOffscreen = [] {
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    return true;
}();

class TstSessionLayerTable : public QObject {
    Q_OBJECT
private slots:
    void modelTester()
    {
        LayerTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setModel(makeModel());
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(model.columnCount(), int(LayerTableModel::NUM_COLUMNS));
        model.setMode(LayerTableModel::Mode::Tensors);
        QCOMPARE(model.rowCount(), 5);
        model.setModel(makeOtherModel());
        QCOMPARE(model.rowCount(), 1);
        model.setModel(nullptr);
        QCOMPARE(model.rowCount(), 0);
    }

    void proxyTester()
    {
        LayerTableModel model;
        LayerFilterProxy proxy;
        proxy.setSourceModel(&model);
        QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setModel(makeModel());
        proxy.sort(LayerTableModel::Parameters, Qt::DescendingOrder);
        proxy.setSearchText(QStringLiteral("encoder"));
        QCOMPARE(proxy.rowCount(), 2);
        model.setModel(makeOtherModel());
        QCOMPARE(proxy.rowCount(), 0);
        proxy.setSearchText(QString());
        QCOMPARE(proxy.rowCount(), 1);
        model.setMode(LayerTableModel::Mode::Tensors);
        QCOMPARE(proxy.rowCount(), 1);
    }

    void displayFormatting()
    {
        LayerTableModel model;
        model.setModel(makeModel());
        const QModelIndex fc1 = model.index(1, LayerTableModel::Name);
        QCOMPARE(fc1.data().toString(), QStringLiteral("encoder.fc1"));
        QCOMPARE(fc1.siblingAtColumn(LayerTableModel::Op).data().toString(), QStringLiteral("Linear"));
        QCOMPARE(fc1.siblingAtColumn(LayerTableModel::Shape).data().toString(), QStringLiteral("30 × 30"));
        // weight plus bias
        QCOMPARE(fc1.siblingAtColumn(LayerTableModel::Parameters).data().toString(), QStringLiteral("930"));
        QCOMPARE(fc1.siblingAtColumn(LayerTableModel::Bytes).data().toString(), QStringLiteral("3.63 KiB"));
        QCOMPARE(model.index(0, LayerTableModel::Parameters).data().toString(), QStringLiteral("1,000"));
        QVERIFY(!fc1.data(Qt::ToolTipRole).toString().isEmpty());
        QCOMPARE(fc1.data(LayerTableModel::TensorRole).toInt(), 1);
    }

    void sortsByRawNumbers()
    {
        LayerTableModel model;
        LayerFilterProxy proxy;
        proxy.setSourceModel(&model);
        model.setModel(makeModel());
        proxy.sort(LayerTableModel::Parameters, Qt::DescendingOrder);
        // 1,000 sorts above 930 (the text "930" would sort above "1,000").
        QCOMPARE(column(proxy, LayerTableModel::Name),
                 (QStringList{QStringLiteral("embed_tokens"), QStringLiteral("encoder.fc1"),
                              QStringLiteral("encoder.conv")}));
        proxy.sort(LayerTableModel::Bytes, Qt::AscendingOrder);
        QCOMPARE(column(proxy, LayerTableModel::Name).first(), QStringLiteral("encoder.conv"));
    }

    void filter_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QStringList>("names");
        QTest::newRow("name") << QStringLiteral("FC1") << QStringList{QStringLiteral("encoder.fc1")};
        QTest::newRow("op") << QStringLiteral("conv") << QStringList{QStringLiteral("encoder.conv")};
        QTest::newRow("op embedding") << QStringLiteral("embedding") << QStringList{QStringLiteral("embed_tokens")};
        QTest::newRow("dtype") << QStringLiteral("f16")
                               << QStringList{QStringLiteral("embed_tokens"), QStringLiteral("encoder.conv")};
        QTest::newRow("none") << QStringLiteral("attention") << QStringList{};
        QTest::newRow("spaces") << QStringLiteral("  ") << QStringList{QStringLiteral("embed_tokens"),
            QStringLiteral("encoder.fc1"), QStringLiteral("encoder.conv")};
    }

    void filter()
    {
        QFETCH(QString, text);
        QFETCH(QStringList, names);
        LayerTableModel model;
        LayerFilterProxy proxy;
        proxy.setSourceModel(&model);
        model.setModel(makeModel());
        proxy.setSearchText(text);
        QCOMPARE(column(proxy, LayerTableModel::Name), names);
    }

    void measuredLatency()
    {
        const auto m = makeModel();
        bonsai::ui::CompressionDocument doc;
        doc.setModel(m);
        LayerTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setModel(m);
        model.setCompression(&doc, nullptr);
        auto cell = [&](int layer) {
            for (int r = 0; r < model.rowCount(); ++r)
                if (model.index(r, 0).data(LayerTableModel::LayerRole).toInt() == layer)
                    return model.index(r, LayerTableModel::Latency);
            return QModelIndex();
        };
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(cell(0).data().toString(), QStringLiteral("—"));
        QVERIFY(cell(0).data(Qt::ToolTipRole).toString().contains(QStringLiteral("Speed")));
        QVERIFY(!model.hasMeasuredLatency());
        model.setMeasuredLatency({1.5e-3, -1, 2.5e-5}, {3e-3, -1, 2.5e-5}, doc.configs(), QStringLiteral("per batch of 1"));
        QVERIFY(model.hasMeasuredLatency());
        QCOMPARE(cell(0).data().toString(), QStringLiteral("1.50 ms"));
        QCOMPARE(cell(0).data(LayerTableModel::SortRole).toDouble(), 1.5e-3);
        QCOMPARE(cell(2).data().toString(), QStringLiteral("25.0 µs"));
        QVERIFY(cell(0).data(Qt::ToolTipRole).toString().contains(QStringLiteral("Uncompressed: 3.00 ms")));
        QCOMPARE(cell(1).data().toString(), QStringLiteral("—")); // not timed on its own
        QVERIFY(!cell(0).data(Qt::ForegroundRole).isValid());
        // Changed since the measure: greyed, and the tooltip says so.
        doc.edit({0}, [](bonsai::LayerConfig& c) { c.precision = *bonsai::parsePrecision("int8"); }, QStringLiteral("t"));
        QVERIFY(cell(0).data(Qt::ForegroundRole).isValid());
        QVERIFY(cell(0).data(Qt::ToolTipRole).toString().contains(QStringLiteral("again")));
        QVERIFY(!cell(2).data(Qt::ForegroundRole).isValid());
        // A new model: nothing measured.
        model.setModel(makeOtherModel());
        QVERIFY(!model.hasMeasuredLatency());
    }

    void sharesAddUp()
    {
        LayerTableModel model;
        model.setModel(makeModel());
        model.setMode(LayerTableModel::Mode::Tensors);
        double sum = 0;
        for (int r = 0; r < model.rowCount(); ++r) {
            const double share = model.index(r, LayerTableModel::Share).data(LayerTableModel::ShareRole).toDouble();
            QVERIFY(share > 0 && share < 1);
            sum += share;
        }
        QVERIFY2(qAbs(sum - 1.0) < 1e-9, qPrintable(QString::number(sum)));
        QVERIFY(model.index(0, LayerTableModel::Share).data().toString().endsWith(QLatin1Char('%')));
    }
};

QTEST_MAIN(TstSessionLayerTable)
#include "tst_session_layertable.moc"
