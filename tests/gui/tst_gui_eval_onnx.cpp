// The evaluation panel on small ONNX classifiers written by the test: the top-1 it shows is the
// Evaluator's, auto-evaluate after a configuration change, one trade-off point per evaluation,
// restoring a point (undoable), chart export, errors for a safetensors model and for data
// that does not fit. With BONSAI_EVAL_MODEL_OUT set and Fashion-MNIST installed, also writes a
// nearest-centroid 784-20-10 classifier there (for looking at the window).
#include "onnx_build.h"

#include "compressiondocument.h"
#include "evalcharts.h"
#include "evalpanel.h"
#include "tradeoffchart.h"
#include "tradeoffmodel.h"

#include "bonsai/dataset.h"
#include "bonsai/evaluate.h"

#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QSet>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QUndoStack>

#include <random>

using namespace bonsai;
using namespace onnxtest;
using bonsai::ui::CompressionDocument;
using bonsai::ui::EvalPanel;

namespace {

std::string be32(uint32_t v)
{
    std::string s(4, '\0');
    for (int i = 0; i < 4; ++i)
        s[size_t(i)] = char((v >> (24 - 8 * i)) & 0xFF);
    return s;
}

// x [N, in] -> Gemm fc1 -> Relu -> Gemm fc2 -> logits.
std::string mlp(const std::string& file, int in, int hidden, int out, std::vector<float> w1,
                std::vector<float> b1, std::vector<float> w2, std::vector<float> b2)
{
    onnx::ModelProto m = newModel("mlp");
    auto* g = m.mutable_graph();
    addInput(g, "x", {-1, in});
    *g->add_initializer() = rawFloat("fc1.weight", {hidden, in}, w1);
    *g->add_initializer() = rawFloat("fc1.bias", {hidden}, b1);
    *g->add_initializer() = rawFloat("fc2.weight", {out, hidden}, w2);
    *g->add_initializer() = rawFloat("fc2.bias", {out}, b2);
    setInt(addNode(g, "Gemm", {"x", "fc1.weight", "fc1.bias"}, {"h"}, "fc1"), "transB", 1);
    addNode(g, "Relu", {"h"}, {"r"}, "relu");
    setInt(addNode(g, "Gemm", {"r", "fc2.weight", "fc2.bias"}, {"logits"}, "fc2"), "transB", 1);
    g->add_output()->set_name("logits");
    return save(file, m);
}

// Nearest class mean as two layers: fc1 rows +-(mean_c) with biases -+|mean_c|^2/2, fc2 = [I, -I].
void writeCentroidModel(const QString& out)
{
    auto data = openDataset(defaultDatasetPath(), {});
    const int64_t n = std::min<int64_t>(data->size(), 5000), d = 784, k = 10;
    std::vector<float> x(size_t(n * d));
    std::vector<int64_t> labels(static_cast<size_t>(n));
    data->fillBatch(0, n, {1, d}, x.data(), labels.data());
    std::vector<double> mean(size_t(k * d), 0.0), count(size_t(k), 0.0);
    for (int64_t s = 0; s < n; ++s) {
        count[size_t(labels[size_t(s)])] += 1;
        for (int64_t j = 0; j < d; ++j)
            mean[size_t(labels[size_t(s)] * d + j)] += x[size_t(s * d + j)];
    }
    std::vector<float> w1(size_t(2 * k * d)), b1(size_t(2 * k)), w2(size_t(k * 2 * k), 0.0f), b2(size_t(k), 0.0f);
    for (int64_t c = 0; c < k; ++c) {
        double norm = 0;
        for (int64_t j = 0; j < d; ++j) {
            const double v = mean[size_t(c * d + j)] / std::max(1.0, count[size_t(c)]);
            w1[size_t(c * d + j)] = float(v);
            w1[size_t((c + k) * d + j)] = float(-v);
            norm += v * v;
        }
        b1[size_t(c)] = float(-norm / 2);
        b1[size_t(c + k)] = float(norm / 2);
        w2[size_t(c * 2 * k + c)] = 1.0f;
        w2[size_t(c * 2 * k + c + k)] = -1.0f;
    }
    const std::string path = mlp("centroid.onnx", int(d), int(2 * k), int(k), w1, b1, w2, b2);
    QFile::remove(out);
    QVERIFY(QFile::copy(QString::fromStdString(path), out));
}

// The fields of one CSV line (RFC 4180: a quoted field may hold commas and doubled quotes).
QStringList csvFields(const QString& line)
{
    QStringList out{QString()};
    bool quoted = false;
    for (qsizetype i = 0; i < line.size(); ++i) {
        const QChar c = line[i];
        if (quoted && c == QLatin1Char('"') && i + 1 < line.size() && line[i + 1] == QLatin1Char('"'))
            out.back() += c, ++i;
        else if (c == QLatin1Char('"'))
            quoted = !quoted;
        else if (c == QLatin1Char(',') && !quoted)
            out << QString();
        else
            out.back() += c;
    }
    return out;
}

} // namespace

