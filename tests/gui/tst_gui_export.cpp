// File > Export… on the tiny Llama, headless: the dialog's check refuses INT8 (GGUF has no
// such type) with the layer named in its table and the Export button off; storing the nearest
// type turns every weight into Q8_0 and the export writes a GGUF Bonsai reads back with those
// types and the size the dialog announced; a cancelled export leaves the whole file or none.
// While a tensor cannot be stored there is no prediction; once it can, the dialog predicts the
// perplexity the core gives on the Perplexity dock's text for the plan's configurations. On the
// demo CNN with the Evaluation dock's data set, the dialog predicts the accuracy the core
// Evaluator gives for the plan's configurations (and the uncompressed model's), and the check
// table's columns fit its width at 1366x768.
#include "compressiondocument.h"
#include "gui_demo.h"
#include "evalpanel.h"
#include "exportdialog.h"
#include "exportfeature.h"
#include "mainwindow.h"
#include "perplexitypanel.h"

#include "bonsai/dataset.h"
#include "bonsai/evaluate.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "bonsai/tokenizer.h"
#include "bonsai/presets.h"
#include "bonsai/provenance.h"

#include <QAction>
#include <QCryptographicHash>
#include <QDirIterator>
#include <QCheckBox>
#include <QDir>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

using bonsai::ui::ExportDialog;
using bonsai::ui::MainWindow;

static const bool forceOffscreen = [] {
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    return true;
}();

using guitest::fashionMnist;

// The demo CNN in a shown 1366x768 window, once it is open, with `data` in the Evaluation dock.
static bool openDemo(MainWindow& w, const QString& data) { return guitest::openDemo(w, data, QSize(1366, 768)); }

