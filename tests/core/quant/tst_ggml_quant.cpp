// Tests of the GGUF block quantizers (quantizeGgmlRow / fakeQuantGgml).
//
//  - Q8_0, Q4_0, Q4_1, Q5_0, Q5_1: blocks worked out by hand from llama.cpp's reference
//    algorithm (quantize_row_*_ref), byte for byte.
//  - All types, the K types in particular: bit-exact comparison with an independent
//    transcription of the reference algorithm kept in ggml_quant_ref.h (namespace ggml_ref: plain
//    scalar C-style code written line by line after ggml-quants.c, sharing nothing with the
//    kernels) on varied blocks; Q6_K and Q3_K blocks derived by hand; structural invariants of
//    the blocks and RMSE ordering. (tst_interop_llama compares every type with llama.cpp's own
//    library.)
//  - Every type: quantize -> dequantizeBlocks reproduces the input within the block's step.
#include "bonsai/dtype.h"
#include "bonsai/error.h"
#include "bonsai/half.h"
#include "bonsai/model.h"
#include "bonsai/quantize.h"
#include "bonsai/ggml_blocks.h"

#include "testutil.h"

#include <QtTest>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "ggml_quant_ref.h" // the transcription of the reference (namespace ggml_ref)

using namespace bonsai;
namespace ref = ggml_ref;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes quant(DType t, const std::vector<float>& x)
{
    Bytes b(*storageBytes(t, x.size()), 0xAA);
    quantizeGgmlRow(t, x.data(), x.size(), b.data());
    return b;
}

uint16_t u16(const uint8_t* p)
{
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}

float f16at(const uint8_t* p) { return fp16ToFloat(u16(p)); }

// The 6-bit code (scale + 32) of sub-block j of a Q3_K block.
int q3kScaleCode(const uint8_t* blk, int j)
{
    const int lo = j < 8 ? blk[96 + j] & 0xF : blk[96 + j - 8] >> 4;
    return lo | (((blk[104 + j % 4] >> (2 * (j / 4))) & 3) << 4);
}

using testutil::gaussian;

double rmse(const std::vector<float>& a, const std::vector<float>& b)
{
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i)
        s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    return std::sqrt(s / double(a.size()));
}


// Test vectors for the K types: Gaussian, uniform, all-positive, all-negative, with an
// outlier, constant, all zero, tiny values, sparse.
std::vector<float> kInputs()
{
    std::vector<float> x;
    auto add = [&](const std::vector<float>& v) { x.insert(x.end(), v.begin(), v.end()); };
    for (unsigned s = 0; s < 12; ++s)
        add(gaussian(256, 100 + s, 0.02f + 0.3f * float(s)));
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> v(256);
    for (auto& e : v) e = u(rng);
    add(v);
    for (auto& e : v) e = std::fabs(u(rng)) + 0.5f; // all positive, away from 0
    add(v);
    for (auto& e : v) e = -std::fabs(u(rng)) * 3; // all negative
    add(v);
    auto g = gaussian(256, 77);
    g[100] = 40.0f; // outlier
    add(g);
    add(std::vector<float>(256, 0.75f)); // constant
    add(std::vector<float>(256, 0.0f));  // zero
    add(gaussian(256, 78, 1e-6f));       // tiny
    std::vector<float> sparse(256, 0.0f);
    sparse[3] = 1.0f;
    sparse[200] = -0.5f;
    add(sparse);
    // Halves with amax 127 (Q8_0: d = 1, every value a rounding tie) and integers.
    std::vector<float> ties(256);
    for (int j = 0; j < 256; ++j)
        ties[j] = j % 32 == 0 ? 127.0f : float((j * 37) % 254 - 127) + 0.5f;
    add(ties);
    for (int j = 0; j < 256; ++j)
        ties[j] = float(j % 17) - 8.0f;
    add(ties);
    return x;
}

} // namespace