static const bool forceOffscreen = [] {
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    return true;
}();

class TstGuiEvalOnnx : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void showsTheEvaluatorsTop1();
    void autoEvaluateAndRestore();
    void exportsCharts();
    void errors();
    void centroidModel();

private:
    std::shared_ptr<const Model> model_;
    QString images_;
};

void TstGuiEvalOnnx::initTestCase()
{
    constexpr int kN = 400, kIn = 16, kHidden = 8, kOut = 3;
    std::mt19937 rng(11);
    std::normal_distribution<float> g(0.0f, 0.5f);
    auto fill = [&](size_t n) {
        std::vector<float> v(n);
        for (auto& x : v)
            x = g(rng);
        return v;
    };
    auto w1 = fill(kHidden * kIn), b1 = fill(kHidden), w2 = fill(kOut * kHidden), b2 = fill(kOut);
    model_ = Model::open(mlp("eval_mlp.onnx", kIn, kHidden, kOut, w1, b1, w2, b2));
    std::uniform_int_distribution<int> px(0, 255), lab(0, kOut - 1);
    std::string img = be32(0x803) + be32(kN) + be32(4) + be32(4), lb = be32(0x801) + be32(kN);
    for (int i = 0; i < kN * kIn; ++i)
        img += char(px(rng));
    for (int i = 0; i < kN; ++i)
        lb += char(lab(rng));
    images_ = QString::fromStdString(testutil::writeTemp("t10k-images-idx3-ubyte", img));
    testutil::writeTemp("t10k-labels-idx1-ubyte", lb);
}

void TstGuiEvalOnnx::showsTheEvaluatorsTop1()
{
    CompressionDocument doc;
    EvalPanel panel(&doc);
    doc.setModel(model_);
    panel.setDataset(images_);
    QTRY_VERIFY(panel.preprocessingText().contains(QStringLiteral("x/255")));
    QVERIFY2(panel.message().startsWith(QStringLiteral("Ready")), qPrintable(panel.message()));
    QSignalSpy evaluated(&panel, &EvalPanel::evaluated);
    doc.edit({0}, [](LayerConfig& c) { c.precision = {PrecisionKind::Int, 3}; }, QStringLiteral("int3"));
    panel.evaluate();
    QVERIFY(panel.isBusy());
    QTRY_COMPARE_WITH_TIMEOUT(evaluated.count(), 1, 30000);

    auto data = openDataset(images_.toStdString());
    Evaluator ev(*model_, *data, {});
    const EvalResult direct = ev.evaluate(doc.configs());
    const EvalResult* shown = panel.lastResult();
    QVERIFY(shown);
    QCOMPARE(shown->metrics.top1Correct, direct.metrics.top1Correct);
    QCOMPARE(shown->metrics.agree, direct.metrics.agree);
    QCOMPARE(shown->compressedBytes, direct.compressedBytes);
    const QString top1 = QStringLiteral("%1%").arg(100 * direct.metrics.top1, 0, 'f', 2);
    QVERIFY2(panel.top1Text().startsWith(top1), qPrintable(panel.top1Text() + QStringLiteral(" vs ") + top1));
    QCOMPARE(panel.tradeoffs()->rowCount(), 1);
    QCOMPARE(panel.layerErrorChart()->barCount(), 1); // fc1 only
    QVERIFY(panel.runningChart()->pointCount() >= 1);
    QVERIFY(!panel.isBusy());
}

