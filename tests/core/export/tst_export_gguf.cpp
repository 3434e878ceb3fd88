// GGUF export of the tiny-llama fixture (Hugging Face folder -> llama.cpp's layout), read back
// by Bonsai:
//  - unchanged (F32), the exported file's perplexity of eval.txt is PyTorch's own number in
//    reference.json (the Q/K permutation, names and metadata must all be right for that);
//  - quantized (Q8_0, Q4_0, a mixed recipe, Q4_K and Q3_K mapped as llama-quantize falls back), the
//    exported file's perplexity equals the prediction: Bonsai's evaluation of the original with
//    the plan's configurations (the weights the file holds);
//  - the file is exactly the size the check predicted, its tensors have the planned types;
//  - refusals: settings GGUF cannot store, an existing output, an unwritable folder, a model
//    that is no language model, a checkpoint without its tokenizer, a cancelled export: a
//    message naming the file or layer, and no file left behind.
#include "bonsai/error.h"
#include "bonsai/export.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"
#include "bonsai/compress.h"
#include "bonsai/tokenizer.h"

#include "testutil.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <sys/stat.h>

using namespace bonsai;
namespace fs = std::filesystem;

namespace {

std::vector<LayerConfig> configsOf(const Model& m, const std::string& recipeJson)
{
    return resolveConfigs(m, Recipe::parse(recipeJson, "test recipe"));
}

std::vector<std::string> filesIn(const std::string& dir)
{
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir))
        out.push_back(e.path().filename().string());
    return out;
}

} // namespace

