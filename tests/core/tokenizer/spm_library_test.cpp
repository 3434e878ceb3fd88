// Our SentencePiece tokenizer (bonsai_spm) against Debian's SentencePiece library on the
// tiny-llama tokenizer.model. This executable links the library and bonsai_spm only: the
// library embeds protobuf 3.14 and cannot share a process with libonnx's protobuf.
#include "tokenizer/spm.h"

#include <sentencepiece_processor.h>

#include <QtTest>

#include <fstream>
#include <sstream>

namespace {

std::string readAll(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

const std::string kDir = std::string(BONSAI_TEST_DATA) + "/tiny-llama/";

} // namespace

class SpmLibraryTest : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void sameIdsAsLibrary_data();
    void sameIdsAsLibrary();
    void wholeEvalText();
    void vocabularyAndDecode();
    void fromVocabularyArrays();

private:
    sentencepiece::SentencePieceProcessor lib_;
    std::unique_ptr<bonsai::spm::Processor> ours_;
};

void SpmLibraryTest::initTestCase()
{
    QVERIFY(lib_.Load(kDir + "tokenizer.model").ok());
    std::string error;
    auto v = bonsai::spm::parseModelProto(readAll(kDir + "tokenizer.model"), error);
    QVERIFY2(v.has_value(), error.c_str());
    ours_ = std::make_unique<bonsai::spm::Processor>(std::move(*v));
}

void SpmLibraryTest::sameIdsAsLibrary_data()
{
    QTest::addColumn<QString>("text");
    QTest::newRow("probe") << "The quick brown fox jumps over the lazy dog. A computer is a machine";
    QTest::newRow("leading, repeated and trailing spaces") << "   two  spaces   and\ttabs\t ";
    QTest::newRow("newlines") << "line one\nline two\n\n  indented\n";
    QTest::newRow("unicode and NFKC") << QString::fromUtf8("café naïve ﬁ ligature ＡＢＣ ① ½ Straße");
    QTest::newRow("emoji and CJK (byte fallback)") << QString::fromUtf8("smile 😀 and 漢字, ok?");
    QTest::newRow("digits and punctuation") << "3.14159, 2^10=1024; (x+y)*z!! -- \"quoted\" 'single'";
    QTest::newRow("empty") << "";
    QTest::newRow("only spaces") << "    ";
}

void SpmLibraryTest::sameIdsAsLibrary()
{
    QFETCH(QString, text);
    const std::string s = text.toStdString();
    std::vector<int> expected;
    QVERIFY(lib_.Encode(s, &expected).ok());
    const std::vector<int32_t> got = ours_->encode(s);
    QCOMPARE(std::vector<int>(got.begin(), got.end()), expected);
    std::string libText;
    QVERIFY(lib_.Decode(expected, &libText).ok());
    QCOMPARE(ours_->decode(got), libText);
}

void SpmLibraryTest::wholeEvalText()
{
    for (const char* file : {"eval.txt", "calib.txt"}) {
        const std::string text = readAll(kDir + file);
        std::vector<int> expected;
        QVERIFY(lib_.Encode(text, &expected).ok());
        const std::vector<int32_t> got = ours_->encode(text);
        QCOMPARE(got.size(), expected.size());
        QVERIFY(std::equal(got.begin(), got.end(), expected.begin()));
        // Also line by line (many short inputs: leading-space and dummy-prefix handling).
        std::istringstream lines(text);
        std::string line;
        int checked = 0;
        while (std::getline(lines, line) && checked < 2000) {
            std::vector<int> e;
            QVERIFY(lib_.Encode(line, &e).ok());
            const auto g = ours_->encode(line);
            QVERIFY2(std::equal(g.begin(), g.end(), e.begin(), e.end()), line.c_str());
            ++checked;
        }
    }
}

void SpmLibraryTest::vocabularyAndDecode()
{
    const auto& v = ours_->vocabulary();
    QCOMPARE(int(v.pieces.size()), lib_.GetPieceSize());
    QCOMPARE(v.bosId, lib_.bos_id());
    QCOMPARE(v.eosId, lib_.eos_id());
    QCOMPARE(v.unkId, lib_.unk_id());
    for (int i = 0; i < lib_.GetPieceSize(); ++i) {
        QCOMPARE(v.pieces[size_t(i)], lib_.IdToPiece(i));
        QCOMPARE(v.scores[size_t(i)], lib_.GetScore(i));
        QCOMPARE(v.types[size_t(i)] == bonsai::spm::PieceType::Byte, lib_.IsByte(i));
        QCOMPARE(v.types[size_t(i)] == bonsai::spm::PieceType::Control, lib_.IsControl(i));
    }
}

void SpmLibraryTest::fromVocabularyArrays()
{
    // The way GGUF delivers a Llama vocabulary: pieces, scores and types without a normalizer
    // (identity normalization, dummy prefix, whitespace kept). On text the character map
    // leaves unchanged, the ids equal the library's.
    bonsai::spm::Vocabulary v;
    for (int i = 0; i < lib_.GetPieceSize(); ++i) {
        v.pieces.push_back(lib_.IdToPiece(i));
        v.scores.push_back(lib_.GetScore(i));
        v.types.push_back(lib_.IsByte(i) ? bonsai::spm::PieceType::Byte
                          : lib_.IsControl(i) ? bonsai::spm::PieceType::Control
                          : lib_.IsUnknown(i) ? bonsai::spm::PieceType::Unknown
                                              : bonsai::spm::PieceType::Normal);
    }
    v.byteFallback = true;
    v.removeExtraWhitespaces = false;
    bonsai::spm::Processor p(std::move(v));
    const std::string text = "The quick brown fox jumps over the lazy dog. A computer is a machine";
    std::vector<int> expected;
    QVERIFY(lib_.Encode(text, &expected).ok());
    const auto got = p.encode(text);
    QVERIFY(std::equal(got.begin(), got.end(), expected.begin(), expected.end()));
    // Whitespace is kept verbatim without the NMT normalizer: two spaces stay two pieces.
    QVERIFY(p.encode("a  b").size() > ours_->encode("a  b").size());
}

QTEST_APPLESS_MAIN(SpmLibraryTest)
#include "spm_library_test.moc"
