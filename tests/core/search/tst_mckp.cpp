// Tests of the multiple-choice knapsack solver (search/mckp.h).
//
// Small random problems are checked against brute force (every combination, costs summed in
// group order against the same mckpCapacityLimit), a 40-group problem with integer costs
// against an exact dynamic programme over the total cost, and hand-worked cases against their
// answers.
#include "search/mckp.h"

#include <QtTest>

#include <cmath>
#include <limits>
#include <random>

using namespace bonsai;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

bool choosable(const MckpItem& it) { return std::isfinite(it.cost) && std::isfinite(it.value); }

struct Brute {
    bool feasible = false;
    double value = 0;
};

// Every combination of choosable (and, in pinned groups, pinned) items.
Brute bruteForce(const std::vector<MckpGroup>& groups, double capacity)
{
    const double limit = mckpCapacityLimit(capacity);
    Brute b;
    std::vector<int> idx(groups.size(), 0);
    for (const MckpGroup& g : groups)
        if (g.items.empty())
            return b;
    for (;;) {
        bool ok = true;
        double cost = 0, value = 0;
        for (size_t g = 0; g < groups.size() && ok; ++g) {
            const MckpItem& it = groups[g].items[idx[g]];
            ok = choosable(it) && (groups[g].pinned < 0 || groups[g].pinned == idx[g]);
            cost += it.cost;
            value += it.value;
        }
        if (ok && cost <= limit && (!b.feasible || value < b.value)) {
            b.feasible = true;
            b.value = value;
        }
        size_t g = 0;
        while (g < groups.size() && ++idx[g] == static_cast<int>(groups[g].items.size()))
            idx[g++] = 0;
        if (g == groups.size())
            return b;
    }
}

bool close(double a, double b) { return std::abs(a - b) <= 1e-9 * std::max(1.0, std::abs(b)); }

// Checks a solver result against the optimum `expected` (feasible or not); empty when right.
QString checkResult(const std::vector<MckpGroup>& groups, double capacity, const MckpResult& r, const Brute& expected)
{
    if (r.feasible != expected.feasible)
        return QStringLiteral("feasible %1, expected %2").arg(r.feasible).arg(expected.feasible);
    if (!r.feasible)
        return r.choice.empty() ? QString() : QStringLiteral("infeasible with a choice");
    if (!r.optimal)
        return QStringLiteral("not proven optimal (%1 nodes)").arg(r.nodes);
    if (r.choice.size() != groups.size())
        return QStringLiteral("choice has %1 entries").arg(r.choice.size());
    double cost = 0, value = 0;
    for (size_t g = 0; g < groups.size(); ++g) {
        const int i = r.choice[g];
        if (i < 0 || i >= static_cast<int>(groups[g].items.size()) || !choosable(groups[g].items[i]))
            return QStringLiteral("group %1: item %2 cannot be chosen").arg(g).arg(i);
        if (groups[g].pinned >= 0 && i != groups[g].pinned)
            return QStringLiteral("group %1: item %2 chosen, pinned %3").arg(g).arg(i).arg(groups[g].pinned);
        cost += groups[g].items[i].cost;
        value += groups[g].items[i].value;
    }
    if (cost != r.cost || value != r.value)
        return QStringLiteral("reported cost/value %1/%2, choice's %3/%4").arg(r.cost).arg(r.value).arg(cost).arg(value);
    if (!(cost <= mckpCapacityLimit(capacity)))
        return QStringLiteral("cost %1 over capacity %2").arg(cost, 0, 'g', 17).arg(capacity, 0, 'g', 17);
    if (!close(value, expected.value))
        return QStringLiteral("value %1, optimum %2").arg(value, 0, 'g', 17).arg(expected.value, 0, 'g', 17);
    if (r.lowerBound > expected.value + 1e-9 * std::max(1.0, std::abs(expected.value)))
        return QStringLiteral("LP bound %1 above the optimum %2").arg(r.lowerBound, 0, 'g', 17).arg(expected.value, 0, 'g', 17);
    return {};
}

