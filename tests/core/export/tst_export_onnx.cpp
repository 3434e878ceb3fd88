// Bonsai opens its own ONNX exports: each QDQ weight (DequantizeLinear of INT8/UINT8/INT4/UINT4
// codes, a Reshape for a Conv's 2-D groups) and each FP16 weight behind a Cast is one tensor of
// its layer, shown with its stored type and size (codes, scales and zero points), not as loose
// initializers; its values decode to exactly what the export check evaluated; and Bonsai's own
// executor runs the exported graph to the accuracy the check predicted. (ONNX Runtime's
// accuracy on the same files is checked in tests/interop.)
#include "bonsai/compress.h"
#include "bonsai/dataset.h"
#include "bonsai/evaluate.h"
#include "bonsai/export.h"
#include "bonsai/model.h"
#include "bonsai/provenance.h"
#include "bonsai/recipe.h"

#include "testutil.h"

#include <QtTest>

#include <filesystem>

using namespace bonsai;
namespace fs = std::filesystem;

class TstExportOnnx : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        model_ = Model::open(BONSAI_DEMO_MODEL);
        data_ = openDataset(defaultDatasetPath());
    }

    void opensItsOwnExport_data()
    {
        QTest::addColumn<QString>("recipe");
        QTest::addColumn<QString>("conv");  // layer2.conv's stored type
        QTest::newRow("int8 per channel") << R"({"bonsai_recipe":1,"defaults":{"precision":"int8"}})"
                                          << "INT8 per axis + DequantizeLinear";
        QTest::newRow("int4 group 32") << R"({"bonsai_recipe":1,"defaults":{"precision":"int4","granularity":"group","group_size":32}})"
                                       << "INT4 blocks of 32 + DequantizeLinear";
        QTest::newRow("uint4 group 64") << R"({"bonsai_recipe":1,"defaults":{"precision":"int4","granularity":"group","group_size":64,"symmetric":false}})"
                                        << "UINT4 blocks of 64 + DequantizeLinear";
        QTest::newRow("int8 per tensor") << R"({"bonsai_recipe":1,"defaults":{"precision":"int8","granularity":"tensor"}})"
                                         << "INT8 per axis + DequantizeLinear"; // BatchNormalization folded: a scale per channel
        QTest::newRow("fp16") << R"({"bonsai_recipe":1,"defaults":{"precision":"fp16"}})" << "F16";
        // GPTQ needs calibration data the export does not take: round-to-nearest codes, predicted so.
        QTest::newRow("gptq as rtn") << R"({"bonsai_recipe":1,"defaults":{"precision":"int4","granularity":"group","group_size":32,"method":"gptq"}})"
                                     << "INT4 blocks of 32 + DequantizeLinear";
    }

    void opensItsOwnExport()
    {
        QFETCH(QString, recipe);
        QFETCH(QString, conv);
        const auto configs = resolveConfigs(*model_, Recipe::parse(recipe.toStdString(), "test recipe"));
        ExportOptions o;
        o.overwrite = true;
        const std::string path = testutil::tempPath(QTest::currentDataTag() + std::string(".onnx"));
        const ExportPlan plan = exportModel(*model_, configs, ExportFormat::Onnx, path, o);
        const auto exported = Model::open(path);
        for (size_t i = 0; i < plan.configs.size(); ++i)
            if (configs[i].method == QuantMethod::GPTQ) {
                QCOMPARE(plan.configs[i].method, QuantMethod::RTN);
                QCOMPARE(plan.tensors[i].status, StoreStatus::Changed);
                QVERIFY2(plan.tensors[i].reason.find("gptq needs calibration data") != std::string::npos,
                         plan.tensors[i].reason.c_str());
            }
        // The same layers, in the same order, under the source's weight names.
        QCOMPARE(exported->layers.size(), model_->layers.size());
        for (size_t i = 0; i < model_->layers.size(); ++i) {
            const TensorInfo& src = model_->tensors[size_t(model_->layers[i].weight)];
            const TensorInfo& t = exported->tensors[size_t(exported->layers[i].weight)];
            QCOMPARE(t.name, src.name);
            QCOMPARE(t.shape, src.shape);
            // No codes, scales or zero points left as tensors of their own.
            QCOMPARE(exported->findTensor(src.name + "_quantized"), -1);
            QCOMPARE(exported->findTensor(src.name + "_scale"), -1);
            QCOMPARE(exported->findTensor(src.name + "_fp16"), -1);
            // Stored as the plan says, at the size it counted.
            const ExportTensorPlan& tp = plan.tensors[i];
            QCOMPARE(t.storedBytes(), tp.bytes);
            if (t.dequant)
                QVERIFY2(tp.stored.rfind(t.dequant->describe(), 0) == 0, tp.stored.c_str());
            if (t.name == "layer2.conv.weight")
                QCOMPARE(QString::fromStdString(t.storedType()), conv);
        }
        // The decoded weights of unfolded layers are exactly the evaluated ones (a folded Conv's
        // are those times its BatchNormalization's factors, checked in tests/interop).
        for (const char* name : {"fc1.weight", "fc2.weight"}) {
            const int li = [&] {
                for (size_t i = 0; i < model_->layers.size(); ++i)
                    if (model_->tensors[size_t(model_->layers[i].weight)].name == name)
                        return int(i);
                return -1;
            }();
            QVERIFY(li >= 0);
            std::vector<float> expected;
            compressLayer(*model_, li, plan.configs[size_t(li)], &expected);
            const std::vector<float> got = exported->readFloat(exported->findTensor(name));
            QCOMPARE(got.size(), expected.size());
            size_t differ = 0;
            for (size_t k = 0; k < got.size(); ++k)
                differ += got[k] != expected[k];
            QCOMPARE(differ, size_t(0));
        }
        // The export's record (metadata_props, read whole) names the demo model, which verifies.
        const VerifyResult v = verifyProvenance(readRecordedProvenance(path), *model_);
        QVERIFY(v.ok);
        QVERIFY(!v.lines.empty() && v.lines[0].find("fashion_cnn.onnx: matches") != std::string::npos);
        // Bonsai's executor runs the exported graph to the predicted accuracy.
        EvalOptions eo;
        eo.limit = 3000;
        Evaluator predicted(*model_, *data_, eo), own(*exported, *data_, eo);
        const double want = predicted.evaluate(plan.configs).metrics.top1;
        const double got = own.evaluate(std::vector<LayerConfig>(exported->layers.size())).metrics.top1;
        qInfo("%s: predicted %.2f%%, Bonsai on the export %.2f%% (first 3,000 test images)", QTest::currentDataTag(),
              100 * want, 100 * got);
        QVERIFY(std::abs(want - got) <= 1.0 / 3000);
    }

private:
    std::unique_ptr<Model> model_;
    std::unique_ptr<Dataset> data_;
};

QTEST_APPLESS_MAIN(TstExportOnnx)
#include "tst_export_onnx.moc"