class TestGgmlQuant : public QObject {
    Q_OBJECT

private slots:
    void q8_0Hand()
    {
        // x_j = j: amax 31, d = 31/127 -> fp16 0.244140625 (0x33D0); id = 1 / (31/127) =
        // 4.0968; q_j = roundf(j * id) = round(127 j / 31) (no value is near a .5).
        std::vector<float> x(32);
        for (int j = 0; j < 32; ++j)
            x[j] = float(j);
        const Bytes b = quant(DType::Q8_0, x);
        QCOMPARE(b.size(), size_t(34));
        QCOMPARE(u16(b.data()), uint16_t(0x33D0));
        const int want[32] = {0, 4, 8, 12, 16, 20, 25, 29, 33, 37, 41, 45, 49, 53, 57, 61,
                              66, 70, 74, 78, 82, 86, 90, 94, 98, 102, 107, 111, 115, 119, 123, 127};
        for (int j = 0; j < 32; ++j)
            QCOMPARE(int(int8_t(b[2 + j])), want[j]);
        // Ties: amax 127 -> d = 1, id = 1; roundf rounds halves away from zero (2.5 -> 3,
        // -2.5 -> -3, 0.5 -> 1), unlike nearest_int.
        std::vector<float> t(32, 0.0f);
        t[0] = 127;
        t[1] = 2.5f;
        t[2] = -2.5f;
        t[3] = 0.5f;
        t[4] = -0.5f;
        t[5] = 3.49f;
        const Bytes bt = quant(DType::Q8_0, t);
        QCOMPARE(u16(bt.data()), uint16_t(0x3C00));
        const int wantT[6] = {127, 3, -3, 1, -1, 3};
        for (int j = 0; j < 6; ++j)
            QCOMPARE(int(int8_t(bt[2 + j])), wantT[j]);
        // All zero: d = 0, id = 0, q = 0.
        const Bytes z = quant(DType::Q8_0, std::vector<float>(32, 0.0f));
        for (uint8_t v : z)
            QCOMPARE(int(v), 0);
        QCOMPARE(ggmlStorageBits(DType::Q8_0, 64), uint64_t(2 * 34 * 8));
    }

    void q4_0Hand()
    {
        // x_j = (j % 16) - 8: the first largest magnitude is -8 -> d = -8 / -8 = 1, id = 1,
        // q = trunc(x + 8.5) = j % 16: byte j = q_j | q_{j+16} << 4 = 0x11 * j.
        std::vector<float> x(32);
        for (int j = 0; j < 32; ++j)
            x[j] = float(j % 16 - 8);
        Bytes b = quant(DType::Q4_0, x);
        QCOMPARE(b.size(), size_t(18));
        QCOMPARE(u16(b.data()), uint16_t(0x3C00));
        for (int j = 0; j < 16; ++j)
            QCOMPARE(int(b[2 + j]), 0x11 * j);
        // Positive max 8 -> d = -1, id = -1: q = trunc(8.5 - x): 8 -> 0, -7 -> 15, -8 -> 16
        // clamped to 15; halves round up: x*id = 0.5 -> 9, -0.5 -> 8, 1.5 -> 10, -1.5 -> 7.
        std::vector<float> y(32, 0.0f);
        y[0] = 8;
        y[1] = -7;
        y[2] = -8;
        y[3] = -0.5f; // * id = 0.5
        y[4] = 0.5f;  // -0.5
        y[5] = -1.5f; // 1.5
        y[16] = 1.5f; // -1.5 (high nibble of byte 0)
        b = quant(DType::Q4_0, y);
        QCOMPARE(u16(b.data()), uint16_t(0xBC00)); // -1
        QCOMPARE(int(b[2 + 0]), 0 | (7 << 4));
        QCOMPARE(int(b[2 + 1]), 15 | (8 << 4));
        QCOMPARE(int(b[2 + 2]), 15 | (8 << 4));
        QCOMPARE(int(b[2 + 3]), 9 | (8 << 4));
        QCOMPARE(int(b[2 + 4]), 8 | (8 << 4));
        QCOMPARE(int(b[2 + 5]), 10 | (8 << 4));
        QCOMPARE(ggmlStorageBits(DType::Q4_0, 32), uint64_t(18 * 8));
    }

