// The compression document and what sits on it without widgets: undo and redo, a slider
// drag merged into one step, the saved state, recipes read and written as the CLI reads
// them, the layer table model's compression columns (under QAbstractItemModelTester) and
// edits through it, and the size estimator against compressModel().
#include "compressiondocument.h"
#include "layertablemodel.h"
#include "modelestimator.h"

#include "bonsai/compress.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"
#include "editor_model.h"
#include "testutil.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QUndoStack>
#include <QtTest>

using bonsai::ui::CompressionDocument;
using bonsai::ui::LayerTableModel;

class TstSessionDocument : public QObject {
    Q_OBJECT
private slots:
    void undoRedo()
    {
        CompressionDocument doc;
        doc.setModel(testutil::openEditorModel());
        QCOMPARE(doc.layerCount(), 5);
        QVERIFY(!doc.isModified());
        QSignalSpy changed(&doc, &CompressionDocument::configChanged);
        QVERIFY(doc.edit({1, 2}, [](bonsai::LayerConfig& c) { c.precision = {bonsai::PrecisionKind::Int, 8}; },
                         QStringLiteral("int8")));
        QCOMPARE(changed.size(), 1);
        QCOMPARE(changed.at(0).at(0).value<QList<int>>(), (QList<int>{1, 2}));
        QCOMPARE(doc.config(1).precision.bits, 8);
        QVERIFY(doc.isModified());
        doc.undoStack()->undo();
        QVERIFY(doc.config(1).isIdentity() && doc.config(2).isIdentity());
        QVERIFY(!doc.isModified());
        doc.undoStack()->redo();
        QCOMPARE(doc.config(2).precision.bits, 8);
        // An edit that changes nothing pushes nothing.
        QVERIFY(!doc.edit({1}, [](bonsai::LayerConfig& c) { c.precision = {bonsai::PrecisionKind::Int, 8}; },
                          QStringLiteral("same")));
        QCOMPARE(doc.undoStack()->count(), 1);
    }

    void sliderDragIsOneStep()
    {
        CompressionDocument doc;
        doc.setModel(testutil::openEditorModel());
        for (double s : {0.1, 0.2, 0.35, 0.5})
            doc.edit({0}, [s](bonsai::LayerConfig& c) { c.sparsity = s; }, QStringLiteral("drag"),
                     CompressionDocument::MergeSparsity);
        QCOMPARE(doc.undoStack()->count(), 1);
        QCOMPARE(doc.config(0).sparsity, 0.5);
        doc.undoStack()->undo();
        QCOMPARE(doc.config(0).sparsity, 0.0);
        doc.undoStack()->redo();
        doc.endDrag(); // released: the next drag is a new step
        doc.edit({0}, [](bonsai::LayerConfig& c) { c.sparsity = 0.7; }, QStringLiteral("drag 2"),
                 CompressionDocument::MergeSparsity);
        QCOMPARE(doc.undoStack()->count(), 2);
        // A drag back to where it started leaves no step at all.
        doc.endDrag();
        for (double s : {0.6, 0.7})
            doc.edit({0}, [s](bonsai::LayerConfig& c) { c.sparsity = s; }, QStringLiteral("drag 3"),
                     CompressionDocument::MergeSparsity);
        QCOMPARE(doc.undoStack()->count(), 2);
    }

    void cleanAfterSave()
    {
        CompressionDocument doc;
        doc.setModel(testutil::openEditorModel());
        QSignalSpy modified(&doc, &CompressionDocument::modifiedChanged);
        doc.edit({0}, [](bonsai::LayerConfig& c) { c.precision = {bonsai::PrecisionKind::FP16}; }, QStringLiteral("fp16"));
        QVERIFY(doc.isModified());
        const QString path = testutil::tempDir() + QStringLiteral("/clean.json");
        QVERIFY2(doc.saveRecipe(path), qPrintable(doc.lastError()));
        QVERIFY(!doc.isModified());
        QCOMPARE(doc.recipePath(), path);
        doc.edit({0}, [](bonsai::LayerConfig& c) { c.rank = 4; }, QStringLiteral("rank"));
        QVERIFY(doc.isModified());
        doc.undoStack()->undo();
        QVERIFY(!doc.isModified()); // back at the saved state
        QVERIFY(modified.size() >= 3);
    }

