// Tokenizers: SentencePiece (tiny-llama's tokenizer.model against the reference framework's
// ids), SentencePiece vocabularies delivered through GGUF metadata (against ids from Debian's
// spm_encode and the tokenizer.model path), byte-level BPE from hand-made tokenizer.json files (ids worked out
// by hand below) and through GGUF "gpt2" metadata, forModel's choices, and bad input.
#include "testutil.h"

#include "bonsai/error.h"
#include "bonsai/model.h"
#include "bonsai/tokenizer.h"

#include <QtTest>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace bonsai;
using testutil::put;
using Ids = std::vector<int32_t>;

namespace {


std::string tinyLlama(const std::string& name) { return testutil::dataPath("tiny-llama/" + name); }
std::string tokData(const std::string& name) { return testutil::dataPath("tokenizers/" + name); }

QString show(const Ids& ids)
{
    QStringList s;
    for (int32_t id : ids)
        s << QString::number(id);
    return "[" + s.join(", ") + "]";
}
#define COMPARE_IDS(actual, expected)                                                        \
    do {                                                                                     \
        const Ids a_ = (actual), e_ = (expected);                                            \
        QVERIFY2(a_ == e_, qPrintable(show(a_) + " != expected " + show(e_)));               \
    } while (0)

// ---- a minimal GGUF writer (format: magic, version, counts, key/values, tensor infos, data)
enum : uint32_t { tU8 = 0, tI32 = 5, tU32 = 4, tF32 = 6, tBool = 7, tString = 8, tArray = 9 };

std::string gstr(const std::string& s)
{
    std::string b;
    put<uint64_t>(b, s.size());
    return b + s;
}

struct Gguf {
    std::string kvs;
    uint64_t n = 0;
    void kv(const std::string& key, uint32_t type, const std::string& value)
    {
        kvs += gstr(key);
        put<uint32_t>(kvs, type);
        kvs += value;
        ++n;
    }
    void str(const std::string& key, const std::string& v) { kv(key, tString, gstr(v)); }
    void u32(const std::string& key, uint32_t v)
    {
        std::string b;
        put<uint32_t>(b, v);
        kv(key, tU32, b);
    }
    void boolean(const std::string& key, bool v) { kv(key, tBool, std::string(1, v ? '\1' : '\0')); }
    void strings(const std::string& key, const std::vector<std::string>& v)
    {
        std::string b;
        put<uint32_t>(b, tString);
        put<uint64_t>(b, v.size());
        for (const auto& s : v)
            b += gstr(s);
        kv(key, tArray, b);
    }
    template <typename T>
    void numbers(const std::string& key, uint32_t elemType, const std::vector<T>& v)
    {
        std::string b;
        put<uint32_t>(b, elemType);
        put<uint64_t>(b, v.size());
        for (T x : v)
            put<T>(b, x);
        kv(key, tArray, b);
    }
    // Writes the file with one F32 tensor of 4 elements and opens it as a Model.
    std::unique_ptr<Model> open(const std::string& fileName) const
    {
        std::string out = "GGUF";
        put<uint32_t>(out, 3);
        put<uint64_t>(out, 1);
        put<uint64_t>(out, n);
        out += kvs;
        out += gstr("token_embd.weight");
        put<uint32_t>(out, 1);
        put<uint64_t>(out, 4);
        put<uint32_t>(out, 0); // F32
        put<uint64_t>(out, 0);
        out.resize((out.size() + 31) / 32 * 32, '\0');
        out.append(16, '\0');
        return Model::open(testutil::writeTemp(fileName, out));
    }
};

// A minimal protobuf wire-format reader for tokenizer.model (sentencepiece_model.proto:
// ModelProto 1 = pieces {1 piece, 2 score, 3 type}, 3 = normalizer_spec {2 charsmap}),
// written for this test so that the GGUF vocabulary does not come from the code under test.
struct ProtoField {
    uint64_t number = 0, wire = 0, value = 0;
    std::string bytes;
};
std::vector<ProtoField> protoFields(const std::string& b)
{
    auto varint = [&](size_t& i) {
        uint64_t v = 0;
        for (int shift = 0; i < b.size(); shift += 7) {
            const auto c = static_cast<unsigned char>(b[i++]);
            v |= uint64_t(c & 0x7F) << shift;
            if (c < 0x80)
                break;
        }
        return v;
    };
    std::vector<ProtoField> out;
    size_t i = 0;
    while (i < b.size()) {
        const uint64_t key = varint(i);
        ProtoField f;
        f.number = key >> 3;
        f.wire = key & 7;
        if (f.wire == 0) {
            f.value = varint(i);
        } else if (f.wire == 2) {
            const uint64_t len = varint(i);
            f.bytes = b.substr(i, len);
            i += len;
        } else {
            const size_t n = f.wire == 5 ? 4 : 8;
            f.bytes = b.substr(i, n);
            i += n;
        }
        out.push_back(std::move(f));
    }
    return out;
}

// A GGUF "llama" vocabulary holding tiny-llama's tokenizer.model.
Gguf spmGguf(bool withNormalizer)
{
    Gguf g;
    g.str("general.architecture", "llama");
    g.str("tokenizer.ggml.model", "llama");
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<int32_t> types;
    std::string charsmap;
    for (const auto& f : protoFields(testutil::readFile(tinyLlama("tokenizer.model")))) {
        if (f.number == 1) {
            std::string piece;
            float score = 0;
            int32_t type = 1; // NORMAL is the default
            for (const auto& pf : protoFields(f.bytes)) {
                if (pf.number == 1)
                    piece = pf.bytes;
                else if (pf.number == 2)
                    std::memcpy(&score, pf.bytes.data(), 4);
                else if (pf.number == 3)
                    type = static_cast<int32_t>(pf.value);
            }
            tokens.push_back(piece);
            scores.push_back(score);
            types.push_back(type);
        } else if (f.number == 3) {
            for (const auto& nf : protoFields(f.bytes))
                if (nf.number == 2)
                    charsmap = nf.bytes;
        }
    }
    g.strings("tokenizer.ggml.tokens", tokens);
    g.numbers<float>("tokenizer.ggml.scores", tF32, scores);
    g.numbers<int32_t>("tokenizer.ggml.token_type", tI32, types);
    g.u32("tokenizer.ggml.bos_token_id", 1);
    g.u32("tokenizer.ggml.eos_token_id", 2);
    g.u32("tokenizer.ggml.unknown_token_id", 0);
    g.boolean("tokenizer.ggml.add_space_prefix", true);
    if (withNormalizer) {
        // tiny-llama was trained with nmt_nfkc and the default remove_extra_whitespaces.
        g.boolean("tokenizer.ggml.remove_extra_whitespaces", true);
        g.numbers<uint8_t>("tokenizer.ggml.precompiled_charsmap", tU8,
                           std::vector<uint8_t>(charsmap.begin(), charsmap.end()));
    }
    return g;
}

// The hand-made BPE vocabulary of tests/data/tokenizers (see its README) as GGUF "gpt2".
std::unique_ptr<Model> bpeGguf(const std::string& pre, const std::string& fileName)
{
    const std::vector<std::string> base = {"!", "'", "1", "2", "3", "4", "5", "H", "d", "e", "h",
                                           "l", "o", "r", "s", "t", "w", "Ċ", "Ġ", "Ã", "©"};
    const std::vector<std::pair<std::string, std::string>> merges = {
        {"l", "l"}, {"e", "ll"}, {"H", "ell"}, {"Hell", "o"}, {"Ġ", "w"}, {"o", "r"},
        {"Ġw", "or"}, {"l", "d"}, {"Ġwor", "ld"}, {"'", "s"}, {"1", "2"}, {"12", "3"},
        {"4", "5"}, {"Ġ", "t"}, {"e", "s"}, {"Ġt", "es"}, {"!", "!"}, {"Ġ", "Ġ"}, {"Ã", "©"}};
    std::vector<std::string> tokens = base, mergeStrings;
    for (const auto& [a, b] : merges) {
        tokens.push_back(a + b);
        mergeStrings.push_back(a + " " + b);
    }
    tokens.insert(tokens.end(), {"<|endoftext|>", "<|begin_of_text|>", "Ġtest"});
    std::vector<int32_t> types(tokens.size(), 1);
    types[40] = types[41] = 3;
    Gguf g;
    g.str("general.architecture", "llama");
    g.str("tokenizer.ggml.model", "gpt2");
    g.str("tokenizer.ggml.pre", pre);
    g.strings("tokenizer.ggml.tokens", tokens);
    g.strings("tokenizer.ggml.merges", mergeStrings);
    g.numbers<int32_t>("tokenizer.ggml.token_type", tI32, types);
    g.u32("tokenizer.ggml.bos_token_id", 41);
    g.u32("tokenizer.ggml.eos_token_id", 40);
    return g.open(fileName);
}

// Expects `fn` to throw FileError whose message names `path` and contains `fragment`.
template <typename Fn>
void expectFileError(Fn fn, const std::string& path, const std::string& fragment)
{
    try {
        fn();
    } catch (const FileError& e) {
        const std::string msg = e.what();
        QVERIFY2(msg.find(path) != std::string::npos, msg.c_str());
        QVERIFY2(msg.find(fragment) != std::string::npos,
                 (msg + "  [wanted: " + fragment + "]").c_str());
        return;
    } catch (const std::exception& e) {
        QFAIL((std::string("wrong exception type: ") + e.what()).c_str());
    }
    QFAIL(("no error for " + path).c_str());
}

const std::string kProbe = "Hello world's 12345 test!!  \n";

} // namespace

