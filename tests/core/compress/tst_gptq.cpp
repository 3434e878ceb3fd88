// Tests of GPTQ and AWQ (bonsai/gptq.h).
//
// The hand-checked cases work the compensation out from the closed-form least squares: with
// columns 0..k-1 already quantized (errors e_i = w_i - q_i fixed), the proxy loss e^T H e is
// minimised over the remaining columns r by e_r = -H_rr^-1 H_r,done e_done, i.e. the remaining
// weights move to v_r = w_r + H_rr^-1 H_r,done e_done (for two columns:
// w1' = w1 + (w0 - q0) H01 / H11). GPTQ must round exactly these updated values.
// Grid checks re-quantize the output with fakeQuantInt (which shares no code path with the
// GPTQ loop beyond the grid helpers) on anchors that pin the reported scales.
#include "bonsai/error.h"
#include "compress/gptq.h"
#include "bonsai/half.h"
#include "bonsai/quantize.h"
#include "compress/awq.h"

#include <Eigen/Dense>

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using namespace bonsai;

namespace {

IntQuantConfig icfg(int bits, Granularity g, bool sym, uint32_t group = 128)
{
    IntQuantConfig c;
    c.bits = bits;
    c.granularity = g;
    c.symmetric = sym;
    c.groupSize = group;
    return c;
}

float h16(float x) { return fp16ToFloat(floatToFp16(x)); }

std::vector<float> rtnOf(const std::vector<float>& w, int64_t rows, int64_t cols, const IntQuantConfig& c)
{
    std::vector<float> out(w.size());
    fakeQuantInt(w.data(), static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), c, out.data());
    return out;
}

// Correlated inputs: x = z A with z standard normal and A a random mixing matrix plus a
// per-channel spread, so H has strong off-diagonal terms.
std::vector<float> correlatedInputs(int64_t n, int64_t cols, unsigned seed)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    Eigen::MatrixXf a(cols, cols);
    for (int64_t i = 0; i < cols; ++i)
        for (int64_t j = 0; j < cols; ++j)
            a(i, j) = nd(rng) * 0.3f + (i == j ? 1.0f : 0.0f);
    Eigen::MatrixXf z(n, cols);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < cols; ++j)
            z(i, j) = nd(rng);
    Eigen::MatrixXf shared = Eigen::MatrixXf::Zero(n, 1);
    for (int64_t i = 0; i < n; ++i)
        shared(i, 0) = nd(rng);
    std::vector<float> x(static_cast<size_t>(n * cols));
    const Eigen::MatrixXf xm = z * a;
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < cols; ++j)
            x[static_cast<size_t>(i * cols + j)] = xm(i, j) + 1.5f * shared(i, 0) * (1.0f + 0.02f * static_cast<float>(j));
    return x;
}

std::vector<float> randomWeights(int64_t rows, int64_t cols, unsigned seed)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 0.1f);
    std::vector<float> w(static_cast<size_t>(rows * cols));
    for (float& v : w)
        v = nd(rng);
    return w;
}

// Sum over samples and rows of (x . (w - q))^2, in double, plain loops.
double outputError(const std::vector<float>& x, int64_t n, const std::vector<float>& w, const std::vector<float>& q,
                   int64_t rows, int64_t cols)
{
    double e = 0;
    for (int64_t s = 0; s < n; ++s)
        for (int64_t r = 0; r < rows; ++r) {
            double d = 0;
            for (int64_t j = 0; j < cols; ++j)
                d += static_cast<double>(x[static_cast<size_t>(s * cols + j)]) *
                     (static_cast<double>(w[static_cast<size_t>(r * cols + j)]) - q[static_cast<size_t>(r * cols + j)]);
            e += d * d;
        }
    return e;
}

Eigen::MatrixXd hessianOf(const std::vector<float>& x, int64_t n, int64_t cols)
{
    HessianAccumulator acc(cols);
    acc.add(x.data(), n);
    return acc.hessian();
}