    void recipeRoundTrip()
    {
        CompressionDocument doc;
        doc.setModel(testutil::openEditorModel());
        std::vector<bonsai::LayerConfig> configs(5, testutil::int4Group(32));
        configs[0].precision = {bonsai::PrecisionKind::FP16};
        configs[1].sparsity = 0.3;
        configs[2].pattern = bonsai::SparsityPattern::NM;
        configs[2].precision = {bonsai::PrecisionKind::Int, 8};
        configs[2].granularity = bonsai::Granularity::PerChannel;
        configs[3].rank = 8;
        configs[3].symmetric = false;
        configs[4].precision = {bonsai::PrecisionKind::NF4};
        QVERIFY(doc.setConfigs({0, 1, 2, 3, 4}, configs, QStringLiteral("all")));
        const QString path = testutil::tempDir() + QStringLiteral("/roundtrip.json");
        QVERIFY2(doc.saveRecipe(path), qPrintable(doc.lastError()));

        CompressionDocument other;
        other.setModel(testutil::openEditorModel());
        QVERIFY2(other.loadRecipe(path), qPrintable(other.lastError()));
        QVERIFY(other.configs() == configs);
        QVERIFY(other.lastWarnings().isEmpty());
        QVERIFY(!other.isModified());
        // Loading is one undoable step.
        other.undoStack()->undo();
        QVERIFY(other.config(0).isIdentity());
        // The CLI's reading of the same file gives the same configurations.
        const auto model = testutil::openEditorModel();
        QVERIFY(bonsai::resolveConfigs(*model, bonsai::Recipe::load(path.toStdString())) == configs);
    }

    void badRecipeChangesNothing()
    {
        CompressionDocument doc;
        doc.setModel(testutil::openEditorModel());
        doc.edit({0}, [](bonsai::LayerConfig& c) { c.precision = {bonsai::PrecisionKind::FP16}; }, QStringLiteral("fp16"));
        const auto before = doc.configs();
        const std::string path = testutil::writeTemp(
            "bad_recipe.json", R"({"bonsai_recipe": 1, "rules": [{"match": "mlp", "precison": "int4"}]})");
        QVERIFY(!doc.loadRecipe(QString::fromStdString(path)));
        QVERIFY2(doc.lastError().contains(QStringLiteral("bad_recipe.json")), qPrintable(doc.lastError()));
        QVERIFY2(doc.lastError().contains(QStringLiteral("precison")), qPrintable(doc.lastError()));
        QVERIFY(doc.configs() == before);
        QCOMPARE(doc.undoStack()->count(), 1);
        QVERIFY(doc.recipePath().isEmpty());
        QVERIFY(!doc.loadRecipe(testutil::tempDir() + QStringLiteral("/missing.json")));
        QVERIFY(doc.lastError().contains(QStringLiteral("missing.json")));
    }

    void unmatchedRuleWarns()
    {
        CompressionDocument doc;
        doc.setModel(testutil::openEditorModel());
        const std::string path = testutil::writeTemp(
            "warn.json", R"({"bonsai_recipe": 1, "rules": [{"match": "conv", "precision": "int4"}]})");
        QVERIFY(doc.loadRecipe(QString::fromStdString(path)));
        QCOMPARE(doc.lastWarnings().size(), 1);
        QVERIFY(doc.lastWarnings().first().contains(QStringLiteral("conv")));
    }

    void tableModelTester()
    {
        CompressionDocument doc;
        bonsai::ui::ModelEstimator estimator(&doc);
        LayerTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setCompression(&doc, &estimator);
        const auto m = testutil::openEditorModel();
        doc.setModel(m);
        model.setModel(m);
        QCOMPARE(model.columnCount(), int(LayerTableModel::NUM_COLUMNS));
        doc.edit({0, 4}, [](bonsai::LayerConfig& c) { c.sparsity = 0.5; }, QStringLiteral("sparse"));
        QTRY_VERIFY_WITH_TIMEOUT(estimator.isComplete(), 30000);
        model.setMode(LayerTableModel::Mode::Tensors);
        QVERIFY(!(model.flags(model.index(0, LayerTableModel::Precision)) & Qt::ItemIsEditable) ||
                model.index(0, 0).data(LayerTableModel::LayerRole).toInt() >= 0);
        model.setModel(nullptr);
        doc.setModel(nullptr);
    }