class TstTokenizer : public QObject {
    Q_OBJECT
private slots:
    void sentencePieceMatchesReference();
    void sentencePieceRoundTrip();
    void ggufSentencePieceMatchesLibrary();
    void ggufSentencePieceWithoutNormalizer();
    void preTokenizerSplits();
    void bpeJsonHandWorkedIds();
    void bpeSpecialTokensAndDecode();
    void bpeJsonVariants();
    void bpeGgufMatchesJson();
    void bpeLargeText();
    void forModel();
};

void TstTokenizer::sentencePieceMatchesReference()
{
    auto tok = Tokenizer::fromSentencePiece(tinyLlama("tokenizer.model"));
    QCOMPARE(tok->kind(), std::string("sentencepiece"));
    QCOMPARE(tok->vocabSize(), 1024);
    QCOMPARE(tok->bos(), 1);
    QCOMPARE(tok->eos(), 2);
    QCOMPARE(tok->piece(1), std::string("<s>"));
    QCOMPARE(tok->piece(3 + 0x0A), std::string("<0x0A>"));
    QCOMPARE(tok->source(), tinyLlama("tokenizer.model"));

    const auto ref = nlohmann::json::parse(testutil::readFile(tinyLlama("reference.json")));
    Ids expected = ref["probe_ids"].get<Ids>();
    QCOMPARE(expected.front(), 1); // the reference's BOS
    expected.erase(expected.begin());
    COMPARE_IDS(tok->encode(ref["probe_text"].get<std::string>()), expected);
    // The reference perplexity protocol counts the ids of the whole of eval.txt.
    QCOMPARE(static_cast<int64_t>(tok->encode(testutil::readFile(tinyLlama("eval.txt"))).size()),
             ref["eval_tokens"].get<int64_t>());
}

