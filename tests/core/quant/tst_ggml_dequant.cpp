// ggml block dequantizer tests: blocks are packed here from the format description with
// chosen scales and quants, and the expected floats computed from those chosen values
// (every product is exactly representable, so results must match bit for bit). The same
// blocks are also read back through a GGUF file and Model::readFloat.
#include "bonsai/error.h"
#include "bonsai/model.h"
#include "testutil.h"
#include "bonsai/readers.h"
#include "bonsai/ggml_blocks.h"

#include <QtTest>

#include <cstring>

using namespace bonsai;
using testutil::put;

namespace {

// ggml type ids of the block types, as written in GGUF tensor infos.
enum : uint32_t {
    gQ4_0 = 2, gQ4_1 = 3, gQ5_0 = 6, gQ5_1 = 7, gQ8_0 = 8, gQ2_K = 10, gQ3_K = 11, gQ4_K = 12,
    gQ5_K = 13, gQ6_K = 14,
};

// --- hand-built quantized blocks ---

struct Blocks {
    std::string bytes;
    std::vector<float> expect;
};

struct Rng {
    uint32_t s;
    int next(int n) // uniform-ish in [0, n)
    {
        s = s * 1664525u + 1013904223u;
        return static_cast<int>((s >> 8) % static_cast<uint32_t>(n));
    }
};

void putHalf(std::string& b, size_t at, uint16_t bits) { std::memcpy(b.data() + at, &bits, 2); }
uint8_t& byteAt(std::string& b, size_t at) { return reinterpret_cast<uint8_t&>(b[at]); }

// Each maker appends one block built from `seed` and its expected 32 or 256 floats.
// fp16 constants: 0x3C00 = 1, 0x3800 = 0.5, 0x3400 = 0.25, 0x3000 = 0.125, 0x4000 = 2,
// 0xBC00 = -1. All chosen values give exactly representable products.
void makeQ8_0(Blocks& out, uint32_t seed)
{
    std::string b(34, '\0');
    putHalf(b, 0, 0x3800); // d = 0.5
    for (int e = 0; e < 32; ++e) {
        const int q = e - 3 + static_cast<int>(seed % 7); // -3..28 for seed 0
        b[2 + e] = static_cast<char>(static_cast<int8_t>(q));
        out.expect.push_back(static_cast<float>(q) * 0.5f);
    }
    out.bytes += b;
}

void makeQ4_0(Blocks& out, uint32_t seed)
{
    Rng r{seed};
    std::string b(18, '\0');
    putHalf(b, 0, 0x4000); // d = 2
    for (int e = 0; e < 32; ++e) {
        const int q = r.next(16);
        byteAt(b, 2 + e % 16) |= static_cast<uint8_t>(q << (e < 16 ? 0 : 4));
        out.expect.push_back(static_cast<float>(q - 8) * 2.0f);
    }
    out.bytes += b;
}

void makeQ4_1(Blocks& out, uint32_t seed)
{
    Rng r{seed};
    std::string b(20, '\0');
    putHalf(b, 0, 0x3800); // d = 0.5
    putHalf(b, 2, 0xBC00); // m = -1
    for (int e = 0; e < 32; ++e) {
        const int q = r.next(16);
        byteAt(b, 4 + e % 16) |= static_cast<uint8_t>(q << (e < 16 ? 0 : 4));
        out.expect.push_back(static_cast<float>(q) * 0.5f - 1.0f);
    }
    out.bytes += b;
}

// Q5_0 / Q5_1: low nibbles as Q4, fifth bit of element e is bit e of the 32-bit qh.
void makeQ5(Blocks& out, uint32_t seed, bool withMin)
{
    Rng r{seed};
    const size_t qhAt = withMin ? 4 : 2, qsAt = qhAt + 4;
    std::string b(qsAt + 16, '\0');
    putHalf(b, 0, withMin ? 0x3C00 : 0x3400); // d = 1 or 0.25
    if (withMin)
        putHalf(b, 2, 0x3800); // m = 0.5
    uint32_t qh = 0;
    for (int e = 0; e < 32; ++e) {
        const int q = r.next(32);
        byteAt(b, qsAt + e % 16) |= static_cast<uint8_t>((q & 15) << (e < 16 ? 0 : 4));
        qh |= static_cast<uint32_t>(q >> 4) << e;
        out.expect.push_back(withMin ? static_cast<float>(q) + 0.5f : static_cast<float>(q - 16) * 0.25f);
    }
    std::memcpy(b.data() + qhAt, &qh, 4);
    out.bytes += b;
}

// Q2_K: scales[16] (4-bit scale | 4-bit min << 4), qs[64], d, dmin. Element e sits in
// qs[32 * (e / 128) + e % 32] at bits 2 * ((e % 128) / 32); sub-block e / 16.
void makeQ2_K(Blocks& out, uint32_t seed)
{
    Rng r{seed};
    std::string b(84, '\0');
    putHalf(b, 80, 0x3800); // d = 0.5
    putHalf(b, 82, 0x3400); // dmin = 0.25
    int sc[16], mn[16];
    for (int j = 0; j < 16; ++j) {
        sc[j] = r.next(16);
        mn[j] = r.next(16);
        byteAt(b, j) = static_cast<uint8_t>(sc[j] | (mn[j] << 4));
    }
    for (int e = 0; e < 256; ++e) {
        const int q = r.next(4);
        byteAt(b, 16 + 32 * (e / 128) + e % 32) |= static_cast<uint8_t>(q << (2 * ((e % 128) / 32)));
        out.expect.push_back(0.5f * static_cast<float>(sc[e / 16] * q) - 0.25f * static_cast<float>(mn[e / 16]));
    }
    out.bytes += b;
}

// Q3_K: hmask[32], qs[64], scales[12], d. Scale j (stored as j + 32, 6 bits): low four bits
// in scales[j] (j < 8) or the high nibble of scales[j - 8], top two bits in scales[8 + j % 4]
// at bit 2 * (j / 4). Quant q in [-4, 3] stored as u = q + 4: low two bits placed as in Q2_K,
// third bit in hmask[e % 32] at bit e / 32.
void makeQ3_K(Blocks& out, uint32_t seed)
{
    Rng r{seed};
    std::string b(110, '\0');
    putHalf(b, 108, 0x3800); // d = 0.5
    int scale[16];
    for (int j = 0; j < 16; ++j) {
        scale[j] = j == 0 ? -32 : j == 1 ? 31 : r.next(64) - 32;
        const int u = scale[j] + 32;
        if (j < 8)
            byteAt(b, 96 + j) |= static_cast<uint8_t>(u & 15);
        else
            byteAt(b, 96 + j - 8) |= static_cast<uint8_t>((u & 15) << 4);
        byteAt(b, 96 + 8 + j % 4) |= static_cast<uint8_t>((u >> 4) << (2 * (j / 4)));
    }
    for (int e = 0; e < 256; ++e) {
        const int q = r.next(8) - 4;
        const int u = q + 4;
        byteAt(b, 32 + 32 * (e / 128) + e % 32) |= static_cast<uint8_t>((u & 3) << (2 * ((e % 128) / 32)));
        byteAt(b, e % 32) |= static_cast<uint8_t>((u >> 2) << (e / 32));
        out.expect.push_back(0.5f * static_cast<float>(scale[e / 16] * q));
    }
    out.bytes += b;
}

// The 12-byte 6-bit scale/min packing of Q4_K and Q5_K, from the format description.
void packScaleMin(std::string& b, size_t at, const int sc[8], const int mn[8])
{
    for (int j = 0; j < 4; ++j) {
        byteAt(b, at + j) = static_cast<uint8_t>(sc[j]);
        byteAt(b, at + j + 4) = static_cast<uint8_t>(mn[j]);
    }
    for (int j = 4; j < 8; ++j) {
        byteAt(b, at + j + 4) = static_cast<uint8_t>((sc[j] & 15) | ((mn[j] & 15) << 4));
        byteAt(b, at + j - 4) |= static_cast<uint8_t>((sc[j] >> 4) << 6);
        byteAt(b, at + j) |= static_cast<uint8_t>((mn[j] >> 4) << 6);
    }
}

// Q4_K / Q5_K: d, dmin, scales[12], (Q5: qh[32]), qs[128]. Element e: low four bits in
// qs[32 * (e / 64) + e % 32], low nibble when e % 64 < 32; Q5's fifth bit in qh[e % 32] at
// bit e / 32; sub-block e / 32. x = d * sc * q - dmin * mn.
void makeQK(Blocks& out, uint32_t seed, bool five)
{
    Rng r{seed};
    const size_t qsAt = five ? 48 : 16;
    std::string b(five ? 176 : 144, '\0');
    putHalf(b, 0, 0x3800); // d = 0.5
    putHalf(b, 2, 0x3000); // dmin = 0.125
    int sc[8], mn[8];
    for (int j = 0; j < 8; ++j) {
        sc[j] = j == 7 ? 63 : r.next(64);
        mn[j] = j == 6 ? 63 : r.next(64);
    }
    packScaleMin(b, 4, sc, mn);
    for (int e = 0; e < 256; ++e) {
        const int q = r.next(five ? 32 : 16);
        byteAt(b, qsAt + 32 * (e / 64) + e % 32) |= static_cast<uint8_t>((q & 15) << (e % 64 < 32 ? 0 : 4));
        if (five)
            byteAt(b, 16 + e % 32) |= static_cast<uint8_t>((q >> 4) << (e / 32));
        out.expect.push_back(0.5f * static_cast<float>(sc[e / 32] * q) - 0.125f * static_cast<float>(mn[e / 32]));
    }
    out.bytes += b;
}

// Q6_K: ql[128], qh[64], scales[16] int8, d. Quant q in [-32, 31] stored as u = q + 32.
// Element e: h = e / 128, k = (e % 128) / 32, l = e % 32; low four bits in
// ql[64h + 32 * (k % 2) + l] (low nibble for k < 2), top two bits in qh[32h + l] at bit 2k.
void makeQ6_K(Blocks& out, uint32_t seed)
{
    Rng r{seed};
    std::string b(210, '\0');
    putHalf(b, 208, 0x3400); // d = 0.25
    int sc[16];
    for (int j = 0; j < 16; ++j) {
        sc[j] = j == 0 ? -128 : j == 1 ? 127 : r.next(256) - 128;
        b[192 + j] = static_cast<char>(static_cast<int8_t>(sc[j]));
    }
    for (int e = 0; e < 256; ++e) {
        const int q = r.next(64) - 32;
        const int u = q + 32;
        const int h = e / 128, k = (e % 128) / 32, l = e % 32;
        byteAt(b, 64 * h + 32 * (k % 2) + l) |= static_cast<uint8_t>((u & 15) << (k < 2 ? 0 : 4));
        byteAt(b, 128 + 32 * h + l) |= static_cast<uint8_t>((u >> 4) << (2 * k));
        out.expect.push_back(0.25f * static_cast<float>(sc[e / 16] * q));
    }
    out.bytes += b;
}

struct BlockCase {
    const char* name;
    DType dtype;
    uint32_t ggmlType;
    uint32_t blockElems;
    void (*make)(Blocks&, uint32_t);
};
const BlockCase kBlockCases[] = {
    {"Q4_0", DType::Q4_0, gQ4_0, 32, makeQ4_0},
    {"Q4_1", DType::Q4_1, gQ4_1, 32, makeQ4_1},
    {"Q5_0", DType::Q5_0, gQ5_0, 32, [](Blocks& o, uint32_t s) { makeQ5(o, s, false); }},
    {"Q5_1", DType::Q5_1, gQ5_1, 32, [](Blocks& o, uint32_t s) { makeQ5(o, s, true); }},
    {"Q8_0", DType::Q8_0, gQ8_0, 32, makeQ8_0},
    {"Q2_K", DType::Q2_K, gQ2_K, 256, makeQ2_K},
    {"Q3_K", DType::Q3_K, gQ3_K, 256, makeQ3_K},
    {"Q4_K", DType::Q4_K, gQ4_K, 256, [](Blocks& o, uint32_t s) { makeQK(o, s, false); }},
    {"Q5_K", DType::Q5_K, gQ5_K, 256, [](Blocks& o, uint32_t s) { makeQK(o, s, true); }},
    {"Q6_K", DType::Q6_K, gQ6_K, 256, makeQ6_K},
};

Blocks twoBlocks(const BlockCase& bc)
{
    Blocks b;
    bc.make(b, 0);
    bc.make(b, 12345);
    return b;
}

bool sameFloats(const std::vector<float>& got, const std::vector<float>& want, QString* why)
{
    if (got.size() != want.size()) {
        *why = QStringLiteral("size %1 vs %2").arg(got.size()).arg(want.size());
        return false;
    }
    for (size_t k = 0; k < got.size(); ++k)
        if (got[k] != want[k]) {
            *why = QStringLiteral("element %1: got %2, expected %3").arg(k).arg(got[k]).arg(want[k]);
            return false;
        }
    return true;
}

// A GGUF v3 file with no metadata holding the given 2-D tensors at 32-byte aligned offsets.
struct RawTensor {
    std::string name;
    uint64_t ne0, ne1;
    uint32_t type;
    std::string data;
};
std::string ggufFile(const std::vector<RawTensor>& tensors)
{
    std::string out = "GGUF";
    put<uint32_t>(out, 3);
    put<uint64_t>(out, tensors.size());
    put<uint64_t>(out, 0);
    std::string data;
    for (const RawTensor& t : tensors) {
        data.resize((data.size() + 31) / 32 * 32, '\0');
        put<uint64_t>(out, t.name.size());
        out += t.name;
        put<uint32_t>(out, 2);
        put<uint64_t>(out, t.ne0);
        put<uint64_t>(out, t.ne1);
        put<uint32_t>(out, t.type);
        put<uint64_t>(out, data.size());
        data += t.data;
    }
    out.resize((out.size() + 31) / 32 * 32, '\0');
    return out + data;
}

} // namespace