class TstExportGguf : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        hf_ = Model::open(testutil::dataPath("tiny-llama"));
        lm_ = std::make_unique<LanguageModel>(*hf_);
        tokens_ = lm_->tokenizer().encode(testutil::readFile(testutil::dataPath("tiny-llama/eval.txt")));
        outDir_ = testutil::tempPath("export");
        fs::create_directories(outDir_);
    }

    void unchangedMatchesPyTorch()
    {
        const std::string path = outDir_ + "/f32.gguf";
        const ExportPlan plan = exportModel(*hf_, {}, ExportFormat::Gguf, path);
        QCOMPARE(uint64_t(fs::file_size(path)), plan.fileBytes);
        const auto gguf = Model::open(path);
        // llama.cpp's names, and the 9 tensors of each block plus embeddings and final norm.
        QCOMPARE(gguf->tensors.size(), size_t(4 * 9 + 2));
        QVERIFY(gguf->findTensor("blk.3.attn_q.weight") >= 0);
        QVERIFY(gguf->findTensor("output_norm.weight") >= 0);
        QVERIFY(gguf->findTensor("output.weight") < 0); // tied: llama.cpp uses token_embd
        const LanguageModel lm(*gguf);
        QCOMPARE(lm.config().rope, RopeStyle::Interleaved);
        QCOMPARE(lm.config().kvHeads, int64_t(2));
        const auto r = lm.perplexity(tokens_, {}, {});
        const auto ref = nlohmann::json::parse(testutil::readFile(testutil::dataPath("tiny-llama/reference.json")));
        QCOMPARE(int64_t(r.tokens), ref["eval_tokens"].get<int64_t>());
        const double expected = ref["perplexity"].get<double>();
        QVERIFY2(std::abs(r.perplexity / expected - 1) < 1e-4,
                 qPrintable(QStringLiteral("%1 vs PyTorch %2").arg(r.perplexity, 0, 'f', 6).arg(expected, 0, 'f', 6)));
        // Bonsai's tokenizer of the export (normalizer carried in the metadata) is the checkpoint's.
        QVERIFY(lm.tokenizer().encode("Hello  world,\tagain") == lm_->tokenizer().encode("Hello  world,\tagain"));
    }

    void quantizedEqualsPrediction_data()
    {
        QTest::addColumn<QString>("recipe");
        QTest::addColumn<bool>("mapping");
        QTest::addColumn<QString>("stored"); // type of blk.0.attn_q.weight in the file
        QTest::newRow("q8_0") << R"({"bonsai_recipe":1,"defaults":{"precision":"q8_0"}})" << false << "Q8_0";
        QTest::newRow("q4_0") << R"({"bonsai_recipe":1,"defaults":{"precision":"q4_0"}})" << false << "Q4_0";
        QTest::newRow("mixed") << R"({"bonsai_recipe":1,"defaults":{"precision":"q4_1"},
            "rules":[{"match":"embed_tokens","precision":"q8_0"},{"match":"down_proj","precision":"q5_0"},
                     {"match":"layers\\.0\\.","precision":"fp16"}]})"
                               << false << "F16";
        QTest::newRow("q4_k mapped") << R"({"bonsai_recipe":1,"defaults":{"precision":"q4_k"}})" << true << "Q5_0";
        QTest::newRow("q3_k mapped") << R"({"bonsai_recipe":1,"defaults":{"precision":"q3_k"}})" << true << "Q4_0";
        QTest::newRow("int8 mapped") << R"({"bonsai_recipe":1,"defaults":{"precision":"int8"}})" << true << "Q8_0";
    }

    void quantizedEqualsPrediction()
    {
        QFETCH(QString, recipe);
        QFETCH(bool, mapping);
        QFETCH(QString, stored);
        const auto configs = configsOf(*hf_, recipe.toStdString());
        ExportOptions options;
        options.acceptMapping = mapping;
        options.overwrite = true;
        const std::string path = outDir_ + "/" + QTest::currentDataTag() + std::string(".gguf");
        const ExportPlan plan = exportModel(*hf_, configs, ExportFormat::Gguf, path, options);
        QVERIFY(plan.writable());
        QCOMPARE(uint64_t(fs::file_size(path)), plan.fileBytes);
        const auto gguf = Model::open(path);
        for (const ExportTensorPlan& t : plan.tensors) {
            const int k = gguf->findTensor(t.target);
            QVERIFY2(k >= 0, t.target.c_str());
            QCOMPARE(std::string(dtypeName(gguf->tensors[size_t(k)].dtype)), t.stored);
            QCOMPARE(gguf->tensors[size_t(k)].nbytes, t.bytes);
            QCOMPARE(t.status, mapping && t.layer >= 0 ? StoreStatus::Changed : StoreStatus::AsConfigured);
        }
        QCOMPARE(QString::fromStdString(std::string(dtypeName(gguf->tensors[size_t(gguf->findTensor("blk.0.attn_q.weight"))].dtype))),
                 stored);
        PerplexityOptions opt;
        opt.maxChunks = 40;
        opt.compareToBase = false;
        const auto predicted = lm_->perplexity(tokens_, plan.configs, opt);
        const auto measured = LanguageModel(*gguf).perplexity(tokens_, {}, opt);
        QCOMPARE(measured.tokens, predicted.tokens);
        QVERIFY2(std::abs(measured.perplexity / predicted.perplexity - 1) < 1e-5,
                 qPrintable(QStringLiteral("exported %1, predicted %2").arg(measured.perplexity, 0, 'f', 6)
                                .arg(predicted.perplexity, 0, 'f', 6)));
        // Quantization did something: the prediction is not the uncompressed perplexity.
        const auto base = lm_->perplexity(tokens_, {}, opt);
        QVERIFY(std::abs(predicted.perplexity - base.perplexity) > 1e-4 * base.perplexity);
    }

    void refusals()
    {
        // A K type on 128-value rows, without the mapping: refused per layer, nothing written.
        const auto q4k = configsOf(*hf_, R"({"bonsai_recipe":1,"defaults":{"precision":"q4_k"}})");
        const ExportPlan plan = planExport(*hf_, q4k, ExportFormat::Gguf);
        QVERIFY(!plan.writable());
        QCOMPARE(plan.problems().size(), size_t(29));
        QVERIFY(plan.problems()[1].find("model.layers.0.self_attn.q_proj.weight") != std::string::npos);
        QVERIFY(plan.problems()[1].find("Q5_0") != std::string::npos);
        const std::string path = outDir_ + "/refused.gguf";
        QVERIFY_THROWS_EXCEPTION(Error, exportModel(*hf_, q4k, ExportFormat::Gguf, path));
        QVERIFY(!fs::exists(path));
        // Q2_K falls back to Q4_0, as llama-quantize's tensor_type_fallback does.
        const auto q2kConfigs = configsOf(*hf_, R"({"bonsai_recipe":1,"defaults":{"precision":"q2_k"}})");
        const ExportPlan q2k = planExport(*hf_, q2kConfigs, ExportFormat::Gguf);
        QCOMPARE(q2k.problems().size(), size_t(29));
        QVERIFY(q2k.problems()[1].find("Q2_K needs rows of a multiple of 256") != std::string::npos);
        QVERIFY(q2k.problems()[1].find("Q4_0, as llama-quantize falls back") != std::string::npos);

        // Sparsity and low rank cannot be stored, even with the mapping.
        ExportOptions map;
        map.acceptMapping = true;
        const auto sparse = configsOf(*hf_, R"({"bonsai_recipe":1,"rules":[{"match":"up_proj","precision":"q8_0","sparsity_pattern":"2:4"}]})");
        const ExportPlan sp = planExport(*hf_, sparse, ExportFormat::Gguf, map);
        QCOMPARE(sp.problems().size(), size_t(4));
        QVERIFY(sp.problems()[0].find("sparsity") != std::string::npos);

        // An existing output is kept without overwrite.
        const std::string existing = testutil::writeTemp("export/existing.gguf", "keep me");
        try {
            exportModel(*hf_, {}, ExportFormat::Gguf, existing);
            QFAIL("an existing output was replaced");
        } catch (const FileError& e) {
            QVERIFY(std::string(e.what()).find(existing) != std::string::npos);
        }
        QCOMPARE(testutil::readFile(existing), std::string("keep me"));

        // A read-only folder: a message naming the file, nothing left in it.
        const std::string ro = outDir_ + "/readonly";
        fs::create_directories(ro);
        fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
        if (::access(ro.c_str(), W_OK) != 0) { // root writes anywhere: the check would prove nothing
            QVERIFY_THROWS_EXCEPTION(FileError, exportModel(*hf_, {}, ExportFormat::Gguf, ro + "/out.gguf"));
            QVERIFY(filesIn(ro).empty());
        }
        fs::permissions(ro, fs::perms::owner_all);

        // Cancelled halfway: no file, no temporary.
        const std::string cancelled = outDir_ + "/cancelled/out.gguf";
        fs::create_directories(outDir_ + "/cancelled");
        QVERIFY_THROWS_EXCEPTION(Cancelled, exportModel(*hf_, {}, ExportFormat::Gguf, cancelled, {},
                                                        [](double f) { return f < 0.5; }));
        QVERIFY(filesIn(outDir_ + "/cancelled").empty());

        // No language model; a checkpoint without its tokenizer.
        const auto cnn = Model::open(BONSAI_DEMO_MODEL);
        try {
            planExport(*cnn, {}, ExportFormat::Gguf);
            QFAIL("a CNN was exported to GGUF");
        } catch (const FileError& e) {
            QVERIFY(std::string(e.what()).find("fashion_cnn.onnx") != std::string::npos);
        }
        const std::string bare = outDir_ + "/no-tokenizer";
        fs::create_directories(bare);
        for (const char* f : {"config.json", "model.safetensors"})
            fs::copy_file(testutil::dataPath(std::string("tiny-llama/") + f), bare + "/" + f,
                          fs::copy_options::overwrite_existing);
        const auto noTok = Model::open(bare);
        try {
            planExport(*noTok, {}, ExportFormat::Gguf);
            QFAIL("exported without a tokenizer");
        } catch (const FileError& e) {
            QVERIFY(std::string(e.what()).find("tokenizer.model") != std::string::npos);
            QVERIFY(std::string(e.what()).find("no-tokenizer") != std::string::npos);
        }
    }

    // A GGUF export of a GGUF file keeps its metadata and copies the tensors it does not change.
    void ggufToGguf()
    {
        const std::string first = outDir_ + "/from-hf.gguf";
        ExportOptions o;
        o.overwrite = true;
        exportModel(*hf_, configsOf(*hf_, R"({"bonsai_recipe":1,"defaults":{"precision":"q8_0"}})"), ExportFormat::Gguf,
                    first, o);
        const auto a = Model::open(first);
        const std::string second = outDir_ + "/from-gguf.gguf";
        const auto cfg = configsOf(*a, R"({"bonsai_recipe":1,"rules":[{"match":"ffn_down","precision":"q4_0"}]})");
        const ExportPlan plan = exportModel(*a, cfg, ExportFormat::Gguf, second, o);
        const auto b = Model::open(second);
        QCOMPARE(b->tensors.size(), a->tensors.size());
        for (const TensorInfo& t : a->tensors) {
            const TensorInfo& u = b->tensors[size_t(b->findTensor(t.name))];
            if (t.name.find("ffn_down") != std::string::npos) {
                QCOMPARE(u.dtype, DType::Q4_0);
            } else {
                QCOMPARE(u.dtype, t.dtype);
                QVERIFY2(std::memcmp(u.data, t.data, t.nbytes) == 0, t.name.c_str());
            }
        }
        PerplexityOptions opt;
        opt.maxChunks = 20;
        opt.compareToBase = false;
        const auto predicted = LanguageModel(*a).perplexity(tokens_, plan.configs, opt);
        const auto measured = LanguageModel(*b).perplexity(tokens_, {}, opt);
        QVERIFY(std::abs(measured.perplexity / predicted.perplexity - 1) < 1e-5);
    }

private:
    std::unique_ptr<Model> hf_;
    std::unique_ptr<LanguageModel> lm_;
    std::vector<int32_t> tokens_;
    std::string outDir_;
};

QTEST_APPLESS_MAIN(TstExportGguf)
#include "tst_export_gguf.moc"
