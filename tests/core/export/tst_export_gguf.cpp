// GGUF export of the tiny-llama fixture (Hugging Face folder -> llama.cpp's layout), read back
// by Bonsai:
//  - unchanged (F32), the exported file's perplexity of eval.txt is PyTorch's own number in
//    reference.json (the Q/K permutation, names and metadata must all be right for that);
//  - quantized (Q8_0, Q4_0, a mixed recipe, Q4_K and Q3_K mapped as llama-quantize falls back), the
//    exported file's perplexity equals the prediction: Bonsai's evaluation of the original with
//    the plan's configurations (the weights the file holds);
//  - the file is exactly the size the check predicted, its tensors have the planned types;
//  - byte-level BPE checkpoints made here (tests/support/bpe_checkpoint.h): a Qwen2-shaped one
//    (q/k/v biases, tied embeddings, padded vocabulary) and Llama 3.1-shaped ones ("llama3" and
//    linear RoPE scaling; GPT-2's pre-tokenizer): the metadata equals what the test computes from config.json and
//    tokenizer.json, the tokens, types and merges are tokenizer.json's, Bonsai re-tokenizes the
//    export as the tokenizer.json, the Q/K rows are permuted for llama only, rope_freqs.weight is
//    the converter's formula computed here, and the export's perplexity is the checkpoint's;
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

#include "bpe_checkpoint.h"
#include "formats/gguf.h"
#include "testutil.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>
#include <optional>
#include <set>
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

// Text that exercises the pre-tokenizers: contractions, digit runs, newlines, spaces, non-ASCII,
// added tokens (special or not) inside words.
const char* kSample = "Hello world!  It's 2024: 12345 apples\n\n\tdon'T WE'LL see...\r\n"
                      "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80 licorice gumballs<|endoftext|>x"
                      "<|im_start|>user<tool> <|begin_of_text|>  Debian   \n";

// The checkpoint of a data row ("qwen2", "llama3", "linear", "gpt2"), written once per process.
testutil::BpeCheckpointFiles bpeCheckpoint(const std::string& row)
{
    static std::map<std::string, testutil::BpeCheckpointFiles> made;
    if (auto it = made.find(row); it != made.end())
        return it->second;
    const std::string text = testutil::readFile(testutil::dataPath("tiny-llama/calib.txt")).substr(0, 40000);
    const auto spec = testutil::bpeTestCheckpoint(row, text);
    return made[row] = testutil::writeBpeCheckpoint(testutil::tempPath("bpe-" + row), spec);
}

nlohmann::json jsonFile(const std::string& path) { return nlohmann::json::parse(testutil::readFile(path)); }

} // namespace

class TstExportGguf : public QObject {
    Q_OBJECT
    // The comparisons of an export with its prediction read the first 16 chunks of eval.txt
    // (the whole text is compared with PyTorch once, unchanged): under the sanitizers every
    // chunk costs seconds.
    static PerplexityOptions firstChunks()
    {
        PerplexityOptions opt;
        opt.maxChunks = 16;
        opt.compareToBase = false;
        return opt;
    }
    std::optional<double> basePerplexity_; // the uncompressed model's, over firstChunks()

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
        // Pruned weights written densely as the zeros Bonsai evaluated (types without a minimum).
        QTest::newRow("2:4 q8_0 mapped") << R"({"bonsai_recipe":1,"defaults":{"precision":"q8_0","sparsity_pattern":"2:4"}})"
                                         << true << "Q8_0";
        QTest::newRow("rank 16 mapped") << R"({"bonsai_recipe":1,"defaults":{"rank":16}})"
                                        << true << "F32";
        QTest::newRow("50% q4_0 mapped") << R"({"bonsai_recipe":1,"defaults":{"precision":"q4_0","sparsity":0.5}})"
                                         << true << "Q4_0";
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
        const PerplexityOptions opt = firstChunks();
        const auto predicted = lm_->perplexity(tokens_, plan.configs, opt);
        const auto measured = LanguageModel(*gguf).perplexity(tokens_, {}, opt);
        QCOMPARE(measured.tokens, predicted.tokens);
        QVERIFY2(std::abs(measured.perplexity / predicted.perplexity - 1) < 1e-5,
                 qPrintable(QStringLiteral("exported %1, predicted %2").arg(measured.perplexity, 0, 'f', 6)
                                .arg(predicted.perplexity, 0, 'f', 6)));
        // Quantization did something: the prediction is not the uncompressed perplexity.
        if (!basePerplexity_)
            basePerplexity_ = lm_->perplexity(tokens_, {}, opt).perplexity;
        QVERIFY(std::abs(predicted.perplexity - *basePerplexity_) > 1e-4 * *basePerplexity_);
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

