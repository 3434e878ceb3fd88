// Tests of the float (FP16, BF16, FP8 E4M3/E5M2) and NF4 fake-quantization kernels.
//
// Expected values are worked out by hand (FP16-rounded scales included, see the comments), or
// found by brute force over every code of the format, sharing no code with the kernels.
#include "bonsai/error.h"
#include "bonsai/half.h"
#include "bonsai/quantize.h"

#include "testutil.h"

#include <QtTest>

#include <cmath>
#include <limits>
#include <vector>

using namespace bonsai;
using testutil::gaussian;

namespace {

float h16(float x) { return fp16ToFloat(floatToFp16(x)); }

// Brute-force nearest FP8 code over all non-NaN codes: smallest |x - value|, ties to the
// code with an even mantissa (i.e. even code), saturating beyond the largest finite value.
uint8_t bruteFp8(float x, float (*decode)(uint8_t), float maxv)
{
    if (x > maxv)
        x = maxv;
    if (x < -maxv)
        x = -maxv;
    int best = -1;
    double bestD = 1e300;
    for (int c = 0; c < 256; ++c) {
        const float v = decode(static_cast<uint8_t>(c));
        if (std::isnan(v) || std::isinf(v))
            continue;
        if ((v == 0) && (std::signbit(v) != std::signbit(x)))
            continue; // keep the sign of zero
        const double d = std::fabs(static_cast<double>(x) - v);
        if (d < bestD || (d == bestD && (c & 1) == 0 && (best & 1) == 1)) {
            bestD = d;
            best = c;
        }
    }
    return static_cast<uint8_t>(best);
}

} // namespace

class TestQuantizeFloat : public QObject {
    Q_OBJECT

private slots:
    // --- floats ---

    void fp16AndBf16Rounding()
    {
        auto fq1 = [](float x, FloatFormat f) {
            float y = 0;
            fakeQuantFloat(&x, 1, 1, f, Granularity::PerTensor, &y);
            return y;
        };
        const float e10 = std::ldexp(1.0f, -10);
        QCOMPARE(fq1(1.0f + e10 / 2, FloatFormat::FP16), 1.0f);                // tie -> even
        QCOMPARE(fq1(1.0f + 3 * e10 / 2, FloatFormat::FP16), 1.0f + 2 * e10);   // tie -> even
        QCOMPARE(fq1(1.0f + e10 * 0.6f, FloatFormat::FP16), 1.0f + e10);
        QCOMPARE(fq1(-65504.0f, FloatFormat::FP16), -65504.0f);
        QCOMPARE(fq1(65519.0f, FloatFormat::FP16), 65504.0f);
        QVERIFY(std::isinf(fq1(65520.0f, FloatFormat::FP16)));                 // cast overflow
        const float sub = std::ldexp(1.0f, -24);                                 // smallest subnormal
        QCOMPARE(fq1(sub / 2, FloatFormat::FP16), 0.0f);                         // tie -> 0
        QCOMPARE(fq1(3 * sub / 2, FloatFormat::FP16), 2 * sub);                  // tie -> even
        QCOMPARE(fq1(sub * 0.51f, FloatFormat::FP16), sub);
        QCOMPARE(fq1(std::ldexp(1.0f, -14) - sub / 4, FloatFormat::FP16), std::ldexp(1.0f, -14));
        const float e7 = std::ldexp(1.0f, -7);
        QCOMPARE(fq1(1.0f + e7 / 2, FloatFormat::BF16), 1.0f);
        QCOMPARE(fq1(1.0f + 3 * e7 / 2, FloatFormat::BF16), 1.0f + 2 * e7);
        QCOMPARE(fq1(-3.0f - e7, FloatFormat::BF16), -3.0f); // spacing 2^-6 at 2: tie -> even
        QCOMPARE(fq1(1e-40f, FloatFormat::BF16), bf16ToFloat(floatToBf16(1e-40f)));
        // Random values against the scalar conversions of half.h.
        const auto w = gaussian(4096, 3, 100.0f);
        std::vector<float> o16(w.size()), ob(w.size());
        fakeQuantFloat(w.data(), 64, 64, FloatFormat::FP16, Granularity::PerTensor, o16.data());
        fakeQuantFloat(w.data(), 64, 64, FloatFormat::BF16, Granularity::PerChannel, ob.data());
        for (size_t i = 0; i < w.size(); ++i) {
            QCOMPARE(o16[i], fp16ToFloat(floatToFp16(w[i])));
            QCOMPARE(ob[i], bf16ToFloat(floatToBf16(w[i])));
        }
        QCOMPARE(floatStorageBits(64, 64, FloatFormat::FP16, Granularity::PerTensor), uint64_t(4096 * 16));
        QCOMPARE(floatStorageBits(64, 64, FloatFormat::BF16, Granularity::PerChannel), uint64_t(4096 * 16));
    }

