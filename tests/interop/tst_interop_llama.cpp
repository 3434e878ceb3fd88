// Bonsai's GGUF exports of the tiny-llama fixture in llama.cpp itself (node-llama-cpp 3.21.1's
// CPU build, tests/interop/node_modules):
//  - every block type's quantizer equals llama.cpp's (ggml_quantize_chunk from its
//    libggml-base.so, no importance matrix) byte for byte on 4096 varied 256-value blocks;
//  - llama.cpp loads each export and reports the planned tensor types: of the tiny-llama
//    fixture (hidden 128) at Q8_0, Q4_0, a mixed recipe, and Q4_K / Q6_K / Q3_K through the
//    llama-quantize fallback the check proposes; of a wider Llama made here (hidden 256, random
//    weights, the fixture's tokenizer), whose rows fit the K types' 256-value blocks, at Q2_K,
//    Q3_K, Q4_K, Q5_K, Q6_K and a K mix;
//  - its perplexity of Bonsai's token ids equals Bonsai's predicted perplexity within 0.2%
//    (F32 KV cache, no flash attention; llama.cpp's default F16 cache is printed beside it);
//  - every tensor's bytes equal llama.cpp's own quantizer's (ggml_quantize_chunk from its
//    libggml-base.so, fed the Hugging Face weights with the Q/K rows permuted by the test);
//  - byte-level BPE checkpoints made here (tests/support/bpe_checkpoint.h): a Qwen2-shaped one
//    (q/k/v biases, tied embeddings, padded vocabulary; exported at F32 and Q8_0) and a Llama
//    3.1-shaped one with "llama3" RoPE scaling (llama.cpp applies the export's rope_freqs.weight)
//    and ones with linear scaling and with GPT-2's pre-tokenizer: llama.cpp loads each, its perplexity of Bonsai's token ids equals
//    Bonsai's within 0.01% (F32; 0.2% at Q8_0; without the scaling it would be 1.5% off), and llama.cpp's own tokenizer, given the export's tokenizer.ggml.pre,
//    tokenizes a sample text and the start of eval.txt into the ids of the tokenizer.json;
//  - the tensor-type file of a mixed recipe, given to llama.cpp's llama_model_quantize (as
//    llama-quantize --tensor-type-file does) with Bonsai's unchanged F32 export, makes the same
//    tensors, byte for byte, as Bonsai's own GGUF export of that recipe.
#include "bonsai/compress.h"
#include "bonsai/export.h"
#include "bonsai/ggml_blocks.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"
#include "bonsai/tokenizer.h"

#include "bpe_checkpoint.h"
#include "testutil.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <cstddef>
#include <dlfcn.h>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>

using namespace bonsai;
namespace fs = std::filesystem;