class TstGuiExport : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
    }

    void predictsAccuracy();
    void savedRecipeRecordsProvenance();

    void checkAndExport()
    {
        MainWindow w;
        w.setErrorDialogsEnabled(false);
        w.resize(1400, 900);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        auto* action = w.findChild<QAction*>(QStringLiteral("exportAction"));
        QVERIFY(action);
        QVERIFY(!action->isEnabled()); // nothing open yet
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        w.openPath(QStringLiteral(BONSAI_TEST_DATA "/tiny-llama"));
        QTRY_COMPARE_WITH_TIMEOUT(opened.size(), 1, 60000);
        QVERIFY(action->isEnabled());
        w.applyPreset(bonsai::Preset::Int8PerChannel);

        action->trigger();
        auto* dialog = w.findChild<ExportDialog*>();
        QVERIFY(dialog && dialog->isVisible());
        // The suggested name sits beside the checkpoint.
        auto* path = dialog->findChild<QLineEdit*>(QStringLiteral("exportPath"));
        QVERIFY(path->text().endsWith(QStringLiteral("tiny-llama/tiny-llama-compressed.gguf")));
        auto* table = dialog->findChild<QTableWidget*>(QStringLiteral("exportCheck"));
        auto* button = dialog->findChild<QPushButton*>(QStringLiteral("exportButton"));
        QTRY_VERIFY_WITH_TIMEOUT(dialog->isChecked(), 30000); // the check runs on the worker
        QCOMPARE(table->rowCount(), 4 * 9 + 2);
        QVERIFY(!button->isEnabled());
        int impossible = 0;
        for (int r = 0; r < table->rowCount(); ++r)
            impossible += table->item(r, 4)->text() == QStringLiteral("impossible");
        QCOMPARE(impossible, 29);
        QVERIFY(dialog->findChild<QLabel*>(QStringLiteral("exportSummary"))->text().contains(QStringLiteral("29 tensor")));
        QTRY_VERIFY_WITH_TIMEOUT(!dialog->isPredicting(), 30000);
        auto* prediction = dialog->findChild<QLabel*>(QStringLiteral("exportPrediction"));
        QVERIFY2(prediction->text().contains(QStringLiteral("cannot be stored")), qPrintable(prediction->text()));

        QSignalSpy checked(dialog, &ExportDialog::checked);
        QSignalSpy predicted(dialog, &ExportDialog::predicted);
        dialog->setAcceptMapping(true);
        QTRY_COMPARE_WITH_TIMEOUT(checked.size(), 1, 30000);
        // The perplexity on the Perplexity dock's text, as the core gives it for the plan's
        // configurations (Q8_0 weights) with the dock's context and chunks.
        QTRY_COMPARE_WITH_TIMEOUT(predicted.size(), 1, 120000);
        const bonsai::PerplexityOptions popt = w.perplexityPanel()->options();
        const QString text = w.perplexityPanel()->textFile();
        QVERIFY(!text.isEmpty());
        {
            const auto lmModel = bonsai::Model::open(BONSAI_TEST_DATA "/tiny-llama");
            const bonsai::LanguageModel lm(*lmModel);
            const auto r = lm.perplexity(lm.tokenizer().encode(bonsai::readTextFile(text.toStdString())),
                                         dialog->plan().configs, popt);
            QCOMPARE(dialog->prediction().metric, bonsai::ui::ExportPrediction::Metric::Perplexity);
            QCOMPARE(dialog->prediction().value, r.perplexity);
            QCOMPARE(dialog->prediction().uncompressed, r.basePerplexity);
            QVERIFY(r.perplexity != r.basePerplexity);
            QLocale grouped; // thousands grouped, as the window shows counts
            grouped.setNumberOptions(QLocale::DefaultNumberOptions);
            QCOMPARE(prediction->text(), QStringLiteral("Predicted perplexity: %1 (uncompressed %2) on %3 tokens of %4")
                                             .arg(r.perplexity, 0, 'f', 4)
                                             .arg(r.basePerplexity, 0, 'f', 4)
                                             .arg(grouped.toString(qulonglong(r.tokens)))
                                             .arg(QFileInfo(text).fileName()));
        }
        QVERIFY(button->isEnabled());
        for (int r = 0; r < table->rowCount(); ++r)
            if (table->item(r, 0)->text().contains(QStringLiteral("proj")))
                QCOMPARE(table->item(r, 3)->text(), QStringLiteral("Q8_0"));
        QTemporaryDir dir;
        const QString out = dir.filePath(QStringLiteral("tiny-q8.gguf"));
        dialog->setPath(out);
        QSignalSpy exported(dialog, &ExportDialog::exported);
        const qint64 announced = qint64(dialog->plan().fileBytes);
        button->click();
        QTRY_COMPARE_WITH_TIMEOUT(exported.size(), 1, 60000);
        QCOMPARE(QFileInfo(out).size(), announced);
        // The file records the text its perplexity was predicted on.
        const bonsai::Provenance recorded = bonsai::readRecordedProvenance(out.toStdString());
        QCOMPARE(recorded.calibration.size(), size_t(1));
        QCOMPARE(recorded.calibration[0].use, std::string("perplexity"));
        QCOMPARE(QString::fromStdString(recorded.calibration[0].path), QFileInfo(text).absoluteFilePath());
        const auto back = bonsai::Model::open(out.toStdString());
        QCOMPARE(back->tensors[size_t(back->findTensor("blk.2.ffn_up.weight"))].dtype, bonsai::DType::Q8_0);
        dialog->resize(1300, 700); // within a 1366x768 screen
        // Wider: the names fit whole again, and Why still ends inside the table.
        int longest = 0;
        for (int r = 0; r < table->rowCount(); ++r)
            longest = std::max(longest, table->fontMetrics().horizontalAdvance(table->item(r, 0)->text()));
        QTRY_VERIFY(table->columnWidth(0) > longest);
        QVERIFY(table->columnViewportPosition(6) + table->columnWidth(6) <= table->viewport()->width());
        if (qEnvironmentVariableIsSet("BONSAI_SNAPSHOT_DIR"))
            dialog->grab().save(qEnvironmentVariable("BONSAI_SNAPSHOT_DIR") + QStringLiteral("/export-dialog.png"));

        // Cancel right after Export: the job stops at its first check or has already finished;
        // either way the folder holds the whole file or nothing (no temporary, no part).
        QTemporaryDir other;
        const QString second = other.filePath(QStringLiteral("cancelled.gguf"));
        dialog->setPath(second);
        auto* cancel = dialog->findChild<QPushButton*>(QStringLiteral("cancelButton"));
        QVERIFY(cancel);
        button->click();
        QVERIFY(dialog->isRunning());
        cancel->click();
        QTRY_VERIFY_WITH_TIMEOUT(!dialog->isRunning(), 60000);
        const QStringList left = QDir(other.path()).entryList(QDir::Files | QDir::NoDotAndDotDot);
        if (exported.size() == 2) {
            QCOMPARE(left, QStringList{QStringLiteral("cancelled.gguf")});
            QCOMPARE(QFileInfo(second).size(), announced);
        } else {
            QVERIFY2(left.isEmpty(), qPrintable(left.join(QLatin1Char(' '))));
        }
    }
};

