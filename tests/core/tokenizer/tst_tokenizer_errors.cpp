// Tokenizer files are untrusted input: metadata of the wrong type is refused (never read as
// empty), token ids beyond the vocabulary are refused, sizes follow the file, and every
// refusal names the file and the field, never a library's raw exception text.
#include "gguf_writer.h"
#include "testutil.h"

#include "bonsai/error.h"
#include "bonsai/model.h"
#include "bonsai/readers.h"
#include "bonsai/tokenizer.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <functional>

using namespace bonsai;
using namespace testutil::gguf;

namespace {

void expectRefusal(const std::function<void()>& f, const std::vector<std::string>& fragments)
{
    try {
        f();
    } catch (const FileError& e) {
        const std::string what = e.what();
        for (const auto& s : fragments)
            QVERIFY2(what.find(s) != std::string::npos, (what + "  [missing: " + s + "]").c_str());
        for (const char* raw : {"[json.exception", "stoi", "bad_alloc", "_M_range_check"})
            QVERIFY2(what.find(raw) == std::string::npos, what.c_str());
        return;
    } catch (const std::exception& e) {
        QFAIL((std::string("not a FileError: ") + e.what()).c_str());
    }
    QFAIL("the tokenizer was accepted");
}

const std::vector<std::string> kTokens = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b", "\xe2\x96\x81" "a"};

// A GGUF holding a "llama" (SentencePiece) tokenizer of kTokens; `edit` adds or replaces keys.
std::string spmGguf(const std::string& name, const std::function<void(GgufWriter&)>& edit,
                    bool withTypes = true)
{
    GgufWriter g;
    g.kv("tokenizer.ggml.model", tString, str("llama"));
    g.kv("tokenizer.ggml.tokens", tArray, stringArray(kTokens));
    g.kv("tokenizer.ggml.scores", tArray, numberArray<float>(tF32, {0, 0, 0, -1, -2, -3, -1.5f}));
    if (withTypes)
        g.kv("tokenizer.ggml.token_type", tArray, numberArray<int32_t>(tI32, {2, 3, 3, 1, 1, 1, 1}));
    edit(g);
    return testutil::writeTemp(name, g.build());
}

std::unique_ptr<Tokenizer> fromGgufFile(const std::string& path)
{
    auto m = readGguf(path);
    return Tokenizer::fromGguf(*m);
}

} // namespace

class TstTokenizerErrors : public QObject {
    Q_OBJECT

private slots:
    void ggufSeedIsAccepted()
    {
        // The base of the GGUF cases below is a working tokenizer: "a b" -> ▁a ▁ b.
        auto tok = fromGgufFile(spmGguf("ok.gguf", [](GgufWriter&) {}));
        QCOMPARE(tok->vocabSize(), 7);
        QCOMPARE(tok->encode("a b"), (std::vector<int32_t>{6, 3, 5}));
    }

    // tokenizer.ggml.token_type as an array of strings used to be read as empty, and then
    // indexed past its end.
    void ggufWrongElementType()
    {
        const std::string p = spmGguf("types_as_strings.gguf", [](GgufWriter& g) {
            g.kv("tokenizer.ggml.token_type", tArray, stringArray({"1", "1", "1", "1", "1", "1", "1"}));
        }, false);
        expectRefusal([&] { fromGgufFile(p); }, {p, "tokenizer.ggml.token_type", "an array of 7 string", "numbers"});

        GgufWriter g; // tokens given as integers
        g.kv("tokenizer.ggml.model", tString, str("llama"));
        g.kv("tokenizer.ggml.tokens", tArray, numberArray<int32_t>(tI32, {1, 2, 3}));
        const std::string r = testutil::writeTemp("tokens_as_ints.gguf", g.build());
        expectRefusal([&] { fromGgufFile(r); }, {r, "tokenizer.ggml.tokens", "an array of 3 i32", "strings"});

        const std::string s = spmGguf("prefix_as_u8.gguf", [](GgufWriter& w) {
            w.kv("tokenizer.ggml.add_space_prefix", tU8, scalar<uint8_t>(1));
        });
        expectRefusal([&] { fromGgufFile(s); }, {s, "tokenizer.ggml.add_space_prefix", "u8", "bool"});
    }

