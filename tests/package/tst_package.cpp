// The Debian package of this build tree: cpack -G DEB into a temporary folder, dpkg-deb -x, then
// the files in their GNUInstallDirs places, Depends naming the runtime packages, no path into
// the build or source tree in the binaries, the unpacked bonsai-cli reading the unpacked demo
// model (the CNN of resources/demo/README.md) and the unpacked bonsai starting; the desktop
// entry and metainfo pass desktop-file-validate and appstreamcli (from .ci/install-deps).
#include "testutil.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QStandardPaths>
#include <QTest>

namespace {

struct Run {
    int exitCode = -1;
    QByteArray output; // stdout, then stderr
};

Run run(const QString& program, const QStringList& args, const QString& workDir = QString())
{
    const testutil::CliResult r = testutil::runProgram(program, args, workDir);
    return {r.exitCode, r.out + r.err};
}

const QString appId = QStringLiteral(BONSAI_APP_ID);

} // namespace

class TestPackage : public QObject {
    Q_OBJECT

    QString deb_;  // the .deb cpack wrote
    QString root_; // where it was unpacked

    QString unpacked(const QString& relative) const { return root_ + QLatin1Char('/') + relative; }
    QString demoModel() const { return unpacked(QStringLiteral("usr/share/bonsai/demo/fashion_cnn.onnx")); }

private slots:
    void initTestCase()
    {
        const QString out = testutil::tempDir() + QStringLiteral("/cpack");
        const Run pack = run(QStringLiteral(BONSAI_CPACK),
                             {QStringLiteral("-G"), QStringLiteral("DEB"), QStringLiteral("--config"),
                              QStringLiteral(BONSAI_CPACK_CONFIG), QStringLiteral("-B"), out});
        QVERIFY2(pack.exitCode == 0, pack.output.constData());
        const QStringList debs = QDir(out).entryList({QStringLiteral("*.deb")}, QDir::Files);
        QCOMPARE(debs.size(), 1);
        deb_ = out + QLatin1Char('/') + debs.first();
        QVERIFY2(debs.first().startsWith(QLatin1String("bonsai_")), qPrintable(debs.first()));

        root_ = testutil::tempDir() + QStringLiteral("/root");
        const Run unpack = run(QStringLiteral("dpkg-deb"), {QStringLiteral("-x"), deb_, root_});
        QVERIFY2(unpack.exitCode == 0, unpack.output.constData());
    }

    void filesInStandardPlaces()
    {
        for (const QString& program : {QStringLiteral("bonsai"), QStringLiteral("bonsai-cli")}) {
            const QFileInfo info(unpacked(QStringLiteral("usr/bin/") + program));
            QVERIFY2(info.isFile() && info.isExecutable(), qPrintable(info.filePath()));
        }
        const QStringList files = {
            QStringLiteral("usr/share/applications/") + appId + QStringLiteral(".desktop"),
            QStringLiteral("usr/share/metainfo/") + appId + QStringLiteral(".metainfo.xml"),
            QStringLiteral("usr/share/icons/hicolor/scalable/apps/") + appId + QStringLiteral(".svg"),
            QStringLiteral("usr/share/bonsai/demo/README.md"),
        };
        for (const QString& f : files)
            QVERIFY2(QFileInfo(unpacked(f)).isFile(), qPrintable(f));
        // PNG icons at the hicolor sizes, each an image of exactly that size.
        for (int size : {48, 64, 128, 256}) {
            const QString f = QStringLiteral("usr/share/icons/hicolor/%1x%1/apps/").arg(size) + appId +
                              QStringLiteral(".png");
            const QImage icon(unpacked(f));
            QVERIFY2(!icon.isNull(), qPrintable(f));
            QCOMPARE(icon.size(), QSize(size, size));
            QVERIFY(icon.hasAlphaChannel());
        }

        // The packaged demo model is the source tree's, byte for byte.
        QFile packaged(demoModel()), source(QStringLiteral(BONSAI_DEMO_MODEL));
        QVERIFY(packaged.open(QIODevice::ReadOnly) && source.open(QIODevice::ReadOnly));
        QVERIFY(packaged.readAll() == source.readAll());

        // Everything lives under /usr; nothing outside it.
        QCOMPARE(QDir(root_).entryList(QDir::AllEntries | QDir::NoDotAndDotDot),
                 QStringList{QStringLiteral("usr")});
    }