void TstGuiEvalOnnx::autoEvaluateAndRestore()
{
    CompressionDocument doc;
    EvalPanel panel(&doc);
    doc.setModel(model_);
    panel.setDataset(images_);
    QSignalSpy evaluated(&panel, &EvalPanel::evaluated);
    panel.evaluate(); // uncompressed
    QTRY_COMPARE_WITH_TIMEOUT(evaluated.count(), 1, 30000);
    panel.setAutoEvaluate(true);
    // Several quick edits: debounced into one evaluation of the last one.
    for (int bits : {8, 6, 2})
        doc.edit({0, 1}, [bits](LayerConfig& c) { c.precision = {PrecisionKind::Int, bits}; },
                 QStringLiteral("int%1").arg(bits));
    QTRY_COMPARE_WITH_TIMEOUT(evaluated.count(), 2, 30000);
    QTest::qWait(EvalPanel::DebounceMs + 200);
    QCOMPARE(evaluated.count(), 2);
    QCOMPARE(panel.tradeoffs()->rowCount(), 2);
    const auto int2 = doc.configs();
    QCOMPARE(panel.tradeoffs()->point(1).configs, int2);
    QVERIFY(panel.tradeoffs()->point(1).label.contains(QStringLiteral("int2")));
    QVERIFY(panel.lastResult()->metrics.agreement < 1.0);

    // Clicking the uncompressed point restores it (undoable); auto-evaluate shows its row
    // again without a new point.
    const QPointF at = panel.tradeoffChart()->valueOf(0);
    QCOMPARE(panel.tradeoffChart()->rowAt(at), 0);
    panel.tradeoffChart()->activatePoint(0);
    QCOMPARE(doc.configs(), panel.tradeoffs()->point(0).configs);
    QTRY_COMPARE_WITH_TIMEOUT(evaluated.count(), 3, 30000);
    QCOMPARE(panel.tradeoffs()->rowCount(), 2);
    QCOMPARE(panel.lastResult()->metrics.agreement, 1.0);
    doc.undoStack()->undo();
    QCOMPARE(doc.configs(), int2);
    // The smaller int2 point stays on the front only if it is at least as accurate.
    const auto& pts = panel.tradeoffs()->points();
    const bool int2Front = pts[1].result.metrics.top1 > pts[0].result.metrics.top1;
    QCOMPARE(panel.tradeoffs()->front().size(), int2Front ? size_t(1) : size_t(2));
}

void TstGuiEvalOnnx::exportsCharts()
{
    CompressionDocument doc;
    EvalPanel panel(&doc);
    panel.resize(1000, 400);
    panel.show();
    doc.setModel(model_);
    panel.setDataset(images_);
    QSignalSpy evaluated(&panel, &EvalPanel::evaluated);
    doc.edit({1}, [](LayerConfig& c) { c.precision = {PrecisionKind::Int, 4}; }, QStringLiteral("int4"));
    panel.evaluate();
    QTRY_COMPARE_WITH_TIMEOUT(evaluated.count(), 1, 30000);
    for (auto chart : {EvalPanel::TradeoffTab, EvalPanel::RunningTab, EvalPanel::LayerErrorTab}) {
        for (const char* ext : {"svg", "png"}) {
            const QString path = QString::fromStdString(testutil::tempPath("chart" + std::to_string(int(chart)) + "." + ext));
            QString error;
            QVERIFY2(panel.saveChart(chart, path, &error), qPrintable(error));
            QFile f(path);
            QVERIFY(f.open(QIODevice::ReadOnly));
            const QByteArray bytes = f.readAll();
            QVERIFY(bytes.size() > 1000);
            QVERIFY(std::strcmp(ext, "svg") ? bytes.startsWith("\x89PNG") : bytes.contains("<svg"));
            if (!std::strcmp(ext, "svg")) {
                const QRegularExpression text(QStringLiteral("<text[^>]*>([^<]*)</text>"));
                QStringList texts;
                for (auto it = text.globalMatch(QString::fromUtf8(bytes)); it.hasNext();)
                    texts << it.next().captured(1).trimmed();
                qInfo("chart %d texts: %s", int(chart), qPrintable(texts.join(QStringLiteral(" | "))));
                // The tabs behind the trade-off chart were never laid out: exported at a size
                // of their own, every title and label whole, none elided; the trade-off
                // chart's legend too (in rows under the plot).
                for (const QString& t : texts)
                    QVERIFY2(!t.endsWith(QChar(0x2026)) && !t.endsWith(QStringLiteral("&#8230;")) &&
                                 !t.endsWith(QStringLiteral("...")),
                             qPrintable(t));
                if (chart == EvalPanel::TradeoffTab) // the axes and the legend as the chart names them
                    for (const char* name : {"compressed model size (B)", "accuracy (%)", "Pareto front (top-1)",
                                             "uncompressed (top-1)", "agreement", "top-1 accuracy", "current configuration"})
                        QVERIFY2(texts.contains(QString::fromUtf8(name)), name);
                if (chart == EvalPanel::LayerErrorTab) // the one compressed layer's SQNR, as evaluated
                    QVERIFY2(texts.contains(QString::number(panel.lastResult()->layerErrors.at(0).sqnrDb, 'f', 1)),
                             qPrintable(texts.join(QLatin1Char('|'))));
            } else {
                QImage img;
                QVERIFY(img.loadFromData(bytes, "PNG"));
                QSet<QRgb> colours;
                for (int y = 0; y < img.height(); y += 4)
                    for (int x = 0; x < img.width(); x += 4)
                        colours.insert(img.pixel(x, y));
                QVERIFY2(colours.size() > 8, qPrintable(QString::number(colours.size()))); // drawn, not blank
            }
        }
    }
    QString error;
    QVERIFY(!panel.saveChart(EvalPanel::TradeoffTab, QString::fromStdString(testutil::tempPath("x.bmp")), &error));
    QVERIFY(error.contains(QStringLiteral(".svg")));
    const QString csv = QString::fromStdString(testutil::tempPath("t.csv"));
    QVERIFY(panel.saveCsv(csv));
    // The CSV by content: the header, then one row per trade-off point with the document's numbers.
    QFile in(csv);
    QVERIFY(in.open(QIODevice::ReadOnly | QIODevice::Text));
    const QStringList lines = QString::fromUtf8(in.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.value(0), QStringLiteral("label,compressed_bytes,ratio,top1,top1_ci_lo,top1_ci_hi,agreement,kl_nats,seconds"));
    const auto& points = panel.tradeoffs()->points();
    QCOMPARE(lines.size(), int(points.size()) + 1);
    for (size_t i = 0; i < points.size(); ++i) {
        const QStringList f = csvFields(lines[int(i) + 1]);
        QCOMPARE(f.size(), 9);
        QCOMPARE(f[0], points[i].label);
        const auto& r = points[i].result;
        QCOMPARE(f[1].toULongLong(), r.compressedBytes);
        auto near = [](const QString& field, double v) { return std::abs(field.toDouble() - v) <= 1e-7 * std::max(1.0, std::abs(v)); };
        QVERIFY(near(f[2], double(r.originalBytes) / double(r.compressedBytes)));
        QVERIFY(near(f[3], double(r.metrics.top1Correct) / double(r.samples)));
        QVERIFY(near(f[4], r.metrics.top1Ci.lo) && near(f[5], r.metrics.top1Ci.hi));
        QVERIFY(f[4].toDouble() <= f[3].toDouble() && f[3].toDouble() <= f[5].toDouble());
        QVERIFY(near(f[6], double(r.metrics.agree) / double(r.samples)));
        QVERIFY(near(f[7], r.metrics.meanKl));
    }
}