    void ggufCountsAndIds()
    {
        const std::string p = spmGguf("short_types.gguf", [](GgufWriter& g) {
            g.kv("tokenizer.ggml.token_type", tArray, numberArray<int32_t>(tI32, {2, 3, 3}));
        }, false);
        expectRefusal([&] { fromGgufFile(p); }, {p, "tokenizer.ggml.token_type", "3 elements", "7"});

        const std::string q = spmGguf("bos_beyond.gguf", [](GgufWriter& g) {
            g.kv("tokenizer.ggml.bos_token_id", tU32, scalar<uint32_t>(70000));
        });
        expectRefusal([&] { fromGgufFile(q); }, {q, "tokenizer.ggml.bos_token_id", "70000", "7 tokens"});

        const std::string r = spmGguf("unk_negative.gguf", [](GgufWriter& g) {
            g.kv("tokenizer.ggml.unknown_token_id", tI32, scalar<int32_t>(-2));
        });
        expectRefusal([&] { fromGgufFile(r); }, {r, "tokenizer.ggml.unknown_token_id", "-2"});

        GgufWriter g;
        g.kv("tokenizer.ggml.model", tString, str("gpt2"));
        g.kv("tokenizer.ggml.tokens", tArray, stringArray({"a", "b", "ab"}));
        g.kv("tokenizer.ggml.merges", tArray, numberArray<int32_t>(tI32, {0, 1}));
        const std::string s = testutil::writeTemp("merges_as_ints.gguf", g.build());
        expectRefusal([&] { fromGgufFile(s); }, {s, "tokenizer.ggml.merges", "an array of 2 i32"});
    }