    void dependsNamesRuntimePackages()
    {
        const Run field =
            run(QStringLiteral("dpkg-deb"), {QStringLiteral("-f"), deb_, QStringLiteral("Depends")});
        QCOMPARE(field.exitCode, 0);
        QStringList names;
        const QString depends = QString::fromUtf8(field.output);
        for (const QString& dep : depends.split(QLatin1Char(','), Qt::SkipEmptyParts))
            names << dep.trimmed().section(QLatin1Char(' '), 0, 0);
        // The Debian 12 packages of the shared libraries the two programs link.
        for (const char* pkg : {"libqt6core6", "libqt6gui6", "libqt6widgets6", "libqt6charts6",
                                "libqt6svg6", "libonnx1", "libprotobuf32", "libgomp1", "zlib1g", "libdnnl2",
                                "libstb0"})
            QVERIFY2(names.contains(QLatin1String(pkg)),
                     qPrintable(QLatin1String(pkg) + QStringLiteral(" not in ") + names.join(u' ')));
        for (const QString& name : names)
            QVERIFY2(!name.endsWith(QLatin1String("-dev")), qPrintable(name));
        auto fieldOf = [this](const char* name) {
            return run(QStringLiteral("dpkg-deb"), {QStringLiteral("-f"), deb_, QLatin1String(name)})
                .output.trimmed();
        };
        QCOMPARE(fieldOf("Package"), QByteArray("bonsai"));
        QCOMPARE(fieldOf("Version"), QByteArray(BONSAI_PACKAGE_VERSION));
    }

    // The first NUL-terminated string in `bytes` that starts with `prefix` and is not the name
    // of a C++ source or header; empty if there is none.
    static QByteArray firstNonSourcePath(const QByteArray& bytes, const char* prefix)
    {
        const QByteArray p(prefix);
        for (qsizetype at = bytes.indexOf(p); at >= 0; at = bytes.indexOf(p, at + 1)) {
            qsizetype end = at;
            while (end < bytes.size() && bytes[end] != '\0')
                ++end;
            const QByteArray text = bytes.mid(at, end - at);
            bool source = false;
            for (const char* suffix : {".cpp", ".cc", ".c", ".h", ".hpp", ".moc"})
                source = source || text.endsWith(suffix);
            if (!source)
                return text;
        }
        return {};
    }

    void binariesDoNotPointIntoTheTree()
    {
        for (const QString& program : {QStringLiteral("bonsai"), QStringLiteral("bonsai-cli")}) {
            const QString path = unpacked(QStringLiteral("usr/bin/") + program);
            const Run dyn = run(QStringLiteral("readelf"), {QStringLiteral("-d"), path});
            QCOMPARE(dyn.exitCode, 0);
            QVERIFY2(!dyn.output.contains("RPATH") && !dyn.output.contains("RUNPATH"), dyn.output.constData());
            QFile f(path);
            QVERIFY(f.open(QIODevice::ReadOnly));
            const QByteArray bytes = f.readAll();
            // No compiled-in path to a file of the build tree or the source tree. The names of
            // compiled sources (which sanitizers and assertions record for their reports) are
            // not paths the program opens, so a string ending in a source suffix is allowed.
            for (const char* prefix : {BONSAI_BUILD_DIR "/", BONSAI_SOURCE_DIR "/resources/",
                                       BONSAI_SOURCE_DIR "/tests/"}) {
                const QByteArray found = firstNonSourcePath(bytes, prefix);
                QVERIFY2(found.isEmpty(), qPrintable(program + QLatin1String(": ") + QString::fromUtf8(found)));
            }
        }
    }

