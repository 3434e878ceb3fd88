// GGUF reader tests. Files are written by a small GGUF writer in this test (independent of
// the reader): every metadata value type, every supported tensor type, alignment, and corrupt
// input. The block dequantizers are tested in tst_ggml_dequant.cpp.
#include "bonsai/error.h"
#include "formats/gguf.h"
#include "bonsai/model.h"
#include "gguf_writer.h"
#include "testutil.h"
#include "bonsai/readers.h"

#include <QtTest>

#include <cstring>
#include <functional>
#include <optional>
#include <tuple>

using namespace bonsai;
using testutil::put;
using namespace testutil::gguf;

namespace {

// Writes bytes to a temp file and expects readGguf to fail with a message naming the path
// and containing `fragment`.
void expectFault(const std::string& fileName, const std::string& bytes, const std::string& fragment)
{
    const std::string path = testutil::writeTemp(fileName, bytes);
    try {
        readGguf(path);
    } catch (const FileError& e) {
        const std::string msg = e.what();
        QVERIFY2(msg.find(path) != std::string::npos, msg.c_str());
        QVERIFY2(msg.find(fragment) != std::string::npos, (msg + "  [wanted: " + fragment + "]").c_str());
        return;
    } catch (const std::exception& e) {
        QFAIL((std::string("wrong exception type: ") + e.what()).c_str());
    }
    QFAIL(("no error for " + fileName).c_str());
}

// A small valid file used as the base for corruption tests.
GgufWriter validWriter()
{
    GgufWriter w;
    w.kv("general.architecture", tString, str("llama"));
    w.kv("tokenizer.ggml.tokens", tArray, array(tString, 2, str("a") + str("b")));
    std::string f32;
    for (float v : {1.0f, 2.0f, 3.0f, 4.0f})
        put<float>(f32, v);
    w.tensor("w", {2, 2}, gF32, f32);
    w.tensor("b", {2}, gF32, f32.substr(0, 8));
    return w;
}

// Header bytes up to the counts, for hand-made broken files.
std::string header(uint32_t version, uint64_t tensors, uint64_t kvs)
{
    std::string b = "GGUF";
    put<uint32_t>(b, version);
    put<uint64_t>(b, tensors);
    put<uint64_t>(b, kvs);
    return b;
}

// One tensor info.
std::string info(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset)
{
    std::string b = str(name);
    put<uint32_t>(b, static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne)
        put<uint64_t>(b, d);
    put<uint32_t>(b, type);
    put<uint64_t>(b, offset);
    return b;
}

} // namespace

class TstGguf : public QObject {
    Q_OBJECT
private slots:
    void readAllValueAndTensorTypes_data();
    void readAllValueAndTensorTypes();
    void alignment64();
    void corruptFiles();
    void typedMetadataRefusesOtherTypes();
    void truncatedAtEveryLength();
    void randomByteDamageNeverCrashes();
};

void TstGguf::readAllValueAndTensorTypes_data()
{
    QTest::addColumn<uint32_t>("version");
    QTest::newRow("v2") << 2u;
    QTest::newRow("v3") << 3u;
}