namespace {

constexpr int kCtx = 128, kChunks = 12;

const std::string kInterop = BONSAI_INTEROP_DIR;
const std::string kLibDir = kInterop + "/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64";

// ggml.h's enum ggml_type, for the types Bonsai writes.
const std::map<std::string, int> kGgmlType = {
    {"F32", 0}, {"F16", 1}, {"Q4_0", 2}, {"Q4_1", 3}, {"Q5_0", 6}, {"Q5_1", 7}, {"Q8_0", 8},
    {"Q2_K", 10}, {"Q3_K", 11}, {"Q4_K", 12}, {"Q5_K", 13}, {"Q6_K", 14}, {"BF16", 30},
};

using QuantizeChunk = size_t (*)(int type, const float* src, void* dst, int64_t start, int64_t nrows,
                                 int64_t nPerRow, const float* imatrix);

// llama.h's llama_model_quantize_params and llama_model_tensor_override (llama.cpp of
// node-llama-cpp 3.21.1; 64 bytes, offsets as its header gives them).
struct TensorOverride {
    const char* pattern;
    int type;
};
struct QuantizeParams {
    int32_t nthread;
    int32_t ftype;
    int32_t outputTensorType;
    int32_t tokenEmbeddingType;
    bool allowRequantize, quantizeOutputTensor, onlyCopy, pure, keepSplit, dryRun;
    const void* imatrix;
    const void* kvOverrides;
    const TensorOverride* ttOverrides;
    const int32_t* pruneLayers;
    size_t maxBufSize;
};
static_assert(sizeof(QuantizeParams) == 64 && offsetof(QuantizeParams, ttOverrides) == 40);
using DefaultParams = QuantizeParams (*)();
using ModelQuantize = uint32_t (*)(const char* in, const char* out, const QuantizeParams* params);

// `blocks` super-blocks of 256 values of varied kinds, so that every branch of the quantizers'
// searches is taken: Gaussians from 1e-4 to 30, heavy tails (cubed Gaussians) whose 16-value
// sub-blocks differ widely in magnitude, uniform, all positive, all negative, one outlier,
// constant, all zero, tiny (1e-7 and 1e-30), sparse, integers and halves (rounding ties),
// sub-blocks of zeros amid normal values.
std::vector<float> variedBlocks(int blocks, unsigned seed)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> n01(0.0f, 1.0f);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> x(size_t(blocks) * 256);
    for (int b = 0; b < blocks; ++b) {
        float* v = x.data() + size_t(b) * 256;
        const float sigma = std::pow(10.0f, -4.0f + 5.5f * float(b % 97) / 96.0f);
        switch (b % 13) {
        case 0: case 1: case 2:
            for (int i = 0; i < 256; ++i) v[i] = sigma * n01(rng);
            break;
        case 3: case 4:
            for (int i = 0; i < 256; ++i) {
                const float g = n01(rng);
                v[i] = g * g * g * sigma * float(1 + (i / 16 * 7 + b) % 11);
            }
            break;
        case 5:
            for (int i = 0; i < 256; ++i) v[i] = sigma * u(rng);
            break;
        case 6:
            for (int i = 0; i < 256; ++i) v[i] = sigma * (std::fabs(u(rng)) + (b % 2 ? 0.5f : 0.0f));
            break;
        case 7:
            for (int i = 0; i < 256; ++i) v[i] = -sigma * std::fabs(n01(rng));
            break;
        case 8:
            for (int i = 0; i < 256; ++i) v[i] = sigma * n01(rng);
            v[b % 256] = sigma * (b % 2 ? 60.0f : -60.0f);
            break;
        case 9:
            for (int i = 0; i < 256; ++i) v[i] = b % 3 == 0 ? 0.0f : (b % 3 == 1 ? sigma : -sigma);
            break;
        case 10:
            for (int i = 0; i < 256; ++i) v[i] = (b % 2 ? 1e-7f : 1e-30f) * n01(rng);
            break;
        case 11:
            for (int i = 0; i < 256; ++i) v[i] = i % 37 == b % 37 ? sigma * n01(rng) : 0.0f;
            break;
        default:
            for (int i = 0; i < 256; ++i)
                v[i] = (i / 16) % 3 == 0 ? 0.0f : float(int(8 * u(rng))) + (b % 2 ? 0.5f : 0.0f);
        }
    }
    return x;
}

struct LlamaResult {
    double perplexity = 0;
    int64_t tokens = 0;
    QJsonObject types;
    std::vector<int32_t> tokenized; // with --tokenize
};

// The perplexity protocol's chunks (BOS + ctx ids) of `tokens` as llama_perplexity.mjs reads them.
std::string chunksJson(int32_t bos, const std::vector<int32_t>& tokens, int ctx, int chunks)
{
    std::ostringstream json;
    json << "[";
    for (int c = 0; c < chunks; ++c) {
        json << (c ? ",[" : "[") << bos;
        for (int i = 0; i < ctx; ++i)
            json << "," << tokens[size_t(c * ctx + i)];
        json << "]";
    }
    json << "]";
    return json.str();
}

// Text for llama.cpp's tokenizer: contractions, digit runs, white space, non-ASCII letters and
// symbols, added tokens (special or not).
const char* kTokenizeSample = "Hello world!  It's 2024: 12345 apples\n\n\tdon'T WE'LL see...\r\n"
                              "caf\xC3\xA9 \xD0\xBC\xD0\xB8\xD1\x80 \xE6\x97\xA5\xE6\x9C\xAC licorice gumballs"
                              "<|endoftext|>x<|im_start|>user<tool> <|begin_of_text|>  Debian   \n";

} // namespace