    void q4_1Hand()
    {
        // x_j = (j % 16) * 0.5 - 2: min -2, max 5.5 -> d = 7.5 / 15 = 0.5 (0x3800), m = -2
        // (0xC000), id = 2, q = trunc((x + 2) * 2 + 0.5) = j % 16.
        std::vector<float> x(32);
        for (int j = 0; j < 32; ++j)
            x[j] = float(j % 16) * 0.5f - 2.0f;
        const Bytes b = quant(DType::Q4_1, x);
        QCOMPARE(b.size(), size_t(20));
        QCOMPARE(u16(b.data()), uint16_t(0x3800));
        QCOMPARE(u16(b.data() + 2), uint16_t(0xC000));
        for (int j = 0; j < 16; ++j)
            QCOMPARE(int(b[4 + j]), 0x11 * j);
    }

    void q5_0Hand()
    {
        // x_j = j - 16: first largest magnitude -16 -> d = 1, q = trunc(x + 16.5) = j.
        // Low nibbles: byte j = (j & 15) | ((j + 16) & 15) << 4 = 0x11 * j; fifth bits set for
        // j >= 16 -> qh = 0xFFFF0000.
        std::vector<float> x(32);
        for (int j = 0; j < 32; ++j)
            x[j] = float(j - 16);
        const Bytes b = quant(DType::Q5_0, x);
        QCOMPARE(b.size(), size_t(22));
        QCOMPARE(u16(b.data()), uint16_t(0x3C00));
        uint32_t qh;
        std::memcpy(&qh, b.data() + 2, 4);
        QCOMPARE(qh, 0xFFFF0000u);
        for (int j = 0; j < 16; ++j)
            QCOMPARE(int(b[6 + j]), 0x11 * j);
    }

    void q5_1Hand()
    {
        // x_j = j / 4: min 0, max 7.75 -> d = 7.75 / 31 = 0.25 (0x3400), m = 0, id = 4,
        // q = trunc(4 x + 0.5) = j.
        std::vector<float> x(32);
        for (int j = 0; j < 32; ++j)
            x[j] = float(j) * 0.25f;
        const Bytes b = quant(DType::Q5_1, x);
        QCOMPARE(b.size(), size_t(24));
        QCOMPARE(u16(b.data()), uint16_t(0x3400));
        QCOMPARE(u16(b.data() + 2), uint16_t(0x0000));
        uint32_t qh;
        std::memcpy(&qh, b.data() + 4, 4);
        QCOMPARE(qh, 0xFFFF0000u);
        for (int j = 0; j < 16; ++j)
            QCOMPARE(int(b[8 + j]), 0x11 * j);
    }

    void againstTranscription_data()
    {
        QTest::addColumn<int>("type");
        QTest::newRow("Q8_0") << int(DType::Q8_0);
        QTest::newRow("Q4_0") << int(DType::Q4_0);
        QTest::newRow("Q4_1") << int(DType::Q4_1);
        QTest::newRow("Q5_0") << int(DType::Q5_0);
        QTest::newRow("Q5_1") << int(DType::Q5_1);
        QTest::newRow("Q2_K") << int(DType::Q2_K);
        QTest::newRow("Q3_K") << int(DType::Q3_K);
        QTest::newRow("Q4_K") << int(DType::Q4_K);
        QTest::newRow("Q5_K") << int(DType::Q5_K);
        QTest::newRow("Q6_K") << int(DType::Q6_K);
    }

    void againstTranscription()
    {
        QFETCH(int, type);
        const DType t = static_cast<DType>(type);
        // The varied blocks of kInputs, then 256 blocks of heavy-tailed data (a Gaussian
        // scaled per 64 values and cubed, so that sub-blocks differ widely).
        auto x = kInputs();
        auto g = gaussian(256 * 256, 1234);
        for (size_t i = 0; i < g.size(); ++i)
            x.push_back(g[i] * g[i] * g[i] * float(1 + (i / 64) % 7) * 0.1f);
        const Bytes got = quant(t, x), want = ref::quantize(t, x);
        QCOMPARE(got.size(), want.size());
        const uint32_t bb = dtypeInfo(t).blockBytes;
        for (size_t i = 0; i < got.size(); ++i)
            if (got[i] != want[i])
                QFAIL(qPrintable(QString("block %1 byte %2: %3 vs reference %4")
                                     .arg(i / bb).arg(i % bb).arg(got[i]).arg(want[i])));
    }