void TstTokenizer::sentencePieceRoundTrip()
{
    auto tok = Tokenizer::fromSentencePiece(tinyLlama("tokenizer.model"));
    // tiny-llama's model normalizes with nmt_nfkc (tabs and newlines become spaces) and
    // remove_extra_whitespaces (runs collapse, ends are trimmed), and nmt_nfkc drops other
    // control characters (eval.txt has a few backspaces), so decode(encode(text)) is the text
    // with its whitespace runs collapsed to one space and no control bytes: build that here.
    const std::string text = testutil::readFile(tinyLlama("eval.txt"));
    std::string collapsed;
    bool pendingSpace = false;
    for (char c : text) {
        if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
            pendingSpace = !collapsed.empty();
            continue;
        }
        if (static_cast<unsigned char>(c) < 0x20)
            continue;
        if (pendingSpace)
            collapsed += ' ';
        pendingSpace = false;
        collapsed += c;
    }
    const Ids ids = tok->encode(text);
    const std::string back = tok->decode(ids);
    const auto diff = std::mismatch(back.begin(), back.end(), collapsed.begin(), collapsed.end());
    QVERIFY2(back == collapsed,
             qPrintable(QString::fromStdString("differs at byte " +
                                               std::to_string(diff.first - back.begin()) + ": \"" +
                                               std::string(diff.first, std::min(diff.first + 40, back.end())) +
                                               "\" vs \"" +
                                               std::string(diff.second, std::min(diff.second + 40, collapsed.end())) + "\"")));
    // Whitespace-free text comes back exactly, and BOS/EOS are skipped.
    Ids withSpecials = tok->encode("The quick brown fox.");
    withSpecials.insert(withSpecials.begin(), 1);
    withSpecials.push_back(2);
    QCOMPARE(tok->decode(withSpecials), std::string("The quick brown fox."));
    // Characters outside the vocabulary fall back to bytes and decode back.
    QCOMPARE(tok->decode(tok->encode("naïve café 😀")), std::string("naïve café 😀"));
}