void TstGguf::readAllValueAndTensorTypes()
{
    QFETCH(uint32_t, version);
    GgufWriter w;
    w.version = version;
    w.kv("general.architecture", tString, str("llama"));
    w.kv("v.u8", tU8, scalar<uint8_t>(200));
    w.kv("v.i8", tI8, scalar<int8_t>(-100));
    w.kv("v.u16", tU16, scalar<uint16_t>(60000));
    w.kv("v.i16", tI16, scalar<int16_t>(-30000));
    w.kv("v.u32", tU32, scalar<uint32_t>(4000000000u));
    w.kv("v.i32", tI32, scalar<int32_t>(-2000000000));
    w.kv("v.f32", tF32, scalar<float>(0.125f));
    w.kv("v.bool", tBool, scalar<uint8_t>(1));
    w.kv("v.u64", tU64, scalar<uint64_t>((1ull << 63) + 5));
    w.kv("v.i64", tI64, scalar<int64_t>(-(1ll << 62)));
    w.kv("v.f64", tF64, scalar<double>(3.141592653589793));
    w.kv("tokenizer.ggml.tokens", tArray, array(tString, 3, str("<s>") + str("</s>") + str("hello")));
    w.kv("tokenizer.ggml.scores", tArray,
         array(tF32, 3, scalar<float>(0.0f) + scalar<float>(-1.5f) + scalar<float>(2.25f)));
    w.kv("tokenizer.ggml.token_type", tArray,
         array(tI32, 3, scalar<int32_t>(1) + scalar<int32_t>(3) + scalar<int32_t>(1)));
    w.kv("tokenizer.ggml.merges", tArray, array(tString, 2, str("h e") + str("l l")));
    w.kv("v.nested", tArray,
         array(tArray, 2, array(tU8, 2, "\x01\x02") + array(tU8, 1, "\x03")));
    w.kv("v.empty", tArray, array(tString, 0, ""));
    w.kv("v.bools", tArray, array(tBool, 2, std::string("\x01\x00", 2)));

    std::string f32, f16, bf16, f64, i8, i16, i32, i64, f32b;
    for (int k = 1; k <= 6; ++k)
        put<float>(f32, static_cast<float>(k));
    for (uint16_t h : {0x3C00, 0xC000, 0x3800, 0x7BFF})
        put<uint16_t>(f16, h);
    for (uint16_t h : {0x3F80, 0xC040})
        put<uint16_t>(bf16, h);
    for (double d : {1.5, -2.25})
        put<double>(f64, d);
    for (int8_t v : {-128, 0, 127})
        put<int8_t>(i8, v);
    for (int16_t v : {-300, 300})
        put<int16_t>(i16, v);
    for (int32_t v : {-70000, 70000})
        put<int32_t>(i32, v);
    for (int64_t v : {int64_t(-5), int64_t(1) << 40})
        put<int64_t>(i64, v);
    for (int k = 0; k < 24; ++k)
        put<float>(f32b, static_cast<float>(k) - 10.0f);
    // Two Q8_0 blocks (fp16 scale, then 32 int8): d = 0.5 (0x3800) with qs = -3..28, and
    // d = -2 (0xC000) with qs = 0..31.
    std::string q8;
    std::vector<float> q8Values;
    for (const auto& [bits, scale, first] : {std::tuple{uint16_t(0x3800), 0.5f, -3}, std::tuple{uint16_t(0xC000), -2.0f, 0}}) {
        put<uint16_t>(q8, bits);
        for (int k = 0; k < 32; ++k) {
            put<int8_t>(q8, static_cast<int8_t>(first + k));
            q8Values.push_back(static_cast<float>(first + k) * scale);
        }
    }
    w.tensor("f32", {3, 2}, gF32, f32);
    w.tensor("f16", {4}, gF16, f16);
    w.tensor("bf16", {2}, gBF16, bf16);
    w.tensor("f64", {2}, gF64, f64);
    w.tensor("i8", {3}, gI8, i8);
    w.tensor("i16", {2}, gI16, i16);
    w.tensor("i32", {2}, gI32, i32);
    w.tensor("i64", {2}, gI64, i64);
    w.tensor("blk.0.attn_q.weight", {32, 2}, gQ8_0, q8);
    w.tensor("conv.weight", {1, 2, 3, 4}, gF32, f32b);

    const std::string path = testutil::writeTemp("all_v" + std::to_string(version) + ".gguf", w.build());
    auto m = Model::open(path);
    QCOMPARE(m->format, Format::Gguf);
    QCOMPARE(m->tensors.size(), size_t(10));

    struct Want { const char* name; DType dtype; std::vector<int64_t> shape; std::vector<float> values; };
    const std::vector<Want> want = {
        {"f32", DType::F32, {2, 3}, {1, 2, 3, 4, 5, 6}},
        {"f16", DType::F16, {4}, {1.0f, -2.0f, 0.5f, 65504.0f}},
        {"bf16", DType::BF16, {2}, {1.0f, -3.0f}},
        {"f64", DType::F64, {2}, {1.5f, -2.25f}},
        {"i8", DType::I8, {3}, {-128, 0, 127}},
        {"i16", DType::I16, {2}, {-300, 300}},
        {"i32", DType::I32, {2}, {-70000, 70000}},
        {"i64", DType::I64, {2}, {-5, 1099511627776.0f}},
        {"blk.0.attn_q.weight", DType::Q8_0, {2, 32}, q8Values},
        {"conv.weight", DType::F32, {4, 3, 2, 1}, {}},
    };
    for (const Want& t : want) {
        const int idx = m->findTensor(t.name);
        QVERIFY2(idx >= 0, t.name);
        const TensorInfo& ti = m->tensors[static_cast<size_t>(idx)];
        QCOMPARE(ti.dtype, t.dtype);
        QCOMPARE(ti.shape, t.shape);
        QCOMPARE(ti.fileOffset % 32, uint64_t(0));
        if (!t.values.empty())
            QCOMPARE(m->readFloat(idx), t.values);
    }
    QCOMPARE(m->readFloat(m->findTensor("conv.weight")).at(23), 13.0f);
    // Layers come from names: 2-D and 4-D float/quantized weights.
    QCOMPARE(m->layers.size(), size_t(3)); // f32 [2,3], attn_q, conv
    bool haveAttn = false;
    for (const Layer& l : m->layers)
        haveAttn |= l.name == "blk.0.attn_q" && l.op == "Linear";
    QVERIFY(haveAttn);

    // Typed metadata.
    const GgufMetadata* md = ggufMetadata(*m);
    QVERIFY(md);
    QCOMPARE(md->version, version);
    QCOMPARE(md->alignment, uint64_t(32));
    QCOMPARE(md->kv.size(), size_t(19));
    QCOMPARE(*md->getString("general.architecture"), std::string("llama"));
    QCOMPARE(*md->getUInt("v.u8"), uint64_t(200));
    QCOMPARE(*md->getInt("v.i8"), int64_t(-100));
    QCOMPARE(*md->getUInt("v.u16"), uint64_t(60000));
    QCOMPARE(*md->getInt("v.i16"), int64_t(-30000));
    QCOMPARE(*md->getUInt("v.u32"), uint64_t(4000000000u));
    QCOMPARE(*md->getInt("v.i32"), int64_t(-2000000000));
    QCOMPARE(*md->getDouble("v.f32"), 0.125);
    QCOMPARE(*md->getBool("v.bool"), true);
    QCOMPARE(*md->getUInt("v.u64"), (uint64_t(1) << 63) + 5);
    QVERIFY(!md->getInt("v.u64")); // does not fit int64
    QCOMPARE(*md->getInt("v.i64"), -(int64_t(1) << 62));
    QCOMPARE(*md->getDouble("v.f64"), 3.141592653589793);
    QCOMPARE(md->find("v.f64")->type, GgufType::F64);
    QVERIFY(!md->find("missing"));
    const auto* tokens = md->getStrings("tokenizer.ggml.tokens");
    QVERIFY(tokens);
    QCOMPARE(*tokens, (std::vector<std::string>{"<s>", "</s>", "hello"}));
    QCOMPARE(md->find("tokenizer.ggml.scores")->toFloats(), (std::vector<float>{0.0f, -1.5f, 2.25f}));
    QCOMPARE(md->find("tokenizer.ggml.token_type")->toInts(), (std::vector<int64_t>{1, 3, 1}));
    QCOMPARE(*md->getStrings("tokenizer.ggml.merges"), (std::vector<std::string>{"h e", "l l"}));
    const GgufValue* nested = md->find("v.nested");
    QCOMPARE(nested->elemType, GgufType::Array);
    QCOMPARE(nested->arrays.size(), size_t(2));
    QCOMPARE(nested->arrays[0].toInts(), (std::vector<int64_t>{1, 2}));
    QCOMPARE(nested->arrays[1].toInts(), (std::vector<int64_t>{3}));
    QCOMPARE(md->find("v.empty")->count, uint64_t(0));

    // Display metadata.
    auto shown = [&](const std::string& key) {
        for (const auto& [k, v] : m->metadata)
            if (k == key)
                return v;
        return std::string("<absent>");
    };
    QCOMPARE(shown("gguf.version"), std::to_string(version));
    QCOMPARE(shown("gguf.alignment"), std::string("32"));
    QCOMPARE(shown("general.architecture"), std::string("llama"));
    QCOMPARE(shown("v.u8"), std::string("200"));
    QCOMPARE(shown("v.i64"), std::string("-4611686018427387904"));
    QCOMPARE(shown("v.f32"), std::string("0.125"));
    QCOMPARE(shown("v.bool"), std::string("true"));
    QCOMPARE(shown("tokenizer.ggml.tokens"), std::string("[3 x string]"));
    QCOMPARE(shown("tokenizer.ggml.scores"), std::string("[0, -1.5, 2.25]"));
    QCOMPARE(shown("v.nested"), std::string("[2 x array]"));
    QCOMPARE(shown("v.bools"), std::string("[true, false]"));
}

