// Safetensors export of the tiny-llama fixture (a Hugging Face checkpoint folder again):
//  - F32: Bonsai reads the folder back and its perplexity is the prediction (the evaluated
//    values exactly); config.json (torch_dtype float32) and tokenizer.model come along;
//  - F16 / BF16: every float tensor in that type, the file exactly the planned size, the
//    perplexity within 0.5% of the prediction (the dequantized weights rounded once more);
//  - refusals leave nothing: an existing folder without overwrite, an ONNX model, a
//    cancelled export (no folder, no temporary beside it).
#include "bonsai/compress.h"
#include "bonsai/error.h"
#include "bonsai/export.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"
#include "bonsai/tokenizer.h"

#include "testutil.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <filesystem>

using namespace bonsai;
namespace fs = std::filesystem;

namespace {

const char* kRecipe = R"({"bonsai_recipe":1,"defaults":{"precision":"int4","granularity":"group","group_size":32},
    "rules":[{"match":"down_proj","precision":"int8"},{"match":"embed_tokens","precision":"fp16"}]})";

} // namespace

class TstExportSafetensors : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        hf_ = Model::open(testutil::dataPath("tiny-llama"));
        lm_ = std::make_unique<LanguageModel>(*hf_);
        tokens_ = lm_->tokenizer().encode(testutil::readFile(testutil::dataPath("tiny-llama/eval.txt")));
        configs_ = resolveConfigs(*hf_, Recipe::parse(kRecipe, "test recipe"));
        opt_.maxChunks = 30;
        opt_.compareToBase = false;
        predicted_ = lm_->perplexity(tokens_, configs_, opt_).perplexity;
        root_ = testutil::tempPath("st-export");
        fs::create_directories(root_);
    }

    void folderPerType_data()
    {
        QTest::addColumn<int>("dtype");
        QTest::addColumn<double>("tolerance");
        QTest::newRow("f32") << int(DType::F32) << 1e-6;
        QTest::newRow("f16") << int(DType::F16) << 5e-3;
        QTest::newRow("bf16") << int(DType::BF16) << 5e-3;
    }

    void folderPerType()
    {
        QFETCH(int, dtype);
        QFETCH(double, tolerance);
        ExportOptions o;
        o.floatType = DType(dtype);
        const std::string out = root_ + "/" + QTest::currentDataTag();
        const ExportPlan plan = exportModel(*hf_, configs_, ExportFormat::Safetensors, out, o);
        QCOMPARE(testutil::dirEntries(out), (std::vector<std::string>{"config.json", "model.safetensors", "tokenizer.model"}));
        QCOMPARE(uint64_t(fs::file_size(out + "/model.safetensors")), plan.fileBytes);
        const auto config = nlohmann::json::parse(testutil::readFile(out + "/config.json"));
        QCOMPARE(config["torch_dtype"].get<std::string>(),
                 std::string(dtype == int(DType::F32) ? "float32" : dtype == int(DType::F16) ? "float16" : "bfloat16"));
        QCOMPARE(config["hidden_size"].get<int>(), 128);
        QCOMPARE(testutil::readFile(out + "/tokenizer.model"), testutil::readFile(testutil::dataPath("tiny-llama/tokenizer.model")));
        const auto back = Model::open(out);
        QCOMPARE(back->tensors.size(), hf_->tensors.size());
        for (const TensorInfo& t : back->tensors)
            QCOMPARE(t.dtype, DType(dtype));
        const double measured = LanguageModel(*back).perplexity(tokens_, {}, opt_).perplexity;
        QVERIFY2(std::abs(measured / predicted_ - 1) < tolerance,
                 qPrintable(QStringLiteral("%1 vs predicted %2").arg(measured, 0, 'f', 6).arg(predicted_, 0, 'f', 6)));
    }

    void refusalsLeaveNothing()
    {
        const std::string existing = root_ + "/f32";
        QVERIFY(fs::exists(existing));
        QVERIFY_THROWS_EXCEPTION(FileError, exportModel(*hf_, configs_, ExportFormat::Safetensors, existing));
        const auto cnn = Model::open(BONSAI_DEMO_MODEL);
        QVERIFY_THROWS_EXCEPTION(FileError, planExport(*cnn, {}, ExportFormat::Safetensors));
        const auto before = testutil::dirEntries(root_);
        QVERIFY_THROWS_EXCEPTION(Cancelled, exportModel(*hf_, configs_, ExportFormat::Safetensors, root_ + "/cancelled", {},
                                                        [](double f) { return f < 0.5; }));
        QCOMPARE(testutil::dirEntries(root_), before);
        // Replacing a folder: the new one takes its place, nothing else is left beside it.
        ExportOptions o;
        o.overwrite = true;
        exportModel(*hf_, {}, ExportFormat::Safetensors, existing, o);
        QCOMPARE(testutil::dirEntries(root_), before);
        // Unchanged at F32: every tensor is the checkpoint's, byte for byte.
        const auto replaced = Model::open(existing);
        for (const TensorInfo& t : hf_->tensors) {
            const TensorInfo& u = replaced->tensors[size_t(replaced->findTensor(t.name))];
            QVERIFY2(u.nbytes == t.nbytes && std::memcmp(u.data, t.data, t.nbytes) == 0, t.name.c_str());
        }
    }

private:
    std::unique_ptr<Model> hf_;
    std::unique_ptr<LanguageModel> lm_;
    std::vector<int32_t> tokens_;
    std::vector<LayerConfig> configs_;
    PerplexityOptions opt_;
    double predicted_ = 0;
    std::string root_;
};

QTEST_APPLESS_MAIN(TstExportSafetensors)
#include "tst_export_safetensors.moc"