class TstGgmlDequant : public QObject {
    Q_OBJECT
private slots:
    void dequantizeHandBuiltBlocks_data();
    void dequantizeHandBuiltBlocks();
    void dequantizeRejectsBadInput();
    void blockTensorsThroughReadFloat();
};

void TstGgmlDequant::dequantizeHandBuiltBlocks_data()
{
    QTest::addColumn<int>("which");
    for (size_t k = 0; k < std::size(kBlockCases); ++k)
        QTest::newRow(kBlockCases[k].name) << static_cast<int>(k);
}

void TstGgmlDequant::dequantizeHandBuiltBlocks()
{
    QFETCH(int, which);
    const BlockCase& bc = kBlockCases[which];
    const Blocks b = twoBlocks(bc);
    QCOMPARE(b.bytes.size(), size_t(2 * dtypeInfo(bc.dtype).blockBytes));
    std::vector<float> got(b.expect.size(), -999.0f);
    dequantizeBlocks(bc.dtype, reinterpret_cast<const uint8_t*>(b.bytes.data()), got.size(), got.data());
    QString why;
    QVERIFY2(sameFloats(got, b.expect, &why), qPrintable(why));
    // convertToFloat routes block types to the same code.
    std::vector<float> viaConvert(b.expect.size());
    convertToFloat(bc.dtype, reinterpret_cast<const uint8_t*>(b.bytes.data()), viaConvert.size(), viaConvert.data());
    QVERIFY2(sameFloats(viaConvert, b.expect, &why), qPrintable(why));
}