// Every value of every group lies on the grid (scale, zero) GPTQ reports for that group:
// fakeQuantInt, per tensor, on the group's values plus the two grid end points reproduces
// the values exactly (the end points pin the scale and zero to the reported ones; a value
// off the grid, or a scale that is not an FP16 value, changes something).
void checkOnGrid(const std::vector<float>& q, int64_t rows, int64_t cols, const IntQuantConfig& c, const GptqStats& st)
{
    const float qmax = c.symmetric ? static_cast<float>((1 << (c.bits - 1)) - 1) : static_cast<float>((1 << c.bits) - 1);
    const int64_t gs = c.granularity == Granularity::Group ? c.groupSize : cols;
    const int64_t perRow = (cols + gs - 1) / gs;
    QCOMPARE(st.scales.size(), static_cast<size_t>(intGroupCount(static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), c)));
    auto check = [&](const std::vector<float>& vals, size_t k) {
        const float s = st.scales[k], z = st.zeros[k];
        QVERIFY(s > 0);
        QCOMPARE(h16(s), s);
        std::vector<float> v = vals;
        if (c.symmetric) {
            v.push_back(qmax * s);
        } else {
            v.push_back(-z * s);
            v.push_back((qmax - z) * s);
        }
        std::vector<float> back(v.size());
        IntQuantConfig t = c;
        t.granularity = Granularity::PerTensor;
        fakeQuantInt(v.data(), 1, v.size(), t, back.data());
        for (size_t i = 0; i < vals.size(); ++i)
            QCOMPARE(back[i], vals[i]);
    };
    if (c.granularity == Granularity::PerTensor) {
        check(q, 0);
        return;
    }
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t g = 0; g < perRow; ++g) {
            const int64_t len = std::min(gs, cols - g * gs);
            std::vector<float> vals(q.begin() + r * cols + g * gs, q.begin() + r * cols + g * gs + len);
            check(vals, static_cast<size_t>(r * perRow + g));
        }
}

} // namespace

class TestGptq : public QObject {
    Q_OBJECT
private slots:
    void hessianAccumulates()
    {
        // rows x = [1 2] and [3 4]: sum x x^T = [[1+9, 2+12], [2+12, 4+16]] = [[10 14] [14 20]];
        // H = 2/n * that with n = 2.
        HessianAccumulator acc(2);
        QCOMPARE(acc.hessian().norm(), 0.0);
        const float x[] = {1, 2, 3, 4};
        acc.add(x, 1);
        acc.add(x + 2, 1);
        QCOMPARE(acc.samples(), int64_t{2});
        const Eigen::MatrixXd h = acc.hessian();
        QCOMPARE(h(0, 0), 10.0);
        QCOMPARE(h(0, 1), 14.0);
        QCOMPARE(h(1, 0), 14.0);
        QCOMPARE(h(1, 1), 20.0);
    }

    void twoColumnsByHand()
    {
        // INT3 symmetric per tensor: qmax = 3, max|w| = 0.75, scale = fp16(0.75 / 3) = 0.25.
        // H = [[2 1] [1 2]], no damping.
        // Row 0 [0.75, 0]: 0.75 -> code 3 exactly (e0 = 0), so w1 stays 0 -> [0.75, 0].
        // Row 1 [0.35, 0.33]: q0 = 0.25 * round(1.4) = 0.25, e0 = 0.1;
        //   w1' = 0.33 + 0.1 * 1 / 2 = 0.38 -> round(1.52) = 2 -> 0.5.
        //   RTN would give 0.33 -> round(1.32) = 1 -> 0.25.
        // Proxy loss e^T H e / 2: GPTQ e = (0.1, -0.17): (2*0.01 + 2*0.0289 - 2*0.017) / 2 = 0.0219;
        //   RTN e = (0.1, 0.08): (0.02 + 0.0128 + 0.016) / 2 = 0.0244.
        std::vector<float> w = {0.75f, 0.0f, 0.35f, 0.33f};
        Eigen::MatrixXd h(2, 2);
        h << 2, 1, 1, 2;
        GptqOptions o;
        o.damping = 0;
        const auto st = gptqQuantize(w.data(), 2, 2, h, icfg(3, Granularity::PerTensor, true), o);
        QCOMPARE(w[0], 0.75f);
        QCOMPARE(w[1], 0.0f);
        QCOMPARE(w[2], 0.25f);
        QCOMPARE(w[3], 0.5f);
        QVERIFY(std::fabs(st.error - 0.0219) < 1e-6);
        QVERIFY(std::fabs(st.rtnError - 0.0244) < 1e-6);
        QCOMPARE(st.damping, 0.0);
        QCOMPARE(st.scales.size(), size_t{1});
        QCOMPARE(st.scales[0], 0.25f);
    }