void TstGguf::alignment64()
{
    GgufWriter w;
    w.alignment = 64;
    w.kv("general.alignment", tU32, scalar<uint32_t>(64));
    std::string a, b;
    for (int k = 0; k < 3; ++k)
        put<float>(a, static_cast<float>(k));
    for (int k = 0; k < 5; ++k)
        put<float>(b, static_cast<float>(10 + k));
    w.tensor("a", {3}, gF32, a); // 12 bytes at 0, next tensor at 64
    w.tensor("b", {5}, gF32, b);
    const std::string bytes = w.build();
    const std::string path = testutil::writeTemp("align64.gguf", bytes);
    auto m = readGguf(path);
    const GgufMetadata* md = ggufMetadata(*m);
    QCOMPARE(md->alignment, uint64_t(64));
    QCOMPARE(md->dataOffset % 64, uint64_t(0));
    QCOMPARE(m->tensors[1].fileOffset, md->dataOffset + 64);
    QCOMPARE(m->readFloat(1), (std::vector<float>{10, 11, 12, 13, 14}));
    float two[2];
    m->readFloat(1, 3, 2, two);
    QCOMPARE(two[0], 13.0f);
    QCOMPARE(two[1], 14.0f);

    // The same layout read with the default alignment (no key) puts the data elsewhere:
    // offset 64 is a multiple of 32 too, so it reads but from the 32-aligned start.
    GgufWriter w32 = w;
    w32.kvBytes.clear();
    w32.kvCount = 0;
    auto m32 = readGguf(testutil::writeTemp("align32.gguf", w32.build()));
    QCOMPARE(ggufMetadata(*m32)->alignment, uint64_t(32));
    QCOMPARE(ggufMetadata(*m32)->dataOffset % 32, uint64_t(0));
}