void TstGuiExport::predictsAccuracy()
{
    const QString data = fashionMnist();
    if (data.isEmpty())
        QSKIP("the Fashion-MNIST test set is not installed");
    MainWindow w;
    QVERIFY(openDemo(w, data));
    w.evalPanel()->setLimit(1000);
    QTemporaryDir dir;
    const QString recipe = dir.filePath(QStringLiteral("r.json"));
    QFile f(recipe);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(R"({"bonsai_recipe": 1, "defaults": {"precision": "int4", "granularity": "group", "group_size": 32},
                "rules": [{"match": "^fc2$", "precision": "int3", "granularity": "channel"}]})");
    f.close();
    QVERIFY(w.applyRecipeFile(recipe));

    ExportDialog* dialog = w.exportFeature()->openDialog();
    QVERIFY(dialog);
    dialog->resize(1300, 700); // within a 1366x768 screen
    QSignalSpy predicted(dialog, &ExportDialog::predicted);
    QTRY_COMPARE_WITH_TIMEOUT(predicted.size(), 1, 120000); // computed on the worker
    QVERIFY(dialog->isChecked());
    const auto& p = dialog->prediction();
    QCOMPARE(p.metric, bonsai::ui::ExportPrediction::Metric::Accuracy);

    // The core Evaluator on the plan's configurations, in this thread, independently.
    const auto model = bonsai::Model::open(BONSAI_DEMO_MODEL);
    const auto set = bonsai::openDataset(data.toStdString());
    bonsai::EvalOptions opt;
    opt.limit = 1000;
    bonsai::Evaluator ev(*model, *set, opt);
    const double compressed = ev.evaluate(dialog->plan().configs).metrics.top1;
    const double uncompressed = ev.reference().metrics.top1;
    QCOMPARE(p.value, compressed);
    QCOMPARE(p.uncompressed, uncompressed);
    QCOMPARE(p.samples, qint64(1000));
    QVERIFY(compressed != uncompressed);
    const QString label = dialog->findChild<QLabel*>(QStringLiteral("exportPrediction"))->text();
    const QString expected = QStringLiteral("Predicted accuracy: %1% (uncompressed %2%) on 1,000 test images of fashion-mnist")
                                 .arg(100 * compressed, 0, 'f', 2)
                                 .arg(100 * uncompressed, 0, 'f', 2);
    QCOMPARE(label, expected);

    // The check table fits: the Why column ends inside the table, and wraps.
    auto* table = dialog->findChild<QTableWidget*>(QStringLiteral("exportCheck"));
    QTRY_VERIFY(table->isVisible());
    const int last = table->columnCount() - 1;
    QVERIFY2(table->columnViewportPosition(last) + table->columnWidth(last) <= table->viewport()->width(),
             qPrintable(QStringLiteral("%1 + %2 > %3")
                            .arg(table->columnViewportPosition(last))
                            .arg(table->columnWidth(last))
                            .arg(table->viewport()->width())));
    QVERIFY(table->columnWidth(last) >= table->viewport()->width() / 4);
    // layer1's reason is longer than the column: its row grows to the wrapped lines (fc1 has none).
    QVERIFY2(table->rowHeight(0) > table->rowHeight(2), qPrintable(table->item(0, last)->text()));
    if (qEnvironmentVariableIsSet("BONSAI_SNAPSHOT_DIR"))
        dialog->grab().save(qEnvironmentVariable("BONSAI_SNAPSHOT_DIR") + QStringLiteral("/export-dialog-onnx.png"));

    // Stop as soon as the check is shown: the prediction stops, the check stands and the
    // export stays possible.
    ExportDialog* again = w.exportFeature()->openDialog();
    connect(again, &ExportDialog::checked, again, &ExportDialog::stopPrediction);
    QSignalSpy againPredicted(again, &ExportDialog::predicted);
    QTRY_COMPARE_WITH_TIMEOUT(againPredicted.size(), 1, 120000);
    const QString after = again->findChild<QLabel*>(QStringLiteral("exportPrediction"))->text();
    QVERIFY2(after.startsWith(QStringLiteral("Prediction stopped")), qPrintable(after));
    QCOMPARE(again->prediction().metric, bonsai::ui::ExportPrediction::Metric::None);
    QVERIFY(again->isChecked() && again->isWritable());

    // Export while the prediction runs: the export supersedes it and writes the file, of the
    // size the check announced (its record of the data set included).
    ExportDialog* third = w.exportFeature()->openDialog();
    QTemporaryDir outDir;
    const QString out = outDir.filePath(QStringLiteral("cnn.onnx"));
    third->setPath(out);
    connect(third, &ExportDialog::checked, third, &ExportDialog::startExport);
    QSignalSpy written(third, &ExportDialog::exported);
    QTRY_COMPARE_WITH_TIMEOUT(written.size(), 1, 60000);
    QVERIFY(third->findChild<QLabel*>(QStringLiteral("exportPrediction"))->text().contains(QStringLiteral("stopped by the export")));
    QCOMPARE(QFileInfo(out).size(), qint64(third->plan().fileBytes));
    QVERIFY(!again->isPredicting());
}

