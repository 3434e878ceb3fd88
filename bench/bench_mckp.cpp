// Benchmark: the multiple-choice knapsack solver of the budget search (search/mckp.h) on
// problems shaped like a model's layers. Target: every solve under 100 ms (single-threaded).
//
// Each layer (group) has 30 candidates: 20 quantizations, bytes = params * bits / 8 with bits
// spread geometrically over 1.5..16 (+-4% jitter), loss = scale * exp(-a * bits) with 10%
// multiplicative noise and a small noise floor (so a few fall off the hull); and 10
// sparsity/rank-like candidates (a fraction of the weights kept at some bit width, plus mask
// bytes) whose loss is 1-2.5x the exponential law, mostly above the hull, a few near it.
// Layers differ in size (1e4..5e7 parameters, log-uniform), sensitivity (scale 1e-4..1) and
// slope (a).
//
// For 20 byte budgets spread between the smallest and the largest model, over several random
// models, prints per budget: the solve time (median and max over the models, each the best of
// 3 runs), how many solves were proven optimal, branch-and-bound nodes, the gap of the value to
// the LP bound, and, as the anchor, the time and the gap to the final value of the LP relaxation
// with its rounding and repair alone (maxNodes = 0: per-group hulls, greedy, repair).
//
// Usage: bench_mckp [models=5] [layers=300] [candidates=30]
#include "bench_util.h"

#include "../core/src/search/mckp.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

namespace {

std::vector<bonsai::MckpGroup> makeModel(uint64_t seed, int layers, int candidates)
{
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0, 1);
    std::normal_distribution<double> n01;
    auto logUniform = [&](double lo, double hi) { return lo * std::exp(u(rng) * std::log(hi / lo)); };
    const int quant = candidates * 2 / 3;
    std::vector<bonsai::MckpGroup> groups(layers);
    for (bonsai::MckpGroup& g : groups) {
        const double params = std::round(logUniform(1e4, 5e7));
        const double scale = logUniform(1e-4, 1);
        const double a = 0.45 + 0.45 * u(rng);
        for (int k = 0; k < candidates; ++k) {
            bonsai::MckpItem it;
            if (k < quant) {
                const double bits = 1.5 * std::pow(16 / 1.5, double(k) / (quant - 1)) * (1 + 0.08 * (u(rng) - 0.5));
                it.cost = std::ceil(params * bits / 8);
                it.value = scale * std::exp(-a * bits) * (1 + 0.1 * n01(rng)) + scale * 1e-5 * std::abs(n01(rng));
            } else {
                const double keep = 0.3 + 0.6 * u(rng);
                const double bits = 2 + 6 * u(rng);
                it.cost = std::ceil(params * keep * bits / 8 * 1.05 + params / 8);
                it.value = scale * std::exp(-a * bits * keep) * (1 + 1.5 * u(rng)) + scale * (1 - keep) * 0.01;
            }
            it.value = std::max(it.value, 0.0);
            g.items.push_back(it);
        }
    }
    return groups;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv)
{
    const int models = argc > 1 ? std::atoi(argv[1]) : 5;
    const int layers = argc > 2 ? std::atoi(argv[2]) : 300;
    const int candidates = argc > 3 ? std::atoi(argv[3]) : 30;
    const int budgets = 20;
    std::printf("MCKP: %d models x %d layers x %d candidates, %d byte budgets each; times in ms (best of 3)\n", models,
                layers, candidates, budgets);
    std::printf("%6s | %8s %8s %7s %9s %9s %10s | %8s %10s\n", "budget", "median", "max", "optimal", "nodes med",
                "nodes max", "gap to LP", "LP+rep", "LP+rep gap");

    std::vector<std::vector<bonsai::MckpGroup>> all;
    for (int m = 0; m < models; ++m)
        all.push_back(makeModel(1000 + m, layers, candidates));

    auto timed = [](const std::vector<bonsai::MckpGroup>& g, double cap, const bonsai::MckpOptions& o,
                    bonsai::MckpResult& out) {
        double best = 1e300;
        for (int rep = 0; rep < 3; ++rep) {
            const double t0 = bench::now();
            out = bonsai::solveMckp(g, cap, o);
            best = std::min(best, bench::now() - t0);
        }
        return best * 1e3;
    };

    std::vector<double> allTimes, allAnchor, unprovenGaps;
    int solves = 0, optimalCount = 0, over100 = 0;
    double worstGap = 0;
    for (int b = 0; b < budgets; ++b) {
        const double t = double(b + 1) / (budgets + 1);
        std::vector<double> times, anchorTimes, nodes, gaps, anchorGaps;
        int optimal = 0;
        for (const auto& groups : all) {
            double lo = 0, hi = 0;
            for (const bonsai::MckpGroup& g : groups) {
                double a = 1e300, z = 0;
                for (const bonsai::MckpItem& it : g.items) {
                    a = std::min(a, it.cost);
                    z = std::max(z, it.cost);
                }
                lo += a;
                hi += z;
            }
            const double cap = lo + (hi - lo) * t;
            bonsai::MckpResult r, anchor;
            const double ms = timed(groups, cap, {}, r);
            bonsai::MckpOptions none;
            none.maxNodes = 0;
            const double anchorMs = timed(groups, cap, none, anchor);
            times.push_back(ms);
            anchorTimes.push_back(anchorMs);
            nodes.push_back(double(r.nodes));
            const double gap = (r.value - r.lowerBound) / r.value;
            gaps.push_back(gap);
            anchorGaps.push_back((anchor.value - r.value) / r.value);
            optimal += r.optimal;
            if (!r.optimal)
                unprovenGaps.push_back(gap);
            worstGap = std::max(worstGap, gap);
            over100 += ms >= 100;
            ++solves;
        }
        optimalCount += optimal;
        allTimes.insert(allTimes.end(), times.begin(), times.end());
        allAnchor.insert(allAnchor.end(), anchorTimes.begin(), anchorTimes.end());
        std::printf("%5.0f%% | %8.3f %8.3f %4d/%-2d %9.0f %9.0f %10.2e | %8.3f %10.2e\n", 100 * t, median(times),
                    *std::max_element(times.begin(), times.end()), optimal, models, median(nodes),
                    *std::max_element(nodes.begin(), nodes.end()), *std::max_element(gaps.begin(), gaps.end()),
                    median(anchorTimes), *std::max_element(anchorGaps.begin(), anchorGaps.end()));
    }
    std::printf("\n%d solves: median %.3f ms, max %.3f ms, %d at or over 100 ms; proven optimal %d (%.1f%%)\n", solves,
                median(allTimes), *std::max_element(allTimes.begin(), allTimes.end()), over100, optimalCount,
                100.0 * optimalCount / solves);
    std::printf("LP relaxation + rounding + repair alone: median %.3f ms, max %.3f ms\n", median(allAnchor),
                *std::max_element(allAnchor.begin(), allAnchor.end()));
    std::printf("relative gap value - LP bound: max %.2e over all; over the unproven: ", worstGap);
    if (unprovenGaps.empty())
        std::printf("none unproven\n");
    else
        std::printf("median %.2e, max %.2e\n", median(unprovenGaps),
                    *std::max_element(unprovenGaps.begin(), unprovenGaps.end()));
    return 0;
}