void TstTokenizer::ggufSentencePieceMatchesLibrary()
{
    auto model = spmGguf(true).open("spm_norm.gguf");
    auto tok = Tokenizer::fromGguf(*model);
    QCOMPARE(tok->kind(), std::string("sentencepiece"));
    QCOMPARE(tok->vocabSize(), 1024);
    QCOMPARE(tok->bos(), 1);
    QCOMPARE(tok->eos(), 2);
    QCOMPARE(tok->piece(3 + 0xF0), std::string("<0xF0>"));
    QVERIFY(tok->source().find("spm_norm.gguf") != std::string::npos);

    // Ids printed by Debian's spm_encode 0.1.97 (`spm_encode --model tokenizer.model
    // --output_format=id`, the sentencepiece package) for tiny-llama's tokenizer.model.
    COMPARE_IDS(tok->encode("   two  spaces   and\ttabs\t "),
                (Ids{700, 576, 329, 281, 302, 259, 535, 922}));
    COMPARE_IDS(tok->encode("café naïve ﬁ ＡＢＣ ½ Straße"),
                (Ids{277, 919, 932, 1022, 297, 919, 198, 178, 312, 280, 921, 313, 952, 948, 915,
                     962, 229, 132, 135, 974, 580, 481, 1021, 916}));
    // The emoji and the CJK characters are not pieces: byte fallback (<0x00> is id 3, so
    // 😀 = F0 9F 98 80 is 243 162 155 131).
    COMPARE_IDS(tok->encode("smile 😀 and 漢字, ok?"),
                (Ids{744, 639, 915, 243, 162, 155, 131, 302, 915, 233, 191, 165, 232, 176, 154,
                     937, 266, 940, 965}));
    // spm_encode reads lines: "line one" and "  indented" gave these.
    COMPARE_IDS(tok->encode("line one"), (Ids{292, 521, 451}));
    COMPARE_IDS(tok->encode("  indented"), (Ids{298, 926, 330, 290}));
    QVERIFY(tok->encode("").empty());

    // The whole evaluation text: the reference's token count, and the same ids as the
    // tokenizer.model path (itself checked against the reference framework above).
    auto direct = Tokenizer::fromSentencePiece(tinyLlama("tokenizer.model"));
    const std::string eval = testutil::readFile(tinyLlama("eval.txt"));
    const Ids ids = tok->encode(eval);
    QCOMPARE(ids.size(), size_t(30836));
    COMPARE_IDS(ids, direct->encode(eval));
    for (const std::string s : {" leading", "   three leading", "two  inner   spaces  ",
                                "line\nbreaks\n\nand\ttabs", "emoji 😀🎉 ok", " ", "\n"})
        COMPARE_IDS(tok->encode(s), direct->encode(s));
}