        // Sparsity is written densely only with the mapping and in types that keep zeros; low
        // rank cannot be stored.
        ExportOptions map;
        map.acceptMapping = true;
        const auto sparse = configsOf(*hf_, R"({"bonsai_recipe":1,"rules":[{"match":"up_proj","precision":"q8_0","sparsity_pattern":"2:4"}]})");
        const ExportPlan sp = planExport(*hf_, sparse, ExportFormat::Gguf);
        QCOMPARE(sp.problems().size(), size_t(4));
        QVERIFY(sp.problems()[0].find("pruned weights written densely") != std::string::npos);
        QVERIFY(sp.problems()[0].find("accept the mapping") != std::string::npos);
        QVERIFY(planExport(*hf_, sparse, ExportFormat::Gguf, map).writable());
        const auto minimum = configsOf(*hf_, R"({"bonsai_recipe":1,"rules":[{"match":"up_proj","precision":"q4_1","sparsity":0.3},
            {"match":"down_proj","rank":8,"precision":"q8_0"}]})");
        const ExportPlan mp = planExport(*hf_, minimum, ExportFormat::Gguf, map);
        QCOMPARE(mp.problems().size(), size_t(4)); // low rank is written densely with the mapping
        QVERIFY2(mp.problems()[0].find("Q4_1 blocks have a minimum") != std::string::npos, mp.problems()[0].c_str());
        const ExportPlan unmapped = planExport(*hf_, minimum, ExportFormat::Gguf);
        QCOMPARE(unmapped.problems().size(), size_t(8));
        QVERIFY2(unmapped.problems()[1].find("low rank written densely as the F32 product") != std::string::npos,
                 unmapped.problems()[1].c_str());
        QVERIFY2(unmapped.problems()[1].find("q8_0 is not applied (accept the mapping") != std::string::npos,
                 unmapped.problems()[1].c_str());

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

        // The output folder removed during the write: an error naming the file, nothing
        // recreated (the temporary file went with the folder).
        const std::string gone = outDir_ + "/gone";
        fs::create_directories(gone);
        bool removed = false;
        try {
            exportModel(*hf_, {}, ExportFormat::Gguf, gone + "/out.gguf", {}, [&](double f) {
                if (f > 0.3 && !removed) {
                    fs::remove_all(gone);
                    removed = true;
                }
                return true;
            });
            QFAIL("the export succeeded into a removed folder");
        } catch (const FileError& e) {
            QVERIFY2(std::string(e.what()).find("out.gguf") != std::string::npos, e.what());
        }
        QVERIFY(removed);
        QVERIFY(!fs::exists(gone));

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

    void bpeExport_data()
    {
        QTest::addColumn<QString>("row");
        QTest::newRow("qwen2") << "qwen2";
        QTest::newRow("llama3 rope scaling") << "llama3";
        QTest::newRow("linear rope scaling") << "linear";
        QTest::newRow("llama, gpt2 pre-tokenizer") << "gpt2";
    }

    void bpeExport()
    {
        QFETCH(QString, row);
        const auto files = bpeCheckpoint(row.toStdString());
        const auto hf = Model::open(files.dir);
        const LanguageModel source(*hf);
        const std::string path = outDir_ + "/bpe-" + row.toStdString() + ".gguf";
        ExportOptions o;
        o.overwrite = true;
        const ExportPlan plan = exportModel(*hf, {}, ExportFormat::Gguf, path, o);
        QCOMPARE(uint64_t(fs::file_size(path)), plan.fileBytes);
        const auto gguf = Model::open(path);
        const GgufMetadata& md = *ggufMetadata(*gguf);

        // Hyperparameters, from config.json.
        const auto cfg = jsonFile(files.dir + "/config.json");
        const bool qwen = cfg["model_type"] == "qwen2";
        const std::string arch = qwen ? "qwen2" : "llama";
        QCOMPARE(md.getString("general.architecture").value_or(""), arch);
        QCOMPARE(md.getInt(arch + ".embedding_length").value_or(0), cfg["hidden_size"].get<int64_t>());
        QCOMPARE(md.getInt(arch + ".feed_forward_length").value_or(0), cfg["intermediate_size"].get<int64_t>());
        QCOMPARE(md.getInt(arch + ".block_count").value_or(0), cfg["num_hidden_layers"].get<int64_t>());
        QCOMPARE(md.getInt(arch + ".attention.head_count").value_or(0), cfg["num_attention_heads"].get<int64_t>());
        QCOMPARE(md.getInt(arch + ".attention.head_count_kv").value_or(0), cfg["num_key_value_heads"].get<int64_t>());
        QCOMPARE(md.getInt(arch + ".context_length").value_or(0), cfg["max_position_embeddings"].get<int64_t>());
        QCOMPARE(md.getDouble(arch + ".rope.freq_base").value_or(0), double(float(cfg["rope_theta"].get<double>())));
        QCOMPARE(md.getDouble(arch + ".attention.layer_norm_rms_epsilon").value_or(0),
                 double(float(cfg["rms_norm_eps"].get<double>())));
        const int64_t headDim = cfg["hidden_size"].get<int64_t>() / cfg["num_attention_heads"].get<int64_t>();
        // llama.cpp's converter writes these two for llama only.
        QCOMPARE(md.getInt(arch + ".rope.dimension_count").value_or(-1), qwen ? -1 : headDim);
        QCOMPARE(md.getInt(arch + ".vocab_size").value_or(-1), qwen ? -1 : cfg["vocab_size"].get<int64_t>());
        const auto& rs = cfg.value("rope_scaling", nlohmann::json::object());
        if (rs.value("type", "") == "linear") {
            QCOMPARE(md.getString(arch + ".rope.scaling.type").value_or(""), std::string("linear"));
            QCOMPARE(md.getDouble(arch + ".rope.scaling.factor").value_or(0), rs["factor"].get<double>());
        } else {
            QVERIFY(!md.find(arch + ".rope.scaling.type"));
        }

        // The vocabulary, from tokenizer.json: its tokens at their ids, unused rows as [PAD<id>].
        const auto tj = jsonFile(files.dir + "/tokenizer.json");
        const int64_t n = cfg["vocab_size"].get<int64_t>();
        std::vector<std::string> tokens{size_t(n), std::string()};
        std::vector<int64_t> types(static_cast<size_t>(n), 1);
        for (const auto& [piece, id] : tj["model"]["vocab"].items())
            tokens[id.get<size_t>()] = piece;
        for (const auto& a : tj["added_tokens"]) {
            tokens[a["id"].get<size_t>()] = a["content"].get<std::string>();
            const std::string c = a["content"];
            const bool looksSpecial = c.starts_with("<|") && c.ends_with("|>");
            types[a["id"].get<size_t>()] = a["special"].get<bool>() || looksSpecial ? 3 : 4;
        }
        for (int64_t i = 0; i < n; ++i)
            if (tokens[size_t(i)].empty()) {
                tokens[size_t(i)] = "[PAD" + std::to_string(i) + "]";
                types[size_t(i)] = 5;
            }
        QCOMPARE(md.getString("tokenizer.ggml.model").value_or(""), std::string("gpt2"));
        // llama.cpp's name of the pre-tokenizer regex (src/llama-vocab.cpp).
        const auto& preTok = tj["pre_tokenizer"];
        const std::string regex = preTok["type"] == "Sequence" ? preTok["pretokenizers"][0]["pattern"]["Regex"] : "";
        const std::string preName = regex.empty()                      ? "gpt-2"
                                    : regex == testutil::kQwen2Regex   ? "qwen2"
                                    : regex == testutil::kLlama3Regex ? "llama-bpe"
                                                                       : "?";
        QCOMPARE(md.getString("tokenizer.ggml.pre").value_or(""), preName);
        QVERIFY(*md.getStrings("tokenizer.ggml.tokens") == tokens);
        QVERIFY(md.find("tokenizer.ggml.token_type")->toInts() == types);
        std::vector<std::string> merges;
        for (const auto& m : tj["model"]["merges"])
            merges.push_back(m.get<std::string>());
        QVERIFY(merges.size() > 100);
        QVERIFY(*md.getStrings("tokenizer.ggml.merges") == merges);
        QCOMPARE(md.getInt("tokenizer.ggml.bos_token_id").value_or(-1), cfg["bos_token_id"].get<int64_t>());
        QCOMPARE(md.getInt("tokenizer.ggml.eos_token_id").value_or(-1), cfg["eos_token_id"].get<int64_t>());
        // A template post-processor adds BOS (Llama 3); others add nothing, and no key is written.
        const bool templated = tj["post_processor"]["type"] == "TemplateProcessing";
        QCOMPARE(md.getBool("tokenizer.ggml.add_bos_token").has_value(), templated);
        if (templated)
            QVERIFY(*md.getBool("tokenizer.ggml.add_bos_token"));

        // Bonsai re-tokenizes the export as the tokenizer.json does.
        const LanguageModel exported(*gguf);
        const auto json = Tokenizer::fromTokenizerJson(files.dir + "/tokenizer.json");
        const std::string eval = testutil::readFile(testutil::dataPath("tiny-llama/eval.txt"));
        for (const std::string& text : {std::string(kSample), eval}) {
            const auto ids = json->encode(text);
            QVERIFY(ids == exported.tokenizer().encode(text));
            QVERIFY(json->decode(ids) == exported.tokenizer().decode(ids));
        }
        QVERIFY(json->encode(kSample).size() > 40);
        // The sample tells the three pre-tokenizers apart (a wrong tokenizer.ggml.pre would show).
        QVERIFY(byteLevelPreTokenize(kSample, "qwen2") != byteLevelPreTokenize(kSample, "llama3"));
        QVERIFY(byteLevelPreTokenize(kSample, "gpt2") != byteLevelPreTokenize(kSample, "llama3"));
        QVERIFY(byteLevelPreTokenize(kSample, "gpt2") != byteLevelPreTokenize(kSample, "qwen2"));
        QCOMPARE(exported.tokenizer().bos(), source.tokenizer().bos());

        // Tensors: biases kept, Q/K rows permuted for llama only, tied heads not written.
        auto values = [](const Model& m, const std::string& name) { return m.readFloat(m.findTensor(name)); };
        const auto q = values(*hf, "model.layers.1.self_attn.q_proj.weight");
        const auto k = values(*hf, "model.layers.1.self_attn.k_proj.weight");
        const int64_t hidden = cfg["hidden_size"].get<int64_t>(), heads = cfg["num_attention_heads"].get<int64_t>(),
                      kv = cfg["num_key_value_heads"].get<int64_t>();
        QVERIFY(values(*gguf, "blk.1.attn_q.weight") == (qwen ? q : testutil::permuteHeadRows(q, heads * headDim, hidden, heads)));
        QVERIFY(values(*gguf, "blk.1.attn_k.weight") == (qwen ? k : testutil::permuteHeadRows(k, kv * headDim, hidden, kv)));
        QCOMPARE(gguf->findTensor("blk.1.attn_q.bias") >= 0, qwen);
        if (qwen) {
            QVERIFY(values(*gguf, "blk.1.attn_q.bias") == values(*hf, "model.layers.1.self_attn.q_proj.bias"));
            QVERIFY(values(*gguf, "blk.1.attn_k.bias") == values(*hf, "model.layers.1.self_attn.k_proj.bias"));
            QVERIFY(values(*gguf, "blk.1.attn_v.bias") == values(*hf, "model.layers.1.self_attn.v_proj.bias"));
        }
        QCOMPARE(gguf->findTensor("output.weight") >= 0, !cfg["tie_word_embeddings"].get<bool>());

        // llama3 RoPE scaling: convert_hf_to_gguf's rope_factors, computed here.
        QCOMPARE(gguf->findTensor("rope_freqs.weight") >= 0, rs.value("rope_type", "") == "llama3");
        if (rs.value("rope_type", "") == "llama3") {
            const double factor = rs["factor"], low = rs["low_freq_factor"], high = rs["high_freq_factor"],
                         old = rs["original_max_position_embeddings"], theta = cfg["rope_theta"];
            const auto got = values(*gguf, "rope_freqs.weight");
            QCOMPARE(got.size(), size_t(headDim / 2));
            std::set<int> kinds; // each rule of the formula is exercised
            for (int64_t i = 0; i < headDim / 2; ++i) {
                const double freq = 1.0 / std::pow(theta, double(2 * i) / double(headDim));
                const double wavelen = 2 * std::numbers::pi / freq;
                double expected = 1;
                if (wavelen > old / low) {
                    expected = factor;
                    kinds.insert(2);
                } else if (wavelen >= old / high) {
                    const double smooth = (old / wavelen - low) / (high - low);
                    expected = 1 / ((1 - smooth) / factor + smooth);
                    kinds.insert(1);
                } else {
                    kinds.insert(0);
                }
                QVERIFY2(std::abs(got[size_t(i)] / expected - 1) < 1e-6,
                         qPrintable(QStringLiteral("rope_freqs[%1] = %2, expected %3").arg(i).arg(got[size_t(i)]).arg(expected)));
            }
            QCOMPARE(kinds.size(), size_t(3));
        }

        // The export's perplexity is the checkpoint's.
        const auto ids = json->encode(eval);
        PerplexityOptions opt;
        opt.maxChunks = 6;
        opt.compareToBase = false;
        const auto a = source.perplexity(ids, {}, opt), b = exported.perplexity(ids, {}, opt);
        QCOMPARE(b.tokens, a.tokens);
        QVERIFY2(std::abs(b.perplexity / a.perplexity - 1) < 1e-5,
                 qPrintable(QStringLiteral("export %1, checkpoint %2").arg(b.perplexity, 0, 'f', 6).arg(a.perplexity, 0, 'f', 6)));
        // The RoPE scaling is in effect: without it the checkpoint scores otherwise.
        if (!rs.empty()) {
            const std::string plain = outDir_ + "/bpe-plain-" + row.toStdString();
            fs::create_directories(plain);
            for (const char* f : {"model.safetensors", "tokenizer.json"})
                fs::copy_file(files.dir + "/" + f, plain + "/" + f, fs::copy_options::overwrite_existing);
            auto c = cfg;
            c.erase("rope_scaling");
            std::ofstream(plain + "/config.json") << c.dump();
            const auto m = Model::open(plain);
            const double unscaled = LanguageModel(*m).perplexity(ids, {}, opt).perplexity;
            qInfo("%s: %.6f without the RoPE scaling", qPrintable(row), unscaled);
            QVERIFY2(std::abs(unscaled / a.perplexity - 1) > 1e-4,
                     qPrintable(QStringLiteral("unscaled %1, scaled %2").arg(unscaled).arg(a.perplexity)));
        }
        qInfo("%s: perplexity %.6f (checkpoint) %.6f (export), %zu tokens", qPrintable(row), a.perplexity, b.perplexity,
              size_t(a.tokens));
    }

    // A quantized Qwen2 export is what Bonsai predicted from the checkpoint.
    void bpeQuantizedEqualsPrediction()
    {
        const auto hf = Model::open(bpeCheckpoint("qwen2").dir);
        const LanguageModel lm(*hf);
        const auto configs = configsOf(*hf, R"({"bonsai_recipe":1,"defaults":{"precision":"q8_0"},
            "rules":[{"match":"down_proj","precision":"q4_0"}]})");
        ExportOptions o;
        o.overwrite = true;
        const std::string path = outDir_ + "/bpe-q8.gguf";
        const ExportPlan plan = exportModel(*hf, configs, ExportFormat::Gguf, path, o);
        const auto gguf = Model::open(path);
        QCOMPARE(gguf->tensors[size_t(gguf->findTensor("blk.0.ffn_down.weight"))].dtype, DType::Q4_0);
        QCOMPARE(gguf->tensors[size_t(gguf->findTensor("blk.0.attn_q.bias"))].dtype, DType::F32);
        const auto ids = lm.tokenizer().encode(testutil::readFile(testutil::dataPath("tiny-llama/eval.txt")));
        PerplexityOptions opt;
        opt.maxChunks = 6;
        opt.compareToBase = false;
        const auto predicted = lm.perplexity(ids, plan.configs, opt), measured = LanguageModel(*gguf).perplexity(ids, {}, opt);
        QVERIFY2(std::abs(measured.perplexity / predicted.perplexity - 1) < 1e-5,
                 qPrintable(QStringLiteral("exported %1, predicted %2").arg(measured.perplexity).arg(predicted.perplexity)));
    }

    void bpeRefusals()
    {
        const std::string text = testutil::readFile(testutil::dataPath("tiny-llama/calib.txt")).substr(0, 4000);
        auto refused = [&](const std::string& name, testutil::BpeCheckpoint spec, const std::string& part,
                           const std::string& file) {
            spec.merges = 40;
            const auto files = testutil::writeBpeCheckpoint(testutil::tempPath("bpe-refused-" + name), spec);
            const auto m = Model::open(files.dir);
            try {
                planExport(*m, {}, ExportFormat::Gguf);
                QFAIL(qPrintable(QString::fromStdString(name + ": exported")));
            } catch (const FileError& e) {
                const std::string what = e.what();
                qInfo("%s: %s", name.c_str(), what.c_str());
                QVERIFY2(what.find(part) != std::string::npos && what.find(file) != std::string::npos, what.c_str());
            }
        };
        // A regex llama.cpp has no pre-tokenizer name for (Bonsai cannot run it either).
        auto odd = testutil::qwen2Checkpoint(text);
        odd.preRegex = R"(\p{L}+|\s+)";
        refused("regex", odd, "pre-tokenizer regex", "tokenizer.json");
        // Qwen2's regex with ignore_merges: llama.cpp's qwen2 applies the merges.
        auto ignoring = testutil::qwen2Checkpoint(text);
        ignoring.ignoreMerges = true;
        refused("ignore-merges", ignoring, "ignore_merges", "tokenizer.json");
        // More tokenizer ids than embedding rows.
        auto small = testutil::qwen2Checkpoint(text);
        small.paddedVocab = 200;
        refused("rows", small, "beyond the model's 200 embedding rows", "tokenizer.json");
        // llama3 RoPE scaling on qwen2: llama.cpp reads rope_freqs for llama only.
        auto scaled = testutil::qwen2Checkpoint(text);
        scaled.ropeScaling = testutil::llama3Checkpoint(text).ropeScaling;
        refused("qwen2-llama3", scaled, "rope_freqs", "bpe-refused-qwen2-llama3");
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
        const PerplexityOptions opt = firstChunks();
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