void TstGgmlDequant::dequantizeRejectsBadInput()
{
    float out[64];
    const uint8_t zeros[64] = {};
    QVERIFY_THROWS_EXCEPTION(Error, dequantizeBlocks(DType::F32, zeros, 1, out));
    QVERIFY_THROWS_EXCEPTION(Error, dequantizeBlocks(DType::Q8_0, zeros, 16, out));
    dequantizeBlocks(DType::Q8_0, zeros, 0, out); // empty is fine
}

void TstGgmlDequant::blockTensorsThroughReadFloat()
{
    std::vector<RawTensor> raw;
    std::vector<Blocks> all;
    for (const BlockCase& bc : kBlockCases) {
        all.push_back(twoBlocks(bc));
        raw.push_back({std::string("t.") + bc.name, bc.blockElems, 2, bc.ggmlType, all.back().bytes});
    }
    auto m = readGguf(testutil::writeTemp("blocks.gguf", ggufFile(raw)));
    for (size_t k = 0; k < std::size(kBlockCases); ++k) {
        const BlockCase& bc = kBlockCases[k];
        const int idx = m->findTensor(std::string("t.") + bc.name);
        QVERIFY(idx >= 0);
        const TensorInfo& t = m->tensors[static_cast<size_t>(idx)];
        QCOMPARE(t.dtype, bc.dtype);
        QCOMPARE(t.shape, (std::vector<int64_t>{2, static_cast<int64_t>(bc.blockElems)}));
        QString why;
        QVERIFY2(sameFloats(m->readFloat(idx), all[k].expect, &why), qPrintable(QString(bc.name) + ": " + why));
        // The second row alone.
        std::vector<float> row(bc.blockElems);
        m->readFloat(idx, bc.blockElems, bc.blockElems, row.data());
        const std::vector<float> want(all[k].expect.begin() + bc.blockElems, all[k].expect.end());
        QVERIFY2(sameFloats(row, want, &why), qPrintable(QString(bc.name) + " row 1: " + why));
    }
}

QTEST_APPLESS_MAIN(TstGgmlDequant)
#include "tst_ggml_dequant.moc"