    void setDataPushesUndo()
    {
        CompressionDocument doc;
        LayerTableModel model;
        model.setCompression(&doc, nullptr);
        const auto m = testutil::openEditorModel();
        doc.setModel(m);
        model.setModel(m);
        const QModelIndex cell = model.index(1, LayerTableModel::Precision);
        QVERIFY(model.flags(cell) & Qt::ItemIsEditable);
        QVERIFY(!(model.flags(model.index(1, LayerTableModel::Bytes)) & Qt::ItemIsEditable));
        QSignalSpy dataChanged(&model, &QAbstractItemModel::dataChanged);
        QVERIFY(model.setData(cell, QStringLiteral("int4")));
        QCOMPARE(dataChanged.size(), 1);
        QCOMPARE(doc.config(1).precision, (bonsai::Precision{bonsai::PrecisionKind::Int, 4}));
        QCOMPARE(cell.data().toString(), QStringLiteral("int4"));
        QVERIFY(!model.setData(cell, QStringLiteral("int9")));
        QVERIFY(model.setData(model.index(1, LayerTableModel::Sparsity), QStringLiteral("2:4")));
        QCOMPARE(doc.config(1).pattern, bonsai::SparsityPattern::NM);
        QVERIFY(model.setData(model.index(1, LayerTableModel::Rank), 6));
        QCOMPARE(model.index(1, LayerTableModel::Rank).data().toString(), QStringLiteral("6"));
        QCOMPARE(doc.undoStack()->count(), 3);
        doc.undoStack()->undo();
        doc.undoStack()->undo();
        doc.undoStack()->undo();
        QVERIFY(doc.config(1).isIdentity());
        QCOMPARE(cell.data().toString(), QStringLiteral("unchanged"));

        // With several rows selected, an edit of a selected row applies to all of them.
        model.setSelectedLayers([] { return QList<int>{1, 3}; });
        QVERIFY(model.setData(model.index(3, LayerTableModel::Precision), QStringLiteral("fp16")));
        QCOMPARE(doc.config(1).precision.kind, bonsai::PrecisionKind::FP16);
        QCOMPARE(doc.config(3).precision.kind, bonsai::PrecisionKind::FP16);
        QVERIFY(doc.config(0).isIdentity());
        QCOMPARE(doc.undoStack()->count(), 1);
    }

    void estimatorAgreesWithCompressModel()
    {
        CompressionDocument doc;
        bonsai::ui::ModelEstimator estimator(&doc);
        const auto m = testutil::openEditorModel();
        doc.setModel(m);
        std::vector<bonsai::LayerConfig> configs(5, testutil::int4Group(16));
        configs[1].sparsity = 0.5;
        configs[1].scope = bonsai::SparsityScope::Global;
        configs[2].sparsity = 0.5;
        configs[2].scope = bonsai::SparsityScope::Global; // one shared threshold: whole-model path
        configs[3].rank = 4;
        doc.setConfigs({0, 1, 2, 3, 4}, configs, QStringLiteral("mixed"));
        QTRY_VERIFY_WITH_TIMEOUT(estimator.isComplete(), 30000);
        const bonsai::ModelResult expected = bonsai::compressModel(*m, configs);
        QCOMPARE(estimator.compressedBytes(), expected.compressedBytes);
        QCOMPARE(estimator.originalBytes(), expected.originalBytes);
        for (int i = 0; i < 5; ++i)
            QCOMPARE(estimator.result(i)->compressedBits, expected.layers[size_t(i)].compressedBits);

        // Back to per-layer scope: cached layers are reused, the totals still agree.
        configs[1].scope = configs[2].scope = bonsai::SparsityScope::Layer;
        doc.setConfigs({1, 2}, {configs[1], configs[2]}, QStringLiteral("layer scope"));
        QVERIFY(!estimator.isComplete());
        QTRY_VERIFY_WITH_TIMEOUT(estimator.isComplete(), 30000);
        QCOMPARE(estimator.compressedBytes(), bonsai::compressModel(*m, configs).compressedBytes);
    }

    // A configuration a layer had before is sized at once from the estimator's memory (no
    // debounce, no job), and equals compressLayer's result for it.
    void estimatorRemembersConfigurations()
    {
        CompressionDocument doc;
        bonsai::ui::ModelEstimator estimator(&doc);
        const auto m = testutil::openEditorModel();
        doc.setModel(m);
        const bonsai::LayerConfig a = testutil::int4Group(16);
        bonsai::LayerConfig b = a;
        b.rank = 4;
        doc.setConfigs({0}, {a}, QStringLiteral("a"));
        QTRY_VERIFY_WITH_TIMEOUT(estimator.isComplete() && !estimator.isBusy(), 30000);
        doc.setConfigs({0}, {b}, QStringLiteral("b"));
        QVERIFY(!estimator.isComplete()); // never had b: computed after the debounce
        QTRY_VERIFY_WITH_TIMEOUT(estimator.isComplete() && !estimator.isBusy(), 30000);
        doc.setConfigs({0}, {a}, QStringLiteral("a again"));
        QVERIFY(estimator.isComplete()); // remembered
        QVERIFY(!estimator.isBusy());
        QCOMPARE(estimator.result(0)->compressedBits, bonsai::compressLayer(*m, 0, a).compressedBits);
        doc.undoStack()->undo(); // back to b: remembered too
        QVERIFY(estimator.isComplete());
        QCOMPARE(estimator.result(0)->compressedBits, bonsai::compressLayer(*m, 0, b).compressedBits);
    }
};

QTEST_GUILESS_MAIN(TstSessionDocument)
#include "tst_session_document.moc"
