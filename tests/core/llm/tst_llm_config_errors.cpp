// A language model's configuration is untrusted input: every number that divides, sizes a
// loop or an allocation is checked before use, against the others and against the tensors
// present, and every refusal names the file and the field (config.json key or GGUF metadata
// key), never a library's raw exception text.
#include "gguf_writer.h"
#include "testutil.h"

#include "bonsai/error.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"

#include <QtTest>

#include <filesystem>
#include <fstream>

using namespace bonsai;
using namespace testutil::gguf;

namespace {

// The refusal of building a LanguageModel from `path`, which must name every fragment.
void expectRefusal(const std::string& path, const std::vector<std::string>& fragments)
{
    try {
        auto m = Model::open(path);
        LanguageModel lm(*m);
    } catch (const FileError& e) {
        const std::string what = e.what();
        for (const auto& f : fragments)
            QVERIFY2(what.find(f) != std::string::npos, (what + "  [missing: " + f + "]").c_str());
        QVERIFY2(what.find("[json.exception") == std::string::npos, what.c_str());
        return;
    } catch (const std::exception& e) {
        QFAIL((std::string("not a FileError: ") + e.what()).c_str());
    }
    QFAIL("the model was accepted");
}

} // namespace

class TstLlmConfigErrors : public QObject {
    Q_OBJECT

    std::string dir_, config_;

    // The tiny-llama checkpoint with `from` in its config.json replaced by `to`.
    std::string checkpoint(const std::string& from, const std::string& to)
    {
        std::string cfg = config_;
        const size_t at = cfg.find(from);
        if (at == std::string::npos)
            throw std::runtime_error("fixture config.json lacks " + from);
        cfg.replace(at, from.size(), to);
        std::ofstream(dir_ + "/config.json", std::ios::trunc) << cfg;
        return dir_;
    }

    // A GGUF of the llama architecture with `kvs` added to the usual keys (hidden 8, 2 heads,
    // 1 block, feed-forward 16) and a token_embd.weight of `embd` (innermost first).
    static std::string gguf(const std::string& name, const std::function<void(GgufWriter&)>& kvs,
                            std::vector<uint64_t> embd = {8, 12})
    {
        GgufWriter g;
        g.kv("general.architecture", tString, str("llama"));
        g.kv("llama.embedding_length", tU32, scalar<uint32_t>(8));
        g.kv("llama.feed_forward_length", tU32, scalar<uint32_t>(16));
        g.kv("llama.attention.head_count", tU32, scalar<uint32_t>(2));
        kvs(g);
        uint64_t n = 1;
        for (uint64_t d : embd)
            n *= d;
        g.tensor("token_embd.weight", embd, gF32, std::string(n * 4, '\0'));
        return testutil::writeTemp(name, g.build());
    }
    static void blocks(GgufWriter& g, uint32_t n) { g.kv("llama.block_count", tU32, scalar<uint32_t>(n)); }

private slots:
    void initTestCase()
    {
        dir_ = testutil::tempPath("llm_config_errors");
        std::filesystem::create_directories(dir_);
        for (const char* f : {"model.safetensors", "tokenizer.model"})
            std::filesystem::copy_file(testutil::dataPath(std::string("tiny-llama/") + f), dir_ + "/" + f,
                                       std::filesystem::copy_options::overwrite_existing);
        config_ = testutil::readFile(testutil::dataPath("tiny-llama/config.json"));
        QVERIFY(!config_.empty());
    }

    // A configuration out of all proportion to the tensors present is refused before
    // anything is allocated for it.
    void layersBeyondTheTensors()
    {
        const std::string file = dir_ + "/config.json";
        // The fixture's 4 blocks hold 39 tensors (9 per block, embeddings and final norm).
        expectRefusal(checkpoint("\"num_hidden_layers\": 4", "\"num_hidden_layers\": 1000000"),
                      {file, "num_hidden_layers", "1000000", "at most 4 blocks"});
        expectRefusal(checkpoint("\"num_hidden_layers\": 4", "\"num_hidden_layers\": 0"),
                      {file, "num_hidden_layers"});
    }