    void chainWithDeadColumnByHand()
    {
        // INT3 symmetric per channel; row [0.75, 0.35, 0.33, 0.1]: scale 0.25 from the original
        // max 0.75. Column 0 is dead (its inputs are always 0: row and column of H are 0), so it
        // is rounded as it is (0.75 -> 0.75) and passes nothing on. On columns 1..3
        // H = [[2 1 1] [1 2 1] [1 1 2]].
        //  col 1: 0.35 -> 0.25, e1 = 0.1. Remaining {2, 3}: H_rr^-1 H_r1 = 1/3 [[2 -1] [-1 2]] [1 1]
        //         = [1/3 1/3]: v2 = 0.33 + 0.1/3 = 0.36333, v3 = 0.1 + 0.1/3 = 0.13333.
        //  col 2: 0.36333 / 0.25 = 1.453 -> 0.25.
        //  col 3: closed form with q1, q2 fixed: v3 = w3 + (H31 (w1 - q1) + H32 (w2 - q2)) / H33
        //         = 0.1 + (0.1 + 0.08) / 2 = 0.19 -> round(0.76) = 1 -> 0.25 (RTN: 0.1 -> 0).
        std::vector<float> w = {0.75f, 0.35f, 0.33f, 0.1f};
        Eigen::MatrixXd h = Eigen::MatrixXd::Zero(4, 4);
        h.block(1, 1, 3, 3) << 2, 1, 1, 1, 2, 1, 1, 1, 2;
        GptqOptions o;
        o.damping = 0;
        o.blockSize = 2; // the chain crosses a lazy-update block boundary
        gptqQuantize(w.data(), 1, 4, h, icfg(3, Granularity::PerChannel, true), o);
        QCOMPARE(w[0], 0.75f);
        QCOMPARE(w[1], 0.25f);
        QCOMPARE(w[2], 0.25f);
        QCOMPARE(w[3], 0.25f);
        const auto rtn = rtnOf({0.75f, 0.35f, 0.33f, 0.1f}, 1, 4, icfg(3, Granularity::PerChannel, true));
        QCOMPARE(rtn[3], 0.0f);
    }

    void actOrderByHand()
    {
        // INT3 symmetric per channel, row [0.33, 0.35, 0.75], column 2 dead (fixes scale 0.25).
        // H = [[2 1 0] [1 4 0] [0 0 0]].
        // In order: col 0: 0.33 -> 0.25, e0 = 0.08; col 1: 0.35 + 0.08 * 1/4 = 0.37 -> 1.48 -> 0.25.
        // Act-order (diag 2, 4, 0: column 1 first): col 1: 0.35 -> 0.25, e1 = 0.1;
        //   col 0: 0.33 + 0.1 * 1/2 = 0.38 -> 1.52 -> 0.5. Loss e^T H e: in order (0.08, 0.1):
        //   0.0128 + 0.04 + 0.016 = 0.0688; act-order (-0.17, 0.1): 0.0578 + 0.04 - 0.034 = 0.0638.
        Eigen::MatrixXd h(3, 3);
        h << 2, 1, 0, 1, 4, 0, 0, 0, 0;
        GptqOptions o;
        o.damping = 0;
        std::vector<float> w = {0.33f, 0.35f, 0.75f};
        auto st = gptqQuantize(w.data(), 1, 3, h, icfg(3, Granularity::PerChannel, true), o);
        QCOMPARE(w, (std::vector<float>{0.25f, 0.25f, 0.75f}));
        QVERIFY(std::fabs(st.error - 0.0688 / 2) < 1e-6);
        o.actOrder = true;
        w = {0.33f, 0.35f, 0.75f};
        st = gptqQuantize(w.data(), 1, 3, h, icfg(3, Granularity::PerChannel, true), o);
        QCOMPARE(w, (std::vector<float>{0.5f, 0.25f, 0.75f}));
        QVERIFY(std::fabs(st.error - 0.0638 / 2) < 1e-6);
    }

