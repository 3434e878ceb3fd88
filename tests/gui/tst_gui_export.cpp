// File > Export… on the tiny Llama, headless: the dialog's check refuses INT8 (GGUF has no
// such type) with the layer named in its table and the Export button off; storing the nearest
// type turns every weight into Q8_0 and the export writes a GGUF Bonsai reads back with those
// types and the size the dialog announced; a cancelled export leaves the whole file or none.
#include "exportdialog.h"
#include "exportfeature.h"
#include "mainwindow.h"

#include "bonsai/model.h"
#include "bonsai/presets.h"

#include <QAction>
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

class TstGuiExport : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
    }

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

        QSignalSpy checked(dialog, &ExportDialog::checked);
        dialog->setAcceptMapping(true);
        QTRY_COMPARE_WITH_TIMEOUT(checked.size(), 1, 30000);
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
        const auto back = bonsai::Model::open(out.toStdString());
        QCOMPARE(back->tensors[size_t(back->findTensor("blk.2.ffn_up.weight"))].dtype, bonsai::DType::Q8_0);
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

QTEST_MAIN(TstGuiExport)
#include "tst_gui_export.moc"
