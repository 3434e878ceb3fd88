// The compression editor's document, recipes and table columns, headless: undo/redo, slider
// drags merging into one step, clean state, recipe round trip and bad recipes, the table model
// with the editable columns, presets and the model totals against compressModel(); the
// inspector's quantization method controls (GPTQ/AWQ) and the preview's round-to-nearest note.
#include "compressiondocument.h"
#include "configinspector.h"
#include "bonsai/presets.h"
#include "configtext.h"
#include "helppane.h"
#include "layertablemodel.h"
#include "modelestimator.h"
#include "previewform.h"
#include "previewrunner.h"
#include "quantcontrols.h"
#include "sparsitycontrols.h"

#include "bonsai/compress.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"
#include "testutil.h"

#include <QAbstractItemModelTester>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSlider>
#include <QSpinBox>
#include <QUndoStack>
#include <QtTest>

#include <random>

using bonsai::ui::CompressionDocument;
using bonsai::ui::LayerTableModel;

namespace {

std::vector<float> gaussian(size_t n, unsigned seed)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, 0.05f);
    std::vector<float> v(n);
    for (auto& x : v)
        x = g(rng);
    return v;
}

// embed_tokens (Embedding), two blocks of Linear layers and an output projection.
std::shared_ptr<const bonsai::Model> openModel()
{
    static const std::string path = [] {
        std::vector<testutil::StEntry> e;
        auto add = [&](const std::string& name, int64_t rows, int64_t cols) {
            e.push_back({name, "F32", {rows, cols}, testutil::floatBytes(gaussian(size_t(rows * cols), unsigned(e.size() + 1)))});
        };
        add("model.embed_tokens.weight", 64, 32);
        add("model.layers.0.mlp.up_proj.weight", 48, 32);
        add("model.layers.0.mlp.down_proj.weight", 32, 48);
        add("model.layers.1.self_attn.q_proj.weight", 32, 32);
        add("lm_head.weight", 64, 32);
        return testutil::writeTemp("editor.safetensors", testutil::makeSafetensors(e));
    }();
    return bonsai::Model::open(path);
}

bonsai::LayerConfig int4g(uint32_t group)
{
    bonsai::LayerConfig c;
    c.precision = {bonsai::PrecisionKind::Int, 4};
    c.granularity = bonsai::Granularity::Group;
    c.groupSize = group;
    return c;
}

// Picks `data` in a combo as a user would (activated() is what the inspector listens to).
void choose(QComboBox* combo, const QVariant& data)
{
    const int i = combo->findData(data);
    QVERIFY2(i >= 0, qPrintable(data.toString()));
    combo->setCurrentIndex(i);
    emit combo->activated(i);
}

// Where the tests save the snapshots they take: BONSAI_SNAPSHOT_DIR to keep them, else the
// temporary directory.
QString snapshotDir()
{
    return qEnvironmentVariableIsSet("BONSAI_SNAPSHOT_DIR") ? qEnvironmentVariable("BONSAI_SNAPSHOT_DIR")
                                                             : testutil::tempDir();
}

} // namespace

static const bool forceOffscreen = [] {
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    return true;
}();