    // tokenizer.json: ids far beyond the vocabulary sized the tables by themselves (an added
    // token of id 2^31 - 1 asked for 2^31 entries); wrong types named nlohmann's exception.
    void tokenizerJsonIds()
    {
        const std::string base = R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]},
            "pre_tokenizer": {"type": "ByteLevel"}, "added_tokens": [ADDED]})";
        auto file = [&](const std::string& name, const std::string& added, const std::string& vocab = "") {
            std::string t = base;
            t.replace(t.find("ADDED"), 5, added);
            if (!vocab.empty())
                t.replace(t.find("\"ab\": 2"), 7, vocab);
            return testutil::writeTemp(name, t);
        };
        const std::string ok = file("ok_tokenizer.json", R"({"id": 3, "content": "<s>", "special": true})");
        QCOMPARE(Tokenizer::fromTokenizerJson(ok)->encode("ab<s>"), (std::vector<int32_t>{2, 3}));

        const std::string p = file("huge_added.json", R"({"id": 2147483647, "content": "<s>"})");
        expectRefusal([&] { Tokenizer::fromTokenizerJson(p); }, {p, "added_tokens[0]", "2147483647", "4 ids"});
        const std::string q = file("huge_vocab.json", "", "\"ab\": 16777216");
        expectRefusal([&] { Tokenizer::fromTokenizerJson(q); }, {q, "vocab id 16777216", "\"ab\"", "3 entries"});
        const std::string r = file("content_number.json", R"({"id": 3, "content": 5})");
        expectRefusal([&] { Tokenizer::fromTokenizerJson(r); }, {r, "added_tokens[0]", "string"});
        // Floats are no ids (converting 1e300 to an integer is undefined): found by the fuzzer.
        const std::string fa = file("float_added.json", R"({"id": 1e300, "content": "<s>"})");
        expectRefusal([&] { Tokenizer::fromTokenizerJson(fa); }, {fa, "added_tokens[0]", "1e+300", "not an integer"});
        const std::string fv = file("float_vocab.json", "", "\"ab\": 2.0");
        expectRefusal([&] { Tokenizer::fromTokenizerJson(fv); }, {fv, "model.vocab[\"ab\"]", "2.0", "not an integer"});
        const std::string s = file("id_missing.json", R"({"content": "<s>"})");
        expectRefusal([&] { Tokenizer::fromTokenizerJson(s); }, {s, "added_tokens[0]", "'id'"});

        // The post-processor's template names ids of its own.
        std::string t = testutil::readFile(ok);
        t.insert(t.rfind('}'), R"(, "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}},
            {"Sequence": {"id": "A"}}], "special_tokens": {"<s>": {"ids": [IDS]}}})");
        const size_t at = t.find("IDS");
        const std::string u = testutil::writeTemp("template_huge.json", std::string(t).replace(at, 3, "4000000000"));
        expectRefusal([&] { Tokenizer::fromTokenizerJson(u); }, {u, "post_processor", "'<s>'", "4000000000"});
        const std::string v = testutil::writeTemp("template_beyond.json", std::string(t).replace(at, 3, "9"));
        expectRefusal([&] { Tokenizer::fromTokenizerJson(v); }, {v, "post_processor", "id 9", "4 ids"});
        const std::string w = testutil::writeTemp("template_ok.json", std::string(t).replace(at, 3, "3"));
        QCOMPARE(Tokenizer::fromTokenizerJson(w)->bos(), 3);
    }

    // A SentencePiece piece typed "byte" whose text is not "<0xHH>" raised stoi's exception
    // ("<0xZZ>") or wrote before the byte table ("<0x-1>"): it names no byte now.
    void sentencePieceBytePieces()
    {
        auto piece = [](const std::string& text, int type) {
            std::string p;
            p += '\x0a'; p += char(text.size()); p += text;
            p += '\x15'; p += std::string(4, '\0');
            p += '\x18'; p += char(type);
            return std::string("\x0a") + char(p.size()) + p;
        };
        const std::string model = piece("<unk>", 2) + piece("<0xZZ>", 6) + piece("<0x-1>", 6) + piece("<0x41>", 6) +
                                  std::string("\x12\x02\x18\x02", 4); // trainer_spec: model_type BPE
        const std::string p = testutil::writeTemp("bad_bytes.model", model);
        auto tok = Tokenizer::fromSentencePiece(p);
        QCOMPARE(tok->vocabSize(), 4);
        QCOMPARE(tok->decode({3}), std::string("A"));
        (void)tok->decode({1, 2});
    }
    // Missing, truncated, empty and foreign tokenizer files.
    void badFiles()
    {
        const std::string missing = testutil::tempPath("does_not_exist.model");
        expectRefusal([&] { Tokenizer::fromSentencePiece(missing); }, {missing, "no such file"});
        const std::string full = testutil::readFile(testutil::dataPath("tiny-llama/tokenizer.model"));
        const std::string truncated = testutil::writeTemp("truncated.model", full.substr(0, 1000));
        expectRefusal([&] { Tokenizer::fromSentencePiece(truncated); }, {truncated, "not a valid SentencePiece model"});
        const std::string empty = testutil::writeTemp("empty.model", "");
        expectRefusal([&] { Tokenizer::fromSentencePiece(empty); }, {empty, "empty"});
        const std::string text = testutil::writeTemp("text.model", "hello, not a model\n");
        expectRefusal([&] { Tokenizer::fromSentencePiece(text); }, {text, "SentencePiece"});

        const std::string missingJson = testutil::tempPath("missing_tokenizer.json");
        expectRefusal([&] { Tokenizer::fromTokenizerJson(missingJson); }, {missingJson, "no such file"});
        const std::string notJson = testutil::dataPath("tokenizers/not_json.json");
        expectRefusal([&] { Tokenizer::fromTokenizerJson(notJson); }, {notJson, "not valid JSON"});
        const std::string wordPiece = testutil::dataPath("tokenizers/wordpiece.json");
        expectRefusal([&] { Tokenizer::fromTokenizerJson(wordPiece); }, {wordPiece, "WordPiece"});
        // A Split with a regex that is neither GPT-2's nor Llama 3's / Qwen2's.
        auto j = nlohmann::json::parse(testutil::readFile(testutil::dataPath("tokenizers/bpe_llama3.json")));
        j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+|[^\\w\\s]+";
        const std::string odd = testutil::writeTemp("odd_regex.json", j.dump());
        expectRefusal([&] { Tokenizer::fromTokenizerJson(odd); }, {odd, "\\w+|[^\\w\\s]+"});
    }
};

QTEST_GUILESS_MAIN(TstTokenizerErrors)
#include "tst_tokenizer_errors.moc"