static QByteArray sha256Of(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    QCryptographicHash h(QCryptographicHash::Sha256);
    h.addData(&f);
    return h.result().toHex();
}

// File > Save Recipe with GPTQ layers: the recipe is written in the background (the window is
// still modified when the call returns), then records the model file with the SHA-256 Qt's
// QCryptographicHash gives, and the Evaluation dock's data set as the calibration data (its
// digest: the SHA-256 of the sha256sum listing of its files, built here with Qt).
void TstGuiExport::savedRecipeRecordsProvenance()
{
    const QString data = fashionMnist();
    if (data.isEmpty())
        QSKIP("the Fashion-MNIST test set is not installed");
    MainWindow w;
    QVERIFY(openDemo(w, data));
    w.applyPreset(bonsai::Preset::Int4Group128Gptq);
    QVERIFY(w.isWindowModified());
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("gptq.recipe.json"));
    QSignalSpy saved(&w, &MainWindow::recipeSaved);
    QVERIFY(w.saveRecipeTo(path));
    QVERIFY(w.isWindowModified()); // not yet: the digests are computed on the worker
    QTRY_COMPARE_WITH_TIMEOUT(saved.size(), 1, 60000);
    QVERIFY(!w.isWindowModified());

    const bonsai::Provenance p = bonsai::readRecordedProvenance(path.toStdString());
    const QString model = QFileInfo(QStringLiteral(BONSAI_DEMO_MODEL)).absoluteFilePath();
    bool named = false;
    for (const auto& f : p.files)
        if (QString::fromStdString(f.path) == model) {
            named = true;
            QCOMPARE(QByteArray::fromStdString(f.sha256), sha256Of(model));
            QCOMPARE(qint64(f.bytes), QFileInfo(model).size());
        }
    QVERIFY(named);

    QCOMPARE(p.calibration.size(), size_t(1));
    const bonsai::ProvenanceCalibration& c = p.calibration[0];
    QCOMPARE(QString::fromStdString(c.path), QFileInfo(data).absoluteFilePath());
    QCOMPARE(c.use, std::string("gptq"));
    QCOMPARE(c.samples, int64_t(w.document()->config(0).calibSamples));
    QStringList files;
    for (QDirIterator it(data, QDir::Files, QDirIterator::Subdirectories); it.hasNext();)
        files << QDir(data).relativeFilePath(it.next());
    std::sort(files.begin(), files.end(), [](const QString& a, const QString& b) { return a.toUtf8() < b.toUtf8(); });
    QByteArray listing;
    for (const QString& f : files)
        listing += sha256Of(QDir(data).filePath(f)) + "  " + f.toUtf8() + "\n";
    QCOMPARE(QByteArray::fromStdString(c.sha256), QCryptographicHash::hash(listing, QCryptographicHash::Sha256).toHex());
}

QTEST_MAIN(TstGuiExport)
#include "tst_gui_export.moc"