// What configures a model is read with the typed getters: a value of another type is refused
// naming the file, the key, the type found and the type wanted (never taken as absent).
void TstGguf::typedMetadataRefusesOtherTypes()
{
    GgufWriter w;
    w.kv("n", tU32, scalar<uint32_t>(7));
    w.kv("big", tU64, scalar<uint64_t>(uint64_t(1) << 63));
    w.kv("s", tString, str("7"));
    w.kv("f", tF32, scalar<float>(0.5f));
    w.kv("flag", tBool, scalar<uint8_t>(1));
    w.kv("names", tArray, stringArray({"a", "b"}));
    w.kv("ints", tArray, numberArray<int32_t>(tI32, {1, 2, 3}));
    const std::string path = testutil::writeTemp("typed.gguf", w.build());
    auto m = readGguf(path);
    const GgufMetadata& md = *ggufMetadata(*m);
    QCOMPARE(md.requireTypedInt("n", path), std::optional<int64_t>(7));
    QCOMPARE(md.requireTypedNumber("n", path), std::optional<double>(7));
    QCOMPARE(md.requireTypedNumber("f", path), std::optional<double>(0.5));
    QCOMPARE(md.requireTypedBool("flag", path), std::optional<bool>(true));
    QCOMPARE(md.requireTypedString("s", path), std::optional<std::string>("7"));
    QCOMPARE(md.requireTypedStrings("names", path)->size(), size_t(2));
    QCOMPARE(md.requireTypedNumbers("ints", 3, path)->count, uint64_t(3));
    QVERIFY(!md.requireTypedInt("absent", path));
    QVERIFY(!md.requireTypedNumbers("absent", 3, path));

    auto refusal = [&](const std::function<void()>& f) -> std::string {
        try {
            f();
        } catch (const FileError& e) {
            return e.what();
        }
        return "accepted";
    };
    const std::string pre = path + ": metadata key ";
    QCOMPARE(refusal([&] { md.requireTypedInt("s", path); }), pre + "'s' is string, not an integer");
    QCOMPARE(refusal([&] { md.requireTypedInt("f", path); }), pre + "'f' is f32, not an integer");
    QCOMPARE(refusal([&] { md.requireTypedInt("big", path); }),
             pre + "'big' is 9223372036854775808, beyond the range of a signed 64-bit integer");
    QCOMPARE(refusal([&] { md.requireTypedNumber("names", path); }), pre + "'names' is an array of 2 string, not a number");
    QCOMPARE(refusal([&] { md.requireTypedBool("n", path); }), pre + "'n' is u32, not a bool");
    QCOMPARE(refusal([&] { md.requireTypedString("ints", path); }), pre + "'ints' is an array of 3 i32, not a string");
    QCOMPARE(refusal([&] { md.requireTypedStrings("ints", path); }),
             pre + "'ints' is an array of 3 i32, not an array of strings");
    QCOMPARE(refusal([&] { md.requireTypedNumbers("names", 2, path); }),
             pre + "'names' is an array of 2 string, not an array of numbers");
    QCOMPARE(refusal([&] { md.requireTypedNumbers("ints", 4, path); }), pre + "'ints' has 3 elements, not the 4 expected");
}

