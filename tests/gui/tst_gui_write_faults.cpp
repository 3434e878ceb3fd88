// Faults while writing, in the window: saving a recipe or exporting the trade-off table and the
// charts (CSV, PNG, SVG) into a folder that was removed, or under a path that is a file (and
// the exports into a folder the user may not write into), says what failed (the message names the file and the fault), keeps the document as it was (still
// modified, the same configurations) and leaves no file behind.
#include "compressiondocument.h"
#include "evalpanel.h"
#include "mainwindow.h"

#include "bonsai/model.h"
#include "bonsai/presets.h"
#include "testutil.h"

#include <QSignalSpy>
#include <QStatusBar>
#include <QtTest>

#include <filesystem>

using bonsai::ui::CompressionDocument;
using bonsai::ui::EvalPanel;
using bonsai::ui::MainWindow;
namespace fs = std::filesystem;

namespace {

std::string modelPath()
{
    static const std::string path = testutil::writeTemp(
        "faults.safetensors",
        testutil::makeSafetensors({{"fc1.weight", "F32", {16, 8}, testutil::floatBytes(std::vector<float>(128, 0.25f))},
                                   {"fc2.weight", "F32", {8, 16}, testutil::floatBytes(std::vector<float>(128, -0.5f))}}));
    return path;
}

// A folder that existed and was removed, and a path whose parent is a plain file.
struct Destinations {
    QString removed, underFile;
};

Destinations destinations(const std::string& name, const QString& file)
{
    const std::string dir = testutil::tempPath(name + "-removed");
    fs::create_directories(dir);
    fs::remove_all(dir);
    const std::string plain = testutil::writeTemp(name + "-plain", "not a folder");
    return {QString::fromStdString(dir) + QLatin1Char('/') + file, QString::fromStdString(plain) + QLatin1Char('/') + file};
}

} // namespace

static const bool forceOffscreen = [] {
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    return true;
}();

class TstGuiWriteFaults : public QObject {
    Q_OBJECT
private slots:
    void recipeSave();
    void chartAndTableExport();
};

void TstGuiWriteFaults::recipeSave()
{
    MainWindow w;
    w.setErrorDialogsEnabled(false);
    w.show();
    QSignalSpy opened(&w, &MainWindow::modelOpened);
    w.openPath(QString::fromStdString(modelPath()));
    QTRY_COMPARE_WITH_TIMEOUT(opened.size(), 1, 30000);
    w.applyPreset(bonsai::Preset::Int8PerChannel);
    QVERIFY(w.isWindowModified());
    const auto configs = w.document()->configs();
    QCOMPARE(configs[0].precision.bits, 8);

    const Destinations d = destinations("recipe", QStringLiteral("r.json"));
    const std::pair<QString, QString> cases[] = {{d.removed, QStringLiteral("No such file or directory")},
                                                 {d.underFile, QStringLiteral("Not a directory")}};
    for (const auto& [path, fault] : cases) {
        QSignalSpy failed(&w, &MainWindow::recipeFailed);
        QVERIFY(w.saveRecipeTo(path)); // started: hashed and written in the background
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, 30000);
        const QString message = failed.first().first().toString();
        QVERIFY2(message.contains(path) && message.contains(fault), qPrintable(message));
        QCOMPARE(w.lastError(), message);
        QVERIFY2(w.statusBar()->currentMessage().contains(path), qPrintable(w.statusBar()->currentMessage()));
        QVERIFY(w.isWindowModified());
        QCOMPARE(w.document()->configs(), configs);
        QVERIFY(w.document()->recipePath().isEmpty());
        QVERIFY(!QFileInfo::exists(path));
    }
    QVERIFY(!fs::exists(fs::path(d.removed.toStdString()).parent_path()));
}

void TstGuiWriteFaults::chartAndTableExport()
{
    CompressionDocument doc;
    EvalPanel panel(&doc);
    panel.resize(1000, 400);
    panel.show();
    doc.setModel(std::shared_ptr<const bonsai::Model>(bonsai::Model::open(BONSAI_DEMO_MODEL)));
    const auto exportTo = [&](const QString& path, QString* error) {
        return path.endsWith(QLatin1String(".csv")) ? panel.saveCsv(path, error)
                                                    : panel.saveChart(EvalPanel::TradeoffTab, path, error);
    };
    const char* const files[] = {"chart.svg", "chart.png", "table.csv"};
    for (const char* file : files) {
        const Destinations d = destinations(std::string("export-") + file, QString::fromLatin1(file));
        for (const QString& path : {d.removed, d.underFile}) {
            QString error;
            QVERIFY2(!exportTo(path, &error), qPrintable(path));
            QVERIFY2(error.contains(path), qPrintable(error));
            QVERIFY2(error.contains(QStringLiteral("No such file or directory")) || error.contains(QStringLiteral("Not a directory")),
                     qPrintable(error));
            QVERIFY(!QFileInfo::exists(path));
        }
    }

    // A folder the user may not write into. As root, the exports run with the file identity
    // of 'nobody' (root writes into a folder of mode 0555 regardless).
    const std::string dir = testutil::readOnlyFolder("export-readonly", {{"kept.txt", "old"}});
    QStringList errors;
    std::string why;
    const bool ran = testutil::runWithNobodysFileAccess(
                         [&] {
                             for (const char* file : files) {
                                 QString error;
                                 if (exportTo(QString::fromStdString(dir + "/" + file), &error))
                                     error = QStringLiteral("saved ") + QLatin1String(file);
                                 errors += error;
                             }
                             return std::string();
                         },
                         &why)
                         .has_value();
    testutil::makeWritable(dir);
    if (!ran)
        QSKIP(qPrintable(QString::fromStdString("no unprivileged user to write as: " + why)));
    for (int k = 0; k < 3; ++k) {
        QVERIFY2(errors[k].contains(QString::fromStdString(dir + "/" + files[k])), qPrintable(errors[k]));
        QVERIFY2(errors[k].contains(QStringLiteral("Permission denied")), qPrintable(errors[k]));
    }
    QCOMPARE(testutil::dirEntries(dir), std::vector<std::string>{"kept.txt"});
}

QTEST_MAIN(TstGuiWriteFaults)
#include "tst_gui_write_faults.moc"