    void kHandBlock()
    {
        // A Q6_K block small enough to follow by hand: all values 0 except x[0] = 1.
        // Sub-block 0: max = 1, iscale = -32; l = nearest(-32 * 1) = -32 -> L = 0, the other 15
        // values give l = 0 -> L = 32. Weights x^2 are 0 except 1 for x[0]: sumlx = 1*1*(-32)
        // = -32, suml2 = 1024 -> scale = -1/32, best = 1. No other is (-9..9) does better
        // (each gives sumlx^2/suml2 = 1 at best). Sub-blocks 1..15 are all zero: scale 0,
        // L = 0. So max_scale = -1/32, iscale = -128 / (-1/32) = 4096, d = fp16(1/4096) =
        // 0x0C00, scales[0] = min(127, nearest(4096 * -1/32)) = -128, others 0.
        // Requantize sub-block 0: d0 = 2^-12 * -128 = -1/32; x[0] / d0 = -32 -> l = -32 ->
        // L = 0; zeros -> L = 32. Sub-blocks 1..15 have d = 0 and keep L = 0.
        // Packing, half 0 (values 0..127): ql[l] = L[l] & 15 | (L[l+64] & 15) << 4 = 0 for
        // all l (32 & 15 = 0); qh[l] = L[l]>>4 | L[l+32]>>4 << 2 | ...: for l in 1..15:
        // L[l] = 32 -> bits 0-1 = 2; all other L are 0 -> qh[1..15] = 2, the rest 0.
        std::vector<float> x(256, 0.0f);
        x[0] = 1.0f;
        const Bytes b = quant(DType::Q6_K, x);
        Bytes want(210, 0);
        for (int l = 1; l < 16; ++l)
            want[128 + l] = 2;
        want[192] = uint8_t(int8_t(-128));
        want[208] = 0x00;
        want[209] = 0x0C;
        QCOMPARE(b, want);
        QCOMPARE(b, ref::quantize(DType::Q6_K, x));
        // Dequantized: x[0] = d * -128 * (0 - 32) = 1, the rest 0.
        std::vector<float> y(256);
        dequantizeBlocks(DType::Q6_K, b.data(), 256, y.data());
        QCOMPARE(y, x);
    }

    void lowKHandBlocks()
    {
        // All values 0 except x[0] = 1, as in kHandBlock.
        std::vector<float> x(256, 0.0f), y(256);
        x[0] = 1.0f;
        // Q3_K. Sub-block 0: max = 1, iscale = -4: l = -4 for x[0], 0 for the rest; weights x^2
        // give sumlx = -4, suml2 = 16. The refinement pass changes nothing (slx = 0 for x[0],
        // -4 for the zero-weight values: never > 0), so scale = -1/4, L = 0, 4, 4, ...
        // Sub-blocks 1..15 are all zero: scale 0, L = 0. max_scale = -1/4, iscale = -32 / -1/4
        // = 128, d = fp16(1/128) = 0x2000; stored scales l + 32 = 0 for sub-block 0 and 32
        // for the others: low nibbles 0, top bits 2 at bit 2 (j / 4) of scales[8 + j % 4]:
        // scales[8] = 2 << 2 | 2 << 4 | 2 << 6 = 168 (j = 4, 8, 12), scales[9..11] = 170.
        // Requantized: sub-block 0 has d = 2^-7 * -32 = -1/4: x[0] -> -4 -> L = 0, zeros ->
        // L = 4 (high bit set: hmask[1..15] = 1, low bits 0); the others have d = 0 and keep
        // L = 0. So qs is all 0.
        Bytes b = quant(DType::Q3_K, x);
        Bytes want(110, 0);
        for (int l = 1; l < 16; ++l)
            want[l] = 1;
        want[104] = 168;
        want[105] = want[106] = want[107] = 170;
        want[109] = 0x20;
        QCOMPARE(b, want);
        QCOMPARE(b, ref::quantize(DType::Q3_K, x));
        dequantizeBlocks(DType::Q3_K, b.data(), 256, y.data()); // x[0] = -1/4 * (0 - 4) = 1
        QCOMPARE(y, x);

        // Q2_K. Sub-block 0: min 0, max 1, iscale 3: L = 3, 0, 0, ... with weights |x| = 1, 0,
        // 0, ... and error |1/3 * 3 - 1| = 0, which no other grid beats: scale 1/3, min 0.
        // Sub-blocks 1..15 are flat: scale 0. max_scale = 1/3 -> scales[0] = nearest(15) = 15,
        // the rest 0; max_min = 0 -> dmin = 0. d = fp16(1/45) = 2^-6 * (1 + 432/1024) = 0x25B0.
        // Requantized: x[0] / (15 d) = 1 / 0.33325 -> 3. qs[0] = 3.
        b = quant(DType::Q2_K, x);
        want.assign(84, 0);
        want[0] = 15;
        want[16] = 3;
        want[80] = 0xB0;
        want[81] = 0x25;
        QCOMPARE(b, want);
        QCOMPARE(b, ref::quantize(DType::Q2_K, x));
        dequantizeBlocks(DType::Q2_K, b.data(), 256, y.data());
        QCOMPARE(y[0], 45.0f * f16at(b.data() + 80));
        QCOMPARE(std::count(y.begin(), y.end(), 0.0f), 255);
    }