void TstGguf::corruptFiles()
{
    const std::string good = validWriter().build();
    QVERIFY(readGguf(testutil::writeTemp("good.gguf", good)));

    std::string bad = good;
    bad[3] = 'X';
    expectFault("magic.gguf", bad, "bad magic");
    expectFault("v1.gguf", header(1, 0, 0), "version 1");
    expectFault("v9.gguf", header(9, 0, 0), "unsupported GGUF version 9 (only versions 2 and 3)");
    std::string be = "GGUF";
    be += std::string("\x00\x00\x00\x03", 4);
    be += std::string(16, '\0');
    expectFault("bigendian.gguf", be, "big-endian");
    expectFault("short.gguf", "GGUF\x03", "truncated: header");
    expectFault("header.gguf", header(3, 0, 0).substr(0, 20), "truncated: header ends at byte 24 but the file has 20 bytes");
    // A key whose string runs past the end.
    std::string kvStr = header(3, 0, 1);
    put<uint64_t>(kvStr, 100);
    kvStr += "abcdefghij";
    expectFault("kvstring.gguf", kvStr, "truncated: metadata key 0 ends at byte 132 but the file has 42 bytes");
    expectFault("tensorcount.gguf", header(3, uint64_t(1) << 60, 0) + std::string(76, '\0'), "tensor_count");
    expectFault("kvcount.gguf", header(3, 0, ~uint64_t(0)) + std::string(76, '\0'), "kv_count");
    std::string hugeStr = header(3, 0, 1);
    put<uint64_t>(hugeStr, uint64_t(1) << 62);
    hugeStr += std::string(40, 'k');
    expectFault("hugestring.gguf", hugeStr, "truncated: metadata key 0");
    std::string hugeArr = header(3, 0, 1) + str("k");
    put<uint32_t>(hugeArr, tArray);
    hugeArr += array(tU32, uint64_t(1) << 60, std::string(16, '\0'));
    expectFault("hugearray.gguf", hugeArr, "cannot fit");
    expectFault("valuetype.gguf", header(3, 0, 1) + str("k") + scalar<uint32_t>(13) + std::string(8, '\0'),
                "unknown metadata value type 13");
    expectFault("elemtype.gguf", header(3, 0, 1) + str("k") + scalar<uint32_t>(tArray) + array(77, 1, std::string(8, '\0')),
                "unknown array element type 77");
    // Arrays nested six deep.
    std::string deep = array(tU8, 0, "");
    for (int k = 0; k < 6; ++k)
        deep = array(tArray, 1, deep);
    expectFault("deep.gguf", header(3, 0, 1) + str("k") + scalar<uint32_t>(tArray) + deep, "nested");
    expectFault("dupkey.gguf", header(3, 0, 2) + str("k") + scalar<uint32_t>(tU8) + "\x01" + str("k") +
                                   scalar<uint32_t>(tU8) + "\x02" + std::string(32, '\0'),
                "duplicate metadata key 'k'");

    auto oneTensor = [](std::vector<uint64_t> ne, uint32_t type, uint64_t offset, uint64_t dataBytes,
                        std::string kv = "", uint64_t kvs = 0) {
        std::string b = header(3, 1, kvs) + kv + info("t", std::move(ne), type, offset);
        b.resize((b.size() + 31) / 32 * 32, '\0');
        return b + std::string(dataBytes, '\0');
    };
    QVERIFY(readGguf(testutil::writeTemp("one.gguf", oneTensor({4}, gF32, 0, 16))));
    expectFault("ggmltype.gguf", oneTensor({4}, 99, 0, 16), "tensor 't' has unknown ggml type 99");
    expectFault("iq2.gguf", oneTensor({256}, 16, 0, 1024), "unsupported ggml type 16 (IQ2_XXS)");
    expectFault("ndims.gguf", oneTensor({1, 1, 1, 1, 1}, gF32, 0, 4), "5 dimensions");
    expectFault("neoverflow.gguf", oneTensor({uint64_t(1) << 40, uint64_t(1) << 40}, gF32, 0, 4), "overflowing shape");
    expectFault("nerange.gguf", oneTensor({~uint64_t(0)}, gF32, 0, 4), "out of range");
    expectFault("bytesoverflow.gguf", oneTensor({uint64_t(1) << 62}, gF64, 0, 4), "overflow");
    expectFault("pastend.gguf", oneTensor({4}, gF32, 0, 12), "extends past the end of the file");
    expectFault("farpastend.gguf", oneTensor({4}, gF32, uint64_t(1) << 40, 16), "extends past the end");
    expectFault("offsetoverflow.gguf", oneTensor({4}, gF32, ~uint64_t(0) - 31, 16), "overflows");
    expectFault("misaligned.gguf", oneTensor({4}, gF32, 4, 32), "not a multiple of the alignment 32");
    expectFault("blockrow.gguf", oneTensor({16, 2}, gQ8_0, 0, 34), "not a multiple of the 32-element block");
    expectFault("truncinfo.gguf", header(3, 1, 0) + str("t") + scalar<uint32_t>(4) + std::string(24, '\0'),
                "truncated: tensor info 0 ('t') ends at byte 69 but the file has 61 bytes");
    {
        std::string b = header(3, 2, 0) + info("a", {8}, gF32, 0) + info("b", {8}, gF32, 0);
        b.resize((b.size() + 31) / 32 * 32, '\0');
        expectFault("overlap.gguf", b + std::string(32, '\0'), "overlap");
        std::string d = header(3, 2, 0) + info("a", {8}, gF32, 0) + info("a", {8}, gF32, 32);
        d.resize((d.size() + 31) / 32 * 32, '\0');
        expectFault("dupname.gguf", d + std::string(64, '\0'), "duplicate tensor name 'a'");
    }
    // Alignment values.
    auto alignKv = [](uint32_t type, const std::string& value) { return str("general.alignment") + scalar<uint32_t>(type) + value; };
    expectFault("align48.gguf", oneTensor({4}, gF32, 0, 16, alignKv(tU32, scalar<uint32_t>(48)), 1), "power of two, got 48");
    expectFault("align0.gguf", oneTensor({4}, gF32, 0, 16, alignKv(tU32, scalar<uint32_t>(0)), 1), "power of two");
    expectFault("alignstr.gguf", oneTensor({4}, gF32, 0, 16, alignKv(tString, str("64")), 1), "power of two");
    expectFault("alignneg.gguf", oneTensor({4}, gF32, 0, 16, alignKv(tI32, scalar<int32_t>(-32)), 1), "power of two");
}

