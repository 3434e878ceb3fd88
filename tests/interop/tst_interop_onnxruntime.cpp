// Bonsai's ONNX exports of the demo CNN in ONNX Runtime (onnxruntime-node 1.30.0, CPU,
// tests/interop/node_modules): for each recipe the exported model's Fashion-MNIST test
// accuracy under ONNX Runtime (graph optimizations "all" with the session config entry
// session.qdq_matmulnbits_accuracy_level "1", so that a rewritten MatMulNBits keeps float
// activations; and the default session, and "basic" optimizations) equals the accuracy
// Bonsai predicts for the plan's configurations: the same count of the 10,000 images (INT8
// per channel moves the accuracy by 3 images, FP16 by 1: a looser bound would not see them;
// measured: equal in every case and session), and the file is the size the check announced. Recipes: INT8 per channel, FP16, 2:4 + INT8,
// INT4 per channel asymmetric (8-bit containers), INT8 per tensor, 50% unstructured in FP32,
// INT4 group 32 and group 128 asymmetric (blocked DequantizeLinear, opset 21; the Conv's
// [out, in*kh*kw] groups stored 2-D and reshaped), low rank (two Gemm, or a k x k Conv with r
// filters and a 1 x 1 Conv) in FP16 and INT8, channel pruning (the channels removed from the
// Conv or Gemm, its BatchNormalization and the next layer's inputs), and a mix with 2:4, INT3
// groups and FP16. BatchNormalization is folded into the Conv before it.
#include "bonsai/compress.h"
#include "bonsai/dataset.h"
#include "bonsai/evaluate.h"
#include "bonsai/export.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"

#include "testutil.h"

#include <nlohmann/json.hpp>

#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <filesystem>

using namespace bonsai;
namespace fs = std::filesystem;