void TstGuiEvalOnnx::errors()
{
    CompressionDocument doc;
    EvalPanel panel(&doc);
    QSignalSpy failed(&panel, &EvalPanel::evaluationFailed);
    // Not ONNX: explained, nothing runs.
    doc.setModel(Model::open(testutil::writeTemp("w.safetensors", testutil::makeSafetensors(
        {{"w", "F32", {2, 2}, testutil::floatBytes({1, 2, 3, 4})}}))));
    QVERIFY(!panel.canEvaluate());
    QVERIFY2(panel.message().contains(QStringLiteral("Evaluation runs ONNX classifiers; this safetensors checkpoint")),
             qPrintable(panel.message()));
    panel.evaluate();
    QCOMPARE(failed.count(), 1);
    QVERIFY(!panel.isBusy());
    // A model wanting 3x8x8 images: the 1x4x4 data cannot fill it.
    onnx::ModelProto m = newModel("conv");
    auto* g = m.mutable_graph();
    addInput(g, "x", {-1, 3, 8, 8});
    addInit(g, "w", {2, 3, 3, 3}, 0.1f);
    addNode(g, "Conv", {"x", "w"}, {"y"});
    g->add_output()->set_name("y");
    doc.setModel(Model::open(save("conv8.onnx", m)));
    QVERIFY(panel.canEvaluate());
    panel.setDataset(images_);
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 2, 10000);
    QVERIFY2(panel.message().contains(QStringLiteral("t10k-images")), qPrintable(panel.message()));
    panel.evaluate();
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 3, 10000);
    QVERIFY(!panel.isBusy());
    // A file that is no data set.
    panel.setDataset(QString::fromStdString(testutil::writeTemp("junk.npz", "not a zip")));
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 4, 10000);
    QVERIFY2(panel.message().contains(QStringLiteral("junk.npz")), qPrintable(panel.message()));
    QCOMPARE(panel.tradeoffs()->rowCount(), 0);
}

void TstGuiEvalOnnx::centroidModel()
{
    const QString out = qEnvironmentVariable("BONSAI_EVAL_MODEL_OUT");
    if (out.isEmpty() || !QFileInfo::exists(QString::fromStdString(defaultDatasetPath())))
        QSKIP("BONSAI_EVAL_MODEL_OUT not set or Fashion-MNIST not installed");
    writeCentroidModel(out);
}

QTEST_MAIN(TstGuiEvalOnnx)
#include "tst_gui_eval_onnx.moc"