void TstGguf::truncatedAtEveryLength()
{
    const std::string good = validWriter().build();
    for (size_t len = 0; len < good.size(); ++len) {
        const std::string path = testutil::writeTemp("trunc.gguf", good.substr(0, len));
        try {
            readGguf(path);
            QFAIL(qPrintable(QStringLiteral("no error at length %1").arg(len)));
        } catch (const FileError& e) {
            QVERIFY(std::string(e.what()).find(path) != std::string::npos);
        }
    }
}

void TstGguf::randomByteDamageNeverCrashes()
{
    const std::string good = validWriter().build();
    uint32_t seed = 7;
    auto next = [&seed](int n) { // small LCG: uniform-ish in [0, n)
        seed = seed * 1664525u + 1013904223u;
        return static_cast<int>((seed >> 8) % static_cast<uint32_t>(n));
    };
    int failures = 0;
    for (int round = 0; round < 3000; ++round) {
        std::string bad = good;
        const int edits = 1 + next(3);
        for (int k = 0; k < edits; ++k) {
            // Mostly damage the header region, sometimes with extreme bytes.
            const size_t at = static_cast<size_t>(next(static_cast<int>(good.size())));
            bad[at] = static_cast<char>(next(3) == 0 ? 0xFF : next(256));
        }
        const std::string path = testutil::writeTemp("damaged.gguf", bad);
        try {
            auto m = readGguf(path);
            for (size_t t = 0; t < m->tensors.size(); ++t)
                (void)m->readFloat(static_cast<int>(t));
        } catch (const FileError&) {
            ++failures;
        }
    }
    QVERIFY(failures > 0);
}

QTEST_APPLESS_MAIN(TstGguf)
#include "tst_gguf.moc"