    void fp8HandPicked()
    {
        // E4M3fn: max 448 = 0x7E; 464 is the midpoint of 448 and (non-existent) 480 -> 448.
        QCOMPARE(floatToFp8E4M3(448.0f), uint8_t(0x7E));
        QCOMPARE(floatToFp8E4M3(460.0f), uint8_t(0x7E));
        QCOMPARE(floatToFp8E4M3(464.0f), uint8_t(0x7E));
        QCOMPARE(floatToFp8E4M3(1e9f), uint8_t(0x7E));
        QCOMPARE(floatToFp8E4M3(INFINITY), uint8_t(0x7E));
        QCOMPARE(floatToFp8E4M3(-1000.0f), uint8_t(0xFE));
        QCOMPARE(floatToFp8E4M3(std::nanf("")), uint8_t(0x7F));
        QCOMPARE(floatToFp8E4M3(1.0f), uint8_t(0x38));
        QCOMPARE(floatToFp8E4M3(1.0625f), uint8_t(0x38)); // tie 1 | 1.125 -> even (1)
        QCOMPARE(floatToFp8E4M3(1.1875f), uint8_t(0x3A)); // tie 1.125 | 1.25 -> even (1.25)
        QCOMPARE(floatToFp8E4M3(1.07f), uint8_t(0x39));
        const float s9 = std::ldexp(1.0f, -9); // smallest subnormal
        QCOMPARE(floatToFp8E4M3(s9 / 2), uint8_t(0x00));      // tie -> 0
        QCOMPARE(floatToFp8E4M3(-s9 / 2), uint8_t(0x80));     // -0
        QCOMPARE(floatToFp8E4M3(3 * s9 / 2), uint8_t(0x02));  // tie -> even
        QCOMPARE(floatToFp8E4M3(7.5f * s9), uint8_t(0x08));   // tie 7 | 8 -> 2^-6 (normal)
        QCOMPARE(floatToFp8E4M3(s9 * 0.51f), uint8_t(0x01));
        // E5M2: max 57344 = 0x7B; 61440 is the midpoint of 57344 and 65536 (inf) -> 57344.
        QCOMPARE(floatToFp8E5M2(57344.0f), uint8_t(0x7B));
        QCOMPARE(floatToFp8E5M2(61440.0f), uint8_t(0x7B));
        QCOMPARE(floatToFp8E5M2(1e6f), uint8_t(0x7B));
        QCOMPARE(floatToFp8E5M2(-INFINITY), uint8_t(0xFB));
        QCOMPARE(floatToFp8E5M2(1.125f), uint8_t(0x3C)); // tie 1 | 1.25 -> 1
        QCOMPARE(floatToFp8E5M2(1.375f), uint8_t(0x3E)); // tie 1.25 | 1.5 -> 1.5
        const float s16 = std::ldexp(1.0f, -16);
        QCOMPARE(floatToFp8E5M2(s16 / 2), uint8_t(0x00));
        QCOMPARE(floatToFp8E5M2(3 * s16 / 2), uint8_t(0x02));
        QCOMPARE(floatToFp8E5M2(s16), uint8_t(0x01));
    }