// Random small problems with ties, dominated and zero-cost items; `odd` in [0, 1]: the share of
// NaN or infinite items.
std::vector<MckpGroup> randomGroups(std::mt19937_64& rng, int maxGroups, int maxItems, double odd)
{
    std::uniform_int_distribution<int> nGroups(2, maxGroups), nItems(1, maxItems), small(0, 6);
    std::uniform_real_distribution<double> u(0, 1);
    const bool intCosts = u(rng) < 0.5, intValues = u(rng) < 0.5;
    std::vector<MckpGroup> groups(nGroups(rng));
    for (MckpGroup& g : groups) {
        g.items.resize(nItems(rng));
        for (MckpItem& it : g.items) {
            it.cost = intCosts ? small(rng) : 10 * u(rng);
            it.value = intValues ? small(rng) : 10 * u(rng);
            if (u(rng) < odd) {
                const double bad[] = {kNaN, kInf, -kInf};
                (u(rng) < 0.5 ? it.cost : it.value) = bad[small(rng) % 3];
            }
        }
        if (u(rng) < 0.2 && g.items.size() > 1) // an exact duplicate
            g.items.back() = g.items.front();
    }
    return groups;
}

// A capacity below the cheapest choice, exactly on some choice's cost, between or above.
double randomCapacity(std::mt19937_64& rng, const std::vector<MckpGroup>& groups)
{
    double lo = 0, hi = 0, some = 0;
    for (const MckpGroup& g : groups) {
        double a = kInf, b = -kInf;
        std::vector<double> costs;
        for (size_t i = 0; i < g.items.size(); ++i)
            if (choosable(g.items[i]) && (g.pinned < 0 || g.pinned == static_cast<int>(i))) {
                a = std::min(a, g.items[i].cost);
                b = std::max(b, g.items[i].cost);
                costs.push_back(g.items[i].cost);
            }
        if (costs.empty())
            return 5;
        lo += a;
        hi += b;
        some += costs[std::uniform_int_distribution<size_t>(0, costs.size() - 1)(rng)];
    }
    switch (std::uniform_int_distribution<int>(0, 4)(rng)) {
    case 0: return lo - 0.5;
    case 1: return some;
    case 2: return lo;
    case 3: return hi + 1;
    default: return lo + (hi - lo) * std::uniform_real_distribution<double>(0, 1)(rng);
    }
}

} // namespace

class TstMckp : public QObject {
    Q_OBJECT

private slots:
    void handCase()
    {
        // G0: (1, 9) (3, 5) (6, 2); G1: (2, 8) (4, 3) (5, 2.5); G2: (1, 4) (2, 3) (7, 0); capacity 10.
        // Cheapest: cost 4, value 21. Every choice within cost 10 (a = G0, b = G1, c = G2 items):
        //   a0 b0 c0..c2: 4/21 5/20 10/17;  a0 b1 c0,c1: 6/16 7/15;  a0 b2 c0,c1: 7/15.5 8/14.5
        //   a1 b0 c0,c1: 6/17 7/16;  a1 b1 c0,c1: 8/12 9/11;  a1 b2 c0,c1: 9/11.5 10/10.5
        //   a2 b0 c0,c1: 9/14 10/13  (every other choice costs more than 10)
        // Optimum: a1 b2 c1 = {1, 2, 1}, cost 3 + 5 + 2 = 10, value 5 + 2.5 + 3 = 10.5.
        // LP: hull steps by efficiency G1 0->1 (2.5: +2, -5), G0 0->1 (2: +2, -4), G0 1->2 (1: +3, -3),
        // G2 0->1 (1), G2 1->2 (0.6), G1 1->2 (0.5). Room 6: take G1 (room 4, value 16), G0 (room 2,
        // value 12), then 2/3 of G0's second step: bound 12 - 2 = 10.
        std::vector<MckpGroup> groups(3);
        groups[0].items = {{1, 9}, {3, 5}, {6, 2}};
        groups[1].items = {{2, 8}, {4, 3}, {5, 2.5}};
        groups[2].items = {{1, 4}, {2, 3}, {7, 0}};
        const MckpResult r = solveMckp(groups, 10);
        QVERIFY(r.feasible);
        QVERIFY(r.optimal);
        QCOMPARE(r.choice, std::vector<int>({1, 2, 1}));
        QCOMPARE(r.cost, 10.0);
        QCOMPARE(r.value, 10.5);
        QVERIFY(close(r.lowerBound, 10.0)); // the LP uses the capacity's tolerance: 10 - 1e-11

        // One less: a1 b1 c1 (cost 9, value 11) beats a1 b2 c0 (9, 11.5).
        const MckpResult r9 = solveMckp(groups, 9);
        QCOMPARE(r9.choice, std::vector<int>({1, 1, 1}));
        QCOMPARE(r9.value, 11.0);

        QVERIFY(!solveMckp(groups, 3.9).feasible);
        const MckpResult cheap = solveMckp(groups, 4);
        QCOMPARE(cheap.choice, std::vector<int>({0, 0, 0}));
        QVERIFY(cheap.optimal);
        const MckpResult all = solveMckp(groups, kInf);
        QCOMPARE(all.choice, std::vector<int>({2, 2, 2}));
        QCOMPARE(all.value, 4.5);
        QVERIFY(close(all.lowerBound, 4.5));
    }