class TstGuiCompress : public QObject {
    Q_OBJECT
private slots:
    void undoRedo()
    {
        CompressionDocument doc;
        doc.setModel(openModel());
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
        doc.setModel(openModel());
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

    void inspectorSliderMerges()
    {
        CompressionDocument doc;
        doc.setModel(openModel());
        bonsai::ui::ConfigInspector inspector(&doc);
        inspector.setLayers({1, 3});
        QSlider* slider = inspector.sparsity()->slider();
        slider->setSliderDown(true);
        for (int v : {5, 10, 20, 40})
            slider->setValue(v);
        slider->setSliderDown(false); // emits sliderReleased
        QCOMPARE(doc.undoStack()->count(), 1);
        QCOMPARE(doc.config(1).sparsity, 0.4);
        QCOMPARE(doc.config(3).sparsity, 0.4);
        QVERIFY(doc.config(0).isIdentity());
        slider->setValue(60);
        QCOMPARE(doc.undoStack()->count(), 2);
        doc.undoStack()->undo();
        QCOMPARE(doc.config(3).sparsity, 0.4);
    }

    void cleanAfterSave()
    {
        CompressionDocument doc;
        doc.setModel(openModel());
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
        doc.setModel(openModel());
        std::vector<bonsai::LayerConfig> configs(5, int4g(32));
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
        other.setModel(openModel());
        QVERIFY2(other.loadRecipe(path), qPrintable(other.lastError()));
        QVERIFY(other.configs() == configs);
        QVERIFY(other.lastWarnings().isEmpty());
        QVERIFY(!other.isModified());
        // Loading is one undoable step.
        other.undoStack()->undo();
        QVERIFY(other.config(0).isIdentity());
        // The CLI's reading of the same file gives the same configurations.
        const auto model = openModel();
        QVERIFY(bonsai::resolveConfigs(*model, bonsai::Recipe::load(path.toStdString())) == configs);
    }

    void badRecipeChangesNothing()
    {
        CompressionDocument doc;
        doc.setModel(openModel());
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
        doc.setModel(openModel());
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
        const auto m = openModel();
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
        const auto m = openModel();
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

    void presetsKeepEmbeddingsAndOutput()
    {
        const auto m = openModel();
        const auto configs = bonsai::presetConfigs(bonsai::Preset::Int4Group128, *m);
        QCOMPARE(configs.size(), size_t(5));
        QCOMPARE(configs[0].precision.kind, bonsai::PrecisionKind::FP16); // embed_tokens
        QCOMPARE(configs[4].precision.kind, bonsai::PrecisionKind::FP16); // lm_head
        QVERIFY(configs[1] == int4g(128));
        const auto sparse = bonsai::presetConfigs(bonsai::Preset::Sparse24Int8, *m);
        QCOMPARE(sparse[2].pattern, bonsai::SparsityPattern::NM);
        QCOMPARE(sparse[2].precision.bits, 8);
        for (const auto& c : bonsai::presetConfigs(bonsai::Preset::Reset, *m))
            QVERIFY(c.isIdentity());
    }

    void inspectorMethodGptq()
    {
        CompressionDocument doc;
        doc.setModel(openModel());
        bonsai::ui::ConfigInspector inspector(&doc);
        inspector.setLayers({1, 3});
        bonsai::ui::QuantControls* q = inspector.quant();
        // Unchanged and fp16: no integer levels to choose, the method controls are greyed.
        QVERIFY(!q->methodCombo()->isEnabled());
        choose(q->precisionCombo(), QStringLiteral("fp16"));
        QCOMPARE(doc.config(3).precision.kind, bonsai::PrecisionKind::FP16);
        for (QWidget* w : std::initializer_list<QWidget*>{q->methodCombo(), q->actOrderCheck(), q->dampingSpin(), q->calibrationSpin()})
            QVERIFY(!w->isEnabled());
        choose(q->precisionCombo(), QStringLiteral("int4"));
        QVERIFY(q->methodCombo()->isEnabled());
        QVERIFY(!q->calibrationSpin()->isEnabled()); // round to nearest needs no data
        QVERIFY(!q->actOrderCheck()->isEnabled());
        QVERIFY(q->calibrationSpin()->isHidden() && q->dampingSpin()->isHidden()); // shown when they matter
        QVERIFY(!q->methodCombo()->toolTip().isEmpty() && !q->actOrderCheck()->toolTip().isEmpty() &&
                !q->dampingSpin()->toolTip().isEmpty() && !q->calibrationSpin()->toolTip().isEmpty());
        QCOMPARE(q->dampingSpin()->value(), 0.01);
        QCOMPARE(q->calibrationSpin()->value(), 32);
        const int before = doc.undoStack()->count();

        choose(q->methodCombo(), int(bonsai::QuantMethod::GPTQ));
        QVERIFY(q->actOrderCheck()->isEnabled() && q->dampingSpin()->isEnabled() && q->calibrationSpin()->isEnabled());
        QVERIFY(!q->calibrationSpin()->isHidden() && !q->dampingSpin()->isHidden() && !q->actOrderCheck()->isHidden());
        q->actOrderCheck()->click();
        for (int l : {1, 3}) {
            QCOMPARE(doc.config(l).method, bonsai::QuantMethod::GPTQ);
            QVERIFY(doc.config(l).actOrder);
            QVERIFY(doc.config(l).needsCalibration());
        }
        QVERIFY(doc.config(0).isIdentity());
        QCOMPARE(bonsai::ui::precisionText(doc.config(1)), QStringLiteral("int4 gptq"));
        QCOMPARE(doc.undoStack()->count(), before + 2);

        // Spin-box steps merge into one step each.
        for (double d : {0.02, 0.05, 0.1})
            q->dampingSpin()->setValue(d);
        for (int n : {40, 64})
            q->calibrationSpin()->setValue(n);
        QCOMPARE(doc.undoStack()->count(), before + 4);
        QCOMPARE(doc.config(3).damping, 0.1);
        QCOMPARE(doc.config(1).calibSamples, 64);
        doc.undoStack()->undo();
        doc.undoStack()->undo();
        QCOMPARE(doc.config(3).damping, 0.01);
        QCOMPARE(doc.config(1).calibSamples, 32);
        QCOMPARE(q->dampingSpin()->value(), 0.01); // the inspector follows undo

        doc.undoStack()->undo(); // act-order
        doc.undoStack()->undo(); // method
        for (int l : {1, 3}) {
            QCOMPARE(doc.config(l).method, bonsai::QuantMethod::RTN);
            QVERIFY(!doc.config(l).actOrder);
        }
        QCOMPARE(q->methodCombo()->currentData().toInt(), int(bonsai::QuantMethod::RTN));
        QVERIFY(!q->actOrderCheck()->isChecked() && !q->actOrderCheck()->isEnabled());
        QCOMPARE(bonsai::ui::precisionText(doc.config(1)), QStringLiteral("int4"));

        // Snapshots to look at: the inspector in a dock-sized box, round to nearest, then GPTQ.
        inspector.resize(340, 850);
        inspector.show(); // laid out as on screen (scroll bar only when needed)
        QVERIFY(QTest::qWaitForWindowExposed(&inspector));
        QVERIFY(inspector.grab().save(snapshotDir() + QStringLiteral("/inspector_rtn.png")));
        choose(q->methodCombo(), int(bonsai::QuantMethod::GPTQ));
        QTest::qWait(20); // the rows just shown get laid out
        QVERIFY(inspector.grab().save(snapshotDir() + QStringLiteral("/inspector_gptq.png")));
        inspector.resize(250, 850); // the dock's minimum width
        QTest::qWait(20);
        QVERIFY(inspector.grab().save(snapshotDir() + QStringLiteral("/inspector_gptq_narrow.png")));
    }

    void inspectorAwqSavesRecipe()
    {
        CompressionDocument doc;
        doc.setModel(openModel());
        bonsai::ui::ConfigInspector inspector(&doc);
        inspector.setLayers({2});
        bonsai::ui::QuantControls* q = inspector.quant();
        choose(q->precisionCombo(), QStringLiteral("int4"));
        choose(q->methodCombo(), int(bonsai::QuantMethod::AWQ));
        QVERIFY(q->calibrationSpin()->isEnabled());
        QVERIFY(!q->dampingSpin()->isEnabled() && !q->actOrderCheck()->isEnabled()); // GPTQ only
        q->calibrationSpin()->setValue(16);
        QCOMPARE(doc.config(2).method, bonsai::QuantMethod::AWQ);
        QCOMPARE(doc.config(2).calibSamples, 16);

        const QString path = testutil::tempDir() + QStringLiteral("/awq.json");
        QVERIFY2(doc.saveRecipe(path), qPrintable(doc.lastError()));
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray bytes = f.readAll();
        bool found = false;
        const QJsonArray rules = QJsonDocument::fromJson(bytes).object().value(QStringLiteral("rules")).toArray();
        for (const QJsonValue& r : rules)
            found = found || r.toObject().value(QStringLiteral("method")).toString() == QStringLiteral("awq");
        QVERIFY2(found, bytes.constData());
        CompressionDocument other;
        other.setModel(openModel());
        QVERIFY2(other.loadRecipe(path), qPrintable(other.lastError()));
        QVERIFY(other.configs() == doc.configs());
    }

    void previewSaysRoundToNearest()
    {
        const auto m = openModel();
        bonsai::LayerConfig c = int4g(32);
        c.method = bonsai::QuantMethod::GPTQ;
        bonsai::ui::PreviewResult p;
        p.layer = 1;
        p.result = bonsai::compressLayer(*m, 1, c); // no calibration data: round to nearest
        bonsai::ui::HelpPane help;
        bonsai::ui::PreviewForm form(&help);
        form.setResult(p);
        const QString notes = form.valueText(QStringLiteral("notes"));
        QVERIFY2(notes.contains(QStringLiteral("Round-to-nearest preview")), qPrintable(notes));
        QVERIFY2(notes.contains(QStringLiteral("needs calibration data")), qPrintable(notes));
        QVERIFY2(notes.contains(QStringLiteral("Perplexity")), qPrintable(notes));
        // Round to nearest itself says nothing of the kind.
        p.result = bonsai::compressLayer(*m, 1, int4g(32));
        form.setResult(p);
        QVERIFY(!form.valueText(QStringLiteral("notes")).contains(QStringLiteral("calibration")));
        p.result = bonsai::compressLayer(*m, 1, c);
        form.setResult(p);
        form.resize(520, form.heightForWidth(520) > 0 ? form.heightForWidth(520) : form.sizeHint().height());
        QVERIFY(form.grab().save(snapshotDir() + QStringLiteral("/preview_gptq.png")));
    }

    void gptqPreset()
    {
        const auto m = openModel();
        const auto configs = bonsai::presetConfigs(bonsai::Preset::Int4Group128Gptq, *m);
        QCOMPARE(configs[0].precision.kind, bonsai::PrecisionKind::FP16);
        QCOMPARE(configs[0].method, bonsai::QuantMethod::RTN);
        bonsai::LayerConfig expected = int4g(128);
        expected.method = bonsai::QuantMethod::GPTQ;
        QVERIFY(configs[1] == expected);
    }

    void estimatorAgreesWithCompressModel()
    {
        CompressionDocument doc;
        bonsai::ui::ModelEstimator estimator(&doc);
        const auto m = openModel();
        doc.setModel(m);
        std::vector<bonsai::LayerConfig> configs(5, int4g(16));
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
};

QTEST_MAIN(TstGuiCompress)
#include "tst_gui_compress.moc"