    void kStructure()
    {
        const auto x = kInputs();
        for (DType t : {DType::Q4_K, DType::Q5_K}) {
            const Bytes b = quant(t, x);
            const uint32_t bb = dtypeInfo(t).blockBytes;
            for (size_t k = 0; k < x.size() / 256; ++k) {
                const uint8_t* blk = b.data() + k * bb;
                const float d = f16at(blk), dmin = f16at(blk + 2);
                QVERIFY(std::isfinite(d) && d >= 0);
                QVERIFY(std::isfinite(dmin) && dmin >= 0);
                // The largest scale quantizes to 63 (when any scale is positive).
                int maxSc = 0;
                for (int j = 0; j < 8; ++j) {
                    const int sc = j < 4 ? (blk[4 + j] & 63) : ((blk[4 + j + 4] & 0xF) | ((blk[4 + j - 4] >> 6) << 4));
                    maxSc = std::max(maxSc, sc);
                }
                QVERIFY(d == 0 || maxSc == 63);
            }
        }
        const Bytes b2 = quant(DType::Q2_K, x), b3 = quant(DType::Q3_K, x);
        for (size_t k = 0; k < x.size() / 256; ++k) {
            // Q2_K: the largest sub-block scale and min quantize to 15 (when positive).
            const uint8_t* blk = b2.data() + k * 84;
            const float d = f16at(blk + 80), dmin = f16at(blk + 82);
            QVERIFY(std::isfinite(d) && d >= 0 && std::isfinite(dmin) && dmin >= 0);
            int maxSc = 0, maxM = 0;
            for (int j = 0; j < 16; ++j) {
                maxSc = std::max(maxSc, blk[j] & 0xF);
                maxM = std::max(maxM, blk[j] >> 4);
            }
            QVERIFY(d == 0 || maxSc == 15);
            QVERIFY(dmin == 0 || maxM == 15);
            // Q3_K: the largest-magnitude scale is stored as -32 (6-bit code 0); d has the
            // opposite sign of that scale.
            blk = b3.data() + k * 110;
            bool hasExtreme = false;
            for (int j = 0; j < 16; ++j)
                hasExtreme |= q3kScaleCode(blk, j) == 0;
            QVERIFY(std::isfinite(f16at(blk + 108)));
            QVERIFY(f16at(blk + 108) == 0 || hasExtreme);
        }
        const Bytes b6 = quant(DType::Q6_K, x);
        for (size_t k = 0; k < x.size() / 256; ++k) {
            const uint8_t* blk = b6.data() + k * 210;
            const float d = f16at(blk + 208);
            QVERIFY(std::isfinite(d));
            bool hasExtreme = false; // the largest-magnitude scale quantizes to -128
            for (int j = 0; j < 16; ++j)
                hasExtreme |= int8_t(blk[192 + j]) == -128;
            QVERIFY(d == 0 || hasExtreme);
        }
    }