class TstInteropLlama : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        QVERIFY2(fs::exists(kLibDir + "/libggml-base.so"),
                 "node-llama-cpp is not installed in tests/interop/node_modules: run .ci/install-deps");
        hf_ = Model::open(testutil::dataPath("tiny-llama"));
        lm_ = std::make_unique<LanguageModel>(*hf_);
        wide_ = Model::open(testutil::writeWideLlama());
        wideLm_ = std::make_unique<LanguageModel>(*wide_);
        const auto all = lm_->tokenizer().encode(testutil::readFile(testutil::dataPath("tiny-llama/eval.txt")));
        tokens_.assign(all.begin(), all.begin() + kCtx * kChunks);
        // The chunks as the perplexity protocol runs them: BOS + 128 ids.
        chunks_ = testutil::writeTemp("chunks.json", chunksJson(lm_->config().bosId, tokens_, kCtx, kChunks));
        lib_ = dlopen((kLibDir + "/libggml-base.so").c_str(), RTLD_NOW | RTLD_LOCAL);
        QVERIFY2(lib_, dlerror());
        quantize_ = reinterpret_cast<QuantizeChunk>(dlsym(lib_, "ggml_quantize_chunk"));
        QVERIFY(quantize_);
    }

    void cleanupTestCase()
    {
        if (lib_)
            dlclose(lib_);
    }

    // Every block type Bonsai writes, byte for byte against ggml_quantize_chunk (no importance
    // matrix) on 4096 varied blocks, as rows of 4096 values.
    void quantizersAgree_data()
    {
        QTest::addColumn<QString>("type");
        for (const char* t : {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
            QTest::newRow(t) << QString::fromLatin1(t);
    }

    void quantizersAgree()
    {
        QFETCH(QString, type);
        const auto t = dtypeFromName(type.toStdString());
        QVERIFY(t && ggmlQuantSupported(*t));
        constexpr int kBlocks = 4096, kCols = 4096;
        const std::vector<float> x = variedBlocks(kBlocks, 2024);
        const uint64_t bytes = dtypeInfo(*t).blockBytes * (x.size() / dtypeInfo(*t).blockElems);
        std::vector<uint8_t> ours(bytes), theirs(bytes + 64);
        quantizeGgmlRow(*t, x.data(), x.size(), ours.data());
        const size_t n = quantize_(kGgmlType.at(type.toStdString()), x.data(), theirs.data(), 0,
                                   int64_t(x.size()) / kCols, kCols, nullptr);
        QCOMPARE(n, size_t(bytes));
        const uint32_t bb = dtypeInfo(*t).blockBytes;
        int differing = 0;
        for (uint64_t b = 0; b < bytes / bb; ++b)
            if (std::memcmp(ours.data() + b * bb, theirs.data() + b * bb, bb) != 0 && differing++ < 5)
                qWarning("block %llu (kind %llu) differs", static_cast<unsigned long long>(b),
                         static_cast<unsigned long long>(b % 13));
        qInfo("%s: %llu blocks compared, %d differ", qPrintable(type),
              static_cast<unsigned long long>(bytes / bb), differing);
        QCOMPARE(differing, 0);
    }

    void llamaCppAgrees_data()
    {
        QTest::addColumn<bool>("wide");
        QTest::addColumn<QString>("recipe");
        QTest::addColumn<bool>("mapping");
        QTest::newRow("q8_0") << false << R"({"bonsai_recipe":1,"defaults":{"precision":"q8_0"}})" << false;
        QTest::newRow("q4_0") << false << R"({"bonsai_recipe":1,"defaults":{"precision":"q4_0"}})" << false;
        QTest::newRow("q4_k (fallback)") << false << R"({"bonsai_recipe":1,"defaults":{"precision":"q4_k"}})" << true;
        QTest::newRow("q6_k (fallback)") << false << R"({"bonsai_recipe":1,"defaults":{"precision":"q6_k"}})" << true;
        QTest::newRow("q3_k (fallback)") << false << R"({"bonsai_recipe":1,"defaults":{"precision":"q3_k"}})" << true;
        QTest::newRow("wide q2_k") << true << R"({"bonsai_recipe":1,"defaults":{"precision":"q2_k"}})" << false;
        QTest::newRow("wide q3_k") << true << R"({"bonsai_recipe":1,"defaults":{"precision":"q3_k"}})" << false;
        QTest::newRow("wide q4_k") << true << R"({"bonsai_recipe":1,"defaults":{"precision":"q4_k"}})" << false;
        QTest::newRow("wide q5_k") << true << R"({"bonsai_recipe":1,"defaults":{"precision":"q5_k"}})" << false;
        QTest::newRow("wide q6_k") << true << R"({"bonsai_recipe":1,"defaults":{"precision":"q6_k"}})" << false;
        QTest::newRow("wide k mix") << true << R"({"bonsai_recipe":1,"defaults":{"precision":"q4_k"},
            "rules":[{"match":"v_proj|down_proj","precision":"q6_k"},{"match":"lm_head","precision":"q8_0"},
                     {"match":"embed_tokens","precision":"q5_k"},{"match":"gate_proj","precision":"q3_k"},
                     {"match":"k_proj","precision":"q2_k"}]})" << false;
        QTest::newRow("mixed") << false << R"({"bonsai_recipe":1,"defaults":{"precision":"q4_1"},
            "rules":[{"match":"embed_tokens","precision":"q8_0"},{"match":"down_proj","precision":"q5_1"},
                     {"match":"v_proj","precision":"q5_0"},{"match":"layers\\.0\\.","precision":"fp16"},
                     {"match":"layers\\.3\\.mlp","precision":"bf16"}]})"
                               << false;
    }

    void llamaCppAgrees()
    {
        QFETCH(bool, wide);
        QFETCH(QString, recipe);
        QFETCH(bool, mapping);
        const Model& hf = wide ? *wide_ : *hf_;
        const LanguageModel& lm = wide ? *wideLm_ : *lm_;
        const auto configs = resolveConfigs(hf, Recipe::parse(recipe.toStdString(), "test recipe"));
        ExportOptions options;
        options.acceptMapping = mapping;
        options.overwrite = true;
        const std::string path = testutil::tempPath(QTest::currentDataTag() + std::string(".gguf"));
        const ExportPlan plan = exportModel(hf, configs, ExportFormat::Gguf, path, options);

        // The tensor types llama.cpp's reader finds are the planned ones.
        std::map<std::string, int> planned;
        for (const auto& t : plan.tensors)
            ++planned[t.stored];
        const LlamaResult exact = llama(path, true);
        QCOMPARE(exact.types.size(), qsizetype(planned.size()));
        for (const auto& [type, count] : planned)
            QCOMPARE(exact.types.value(QString::fromStdString(type)).toInt(), count);

        PerplexityOptions opt;
        opt.ctx = kCtx;
        opt.compareToBase = false;
        const auto predicted = lm.perplexity(tokens_, plan.configs, opt);
        QCOMPARE(exact.tokens, int64_t(predicted.tokens));
        const LlamaResult usual = llama(path, false);
        qInfo("%s: Bonsai predicts %.4f, llama.cpp %.4f (%+.4f%%; with its default F16 KV cache %.4f, %+.4f%%)",
              QTest::currentDataTag(), predicted.perplexity, exact.perplexity,
              100 * (exact.perplexity / predicted.perplexity - 1), usual.perplexity,
              100 * (usual.perplexity / predicted.perplexity - 1));
        QVERIFY(std::abs(exact.perplexity / predicted.perplexity - 1) < 0.002);

        // End to end: Bonsai opens the quantized GGUF itself (its reader, block dequantization
        // and metadata), and its perplexity on those weights is llama.cpp's on the same file.
        const auto gguf = Model::open(path);
        const LanguageModel fromFile(*gguf);
        const auto read = fromFile.perplexity(tokens_, {}, opt);
        QCOMPARE(read.tokens, predicted.tokens);
        qInfo("%s: Bonsai on the GGUF file %.4f (%+.4f%% from llama.cpp)", QTest::currentDataTag(),
              read.perplexity, 100 * (read.perplexity / exact.perplexity - 1));
        QVERIFY(std::abs(read.perplexity / exact.perplexity - 1) < 0.002);

        // Byte for byte: llama.cpp's quantizer on the same weights.
        sameBytesAsGgml(hf, plan, path, lm.config());
    }

    void bpeExportsInLlamaCpp_data()
    {
        QTest::addColumn<QString>("row");
        QTest::addColumn<QString>("recipe");
        QTest::newRow("qwen2 f32") << "qwen2" << "";
        QTest::newRow("qwen2 q8_0") << "qwen2" << R"({"bonsai_recipe":1,"defaults":{"precision":"q8_0"}})";
        QTest::newRow("llama3 rope scaling") << "llama3" << "";
        QTest::newRow("linear rope scaling") << "linear" << "";
        QTest::newRow("llama, gpt2 pre-tokenizer") << "gpt2" << "";
    }

    void bpeExportsInLlamaCpp()
    {
        QFETCH(QString, row);
        QFETCH(QString, recipe);
        const std::string text = testutil::readFile(testutil::dataPath("tiny-llama/calib.txt")).substr(0, 40000);
        const auto spec = testutil::bpeTestCheckpoint(row.toStdString(), text);
        const auto files = testutil::writeBpeCheckpoint(testutil::tempPath("bpe-" + row.toStdString()), spec);
        const auto hf = Model::open(files.dir);
        const LanguageModel lm(*hf);
        const auto configs = recipe.isEmpty() ? std::vector<LayerConfig>{}
                                              : resolveConfigs(*hf, Recipe::parse(recipe.toStdString(), "test recipe"));
        ExportOptions options;
        options.overwrite = true;
        const std::string path = testutil::tempPath(QTest::currentDataTag() + std::string(".gguf"));
        const ExportPlan plan = exportModel(*hf, configs, ExportFormat::Gguf, path, options);

        const auto all = lm.tokenizer().encode(testutil::readFile(testutil::dataPath("tiny-llama/eval.txt")));
        constexpr int chunks = 6;
        QVERIFY(all.size() >= size_t(kCtx * chunks));
        const std::vector<int32_t> tokens(all.begin(), all.begin() + kCtx * chunks);
        const std::string chunksFile = testutil::writeTemp("chunks-" + row.toStdString() + ".json",
                                                           chunksJson(files.bos, tokens, kCtx, chunks));
        // llama.cpp's tokenizer on the sample and on the start of eval.txt.
        const std::string sample = std::string(kTokenizeSample) +
                                   testutil::readFile(testutil::dataPath("tiny-llama/eval.txt")).substr(0, 6000);
        const std::string sampleFile = testutil::writeTemp("sample-" + row.toStdString() + ".txt", sample);
        const LlamaResult exact = llama(path, true, chunksFile, sampleFile);
        std::map<std::string, int> planned;
        for (const auto& t : plan.tensors)
            ++planned[t.stored];
        for (const auto& [type, count] : planned)
            QCOMPARE(exact.types.value(QString::fromStdString(type)).toInt(), count);
        QCOMPARE(exact.types.value(QStringLiteral("F32")).toInt(), planned["F32"]);

        const auto json = Tokenizer::fromTokenizerJson(files.dir + "/tokenizer.json");
        const auto expected = json->encode(sample);
        QCOMPARE(exact.tokenized.size(), expected.size());
        for (size_t i = 0; i < expected.size(); ++i)
            QVERIFY2(exact.tokenized[i] == expected[i],
                     qPrintable(QStringLiteral("token %1: llama.cpp %2 (%3), tokenizer.json %4 (%5)")
                                    .arg(i).arg(exact.tokenized[i]).arg(QString::fromStdString(json->piece(exact.tokenized[i])))
                                    .arg(expected[i]).arg(QString::fromStdString(json->piece(expected[i])))));

        PerplexityOptions opt;
        opt.ctx = kCtx;
        opt.compareToBase = false;
        const auto predicted = lm.perplexity(tokens, plan.configs, opt);
        QCOMPARE(exact.tokens, int64_t(predicted.tokens));
        sameBytesAsGgml(*hf, plan, path, lm.config());
        qInfo("%s: Bonsai predicts %.4f, llama.cpp %.4f (%+.4f%%)", QTest::currentDataTag(), predicted.perplexity,
              exact.perplexity, 100 * (exact.perplexity / predicted.perplexity - 1));
        // F32 weights compute alike in both; llama.cpp's Q8_0 products also round the activations.
        QVERIFY(std::abs(exact.perplexity / predicted.perplexity - 1) < (recipe.isEmpty() ? 1e-4 : 0.002));
    }

    void tensorTypesReproducedByLlamaQuantize()
    {
        void* llamaLib = dlopen((kLibDir + "/libllama.v0.4.0.so").c_str(), RTLD_NOW | RTLD_LOCAL);
        QVERIFY2(llamaLib, dlerror());
        const auto defaults = reinterpret_cast<DefaultParams>(dlsym(llamaLib, "llama_model_quantize_default_params"));
        const auto quantize = reinterpret_cast<ModelQuantize>(dlsym(llamaLib, "llama_model_quantize"));
        QVERIFY(defaults && quantize);

        const auto configs = resolveConfigs(*hf_, Recipe::parse(R"({"bonsai_recipe":1,"defaults":{"precision":"q4_0"},
            "rules":[{"match":"embed_tokens","precision":"q8_0"},{"match":"down_proj","precision":"q5_1"},
                     {"match":"layers\\.1\\.","precision":"fp16"},{"match":"v_proj","precision":"q6_k"}]})",
                                                            "test recipe"));
        ExportOptions options;
        options.overwrite = true;
        options.acceptMapping = true; // q6_k on 128-value rows: Q8_0
        const std::string f32 = testutil::tempPath("types-base.gguf"), bonsai = testutil::tempPath("types-bonsai.gguf");
        const std::string typesFile = testutil::tempPath("types.txt"), llamaOut = testutil::tempPath("types-llama.gguf");
        exportModel(*hf_, {}, ExportFormat::Gguf, f32, options);
        exportModel(*hf_, configs, ExportFormat::Gguf, bonsai, options);
        const ExportPlan plan = exportModel(*hf_, configs, ExportFormat::TensorTypes, typesFile, options);
        QVERIFY(!plan.notes.empty() && plan.notes[0].find("llama-quantize --tensor-type-file") != std::string::npos);

        // The file as llama-quantize reads it: pattern=type tokens separated by white space.
        std::vector<std::string> patterns;
        std::vector<TensorOverride> overrides;
        std::istringstream in(testutil::readFile(typesFile));
        for (std::string token; in >> token;) {
            const auto eq = token.find('=');
            QVERIFY2(eq != std::string::npos, token.c_str());
            std::string type = token.substr(eq + 1);
            for (char& c : type)
                c = char(std::toupper(static_cast<unsigned char>(c)));
            QVERIFY2(kGgmlType.count(type), token.c_str());
            patterns.push_back(token.substr(0, eq));
            overrides.push_back({nullptr, kGgmlType.at(type)});
        }
        QCOMPARE(overrides.size(), size_t(29));
        for (size_t i = 0; i < overrides.size(); ++i)
            overrides[i].pattern = patterns[i].c_str();
        overrides.push_back({nullptr, 0});
        QuantizeParams params = defaults();
        params.nthread = 2;
        params.ftype = 2; // LLAMA_FTYPE_MOSTLY_Q4_0, the recipe's default
        params.ttOverrides = overrides.data();
        QCOMPARE(quantize(f32.c_str(), llamaOut.c_str(), &params), 0u);
        dlclose(llamaLib);

        const auto ours = Model::open(bonsai), theirs = Model::open(llamaOut);
        QCOMPARE(theirs->tensors.size(), ours->tensors.size());
        for (const TensorInfo& t : ours->tensors) {
            const int k = theirs->findTensor(t.name);
            QVERIFY2(k >= 0, t.name.c_str());
            const TensorInfo& u = theirs->tensors[size_t(k)];
            QVERIFY2(u.dtype == t.dtype, qPrintable(QStringLiteral("%1: llama.cpp %2, Bonsai %3")
                                                       .arg(QString::fromStdString(t.name))
                                                       .arg(QString::fromUtf8(dtypeName(u.dtype).data()))
                                                       .arg(QString::fromUtf8(dtypeName(t.dtype).data()))));
            QVERIFY2(u.nbytes == t.nbytes && std::memcmp(u.data, t.data, t.nbytes) == 0, t.name.c_str());
        }
    }