namespace {

const std::string kInterop = BONSAI_INTEROP_DIR;
// Half an image of the 10,000 test images: the top-1 counts must be equal.
constexpr double kSameCount = 0.5 / 10000;

double ortAccuracy(const std::string& onnx, bool basic, bool exact = false)
{
    const std::string dir = defaultDatasetDir();
    QStringList args{QString::fromStdString(kInterop + "/onnx_accuracy.mjs"), QString::fromStdString(onnx),
                     QString::fromStdString(dir + "/t10k-images-idx3-ubyte.gz"),
                     QString::fromStdString(dir + "/t10k-labels-idx1-ubyte.gz")};
    if (basic)
        args << QStringLiteral("--basic");
    if (exact)
        args << QStringLiteral("--exact");
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

    // The demo model's accuracy as README.md and resources/demo state it (91.66% of the
    // 10,000 Fashion-MNIST test images): ONNX Runtime on the bundled file itself, and Bonsai's
    // uncompressed evaluation, both give 9,166 correct.
    void demoAccuracyAsStated()
    {
        const double ort = ortAccuracy(BONSAI_DEMO_MODEL, false);
        const EvalResult bonsai = eval_->reference();
        qInfo("demo model: ONNX Runtime %.2f%%, Bonsai %lld of %lld", 100 * ort, (long long)bonsai.metrics.top1Correct,
              (long long)bonsai.samples);
        QCOMPARE(qRound(ort * 10000), 9166);
        QCOMPARE(bonsai.samples, int64_t(10000));
        QCOMPARE(bonsai.metrics.top1Correct, int64_t(9166));
    }

    // bonsai-cli recover --json: accuracy_before is the compressed model's accuracy (ONNX
    // Runtime on the ONNX export of the same recipe), accuracy_after the recovered model's (ONNX
    // Runtime on the file --out wrote); both on the 10,000 test images, as equal counts.
    void recoverJsonMatchesRuntime()
    {
        const char* recipeJson = R"({"bonsai_recipe":1,"defaults":{"precision":"int4","granularity":"channel"}})";
        const std::string recipe = testutil::writeTemp("recover_int4.json", recipeJson);
        const std::string out = testutil::tempPath("recovered_int4.onnx");
        const auto r = testutil::runCli({QStringLiteral("recover"), QStringLiteral(BONSAI_DEMO_MODEL), QStringLiteral("--recipe"),
                                         QString::fromStdString(recipe), QStringLiteral("--method"), QStringLiteral("qat"),
                                         QStringLiteral("--steps"), QStringLiteral("5"), QStringLiteral("--limit"),
                                         QStringLiteral("320"), QStringLiteral("--out"), QString::fromStdString(out),
                                         QStringLiteral("--json")},
                                        600000);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto j = nlohmann::json::parse(r.out.toStdString());
        QCOMPARE(j["epochs"].size(), size_t(1));
        QCOMPARE(j["epochs"][0]["steps"].get<int64_t>(), int64_t(5));

        const auto configs = resolveConfigs(*model_, Recipe::parse(recipeJson, "test recipe"));
        ExportOptions o;
        o.overwrite = true;
        const std::string compressed = testutil::tempPath("recover_before_int4.onnx");
        exportModel(*model_, configs, ExportFormat::Onnx, compressed, o);
        const double before = ortAccuracy(compressed, false, true), after = ortAccuracy(out, false, true);
        qInfo("recover --json: accuracy_before %.4f (ONNX Runtime %.4f), accuracy_after %.4f (ONNX Runtime %.4f)",
              j["accuracy_before"].get<double>(), before, j["accuracy_after"].get<double>(), after);
        QVERIFY(std::abs(j["accuracy_before"].get<double>() - before) < kSameCount);
        QVERIFY(std::abs(j["accuracy_after"].get<double>() - after) < kSameCount);
        QVERIFY(std::abs(after - before) > kSameCount); // the five steps changed the model
    }

    // bonsai-cli train itself: a short seeded run. The accuracy it reports for the file it
    // wrote is ONNX Runtime's on that file, and the same seed writes the same model again.
    void trainCliMatchesRuntime()
    {
        const auto train = [](const std::string& out) {
            const auto r = testutil::runCli({QStringLiteral("train"), QStringLiteral("--out"), QString::fromStdString(out),
                                             QStringLiteral("--epochs"), QStringLiteral("1"), QStringLiteral("--limit"),
                                             QStringLiteral("1000"), QStringLiteral("--seed"), QStringLiteral("3"),
                                             QStringLiteral("--json")},
                                            600000);
            if (r.exitCode != 0)
                qWarning("%s", r.err.constData());
            return r.exitCode == 0 ? nlohmann::json::parse(r.out.toStdString()) : nlohmann::json();
        };
        const std::string a = testutil::tempPath("trained_a.onnx"), b = testutil::tempPath("trained_b.onnx");
        const auto j = train(a);
        QVERIFY(!j.is_null());
        QCOMPARE(j["epochs"].size(), size_t(1));
        const double reported = j["test_accuracy"].get<double>(), runtime = ortAccuracy(a, false, true);
        qInfo("train --json: test accuracy %.4f after one epoch on 1000 images (ONNX Runtime on the file %.4f)",
              reported, runtime);
        QVERIFY(std::abs(reported - runtime) < kSameCount);
        QVERIFY(std::abs(j["epochs"][0]["test_accuracy"].get<double>() - runtime) < kSameCount);
        QVERIFY(runtime > 0.3); // learned: chance is 0.1
        QVERIFY(!train(b).is_null());
        QCOMPARE(testutil::readFile(b), testutil::readFile(a));
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
        QTest::newRow("rank with fp16") << R"({"bonsai_recipe":1,"defaults":{"precision":"fp16"},
            "rules":[{"match":"fc1","rank":24},{"match":"layer2","rank":12}]})";
        QTest::newRow("rank with int8") << R"({"bonsai_recipe":1,"defaults":{"precision":"int8"},
            "rules":[{"match":"fc1","rank":32},{"match":"layer1","rank":8},{"match":"fc2","rank":6}]})";
        QTest::newRow("channel pruning") << R"({"bonsai_recipe":1,"rules":[
            {"match":"layer1","sparsity_pattern":"channels","sparsity":0.25},
            {"match":"layer2","sparsity_pattern":"channels","sparsity":0.25,"precision":"int8"},
            {"match":"fc1","sparsity_pattern":"channels","sparsity":0.5,"precision":"int8"},
            {"match":"fc2","precision":"int8"}]})";
        QTest::newRow("channel pruning into fp16") << R"({"bonsai_recipe":1,"defaults":{"precision":"fp16"},"rules":[
            {"match":"layer1","sparsity_pattern":"channels","sparsity":0.5},{"match":"layer2","precision":"int4"}]})";
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
        const double bonsai = predicted.metrics.top1, ort = ortAccuracy(path, false), basic = ortAccuracy(path, true),
                     exact = ortAccuracy(path, false, true);
        const double base = eval_->evaluate(std::vector<LayerConfig>(model_->layers.size())).metrics.top1;
        qInfo("%s: Bonsai predicts %.2f%%, ONNX Runtime %.2f%% with qdq_matmulnbits_accuracy_level 1 (default "
              "session %.2f%%, basic optimizations %.2f%%); uncompressed %.2f%%; %s",
              QTest::currentDataTag(), 100 * bonsai, 100 * exact, 100 * ort, 100 * basic, 100 * base,
              qPrintable(QStringLiteral("%1 bytes").arg(plan.fileBytes)));
        QVERIFY(std::abs(exact - bonsai) < kSameCount);
        QVERIFY(std::abs(ort - bonsai) < kSameCount);
        QVERIFY(std::abs(basic - bonsai) < kSameCount);
        // Removed channels and low-rank factors make the file smaller than the dense export.
        if (recipe.contains(QStringLiteral("rank")) || recipe.contains(QStringLiteral("channels"))) {
            std::vector<LayerConfig> dense = configs;
            for (LayerConfig& c : dense) {
                c.rank = 0;
                c.energy = 0;
                if (c.pattern == SparsityPattern::Channels)
                    c.sparsity = 0;
            }
            const ExportPlan densePlan = planExport(*model_, dense, ExportFormat::Onnx);
            qInfo("  %llu bytes against %llu without rank or channel pruning", qulonglong(plan.fileBytes),
                  qulonglong(densePlan.fileBytes));
            QVERIFY(plan.fileBytes < densePlan.fileBytes);
        }
    }

    // BatchNormalization is folded into the Conv before it: the exported graph has none, the
    // Conv weights are the original ones times gamma / sqrt(var + eps) (checked against the
    // source's parameters), and ONNX Runtime gives the uncompressed model's accuracy.
    void batchNormFolded()
    {
        const std::vector<LayerConfig> none(model_->layers.size());
        const std::string path = testutil::tempPath("folded.onnx");
        ExportOptions o;
        o.overwrite = true;
        const ExportPlan plan = exportModel(*model_, none, ExportFormat::Onnx, path, o);
        const auto exported = Model::open(path);
        for (const auto& t : exported->tensors)
            QVERIFY2(t.name.find(".bn.") == std::string::npos, t.name.c_str());
        const int w = model_->findTensor("layer1.conv.weight");
        const std::vector<float> orig = model_->readFloat(w);
        const std::vector<float> gamma = model_->readFloat(model_->findTensor("layer1.bn.weight")),
                                 var = model_->readFloat(model_->findTensor("layer1.bn.running_var"));
        const std::vector<float> fused = exported->readFloat(exported->findTensor("layer1.conv.weight"));
        QCOMPARE(fused.size(), orig.size());
        const size_t per = orig.size() / gamma.size();
        for (size_t i = 0; i < orig.size(); ++i) {
            const double k = gamma[i / per] / std::sqrt(double(var[i / per]) + 1e-5);
            QVERIFY(std::abs(fused[i] - orig[i] * k) <= 1e-6 * (1 + std::abs(orig[i] * k)));
        }
        const double ort = ortAccuracy(path, false);
        const double base = eval_->evaluate(none).metrics.top1;
        qInfo("folded: ONNX Runtime %.2f%%, Bonsai %.2f%%; %zu notes", 100 * ort, 100 * base, plan.notes.size());
        QVERIFY(std::abs(ort - base) < kSameCount);
    }

    void refused()
    {
        const auto configs = resolveConfigs(*model_, Recipe::parse(
            R"({"bonsai_recipe":1,"rules":[{"match":"fc1","rank":16,"sparsity_pattern":"channels","sparsity":0.25},
                {"match":"fc2","precision":"nf4"}]})", "r"));
        const ExportPlan plan = planExport(*model_, configs, ExportFormat::Onnx);
        QVERIFY(!plan.writable());
        QCOMPARE(plan.problems().size(), size_t(2));
        QVERIFY(plan.problems()[0].find("fc1.weight': channel pruning with low rank") != std::string::npos);
        QVERIFY(plan.problems()[1].find("fc2.weight': nf4") != std::string::npos);
        // fc2's outputs are the graph's: its channels cannot go.
        const auto last = resolveConfigs(*model_, Recipe::parse(
            R"({"bonsai_recipe":1,"rules":[{"match":"fc2","sparsity_pattern":"channels","sparsity":0.2}]})", "r"));
        const ExportPlan p2 = planExport(*model_, last, ExportFormat::Onnx);
        QCOMPARE(p2.problems().size(), size_t(1));
        QVERIFY2(p2.problems()[0].find("graph's output 'logits'") != std::string::npos, p2.problems()[0].c_str());
        const std::string path = testutil::tempPath("refused.onnx");
        QVERIFY_THROWS_EXCEPTION(Error, exportModel(*model_, configs, ExportFormat::Onnx, path));
        QVERIFY(!fs::exists(path));
    }

private:
    std::unique_ptr<Model> model_;
    std::unique_ptr<Dataset> data_;
    std::unique_ptr<Evaluator> eval_;
};

QTEST_APPLESS_MAIN(TstInteropOnnxRuntime)
#include "tst_interop_onnxruntime.moc"