    void unpackedCliReadsUnpackedDemo()
    {
        // Run from an empty folder, so nothing is found relative to the build.
        const QString cwd = testutil::tempDir() + QStringLiteral("/cwd");
        QVERIFY(QDir().mkpath(cwd));
        const QString cli = unpacked(QStringLiteral("usr/bin/bonsai-cli"));
        const Run info = run(cli, {QStringLiteral("info"), demoModel(), QStringLiteral("--json")}, cwd);
        QVERIFY2(info.exitCode == 0, info.output.constData());
        const QJsonObject doc = QJsonDocument::fromJson(info.output).object();
        QCOMPARE(doc.value(QLatin1String("format")).toString(), QStringLiteral("onnx"));

        // resources/demo/README.md: Conv 1->32 3x3, Conv 32->64 3x3, Gemm 1600->128,
        // Gemm 128->10; 225,130 trainable parameters plus the BatchNorm running mean and
        // variance (2 x (32 + 64) = 192).
        QCOMPARE(doc.value(QLatin1String("layers")).toInt(), 4);
        QCOMPARE(doc.value(QLatin1String("total_params")).toInteger(), 225130 + 192);
        struct Layer {
            QString op;
            QList<int> shape;
        };
        const QList<Layer> expected = {{QStringLiteral("Conv"), {32, 1, 3, 3}},
                                       {QStringLiteral("Conv"), {64, 32, 3, 3}},
                                       {QStringLiteral("Gemm"), {128, 1600}},
                                       {QStringLiteral("Gemm"), {10, 128}}};
        qsizetype i = 0;
        for (const QJsonValue& t : doc.value(QLatin1String("tensors")).toArray()) {
            const QJsonObject o = t.toObject();
            if (!o.contains(QLatin1String("layer")))
                continue; // biases and BatchNorm parameters
            QVERIFY(i < expected.size());
            QList<int> shape;
            for (const QJsonValue& d : o.value(QLatin1String("shape")).toArray())
                shape << d.toInt();
            QCOMPARE(o.value(QLatin1String("op")).toString(), expected[i].op);
            QCOMPARE(shape, expected[i].shape);
            ++i;
        }
        QCOMPARE(i, expected.size());

        // The table names the same layers as the build tree's bonsai-cli on the source model.
        auto layerRows = [](const QByteArray& table) {
            QStringList rows;
            for (const QByteArray& line : table.split('\n')) {
                const QString row = QString::fromUtf8(line).simplified();
                const QString op = row.section(u' ', 1, 1); // tensor rows: name, op, shape...
                if (op == QLatin1String("Conv") || op == QLatin1String("Gemm")
                    || row.contains(QLatin1String(" layers, ")))
                    rows << row;
            }
            return rows;
        };
        const Run mine = run(cli, {QStringLiteral("info"), demoModel()}, cwd);
        const testutil::CliResult ref = testutil::runCli({QStringLiteral("info"), QStringLiteral(BONSAI_DEMO_MODEL)});
        QCOMPARE(mine.exitCode, 0);
        QCOMPARE(ref.exitCode, 0);
        QCOMPARE(layerRows(mine.output).size(), 5);
        QCOMPARE(layerRows(mine.output), layerRows(ref.out));
    }

    void unpackedGuiStarts()
    {
        const Run version = run(unpacked(QStringLiteral("usr/bin/bonsai")), {QStringLiteral("--version")});
        QVERIFY2(version.exitCode == 0, version.output.constData());
        QVERIFY2(version.output.contains("Bonsai " BONSAI_PACKAGE_VERSION), version.output.constData());
    }

    void desktopEntryValidates()
    {
        const QString validator = QStandardPaths::findExecutable(QStringLiteral("desktop-file-validate"));
        QVERIFY2(!validator.isEmpty(), "desktop-file-validate missing: run .ci/install-deps");
        const QString file = unpacked(QStringLiteral("usr/share/applications/") + appId + QStringLiteral(".desktop"));
        const Run check = run(validator, {file});
        QVERIFY2(check.exitCode == 0, check.output.constData());
        QVERIFY2(check.output.trimmed().isEmpty(), check.output.constData()); // not even a hint
        QFile f(file);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray text = f.readAll();
        QVERIFY(text.contains("\nExec=bonsai "));
        QVERIFY(text.contains("\nIcon=" + appId.toUtf8() + '\n'));
    }

    void metainfoValidates()
    {
        const QString validator = QStandardPaths::findExecutable(QStringLiteral("appstreamcli"));
        QVERIFY2(!validator.isEmpty(), "appstreamcli missing: run .ci/install-deps");
        const QString file = unpacked(QStringLiteral("usr/share/metainfo/") + appId + QStringLiteral(".metainfo.xml"));
        const Run check = run(validator, {QStringLiteral("validate"), QStringLiteral("--no-net"), file});
        QVERIFY2(check.exitCode == 0, check.output.constData());
        QFile f(file);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray text = f.readAll();
        QVERIFY(text.contains("<id>" + appId.toUtf8() + "</id>"));
        QVERIFY(text.contains("<launchable type=\"desktop-id\">" + appId.toUtf8() + ".desktop</launchable>"));
    }
};

QTEST_GUILESS_MAIN(TestPackage)
#include "tst_package.moc"