    void identityHessianIsRtn()
    {
        // Uncorrelated inputs of equal power: no compensation, GPTQ = RTN bit for bit (group
        // scales from the current weights are then those of the original weights).
        const int64_t rows = 24, cols = 80;
        const auto w0 = randomWeights(rows, cols, 3);
        const Eigen::MatrixXd h = Eigen::MatrixXd::Identity(cols, cols) * 0.7;
        for (const auto& c : {icfg(4, Granularity::PerChannel, true), icfg(3, Granularity::Group, false, 16),
                              icfg(2, Granularity::Group, true, 24), icfg(5, Granularity::PerTensor, false)}) {
            for (bool act : {false, true}) {
                std::vector<float> w = w0;
                GptqOptions o;
                o.actOrder = act;
                o.blockSize = 32;
                const auto st = gptqQuantize(w.data(), rows, cols, h, c, o);
                QCOMPARE(w, rtnOf(w0, rows, cols, c));
                QCOMPARE(st.error, st.rtnError);
            }
        }
    }

    void beatsRtnOnCorrelatedInputs()
    {
        const int64_t rows = 32, cols = 96, n = 768;
        const auto x = correlatedInputs(n, cols, 11);
        const auto h = hessianOf(x, n, cols);
        const auto w0 = randomWeights(rows, cols, 5);
        struct Case {
            IntQuantConfig c;
            bool act;
        };
        for (const auto& k : {Case{icfg(3, Granularity::PerChannel, true), false}, Case{icfg(4, Granularity::PerChannel, true), true},
                              Case{icfg(3, Granularity::Group, false, 32), false}, Case{icfg(2, Granularity::Group, true, 16), true},
                              Case{icfg(3, Granularity::PerTensor, true), false}}) {
            std::vector<float> w = w0;
            GptqOptions o;
            o.actOrder = k.act;
            o.blockSize = 40; // not a multiple of the groups: blocks realign to them
            const auto st = gptqQuantize(w.data(), rows, cols, h, k.c, o);
            const auto rtn = rtnOf(w0, rows, cols, k.c);
            const double eg = outputError(x, n, w0, w, rows, cols);
            const double er = outputError(x, n, w0, rtn, rows, cols);
            // The proxy loss is the mean output error: e^T H e / 2 = sum_s (x_s . e)^2 / n.
            QVERIFY2(std::fabs(st.error - eg / n) <= 1e-3 * eg / n, qPrintable(QString::number(st.error) + " vs " + QString::number(eg / n)));
            QVERIFY(std::fabs(st.rtnError - er / n) <= 1e-3 * er / n);
            QVERIFY(st.error <= st.rtnError);
            QVERIFY2(eg < 0.6 * er, qPrintable(QString("bits %1: gptq %2 rtn %3").arg(k.c.bits).arg(eg).arg(er)));
            checkOnGrid(w, rows, cols, k.c, st);
        }
    }