void TstTokenizer::ggufSentencePieceWithoutNormalizer()
{
    // As llama.cpp writes Llama GGUF files: no normalizer, so whitespace is kept verbatim.
    auto model = spmGguf(false).open("spm_plain.gguf");
    auto tok = Tokenizer::fromGguf(*model);
    const Ids nl = tok->encode("a\nb");
    QVERIFY2(std::find(nl.begin(), nl.end(), 3 + 0x0A) != nl.end(), qPrintable(show(nl)));
    for (const std::string s : {"two  spaces", "line\nbreak\n\n", "\ttab", " lead", "x 😀 y"})
        QCOMPARE(tok->decode(tok->encode(s)), s);
    const std::string eval = testutil::readFile(tinyLlama("eval.txt"));
    QVERIFY(tok->decode(tok->encode(eval)) == eval);
}

void TstTokenizer::preTokenizerSplits()
{
    using V = std::vector<std::string>;
    // GPT-2: ` ?\p{N}+` keeps the number whole with its space; "\s+(?!\S)" at the end takes
    // all of the trailing whitespace.
    QCOMPARE(byteLevelPreTokenize(kProbe, "gpt2"),
             (V{"Hello", " world", "'s", " 12345", " test", "!!", "  \n"}));
    // Llama 3: numbers in groups of up to three digits without the space, the lone space left
    // over by "\s+(?!\S)", and "\s*[\r\n]+" for the tail.
    QCOMPARE(byteLevelPreTokenize(kProbe, "llama3"),
             (V{"Hello", " world", "'s", " ", "123", "45", " test", "!!", "  \n"}));
    QCOMPARE(byteLevelPreTokenize("x 2024!", "qwen2"), (V{"x", " ", "2", "0", "2", "4", "!"}));
    // Contractions: case-sensitive in GPT-2, case-insensitive in Llama 3.
    QCOMPARE(byteLevelPreTokenize("WE'LL go", "gpt2"), (V{"WE", "'", "LL", " go"}));
    QCOMPARE(byteLevelPreTokenize("WE'LL go", "llama3"), (V{"WE", "'LL", " go"}));
    // Llama 3's letter run may start with one non-letter, non-newline character.
    QCOMPARE(byteLevelPreTokenize("(hello) $x", "llama3"), (V{"(hello", ")", " $", "x"}));
    QCOMPARE(byteLevelPreTokenize("a $x", "llama3"), (V{"a", " $", "x"}));
    QCOMPARE(byteLevelPreTokenize("a\"x", "llama3"), (V{"a", "\"x"}));
    QCOMPARE(byteLevelPreTokenize("(hello) $x", "gpt2"), (V{"(", "hello", ")", " $", "x"}));
    // Several spaces before a word: the last one joins the word.
    QCOMPARE(byteLevelPreTokenize("a   b", "gpt2"), (V{"a", "  ", " b"}));
    QCOMPARE(byteLevelPreTokenize("a   b", "llama3"), (V{"a", "  ", " b"}));
    // Punctuation followed by newlines stays together in Llama 3.
    QCOMPARE(byteLevelPreTokenize("end.\n\nNext", "llama3"), (V{"end", ".\n\n", "Next"}));
    // GPT-2: "\s+(?!\S)" leaves the last newline, which no word alternative takes (` ?` is a
    // space only), so it stands alone.
    QCOMPARE(byteLevelPreTokenize("end.\n\nNext", "gpt2"), (V{"end", ".", "\n", "\n", "Next"}));
    // Non-ASCII letters are letters; CJK punctuation is not.
    QCOMPARE(byteLevelPreTokenize("héllo wörld", "gpt2"), (V{"héllo", " wörld"}));
    QCOMPARE(byteLevelPreTokenize("日本。語", "llama3"), (V{"日本", "。語"}));
    QCOMPARE(byteLevelPreTokenize("日本。語", "gpt2"), (V{"日本", "。", "語"}));
    QVERIFY_THROWS_EXCEPTION(Error, byteLevelPreTokenize("x", "bert"));
}

