// The compression editor's widgets on the document: a slider drag in the inspector merging
// into one step, presets, the inspector's quantization method controls (GPTQ/AWQ) and the
// preview's round-to-nearest note. The document, recipes, table model and estimator without
// widgets are tested in tests/session/tst_session_document.
#include "compressiondocument.h"
#include "configinspector.h"
#include "bonsai/presets.h"
#include "configtext.h"
#include "energychart.h"
#include "rankcontrols.h"
#include "helppane.h"
#include "previewform.h"
#include "previewrunner.h"
#include "quantcontrols.h"
#include "sparsitycontrols.h"

#include "bonsai/compress.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"
#include "editor_model.h"
#include "testutil.h"

#include <QAction>
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
#include <QVBoxLayout>
#include <QtTest>

#include <Eigen/SVD>

#include <random>

using bonsai::ui::CompressionDocument;

namespace {

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
    void inspectorSliderMerges()
    {
        CompressionDocument doc;
        doc.setModel(testutil::openEditorModel());
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

    // "rank r" starts at the rank that keeps 95% of the energy (here a rank-3 matrix plus a
    // little noise: 3, by an SVD taken here); typing "12" into the rank box is one undo step
    // named "Rank 12", and Ctrl+Z in the box undoes the document.
    void rankStartsAt95PercentAndUndoesFromTheSpinBox()
    {
        const int64_t n = 64;
        std::mt19937 rng(5);
        std::normal_distribution<float> g(0.0f, 1.0f);
        Eigen::MatrixXf u(n, 3), v(3, n), noise(n, n);
        for (auto* m : {&u, &v, &noise})
            for (Eigen::Index i = 0; i < m->size(); ++i)
                m->data()[i] = g(rng);
        const Eigen::MatrixXf w = u * v + 0.01f * noise;
        std::vector<float> rowMajor(size_t(n * n));
        for (int64_t r = 0; r < n; ++r)
            for (int64_t c = 0; c < n; ++c)
                rowMajor[size_t(r * n + c)] = w(r, c);
        const Eigen::VectorXf sv = Eigen::JacobiSVD<Eigen::MatrixXf>(w).singularValues();
        const double total = sv.array().square().sum();
        int at95 = 0;
        for (double kept = 0; kept < 0.95 * total; ++at95)
            kept += double(sv[at95]) * sv[at95];
        QCOMPARE(at95, 3);

        CompressionDocument doc;
        QWidget window;
        auto* layout = new QVBoxLayout(&window);
        auto* inspector = new bonsai::ui::ConfigInspector(&doc, &window);
        layout->addWidget(inspector);
        doc.setModel(bonsai::Model::open(testutil::writeTemp(
            "lowrank.safetensors",
            testutil::makeSafetensors({{"proj.weight", "F32", {n, n}, testutil::floatBytes(rowMajor)}}))));
        auto* undo = new QAction(&window);
        undo->setShortcut(QKeySequence::Undo);
        connect(undo, &QAction::triggered, doc.undoStack(), &QUndoStack::undo);
        window.addAction(undo);
        window.resize(420, 900);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        inspector->setLayers({0});
        auto* energy = inspector->rank()->findChild<bonsai::ui::EnergyChart*>();
        QVERIFY(energy);
        QTRY_VERIFY_WITH_TIMEOUT(energy->curve() != nullptr, 20000); // the spectrum arrived
        auto* mode = inspector->rank()->findChild<QComboBox*>();
        mode->setCurrentIndex(1);
        emit mode->activated(1); // "rank r"
        QCOMPARE(doc.config(0).rank, at95);

        auto* rank = inspector->rank()->findChild<QSpinBox*>();
        QVERIFY(rank);
        rank->setFocus();
        QTRY_VERIFY(rank->hasFocus());
        rank->selectAll();
        QTest::keyClicks(rank, QStringLiteral("12"));
        QCOMPARE(doc.config(0).rank, 12);
        QCOMPARE(doc.undoStack()->count(), 2);
        QVERIFY2(doc.undoStack()->text(1).endsWith(QStringLiteral("Rank 12")), qPrintable(doc.undoStack()->text(1)));
        QTest::keyClick(rank, Qt::Key_Z, Qt::ControlModifier);
        QCOMPARE(doc.config(0).rank, at95);
        QCOMPARE(doc.undoStack()->index(), 1);
    }

    void presetsKeepEmbeddingsAndOutput()
    {
        const auto m = testutil::openEditorModel();
        const auto configs = bonsai::presetConfigs(bonsai::Preset::Int4Group128, *m);
        QCOMPARE(configs.size(), size_t(5));
        QCOMPARE(configs[0].precision.kind, bonsai::PrecisionKind::FP16); // embed_tokens
        QCOMPARE(configs[4].precision.kind, bonsai::PrecisionKind::FP16); // lm_head
        QVERIFY(configs[1] == testutil::int4Group(128));
        const auto sparse = bonsai::presetConfigs(bonsai::Preset::Sparse24Int8, *m);
        QCOMPARE(sparse[2].pattern, bonsai::SparsityPattern::NM);
        QCOMPARE(sparse[2].precision.bits, 8);
        for (const auto& c : bonsai::presetConfigs(bonsai::Preset::Reset, *m))
            QVERIFY(c.isIdentity());
    }

    void inspectorMethodGptq()
    {
        CompressionDocument doc;
        doc.setModel(testutil::openEditorModel());
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
        doc.setModel(testutil::openEditorModel());
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
        other.setModel(testutil::openEditorModel());
        QVERIFY2(other.loadRecipe(path), qPrintable(other.lastError()));
        QVERIFY(other.configs() == doc.configs());
    }

    void previewSaysRoundToNearest()
    {
        const auto m = testutil::openEditorModel();
        bonsai::LayerConfig c = testutil::int4Group(32);
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
        p.result = bonsai::compressLayer(*m, 1, testutil::int4Group(32));
        form.setResult(p);
        QVERIFY(!form.valueText(QStringLiteral("notes")).contains(QStringLiteral("calibration")));
        p.result = bonsai::compressLayer(*m, 1, c);
        form.setResult(p);
        form.resize(520, form.heightForWidth(520) > 0 ? form.heightForWidth(520) : form.sizeHint().height());
        QVERIFY(form.grab().save(snapshotDir() + QStringLiteral("/preview_gptq.png")));
    }

    void gptqPreset()
    {
        const auto m = testutil::openEditorModel();
        const auto configs = bonsai::presetConfigs(bonsai::Preset::Int4Group128Gptq, *m);
        QCOMPARE(configs[0].precision.kind, bonsai::PrecisionKind::FP16);
        QCOMPARE(configs[0].method, bonsai::QuantMethod::RTN);
        bonsai::LayerConfig expected = testutil::int4Group(128);
        expected.method = bonsai::QuantMethod::GPTQ;
        QVERIFY(configs[1] == expected);
    }
};

QTEST_MAIN(TstGuiCompress)
#include "tst_gui_compress.moc"