    void gridAndScales()
    {
        const int64_t rows = 12, cols = 50; // last group shorter
        const int64_t n = 300;
        const auto x = correlatedInputs(n, cols, 21);
        const auto h = hessianOf(x, n, cols);
        const auto w0 = randomWeights(rows, cols, 8);
        for (bool sym : {true, false}) {
            // Per channel: the scales are those of the original rows (fakeQuantInt's).
            {
                const auto c = icfg(3, Granularity::PerChannel, sym);
                std::vector<float> w = w0;
                const auto st = gptqQuantize(w.data(), rows, cols, h, c, {});
                checkOnGrid(w, rows, cols, c, st);
                for (int64_t r = 0; r < rows; ++r) {
                    float lo = 0, hi = 0;
                    for (int64_t j = 0; j < cols; ++j) {
                        lo = std::min(lo, w0[static_cast<size_t>(r * cols + j)]);
                        hi = std::max(hi, w0[static_cast<size_t>(r * cols + j)]);
                    }
                    const float want = sym ? h16(std::max(-lo, hi) / 3.0f) : h16((hi - lo) / 7.0f);
                    QCOMPARE(st.scales[static_cast<size_t>(r)], want);
                }
            }
            // Static groups (act-order): from the original groups; dynamic groups: from the
            // updated weights, so some differ from the original groups' scales.
            for (bool act : {true, false}) {
                const auto c = icfg(3, Granularity::Group, sym, 16);
                std::vector<float> w = w0;
                GptqOptions o;
                o.actOrder = act;
                const auto st = gptqQuantize(w.data(), rows, cols, h, c, o);
                checkOnGrid(w, rows, cols, c, st);
                int differ = 0;
                for (int64_t r = 0; r < rows; ++r)
                    for (int64_t g = 0; g < 4; ++g) {
                        float lo = 0, hi = 0;
                        for (int64_t j = g * 16; j < std::min<int64_t>(cols, g * 16 + 16); ++j) {
                            lo = std::min(lo, w0[static_cast<size_t>(r * cols + j)]);
                            hi = std::max(hi, w0[static_cast<size_t>(r * cols + j)]);
                        }
                        const float want = sym ? h16(std::max(-lo, hi) / 3.0f) : h16((hi - lo) / 7.0f);
                        const float got = st.scales[static_cast<size_t>(r * 4 + g)];
                        if (act)
                            QCOMPARE(got, want);
                        else if (got != want)
                            ++differ;
                    }
                if (!act)
                    QVERIFY(differ > 0);
            }
        }
    }

    void dampingRaisedWhenIndefinite()
    {
        // Eigenvalues of [[1 2] [2 1]] are -1 and 3: lambda = 0.01, 0.1, 1 fail (1 leaves it
        // singular), 10 works.
        Eigen::MatrixXd h(2, 2);
        h << 1, 2, 2, 1;
        std::vector<float> w = {0.3f, -0.2f};
        const auto st = gptqQuantize(w.data(), 1, 2, h, icfg(4, Granularity::PerChannel, true), {});
        QVERIFY(st.damping > 1.0 + 1e-9);
        QVERIFY(st.dampingRaises >= 3);
    }

    void rejectsBadInput()
    {
        std::vector<float> w(6, 0.1f);
        QVERIFY_THROWS_EXCEPTION(Error, gptqQuantize(w.data(), 2, 3, Eigen::MatrixXd::Identity(2, 2), icfg(4, Granularity::PerChannel, true)));
        QVERIFY_THROWS_EXCEPTION(Error, gptqQuantize(w.data(), 2, 3, Eigen::MatrixXd::Identity(3, 3), icfg(9, Granularity::PerChannel, true)));
        QVERIFY_THROWS_EXCEPTION(Error, gptqQuantize(w.data(), 2, 3, Eigen::MatrixXd::Identity(3, 3), icfg(4, Granularity::Group, true, 0)));
        std::vector<float> x(3, 1.0f);
        QVERIFY_THROWS_EXCEPTION(Error, awqQuantize({{w.data(), 2}}, 3, x.data(), 0, icfg(4, Granularity::PerChannel, true)));
    }

    void awqEqualActivationsIsRtn()
    {
        // Every input channel has the same mean |x|: s_j = c^alpha / sqrt(c^alpha c^alpha) = 1
        // for every alpha, so every alpha ties and alpha = 0 (plain RTN) is kept.
        const int64_t rows = 16, cols = 32, n = 64;
        std::vector<float> x(static_cast<size_t>(n * cols));
        for (size_t i = 0; i < x.size(); ++i)
            x[i] = (i / 7) % 2 ? 0.5f : -0.5f;
        const auto w0 = randomWeights(rows, cols, 4);
        std::vector<float> w = w0;
        const auto c = icfg(3, Granularity::Group, true, 8);
        const auto res = awqQuantize({{w.data(), rows}}, cols, x.data(), n, c);
        QCOMPARE(res.alpha, 0.0);
        QCOMPARE(res.scales, std::vector<float>(cols, 1.0f));
        QCOMPARE(w, rtnOf(w0, rows, cols, c));
        QCOMPARE(res.error, res.rtnError);
    }