void TstTokenizer::bpeJsonHandWorkedIds()
{
    // Ids by hand (vocabulary in tests/data/tokenizers/README.md; merge ranks r0..r18):
    //  "Hello": H e l l o -> (l l r0) H e ll o -> (e ll r1) H ell o -> (r2) Hell o -> Hello 24
    //  " world": Ġ w o r l d -> (Ġ w r4) -> (o r r5) -> (Ġw or r6) -> (l d r7) -> Ġworld 29
    //  "'s" -> 30
    //  GPT-2 " 12345": Ġ 1 2 3 4 5 -> (1 2 r10) -> (12 3 r11) -> (4 5 r12): Ġ 123 45 = 18 32 33
    //  GPT-2 " test": Ġ t e s t -> (Ġ t r13) -> (e s r14) -> (Ġt es r15): Ġtes t = 36 15
    //  "!!" -> 37;  "  \n": Ġ Ġ Ċ -> (Ġ Ġ r17): ĠĠ Ċ = 38 17
    //  Llama 3: " " 18, "123" 32, "45" 33, and " test" = Ġtest 42 whole (ignore_merges).
    auto gpt2 = Tokenizer::fromTokenizerJson(tokData("bpe_gpt2.json"));
    QCOMPARE(gpt2->kind(), std::string("bpe"));
    QCOMPARE(gpt2->vocabSize(), 43);
    COMPARE_IDS(gpt2->encode(kProbe), (Ids{24, 29, 30, 18, 32, 33, 36, 15, 37, 38, 17}));
    auto llama3 = Tokenizer::fromTokenizerJson(tokData("bpe_llama3.json"));
    COMPARE_IDS(llama3->encode(kProbe), (Ids{24, 29, 30, 18, 32, 33, 42, 37, 38, 17}));
    // "héllo" = h C3 A9 l l o = h Ã © l l o -> (l l r0) -> (Ã © r18): h Ã© ll o
    COMPARE_IDS(gpt2->encode("héllo"), (Ids{10, 39, 21, 12}));
    COMPARE_IDS(llama3->encode("héllo"), (Ids{10, 39, 21, 12}));
    QCOMPARE(gpt2->piece(29), std::string("Ġworld"));
    QCOMPARE(gpt2->piece(40), std::string("<|endoftext|>"));
    QVERIFY(gpt2->encode("").empty());
    // BOS from the template (Llama 3 file) or by name (GPT-2 file); EOS by name.
    QCOMPARE(llama3->bos(), 41);
    QCOMPARE(gpt2->bos(), 41);
    QCOMPARE(llama3->eos(), 40);
    QCOMPARE(gpt2->eos(), 40);
}