    void fp8AllCodes()
    {
        for (int c = 0; c < 256; ++c) {
            const uint8_t code = static_cast<uint8_t>(c);
            // E4M3: every non-NaN code round-trips; midpoints to both neighbours behave.
            const float v = fp8e4m3ToFloat(code);
            if (!std::isnan(v)) {
                QCOMPARE(floatToFp8E4M3(v), code);
                for (float x : {std::nextafter(v, 0.0f), std::nextafter(v, 1e30f), std::nextafter(v, -1e30f)})
                    QCOMPARE(floatToFp8E4M3(x), bruteFp8(x, fp8e4m3ToFloat, kFp8E4M3Max));
                const float up = fp8e4m3ToFloat(static_cast<uint8_t>(c + 1));
                if ((c & 0x7F) < 0x7E && !std::isnan(up)) {
                    const float mid = (v + up) / 2; // exact in float
                    QCOMPARE(floatToFp8E4M3(mid), bruteFp8(mid, fp8e4m3ToFloat, kFp8E4M3Max));
                    QCOMPARE(floatToFp8E4M3(mid), (c & 1) ? static_cast<uint8_t>(c + 1) : code);
                }
            }
            const float u = fp8e5m2ToFloat(code);
            if (!std::isnan(u) && !std::isinf(u)) {
                QCOMPARE(floatToFp8E5M2(u), code);
                for (float x : {std::nextafter(u, 0.0f), std::nextafter(u, 1e30f), std::nextafter(u, -1e30f)})
                    QCOMPARE(floatToFp8E5M2(x), bruteFp8(x, fp8e5m2ToFloat, kFp8E5M2Max));
                if ((c & 0x7F) < 0x7B) {
                    const float mid = (u + fp8e5m2ToFloat(static_cast<uint8_t>(c + 1))) / 2;
                    QCOMPARE(floatToFp8E5M2(mid), (c & 1) ? static_cast<uint8_t>(c + 1) : code);
                }
            }
        }
    }

    void fp8FakeQuantScales()
    {
        // Per tensor E4M3: absmax 896 -> scale 896/448 = 2 (exact). w/2: 448 -> 448; 1.5;
        // -1.65 -> -1.625 (spacing 1/8 in [1,2)); 0.0005 -> subnormal 0.0005/2^-9 = 0.256 -> 0.
        const std::vector<float> w = {896, 3, -3.3f, 0.001f};
        std::vector<float> out(4);
        fakeQuantFloat(w.data(), 2, 2, FloatFormat::FP8_E4M3, Granularity::PerTensor, out.data());
        QCOMPARE(out, (std::vector<float>{896, 3, -3.25f, 0}));
        QCOMPARE(floatStorageBits(2, 2, FloatFormat::FP8_E4M3, Granularity::PerTensor), uint64_t(4 * 8 + 16));
        // Per channel: row 0 {1, 0.5}: scale fp16(1/448) = 0.002231597900390625 (FP16-rounded
        // down), so 1/s = 448.11 saturates to 448 -> 448 s; 0.5/s = 224.05 -> 224 (spacing 16).
        // Row 1 all zero -> 0. Row 2 {-57344 * 3, 1} in E5M2 below.
        const float s = 0.002231597900390625f;
        QCOMPARE(h16(1.0f / 448.0f), s);
        const std::vector<float> w2 = {1, 0.5f, 0, 0};
        std::vector<float> o2(4);
        fakeQuantFloat(w2.data(), 2, 2, FloatFormat::FP8_E4M3, Granularity::PerChannel, o2.data());
        QCOMPARE(o2, (std::vector<float>{448 * s, 224 * s, 0, 0}));
        QCOMPARE(floatStorageBits(2, 2, FloatFormat::FP8_E4M3, Granularity::PerChannel), uint64_t(4 * 8 + 2 * 16));
        // E5M2 per tensor: absmax 57344 * 2 -> scale 2; 3 / 2 = 1.5 exact; 2.6 / 2 = 1.3 -> 1.25.
        const std::vector<float> w3 = {114688.0f, 3.0f, 2.6f, -114688.0f};
        std::vector<float> o3(4);
        fakeQuantFloat(w3.data(), 1, 4, FloatFormat::FP8_E5M2, Granularity::PerTensor, o3.data());
        QCOMPARE(o3, (std::vector<float>{114688.0f, 3.0f, 2.5f, -114688.0f}));
        // Random data against the scalar conversion.
        const auto r = gaussian(64 * 50, 11, 3.0f);
        std::vector<float> o4(r.size());
        fakeQuantFloat(r.data(), 64, 50, FloatFormat::FP8_E5M2, Granularity::PerChannel, o4.data());
        for (size_t row = 0; row < 64; ++row) {
            float amax = 0;
            for (size_t c = 0; c < 50; ++c)
                amax = std::max(amax, std::fabs(r[row * 50 + c]));
            const float sc = h16(amax / 57344.0f);
            for (size_t c = 0; c < 50; ++c)
                QCOMPARE(o4[row * 50 + c], fp8e5m2ToFloat(floatToFp8E5M2(r[row * 50 + c] / sc)) * sc);
        }
        QVERIFY_THROWS_EXCEPTION(Error, fakeQuantFloat(r.data(), 64, 50, FloatFormat::FP8_E4M3,
                                                       Granularity::Group, o4.data()));
    }