    void lpBoundOnBreakpoint()
    {
        // One group, hull (0, 10) (2, 6) (5, 3) (10, 2); (3, 7) and (6, 3.5) lie above it.
        MckpGroup g;
        g.items = {{5, 3}, {3, 7}, {0, 10}, {10, 2}, {6, 3.5}, {2, 6}};
        QCOMPARE(lowerHull(g), std::vector<int>({2, 5, 0, 3}));
        for (const double cap : {0.0, 2.0, 5.0, 10.0}) {
            const MckpResult r = solveMckp({g}, cap);
            QVERIFY(r.optimal);
            QVERIFY(close(r.lowerBound, r.value)); // on a breakpoint the LP is integral
        }
        // Between breakpoints the LP mixes (2, 6) and (5, 3): at 3.5, 6 - 1.5 = 4.5 < 6.
        const MckpResult r = solveMckp({g}, 3.5);
        QVERIFY(close(r.lowerBound, 4.5));
        QCOMPARE(r.value, 6.0);
        QCOMPARE(r.choice, std::vector<int>({5}));
    }

    void lowerHullShapes()
    {
        MckpGroup g;
        // Collinear middle point (2, 2), a duplicate of (0, 4), an equal-cost worse item (4, 3),
        // a costlier worse item (5, 1) and a NaN.
        g.items = {{0, 4}, {2, 2}, {4, 0}, {0, 4}, {4, 3}, {5, 1}, {1, kNaN}};
        QCOMPARE(lowerHull(g), std::vector<int>({0, 2}));
        g.pinned = 4; // ignored by lowerHull
        QCOMPARE(lowerHull(g), std::vector<int>({0, 2}));
        QCOMPARE(lowerHull(MckpGroup{}), std::vector<int>());
        MckpGroup one;
        one.items = {{3, 3}, {3, 1}};
        QCOMPARE(lowerHull(one), std::vector<int>({1}));
    }

    void againstBruteForce()
    {
        std::mt19937_64 rng(20240611);
        int feasible = 0;
        for (int c = 0; c < 4000; ++c) {
            const std::vector<MckpGroup> groups = randomGroups(rng, 7, 6, c % 4 == 0 ? 0.1 : 0.0);
            const double cap = randomCapacity(rng, groups);
            const MckpResult r = solveMckp(groups, cap);
            const Brute b = bruteForce(groups, cap);
            feasible += b.feasible;
            const QString err = checkResult(groups, cap, r, b);
            QVERIFY2(err.isEmpty(), qPrintable(QStringLiteral("case %1: %2").arg(c).arg(err)));
        }
        // The capacities must cover both outcomes well.
        QVERIFY(feasible > 2000 && feasible < 3800);
    }