    void awqProtectsSalientChannel()
    {
        // Input channel 3 has activations 40x larger than the rest: AWQ scales its weights
        // up before rounding, so their (output-dominating) rounding error shrinks.
        const int64_t rows = 32, cols = 64, n = 512;
        std::mt19937 rng(9);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        std::vector<float> x(static_cast<size_t>(n * cols));
        for (int64_t s = 0; s < n; ++s)
            for (int64_t j = 0; j < cols; ++j)
                x[static_cast<size_t>(s * cols + j)] = nd(rng) * (j == 3 ? 40.0f : 1.0f);
        const auto w0 = randomWeights(rows, cols, 6);
        for (const auto& c : {icfg(3, Granularity::PerChannel, true), icfg(4, Granularity::Group, false, 32)}) {
            std::vector<float> w = w0;
            const auto res = awqQuantize({{w.data(), rows}}, cols, x.data(), n, c);
            const auto rtn = rtnOf(w0, rows, cols, c);
            const double ea = outputError(x, n, w0, w, rows, cols) / (n * rows);
            const double er = outputError(x, n, w0, rtn, rows, cols) / (n * rows);
            QVERIFY(std::fabs(res.error - ea) <= 1e-3 * ea);
            QVERIFY(std::fabs(res.rtnError - er) <= 1e-3 * er);
            QVERIFY(res.alpha > 0);
            QVERIFY2(ea < 0.7 * er, qPrintable(QString("awq %1 rtn %2").arg(ea).arg(er)));
            // Channel 3 has the largest scale; the normalisation holds.
            const auto [mn, mx] = std::minmax_element(res.scales.begin(), res.scales.end());
            QCOMPARE(static_cast<int>(mx - res.scales.begin()), 3);
            QVERIFY(std::fabs(std::sqrt(double(*mn) * *mx) - 1.0) < 1e-5);
        }
    }

    void awqSearchByHand()
    {
        // A 4 x 6 layer whose inputs have exactly known mean |x| per channel, two of them outliers
        // (x = +-m_j, signs alternating): the search worked out here in plain loops. For alpha =
        // a / 10: s_j = m_j^alpha / sqrt(min m^alpha * max m^alpha); W' = Q(W diag s) diag(s)^-1
        // with Q the symmetric INT3 per-row rule of quantize.h (scale = fp16(max|t| / 3), q =
        // clamp(round(t / scale), -3, 3)); error = ||X (W - W')^T||^2 / (n rows). AWQ must pick
        // the alpha of the smallest error, with its scales and error, and beat RTN (alpha = 0).
        const int64_t rows = 4, cols = 6, n = 8;
        const double m[cols] = {1.0, 0.5, 12.0, 1.0, 0.25, 30.0};
        std::vector<float> x(static_cast<size_t>(n * cols));
        for (int64_t k = 0; k < n; ++k)
            for (int64_t j = 0; j < cols; ++j)
                x[static_cast<size_t>(k * cols + j)] = float(((k + j) % 2 ? -1 : 1) * ((k / 2 + j) % 3 ? 1 : -1) * m[j]);
        const std::vector<float> w0 = {0.31f, -0.12f, 0.05f, 0.22f, -0.27f, 0.04f,  -0.08f, 0.19f, -0.03f, 0.11f, 0.29f, 0.06f,
                                       0.14f, 0.25f, 0.07f, -0.33f, 0.02f, -0.05f, -0.21f, -0.04f, 0.09f, 0.17f, -0.15f, 0.08f};
        auto handError = [&](double alpha, std::vector<float>& scales) {
            double lo = 1e300, hi = 0;
            for (double mj : m)
                lo = std::min(lo, std::max(std::pow(mj, alpha), 1e-4)), hi = std::max(hi, std::max(std::pow(mj, alpha), 1e-4));
            scales.resize(cols);
            for (int64_t j = 0; j < cols; ++j)
                scales[size_t(j)] = float(std::max(std::pow(m[j], alpha), 1e-4) / std::sqrt(lo * hi));
            std::vector<float> q(w0.size());
            for (int64_t r = 0; r < rows; ++r) {
                float amax = 0;
                for (int64_t j = 0; j < cols; ++j)
                    amax = std::max(amax, std::fabs(w0[size_t(r * cols + j)] * scales[size_t(j)]));
                const float sc = h16(amax / 3.0f);
                for (int64_t j = 0; j < cols; ++j) {
                    const float t = w0[size_t(r * cols + j)] * scales[size_t(j)];
                    q[size_t(r * cols + j)] = std::clamp(std::nearbyint(t / sc), -3.0f, 3.0f) * sc / scales[size_t(j)];
                }
            }
            return outputError(x, n, w0, q, rows, cols) / double(n * rows);
        };
        double best = 1e300, bestAlpha = -1, rtn = 0, second = 1e300;
        std::vector<float> bestScales, sc;
        for (int a = 0; a < 10; ++a) {
            const double e = handError(a / 10.0, sc);
            if (a == 0)
                rtn = e;
            if (e < best)
                second = best, best = e, bestAlpha = a / 10.0, bestScales = sc;
            else
                second = std::min(second, e);
        }
        qInfo("hand search: alpha %.1f, error %.6g (next best %.6g), RTN %.6g", bestAlpha, best, second, rtn);
        QVERIFY(second > best * 1.01); // a clear winner: float rounding cannot change the choice
        QVERIFY(bestAlpha > 0 && best < 0.5 * rtn);
        std::vector<float> w = w0;
        AwqOptions o;
        o.grid = 10;
        const auto res = awqQuantize({{w.data(), rows}}, cols, x.data(), n, icfg(3, Granularity::PerChannel, true), o);
        QCOMPARE(res.alpha, bestAlpha);
        for (int64_t j = 0; j < cols; ++j)
            QVERIFY(std::fabs(res.scales[size_t(j)] / bestScales[size_t(j)] - 1) < 1e-6);
        QVERIFY(std::fabs(res.error / best - 1) < 1e-4);
        QVERIFY(std::fabs(res.rtnError / rtn - 1) < 1e-4);
        QVERIFY(std::fabs(outputError(x, n, w0, w, rows, cols) / double(n * rows) / best - 1) < 1e-4);
    }