    // --- NF4 ---

    void nf4Table()
    {
        for (int i = 0; i < 15; ++i) {
            QVERIFY(kNf4Code[i] < kNf4Code[i + 1]);
            const double mid = (static_cast<double>(kNf4Code[i]) + kNf4Code[i + 1]) / 2;
            QVERIFY(std::fabs(kNf4Threshold[i] - mid) < 1e-7);
        }
        QCOMPARE(kNf4Code[7], 0.0f);
        QCOMPARE(nf4Index(kNf4Threshold[3]), uint8_t(3)); // on a threshold: the lower code
        QCOMPARE(nf4Index(std::nextafter(kNf4Threshold[3], 1.0f)), uint8_t(4));
        QCOMPARE(nf4StorageBits(64), uint64_t(64 * 4 + 16));
        QCOMPARE(nf4StorageBits(65), uint64_t(65 * 4 + 2 * 16));
    }

    void nf4KnownBlocks()
    {
        // Block 0 (absmax 1): values with known nearest codes.
        std::vector<float> w(64 + 64 + 10, 0.0f);
        const std::vector<std::pair<float, float>> known = {
            {1.0f, 1.0f}, {-1.0f, -1.0f}, {0.04f, 0.07958029955625534f}, {0.039f, 0.0f},
            {-0.05f, -0.09105003625154495f}, {0.6f, 0.5626170039176941f}, {0.65f, 0.7229568362236023f},
            {-0.2f, -0.18477343022823334f}, {0.3f, 0.33791524171829224f}, {0.29f, 0.24611230194568634f},
            {-0.8f, -0.6961928009986877f}, {-0.9f, -1.0f}, {0.12f, 0.07958029955625534f}, {0.125f, 0.16093020141124725f},
        };
        for (size_t i = 0; i < known.size(); ++i)
            w[i] = known[i].first;
        // Block 1: absmax 2 (exact in FP16): the same values times 2.
        for (size_t i = 0; i < known.size(); ++i)
            w[64 + i] = 2 * known[i].first;
        // Block 2 (10 values, shorter): absmax 0.3 -> fp16 0.300048828125 (2^-2 + 205 * 2^-12).
        w[128] = 0.3f;
        w[129] = -0.1f;
        std::vector<float> out(w.size());
        fakeQuantNf4(w.data(), w.size(), out.data());
        for (size_t i = 0; i < known.size(); ++i) {
            QCOMPARE(out[i], known[i].second);
            QCOMPARE(out[64 + i], 2 * known[i].second);
        }
        for (size_t i = known.size(); i < 64; ++i) {
            QCOMPARE(out[i], 0.0f);
            QCOMPARE(out[64 + i], 0.0f);
        }
        const float a = h16(0.3f);
        QCOMPARE(a, 0.300048828125f);
        QCOMPARE(out[128], 1.0f * a); // 0.3 / a = 0.99984 > 0.8615 -> 1
        // -0.1 / a = -0.33328 lies between the thresholds -0.3397 and -0.2346 -> -0.2844.
        QCOMPARE(out[129], -0.28444138169288635f * a);
        QCOMPARE(nf4StorageBits(w.size()), uint64_t(138 * 4 + 3 * 16));
    }

    void nf4RandomAgainstNearest()
    {
        // Random blocks against a brute-force nearest-code search on x / absmax.
        const auto w = gaussian(64 * 40 + 33, 5);
        std::vector<float> out(w.size());
        fakeQuantNf4(w.data(), w.size(), out.data());
        for (size_t b = 0; b < w.size(); b += 64) {
            const size_t len = std::min<size_t>(64, w.size() - b);
            float amax = 0;
            for (size_t i = 0; i < len; ++i)
                amax = std::max(amax, std::fabs(w[b + i]));
            const float a = h16(amax);
            for (size_t i = 0; i < len; ++i) {
                const float v = w[b + i] * (1.0f / a);
                int best = 0;
                for (int k = 1; k < 16; ++k)
                    if (std::fabs(v - kNf4Code[k]) < std::fabs(v - kNf4Code[best]))
                        best = k;
                QCOMPARE(out[b + i], kNf4Code[best] * a);
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestQuantizeFloat)
#include "tst_quantize_float.moc"