    void pins()
    {
        std::mt19937_64 rng(77);
        std::uniform_real_distribution<double> u(0, 1);
        for (int c = 0; c < 1500; ++c) {
            std::vector<MckpGroup> groups = randomGroups(rng, 6, 6, 0.05);
            for (MckpGroup& g : groups)
                if (u(rng) < 0.4)
                    g.pinned = std::uniform_int_distribution<int>(0, static_cast<int>(g.items.size()) - 1)(rng);
            const double cap = randomCapacity(rng, groups);
            const QString err = checkResult(groups, cap, solveMckp(groups, cap), bruteForce(groups, cap));
            QVERIFY2(err.isEmpty(), qPrintable(QStringLiteral("case %1: %2").arg(c).arg(err)));
        }

        // A pin overrides a better item; a pin out of range or on an unchoosable item is infeasible.
        std::vector<MckpGroup> groups(2);
        groups[0].items = {{1, 5}, {2, 1}};
        groups[1].items = {{1, 5}, {2, 1}, {3, kNaN}};
        groups[1].pinned = 0;
        const MckpResult r = solveMckp(groups, 10);
        QCOMPARE(r.choice, std::vector<int>({1, 0}));
        QCOMPARE(r.value, 6.0);
        groups[1].pinned = 2;
        QVERIFY(!solveMckp(groups, 10).feasible);
        groups[1].pinned = 3;
        QVERIFY(!solveMckp(groups, 10).feasible);
    }

    void unchoosableItems()
    {
        std::vector<MckpGroup> groups(2);
        groups[0].items = {{kNaN, 0}, {1, kInf}, {2, 3}, {-kInf, 0}, {1, -kInf}};
        groups[1].items = {{0, 1}, {1, kNaN}};
        MckpResult r = solveMckp(groups, 100);
        QVERIFY(r.feasible && r.optimal);
        QCOMPARE(r.choice, std::vector<int>({2, 0}));
        QCOMPARE(r.value, 4.0);

        // A group with no choosable item (or none at all) makes the problem infeasible.
        groups[1].items = {{kNaN, kNaN}};
        r = solveMckp(groups, 100);
        QVERIFY(!r.feasible);
        QVERIFY(r.choice.empty());
        groups[1].items.clear();
        QVERIFY(!solveMckp(groups, 100).feasible);

        // No groups: the empty choice fits any capacity >= 0; a NaN capacity fits nothing.
        QVERIFY(solveMckp({}, 0).feasible);
        QVERIFY(!solveMckp({}, -1).feasible);
        groups[1].items = {{0, 1}};
        QVERIFY(!solveMckp(groups, kNaN).feasible);
    }

    void qualityDirection()
    {
        // cost = quality loss (1e-7 .. 1e-2, falling with size), value = bytes; minimize bytes
        // under a loss bound like 0.01.
        std::mt19937_64 rng(4242);
        std::uniform_real_distribution<double> u(0, 1);
        for (int c = 0; c < 800; ++c) {
            std::vector<MckpGroup> groups(std::uniform_int_distribution<int>(2, 6)(rng));
            for (MckpGroup& g : groups) {
                const double params = std::exp(std::log(1e4) + u(rng) * std::log(1e4));
                const double scale = 1e-3 * std::exp(u(rng) * std::log(10.0));
                g.items.resize(std::uniform_int_distribution<int>(1, 6)(rng));
                for (MckpItem& it : g.items) {
                    const double bits = 2 + 14 * u(rng);
                    it.value = std::round(params * bits / 8);
                    it.cost = scale * std::exp(-0.8 * bits) * (1 + 0.5 * u(rng));
                }
            }
            double lo = 0, hi = 0;
            for (const MckpGroup& g : groups) {
                double a = kInf, b = 0;
                for (const MckpItem& it : g.items) {
                    a = std::min(a, it.cost);
                    b = std::max(b, it.cost);
                }
                lo += a;
                hi += b;
            }
            const double cap = c % 5 == 0 ? 0.01 : lo + (hi - lo) * u(rng) * 1.2;
            const QString err = checkResult(groups, cap, solveMckp(groups, cap), bruteForce(groups, cap));
            QVERIFY2(err.isEmpty(), qPrintable(QStringLiteral("case %1: %2").arg(c).arg(err)));
        }

        // A bound met exactly by sums of tiny costs that are not exact in binary: the only
        // choice within 3.1e-6 with less than 9e6 bytes is {0, 0, 0} (cost 1e-6 + 2e-6 + 1e-7).
        std::vector<MckpGroup> groups(3);
        groups[0].items = {{1e-6, 4e6}, {3e-7, 8e6}};
        groups[1].items = {{2e-6, 1e6}, {7e-7, 2e6}};
        groups[2].items = {{1e-7, 3e6}, {4e-6, 0.5e6}};
        const MckpResult r = solveMckp(groups, 3.1e-6);
        QVERIFY(r.optimal);
        QCOMPARE(r.choice, std::vector<int>({0, 0, 0}));
        QCOMPARE(r.value, 8e6);
        QCOMPARE(solveMckp(groups, 3.0e-6).value, 9e6); // {0, 1, 0}
    }