    void awqSharedScalesAcrossLayers()
    {
        // Two layers reading the same input: one scale vector, chosen for the summed error;
        // each output equals Q(W diag s) diag(s)^-1 with the returned s.
        const int64_t cols = 48, n = 256;
        std::mt19937 rng(13);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        std::vector<float> x(static_cast<size_t>(n * cols));
        for (int64_t s = 0; s < n; ++s)
            for (int64_t j = 0; j < cols; ++j)
                x[static_cast<size_t>(s * cols + j)] = nd(rng) * (1.0f + static_cast<float>(j % 5) * 4.0f);
        const auto a0 = randomWeights(20, cols, 1), b0 = randomWeights(12, cols, 2);
        std::vector<float> a = a0, b = b0;
        const auto c = icfg(3, Granularity::PerChannel, true);
        const auto res = awqQuantize({{a.data(), 20}, {b.data(), 12}}, cols, x.data(), n, c);
        QCOMPARE(res.scales.size(), size_t(cols));
        auto expect = [&](const std::vector<float>& w0, int64_t rows) {
            std::vector<float> t(w0.size());
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t j = 0; j < cols; ++j)
                    t[static_cast<size_t>(r * cols + j)] = w0[static_cast<size_t>(r * cols + j)] * res.scales[static_cast<size_t>(j)];
            fakeQuantInt(t.data(), static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), c, t.data());
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t j = 0; j < cols; ++j)
                    t[static_cast<size_t>(r * cols + j)] /= res.scales[static_cast<size_t>(j)];
            return t;
        };
        QCOMPARE(a, expect(a0, 20));
        QCOMPARE(b, expect(b0, 12));
        const double total = (outputError(x, n, a0, a, 20, cols) + outputError(x, n, b0, b, 12, cols)) / (n * 32.0);
        QVERIFY(std::fabs(res.error - total) <= 1e-3 * total);
        QVERIFY(res.error < res.rtnError);
    }
};

QTEST_APPLESS_MAIN(TestGptq)
#include "tst_gptq.moc"