void TstTokenizer::bpeSpecialTokensAndDecode()
{
    for (const char* file : {"bpe_gpt2.json", "bpe_llama3.json"}) {
        auto tok = Tokenizer::fromTokenizerJson(tokData(file));
        // Special tokens are cut out first, even inside a word.
        COMPARE_IDS(tok->encode("<|begin_of_text|>Hello<|endoftext|>"), (Ids{41, 24, 40}));
        COMPARE_IDS(tok->encode("Hell<|endoftext|>o"), (Ids{23, 40, 12}));
        // A near miss is ordinary text: "<" is not in the vocabulary and no byte is unknown
        // except it, so only the known bytes remain.
        QCOMPARE(tok->decode(Ids{41, 24, 40}), std::string("Hello"));
        for (const std::string& s : {kProbe, std::string("héllo"), std::string("'s 5!")})
            QCOMPARE(tok->decode(tok->encode(s)), s);
        // Non-ASCII bytes by id: Ã (19) © (20) are the bytes C3 A9 = "é".
        QCOMPARE(tok->decode(Ids{10, 19, 20}), std::string("hé"));
        QCOMPARE(tok->decode(Ids{18, 17}), std::string(" \n"));
    }
}

void TstTokenizer::bpeJsonVariants()
{
    const auto base = nlohmann::json::parse(testutil::readFile(tokData("bpe_llama3.json")));
    auto regex = [](nlohmann::json& j) -> nlohmann::json& {
        return j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"];
    };
    // Qwen2: the same regex with single digits, an NFC normalizer, no BOS token at all.
    auto qwen = base;
    const std::string l3 = regex(qwen).get<std::string>();
    regex(qwen) = l3.substr(0, l3.find("\\p{N}{1,3}")) + "\\p{N}" +
                  l3.substr(l3.find("\\p{N}{1,3}") + std::strlen("\\p{N}{1,3}"));
    qwen["normalizer"] = {{"type", "NFC"}};
    qwen["post_processor"] = nullptr;
    qwen["added_tokens"].erase(1); // <|begin_of_text|>
    auto q = Tokenizer::fromTokenizerJson(testutil::writeTemp("qwen2.json", qwen.dump()));
    // "12345" as single digits 1 2 3 4 5 = ids 2 3 4 5 6 (no merge runs across pre-tokens).
    COMPARE_IDS(q->encode(" 12345"), (Ids{18, 2, 3, 4, 5, 6}));
    QCOMPARE(q->bos(), -1);
    QCOMPARE(q->eos(), 40);
    // Llama 3's contractions written as character classes (as some converters do).
    auto classes = base;
    regex(classes) = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])" +
                     l3.substr(l3.find(')') + 1);
    auto c = Tokenizer::fromTokenizerJson(testutil::writeTemp("classes.json", classes.dump()));
    COMPARE_IDS(c->encode(kProbe), (Ids{24, 29, 30, 18, 32, 33, 42, 37, 38, 17}));
}

void TstTokenizer::bpeGgufMatchesJson()
{
    const std::vector<std::string> texts = {kProbe, "héllo", "<|begin_of_text|>Hello<|endoftext|>",
                                            "Hello  world's 123 4 5!!\n\n test"};
    const std::pair<const char*, const char*> cases[] = {{"gpt2", "bpe_gpt2.json"},
                                                         {"llama-bpe", "bpe_llama3.json"}};
    for (const auto& [pre, file] : cases) {
        auto model = bpeGguf(pre, std::string("bpe_") + pre + ".gguf");
        auto fromGguf = Tokenizer::fromGguf(*model);
        auto fromJson = Tokenizer::fromTokenizerJson(tokData(file));
        QCOMPARE(fromGguf->kind(), std::string("bpe"));
        QCOMPARE(fromGguf->bos(), 41);
        QCOMPARE(fromGguf->eos(), 40);
        QCOMPARE(fromGguf->vocabSize(), 43);
        for (const auto& t : texts) {
            COMPARE_IDS(fromGguf->encode(t), fromJson->encode(t));
            QCOMPARE(fromGguf->decode(fromGguf->encode(t)), fromJson->decode(fromJson->encode(t)));
        }
    }
    COMPARE_IDS(Tokenizer::fromGguf(*bpeGguf("llama-bpe", "bpe_l3.gguf"))->encode(kProbe),
                (Ids{24, 29, 30, 18, 32, 33, 42, 37, 38, 17}));
    auto bad = bpeGguf("falcon", "bpe_falcon.gguf");
    expectFileError([&] { Tokenizer::fromGguf(*bad); }, bad->path, "falcon");
}

