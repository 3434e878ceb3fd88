// Bonsai's ONNX exports of the demo CNN in ONNX Runtime (onnxruntime-node 1.30.0, CPU,
// tests/interop/node_modules): for each recipe the exported model's Fashion-MNIST test
// accuracy under ONNX Runtime (graph optimizations "all", and "basic") equals the accuracy
// Bonsai predicts for the plan's configurations within 0.05 points (5 of 10,000 images), and
// the file is the size the check announced. Recipes: INT8 per channel, FP16, 2:4 + INT8,
// INT4 per channel asymmetric (8-bit containers), INT8 per tensor, 50% unstructured in FP32,
// INT4 group 32 and group 128 asymmetric (blocked DequantizeLinear, opset 21; the Conv's
// [out, in*kh*kw] groups stored 2-D and reshaped), and a mix with 2:4, INT3 groups and FP16.
#include "bonsai/compress.h"
#include "bonsai/dataset.h"
#include "bonsai/evaluate.h"
#include "bonsai/export.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"

#include "testutil.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <filesystem>

using namespace bonsai;
namespace fs = std::filesystem;

namespace {

const std::string kInterop = BONSAI_INTEROP_DIR;

double ortAccuracy(const std::string& onnx, bool basic)
{
    const std::string dir = defaultDatasetDir();
    QStringList args{QString::fromStdString(kInterop + "/onnx_accuracy.mjs"), QString::fromStdString(onnx),
                     QString::fromStdString(dir + "/t10k-images-idx3-ubyte.gz"),
                     QString::fromStdString(dir + "/t10k-labels-idx1-ubyte.gz")};
    if (basic)
        args << QStringLiteral("--basic");
    const auto r = testutil::runProgram(QStringLiteral("node"), args, QString::fromStdString(kInterop));
    if (r.exitCode != 0) {
        qWarning("ONNX Runtime failed on %s: %s", onnx.c_str(), r.err.constData());
        return -1;
    }
    return QJsonDocument::fromJson(r.out).object().value(QStringLiteral("accuracy")).toDouble();
}

} // namespace

class TstInteropOnnxRuntime : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        QVERIFY2(fs::exists(kInterop + "/node_modules/onnxruntime-node/package.json"),
                 "onnxruntime-node is not installed in tests/interop/node_modules: run .ci/install-deps");
        model_ = Model::open(BONSAI_DEMO_MODEL);
        data_ = openDataset(defaultDatasetPath());
        eval_ = std::make_unique<Evaluator>(*model_, *data_);
    }

    void accuracyAsPredicted_data()
    {
        QTest::addColumn<QString>("recipe");
        QTest::newRow("int8 per channel") << R"({"bonsai_recipe":1,"defaults":{"precision":"int8"}})";
        QTest::newRow("fp16") << R"({"bonsai_recipe":1,"defaults":{"precision":"fp16"}})";
        QTest::newRow("2:4 + int8") << R"({"bonsai_recipe":1,"defaults":{"precision":"int8","sparsity_pattern":"2:4"}})";
        QTest::newRow("int4 asymmetric") << R"({"bonsai_recipe":1,"defaults":{"precision":"int4","symmetric":false}})";
        QTest::newRow("int8 per tensor") << R"({"bonsai_recipe":1,"defaults":{"precision":"int8","granularity":"tensor"}})";
        QTest::newRow("50% pruned") << R"({"bonsai_recipe":1,"defaults":{"sparsity":0.5}})";
        QTest::newRow("int4 group 32") << R"({"bonsai_recipe":1,"defaults":{"precision":"int4","granularity":"group","group_size":32}})";
        QTest::newRow("int4 group 128 asymmetric")
            << R"({"bonsai_recipe":1,"defaults":{"precision":"int4","granularity":"group","group_size":128,"symmetric":false}})";
        QTest::newRow("mixed") << R"({"bonsai_recipe":1,"defaults":{"precision":"int8"},"rules":[
            {"match":"fc1","precision":"int4","granularity":"group","group_size":32,"sparsity_pattern":"2:4"},
            {"match":"fc2","precision":"fp16"},{"match":"layer2","precision":"int3","granularity":"group","group_size":64}]})";
    }

    void accuracyAsPredicted()
    {
        QFETCH(QString, recipe);
        const auto configs = resolveConfigs(*model_, Recipe::parse(recipe.toStdString(), "test recipe"));
        ExportOptions o;
        o.overwrite = true;
        const std::string path = testutil::tempPath(QTest::currentDataTag() + std::string(".onnx"));
        const ExportPlan plan = exportModel(*model_, configs, ExportFormat::Onnx, path, o);
        QCOMPARE(uint64_t(fs::file_size(path)), plan.fileBytes);
        const EvalResult predicted = eval_->evaluate(plan.configs);
        const double bonsai = predicted.metrics.top1, ort = ortAccuracy(path, false), basic = ortAccuracy(path, true);
        const double base = eval_->evaluate(std::vector<LayerConfig>(model_->layers.size())).metrics.top1;
        qInfo("%s: Bonsai predicts %.2f%%, ONNX Runtime %.2f%% (basic optimizations %.2f%%); uncompressed %.2f%%; "
              "%s",
              QTest::currentDataTag(), 100 * bonsai, 100 * ort, 100 * basic, 100 * base,
              qPrintable(QStringLiteral("%1 bytes").arg(plan.fileBytes)));
        QVERIFY(std::abs(ort - bonsai) <= 0.0005);
        QVERIFY(std::abs(basic - bonsai) <= 0.0005);
    }

    void refusedForNow()
    {
        const auto rank = resolveConfigs(*model_, Recipe::parse(
            R"({"bonsai_recipe":1,"rules":[{"match":"fc1","rank":16},{"match":"layer2","sparsity_pattern":"channels","sparsity":0.25},
                {"match":"fc2","precision":"nf4"}]})", "r"));
        const ExportPlan plan = planExport(*model_, rank, ExportFormat::Onnx);
        QVERIFY(!plan.writable());
        QCOMPARE(plan.problems().size(), size_t(3));
        QVERIFY(plan.problems()[0].find("layer2.conv.weight': channel pruning") != std::string::npos);
        QVERIFY(plan.problems()[1].find("fc1.weight': low rank") != std::string::npos);
        QVERIFY(plan.problems()[2].find("fc2.weight': nf4") != std::string::npos);
        const std::string path = testutil::tempPath("refused.onnx");
        QVERIFY_THROWS_EXCEPTION(Error, exportModel(*model_, rank, ExportFormat::Onnx, path));
        QVERIFY(!fs::exists(path));
    }

private:
    std::unique_ptr<Model> model_;
    std::unique_ptr<Dataset> data_;
    std::unique_ptr<Evaluator> eval_;
};

QTEST_APPLESS_MAIN(TstInteropOnnxRuntime)
#include "tst_interop_onnxruntime.moc"