    void againstIntegerDp()
    {
        // 40 groups x 12 items, integer costs 1..100: the exact optimum for every total cost up
        // to 4000 by dynamic programming, independent of the solver.
        std::mt19937_64 rng(99);
        std::uniform_real_distribution<double> u(0, 1);
        std::uniform_int_distribution<int> cost(1, 100);
        for (int instance = 0; instance < 4; ++instance) {
            std::vector<MckpGroup> groups(40);
            for (MckpGroup& g : groups) {
                const double scale = 0.1 + 10 * u(rng);
                g.items.resize(12);
                for (MckpItem& it : g.items) {
                    it.cost = cost(rng);
                    // Mostly falling with cost (near a convex frontier), the last instance random.
                    it.value = instance == 3 ? 10 * u(rng) : scale * std::exp(-it.cost / 30) * (1 + 0.3 * u(rng));
                }
            }
            const int maxTotal = 40 * 100;
            std::vector<double> dp(maxTotal + 1, kInf), next;
            dp[0] = 0;
            for (const MckpGroup& g : groups) {
                next.assign(maxTotal + 1, kInf);
                for (int c = 0; c <= maxTotal; ++c)
                    if (dp[c] < kInf)
                        for (const MckpItem& it : g.items) {
                            const int to = c + static_cast<int>(it.cost);
                            next[to] = std::min(next[to], dp[c] + it.value);
                        }
                dp.swap(next);
            }
            for (int c = 1; c <= maxTotal; ++c)
                dp[c] = std::min(dp[c], dp[c - 1]); // best within cost c
            int lo = 0;
            while (dp[lo] == kInf)
                ++lo;
            for (int k = 0; k <= 10; ++k) {
                const int cap = lo + (maxTotal - lo) * k / 10 - (k == 0 ? 1 : 0);
                const MckpResult r = solveMckp(groups, cap);
                Brute expected;
                expected.feasible = cap >= lo;
                expected.value = expected.feasible ? dp[cap] : 0;
                const QString err = checkResult(groups, cap, r, expected);
                QVERIFY2(err.isEmpty(), qPrintable(QStringLiteral("instance %1, capacity %2: %3").arg(instance).arg(cap).arg(err)));
            }
        }
    }

    void nodeLimit()
    {
        // With no branch-and-bound nodes allowed the rounded, repaired LP solution comes back:
        // feasible, within capacity, no better than optimal and not claimed optimal unless the
        // LP bound already proves it.
        std::mt19937_64 rng(5);
        int unproven = 0;
        for (int c = 0; c < 500; ++c) {
            const std::vector<MckpGroup> groups = randomGroups(rng, 7, 6, 0.0);
            const double cap = randomCapacity(rng, groups);
            const Brute b = bruteForce(groups, cap);
            MckpOptions o;
            o.maxNodes = 0;
            const MckpResult r = solveMckp(groups, cap, o);
            QCOMPARE(r.feasible, b.feasible);
            if (!b.feasible)
                continue;
            QCOMPARE(r.nodes, int64_t(0));
            QVERIFY(r.cost <= mckpCapacityLimit(cap));
            QVERIFY(r.value >= b.value - 1e-9 * std::max(1.0, std::abs(b.value)));
            QVERIFY(r.lowerBound <= b.value + 1e-9 * std::max(1.0, std::abs(b.value)));
            if (r.optimal)
                QVERIFY(close(r.value, b.value));
            else
                ++unproven;
        }
        QVERIFY(unproven > 0); // the limit did stop some searches
    }
};

QTEST_APPLESS_MAIN(TstMckp)
#include "tst_mckp.moc"