private:
    // Every tensor of the export has the bytes of llama.cpp's own quantizer (ggml_quantize_chunk;
    // F32 copied) on the Hugging Face weights, with the Q/K rows permuted by the test
    // for llama (not for qwen2).
    void sameBytesAsGgml(const Model& hf, const ExportPlan& plan, const std::string& path, const LlmConfig& c)
    {
        const auto gguf = Model::open(path);
        for (const auto& t : plan.tensors) {
            if (hf.findTensor(t.source) < 0)
                continue; // rope_freqs.weight, computed (tst_export_gguf checks its values)
            const TensorInfo& src = hf.tensors[size_t(hf.findTensor(t.source))];
            const TensorInfo& out = gguf->tensors[size_t(gguf->findTensor(t.target))];
            std::vector<float> w = hf.readFloat(hf.findTensor(t.source));
            const int64_t cols = src.shape.back(), rows = int64_t(src.numel) / cols;
            const auto info = llmLayerInfo(t.source);
            if (info && info->role == LlmRole::Q && c.architecture != "qwen2")
                w = testutil::permuteHeadRows(w, rows, cols, c.heads);
            else if (info && info->role == LlmRole::K && c.architecture != "qwen2")
                w = testutil::permuteHeadRows(w, rows, cols, c.kvHeads);
            std::vector<uint8_t> expected(out.nbytes + 64);
            const size_t n = quantize_(kGgmlType.at(t.stored), w.data(), expected.data(), 0, rows, cols, nullptr);
            QCOMPARE(n, size_t(out.nbytes));
            QVERIFY2(std::memcmp(expected.data(), out.data, n) == 0,
                     qPrintable(QStringLiteral("%1 (%2): bytes differ from ggml_quantize_chunk's")
                                    .arg(QString::fromStdString(t.target), QString::fromStdString(t.stored))));
        }
    }

    LlamaResult llama(const std::string& gguf, bool exact, const std::string& chunks = {},
                      const std::string& tokenize = {})
    {
        QStringList args{QString::fromStdString(kInterop + "/llama_perplexity.mjs"), QString::fromStdString(gguf),
                         QString::fromStdString(chunks.empty() ? chunks_ : chunks)};
        if (exact)
            args << QStringLiteral("--exact");
        if (!tokenize.empty())
            args << QString::fromStdString("--tokenize=" + tokenize);
        const auto r = testutil::runProgram(QStringLiteral("node"), args, QString::fromStdString(kInterop));
        LlamaResult out;
        if (r.exitCode != 0) {
            qWarning("llama.cpp failed on %s: %s", gguf.c_str(), r.err.constData());
            return out;
        }
        const QJsonObject j = QJsonDocument::fromJson(r.out).object();
        out.perplexity = j.value(QStringLiteral("perplexity")).toDouble();
        out.tokens = j.value(QStringLiteral("tokens")).toInteger();
        out.types = j.value(QStringLiteral("types")).toObject();
        for (const auto& id : j.value(QStringLiteral("tokenized")).toArray())
            out.tokenized.push_back(int32_t(id.toInteger()));
        return out;
    }

    std::unique_ptr<Model> hf_, wide_;
    std::unique_ptr<LanguageModel> lm_, wideLm_;
    std::vector<int32_t> tokens_;
    std::string chunks_;
    void* lib_ = nullptr;
    QuantizeChunk quantize_ = nullptr;
};

QTEST_APPLESS_MAIN(TstInteropLlama)
#include "tst_interop_llama.moc"