    void dimensionsOutOfRange()
    {
        const std::string file = dir_ + "/config.json";
        expectRefusal(checkpoint("\"vocab_size\": 1024", "\"vocab_size\": 1099511627776"),
                      {file, "vocab_size", "1099511627776", "16777216"});
        expectRefusal(checkpoint("\"hidden_size\": 128", "\"hidden_size\": -128"), {file, "hidden_size"});
        expectRefusal(checkpoint("\"num_attention_heads\": 4", "\"num_attention_heads\": 4, \"head_dim\": 0"),
                      {file, "head_dim"});
        // hidden / heads rounds to 0: no head dimension.
        expectRefusal(checkpoint("\"num_attention_heads\": 4", "\"num_attention_heads\": 256"), {file, "head_dim"});
    }

    void headsAgainstKeyValueHeads()
    {
        const std::string file = dir_ + "/config.json";
        expectRefusal(checkpoint("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 0"),
                      {file, "num_key_value_heads"});
        expectRefusal(checkpoint("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"),
                      {file, "num_attention_heads", "num_key_value_heads", "evenly"});
        expectRefusal(checkpoint("\"num_attention_heads\": 4", "\"num_attention_heads\": 4, \"head_dim\": 31"),
                      {file, "head_dim", "31"});
    }

    // A value of the wrong type is refused naming the key, never taken as absent and never
    // reported in nlohmann's words.
    void wrongTypes()
    {
        const std::string file = dir_ + "/config.json";
        expectRefusal(checkpoint("\"max_position_embeddings\": 512", "\"max_position_embeddings\": \"512\""),
                      {file, "max_position_embeddings", "integer"});
        expectRefusal(checkpoint("\"model_type\": \"llama\"", "\"model_type\": 5"), {file, "model_type", "string"});
        expectRefusal(checkpoint("\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": [1]"), {file, "rms_norm_eps"});
        expectRefusal(checkpoint("\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": -1"), {file, "rms_norm_eps"});
        expectRefusal(checkpoint("\"rope_theta\": 10000.0", "\"rope_theta\": 0"), {file, "rope_theta"});
        expectRefusal(checkpoint("\"bos_token_id\": 1", "\"bos_token_id\": -3"), {file, "bos_token_id"});
        expectRefusal(checkpoint("\"rope_theta\": 10000.0",
                                 "\"rope_theta\": 10000.0, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": \"8\"}"),
                      {file, "factor", "number"});
        expectRefusal(checkpoint("\"rope_theta\": 10000.0",
                                 "\"rope_theta\": 10000.0, \"rope_scaling\": {\"rope_type\": \"llama3\", "
                                 "\"low_freq_factor\": 4, \"high_freq_factor\": 4}"),
                      {file, "rope_scaling", "low_freq_factor"});
    }

    // The same checks for GGUF metadata, naming the metadata key.
    void ggufKeys()
    {
        std::string p = gguf("kv0.gguf", [](GgufWriter& g) {
            blocks(g, 1);
            g.kv("llama.attention.head_count_kv", tU32, scalar<uint32_t>(0));
        });
        expectRefusal(p, {p, "llama.attention.head_count_kv", "between 1 and"});
        p = gguf("kvstring.gguf", [](GgufWriter& g) {
            blocks(g, 1);
            g.kv("llama.attention.head_count_kv", tString, str("1"));
        });
        expectRefusal(p, {p, "llama.attention.head_count_kv", "is string, not an integer"});
        p = gguf("kvarray.gguf", [](GgufWriter& g) {
            blocks(g, 1);
            g.kv("llama.attention.head_count_kv", tArray, stringArray({"1", "2"}));
        });
        expectRefusal(p, {p, "llama.attention.head_count_kv", "an array of 2 string"});
        p = gguf("layers.gguf", [](GgufWriter& g) { blocks(g, 1000000); });
        expectRefusal(p, {p, "llama.block_count", "1000000"});
        p = gguf("eps.gguf", [](GgufWriter& g) {
            blocks(g, 1);
            g.kv("llama.attention.layer_norm_rms_epsilon", tString, str("1e-5"));
        });
        expectRefusal(p, {p, "llama.attention.layer_norm_rms_epsilon", "not a number"});
        p = gguf("embd1d.gguf", [](GgufWriter& g) { blocks(g, 1); }, {96});
        expectRefusal(p, {p, "token_embd.weight", "dimensions"});
    }
};

QTEST_GUILESS_MAIN(TstLlmConfigErrors)
#include "tst_llm_config_errors.moc"