    void roundTripWithinStep_data()
    {
        QTest::addColumn<int>("type");
        for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q2_K,
                        DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K})
            QTest::newRow(std::string(dtypeName(t)).c_str()) << int(t);
    }

    void roundTripWithinStep()
    {
        QFETCH(int, type);
        const DType t = static_cast<DType>(type);
        const auto x = gaussian(256 * 64, 42);
        const Bytes b = quant(t, x);
        std::vector<float> y(x.size()), f(x.size());
        dequantizeBlocks(t, b.data(), x.size(), y.data());
        fakeQuantGgml(t, x.data(), x.size(), f.data());
        QCOMPARE(f, y); // the wrapper is quantize + dequantizeBlocks
        // In place.
        std::vector<float> inplace = x;
        fakeQuantGgml(t, inplace.data(), inplace.size(), inplace.data());
        QCOMPARE(inplace, y);

        // Per-value bound in units of the value's (sub-)block step. A value rounded to the grid
        // is within step / 2 of it, up to the FP16 rounding of the stored scale (the quants are
        // computed with the unrounded scale: q * |d - fp16(d)| <= qmax * step * 2^-11) and of
        // the stored minimum (|m| * 2^-11). Q4_0 / Q5_0 grids are one-sided (q - 8 reaches -8
        // but only +7), so the largest positive value may clamp: one step. The K types fit
        // scale and min by weighted least squares, which may shrink the range and clip the
        // extremes, and quantize the sub-block mins to 6 bits: we allow 1.5 steps for every
        // value but require 98% of values within half a step (+ the fp16 slack).
        const uint32_t be = dtypeInfo(t).blockElems, bb = dtypeInfo(t).blockBytes;
        const float r16 = 1.0f / 2048.0f;
        size_t withinHalf = 0;
        float worst = 0;
        for (size_t i = 0; i < x.size(); ++i) {
            const uint8_t* blk = b.data() + (i / be) * bb;
            const size_t e = i % be;
            float step = 0, qmax = 0, m = 0, allow = 0.5f;
            switch (t) {
            case DType::Q8_0: step = std::fabs(f16at(blk)); qmax = 127; break;
            case DType::Q4_0: step = std::fabs(f16at(blk)); qmax = 8; allow = 1.0f; break;
            case DType::Q5_0: step = std::fabs(f16at(blk)); qmax = 16; allow = 1.0f; break;
            case DType::Q4_1: step = f16at(blk); m = f16at(blk + 2); qmax = 15; break;
            case DType::Q5_1: step = f16at(blk); m = f16at(blk + 2); qmax = 31; break;
            case DType::Q4_K:
            case DType::Q5_K: {
                const int j = int(e / 32);
                const int sc = j < 4 ? (blk[4 + j] & 63) : ((blk[4 + j + 4] & 0xF) | ((blk[4 + j - 4] >> 6) << 4));
                step = f16at(blk) * float(sc);
                allow = 1.5f;
                break;
            }
            case DType::Q6_K:
                step = std::fabs(f16at(blk + 208) * float(int8_t(blk[192 + e / 16])));
                allow = 1.5f;
                break;
            case DType::Q2_K:
                step = f16at(blk + 80) * float(blk[e / 16] & 0xF);
                m = f16at(blk + 82) * float(blk[e / 16] >> 4);
                qmax = 3;
                allow = 1.5f;
                break;
            case DType::Q3_K:
                step = std::fabs(f16at(blk + 108) * float(q3kScaleCode(blk, int(e / 16)) - 32));
                qmax = 4;
                allow = 1.5f;
                break;
            default: break;
            }
            const float slack = qmax * step * r16 + std::fabs(m) * r16 + 1e-6f;
            const float err = std::fabs(x[i] - y[i]);
            worst = std::max(worst, (err - slack) / step);
            if (!(err <= allow * step + slack))
                QFAIL(qPrintable(QString("value %1: |%2 - %3| = %4 > %5 * step %6 + %7")
                                     .arg(i).arg(x[i]).arg(y[i]).arg(err).arg(allow).arg(step).arg(slack)));
            withinHalf += err <= 0.5f * step + slack + 1e-3f * step ? 1 : 0;
        }
        const double frac = double(withinHalf) / double(x.size());
        qInfo("%s: %.4f of values within half a step, worst %.3f steps", dtypeName(t).data(), frac, worst);
        QVERIFY(frac >= 0.98);
    }

    void rmseOrdering()
    {
        // RMSE on N(0, 1) relative to Q8_0: more bits, less error; K types beat their
        // 32-block counterparts of the same width. Observed ratios are noted; bounds are loose.
        const auto x = gaussian(256 * 256, 9);
        auto err = [&](DType t) {
            std::vector<float> y(x.size());
            fakeQuantGgml(t, x.data(), x.size(), y.data());
            return rmse(x, y);
        };
        const double q8 = err(DType::Q8_0), q6k = err(DType::Q6_K), q5k = err(DType::Q5_K), q4k = err(DType::Q4_K);
        const double q50 = err(DType::Q5_0), q40 = err(DType::Q4_0), q41 = err(DType::Q4_1), q51 = err(DType::Q5_1);
        const double q3k = err(DType::Q3_K), q2k = err(DType::Q2_K);
        qInfo("RMSE: Q8_0 %.5f Q6_K %.5f Q5_K %.5f Q5_1 %.5f Q5_0 %.5f Q4_K %.5f Q4_1 %.5f Q4_0 %.5f Q3_K %.5f "
              "Q2_K %.5f",
              q8, q6k, q5k, q51, q50, q4k, q41, q40, q3k, q2k);
        QVERIFY(q3k > q40 && q3k < 2.5 * q4k);
        QVERIFY(q2k > q3k && q2k < 2.5 * q3k);
        QVERIFY(q8 > 0 && q8 < 0.01);
        QVERIFY(q6k > q8 && q6k < 4 * q8);
        QVERIFY(q5k > q6k && q5k < 2.5 * q6k);
        QVERIFY(q4k > q5k && q4k < 2.5 * q5k);
        QVERIFY(q4k < q40 && q4k < q41);
        QVERIFY(q5k < q50 && q5k < q51);
        QVERIFY(q4k < 0.12); // about 8-9% of sigma
    }

    void errors()
    {
        std::vector<float> x(256, 1.0f);
        std::vector<uint8_t> b(1024);
        QVERIFY(!ggmlQuantSupported(DType::F16));
        QVERIFY(!ggmlQuantSupported(DType::BF16));
        QVERIFY(ggmlQuantSupported(DType::Q6_K));
        QVERIFY(ggmlQuantSupported(DType::Q2_K));
        QVERIFY(ggmlQuantSupported(DType::Q3_K));
        QVERIFY_THROWS_EXCEPTION(Error, quantizeGgmlRow(DType::BF16, x.data(), 256, b.data()));
        QVERIFY_THROWS_EXCEPTION(Error, quantizeGgmlRow(DType::Q3_K, x.data(), 128, b.data()));
        QVERIFY_THROWS_EXCEPTION(Error, quantizeGgmlRow(DType::F32, x.data(), 256, b.data()));
        QVERIFY_THROWS_EXCEPTION(Error, quantizeGgmlRow(DType::Q8_0, x.data(), 33, b.data()));
        QVERIFY_THROWS_EXCEPTION(Error, quantizeGgmlRow(DType::Q4_K, x.data(), 128, b.data()));
        QVERIFY_THROWS_EXCEPTION(Error, fakeQuantGgml(DType::Q5_K, x.data(), 100, x.data()));
        QCOMPARE(ggmlStorageBits(DType::Q4_K, 512), uint64_t(2 * 144 * 8));
        QCOMPARE(ggmlStorageBits(DType::Q5_K, 256), uint64_t(176 * 8));
        QCOMPARE(ggmlStorageBits(DType::Q6_K, 256), uint64_t(210 * 8));
        QCOMPARE(ggmlStorageBits(DType::Q2_K, 256), uint64_t(84 * 8));
        QCOMPARE(ggmlStorageBits(DType::Q3_K, 512), uint64_t(2 * 110 * 8));
        QCOMPARE(ggmlStorageBits(DType::Q4_1, 64), uint64_t(2 * 20 * 8));
        QCOMPARE(ggmlStorageBits(DType::Q5_0, 32), uint64_t(22 * 8));
        QCOMPARE(ggmlStorageBits(DType::Q5_1, 32), uint64_t(24 * 8));
    }
};

QTEST_APPLESS_MAIN(TestGgmlQuant)
#include "tst_ggml_quant.moc"