void TstTokenizer::bpeLargeText()
{
    // About a megabyte of English through the Llama 3 pattern and the merge loop.
    auto tok = Tokenizer::fromTokenizerJson(tokData("bpe_llama3.json"));
    const std::string eval = testutil::readFile(tinyLlama("eval.txt"));
    std::string text;
    while (text.size() < (1u << 20))
        text += eval;
    const auto t0 = std::chrono::steady_clock::now();
    const Ids ids = tok->encode(text);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    qInfo("byte-level BPE: %zu bytes -> %zu ids in %.3f s", text.size(), ids.size(), sec);
    QVERIFY(ids.size() > text.size() / 4);
    // The text is eval.txt repeated; it ends in a letter and starts with a quote, which the
    // pre-tokenizer splits apart, so the ids are eval.txt's ids repeated (the time is printed,
    // never asserted).
    const Ids once = tok->encode(eval);
    QCOMPARE(ids.size() % once.size(), size_t(0));
    for (size_t k = 0; k < ids.size(); k += once.size())
        QVERIFY(std::equal(once.begin(), once.end(), ids.begin() + std::ptrdiff_t(k)));
}

void TstTokenizer::forModel()
{
    namespace fs = std::filesystem;
    auto llama = Model::open(testutil::dataPath("tiny-llama"));
    auto tok = Tokenizer::forModel(*llama);
    QCOMPARE(tok->kind(), std::string("sentencepiece"));
    QCOMPARE(tok->bos(), 1);
    QCOMPARE(tok->eos(), 2);

    // A checkpoint folder with tokenizer.json only; config.json's ids override the tokenizer's.
    const std::string st = testutil::makeSafetensors(
        {{"w", "F32", {2}, testutil::floatBytes({1.0f, 2.0f})}});
    const fs::path dir = fs::path(testutil::tempPath("bpe_checkpoint"));
    fs::create_directories(dir);
    std::ofstream((dir / "model.safetensors").string(), std::ios::binary) << st;
    fs::copy_file(tokData("bpe_llama3.json"), dir / "tokenizer.json",
                  fs::copy_options::overwrite_existing);
    auto model = Model::open((dir / "model.safetensors").string());
    auto bpe = Tokenizer::forModel(*model);
    QCOMPARE(bpe->kind(), std::string("bpe"));
    QCOMPARE(bpe->bos(), 41);
    std::ofstream((dir / "config.json").string()) << R"({"bos_token_id": 40, "eos_token_id": [41, 40]})";
    bpe = Tokenizer::forModel(*Model::open(dir.string()));
    QCOMPARE(bpe->bos(), 40);
    QCOMPARE(bpe->eos(), 41);

    // No tokenizer at all.
    const fs::path empty = fs::path(testutil::tempPath("no_tokenizer"));
    fs::create_directories(empty);
    std::ofstream((empty / "model.safetensors").string(), std::ios::binary) << st;
    auto bare = Model::open((empty / "model.safetensors").string());
    expectFileError([&] { Tokenizer::forModel(*bare); }, empty.string(),
                    "no tokenizer.model or tokenizer.json");

    // GGUF without tokenizer metadata.
    Gguf g;
    g.str("general.architecture", "llama");
    auto noTok = g.open("no_tokenizer.gguf");
    expectFileError([&] { Tokenizer::forModel(*noTok); }, noTok->path, "tokenizer.ggml.model");
}

QTEST_APPLESS_MAIN(TstTokenizer)
#include "tst_tokenizer.moc"
