// The budget search's solver: the sensitivity table as a multiple-choice knapsack (one group
// per layer, or per tied group of layers), solved exactly by search/mckp.h, and the solution
// turned into configurations, a recipe and explanations.
#include "bonsai/search.h"

#include "bonsai/compress.h"
#include "bonsai/model.h"
#include "search/grouping.h"
#include "search/mckp.h"

#include <algorithm>
#include <cstdio>
#include <map>

namespace bonsai {

namespace {

std::string bytesText(double b)
{
    char buf[32];
    const double a = std::abs(b);
    if (a >= 1024.0 * 1024 * 1024)
        std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1024.0 * 1024 * 1024));
    else if (a >= 1024.0 * 1024)
        std::snprintf(buf, sizeof buf, "%.1f MiB", b / (1024.0 * 1024));
    else if (a >= 1024.0)
        std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
    else
        std::snprintf(buf, sizeof buf, "%.0f B", b);
    return buf;
}

std::string klText(double kl)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, kl != 0 && std::abs(kl) < 1e-3 ? "%.2e" : "%.4f", kl);
    return buf;
}

// The metric drop the solver counts for a cell: measured where it was, else the predicted KL
// times the model's median ratio of drop to KL.
struct Drops {
    double ratio = 0;
    explicit Drops(const SensitivityTable& t)
    {
        std::vector<double> r;
        for (const auto& row : t.cells)
            for (const auto& c : row)
                if (c.applicable && c.measured() && c.kl > 0 && !std::isnan(c.metricDelta))
                    r.push_back(drop(t, c.metricDelta) / c.kl);
        if (!r.empty()) {
            std::nth_element(r.begin(), r.begin() + r.size() / 2, r.end());
            ratio = r[r.size() / 2];
        }
    }
    // Accuracy falls (delta < 0 is worse), perplexity rises (delta > 0 is worse).
    static double drop(const SensitivityTable& t, double delta) { return t.languageModel ? delta : -delta; }
    double of(const SensitivityTable& t, size_t l, size_t c) const
    {
        const auto& cell = t.cells[l][c];
        if (cell.measured() && !std::isnan(cell.metricDelta))
            return drop(t, cell.metricDelta);
        return t.predictedKl(l, c) * ratio;
    }
};

// Groups of layers that share one choice (a tie), in order of their first layer.
std::vector<std::vector<size_t>> tieGroups(const SensitivityTable& t, const std::vector<std::string>& ties)
{
    return groupInOrder(t.layers.size(), [&](size_t l) { return tieKey(t.layers[l], ties); });
}

struct Problem {
    std::vector<std::vector<size_t>> groups;
    std::vector<MckpGroup> mckp;
    std::vector<std::vector<double>> bytes, kl, drop, latency; // [group][candidate]
};

Problem makeProblem(const SensitivityTable& t, const std::vector<int>& pins, const std::vector<std::string>& ties)
{
    Problem p;
    p.groups = tieGroups(t, ties);
    const Drops drops(t);
    const size_t C = t.candidates.size();
    for (const auto& g : p.groups) {
        std::vector<double> b(C, 0), k(C, 0), d(C, 0), ms(C, 0);
        int pin = -1;
        for (size_t l : g) {
            if (l < pins.size() && pins[l] >= 0)
                pin = pins[l];
            for (size_t c = 0; c < C; ++c) {
                const double kl = t.predictedKl(l, c);
                if (!t.cells[l][c].applicable || std::isnan(kl)) {
                    b[c] = k[c] = d[c] = ms[c] = kNotMeasured;
                    continue;
                }
                b[c] += double(t.cells[l][c].bytes);
                k[c] += kl;
                d[c] += drops.of(t, l, c);
                ms[c] += t.cells[l][c].latencyMs; // NaN stays NaN: not choosable under a latency budget
            }
        }
        p.bytes.push_back(std::move(b));
        p.kl.push_back(std::move(k));
        p.drop.push_back(std::move(d));
        p.latency.push_back(std::move(ms));
        MckpGroup mg;
        mg.pinned = pin < static_cast<int>(C) ? pin : -1;
        p.mckp.push_back(std::move(mg));
    }
    return p;
}

// Fills each group's items: minimize `value` subject to sum `cost` <= capacity. Resource
// budgets (bytes, latency) minimize the quality loss; quality bounds minimize the bytes.
void setItems(Problem& p, const SearchBudget& budget)
{
    const bool quality = budget.kind == BudgetKind::MaxKl || budget.kind == BudgetKind::MaxDrop;
    const bool useDrop = quality ? budget.kind == BudgetKind::MaxDrop : budget.objective == SearchObjective::Metric;
    for (size_t g = 0; g < p.groups.size(); ++g) {
        auto& items = p.mckp[g].items;
        items.clear();
        for (size_t c = 0; c < p.bytes[g].size(); ++c) {
            const double q = useDrop ? p.drop[g][c] : p.kl[g][c];
            if (quality)
                items.push_back({std::isnan(q) ? q : std::max(0.0, q), p.bytes[g][c]});
            else
                items.push_back({budget.kind == BudgetKind::LatencyMs ? p.latency[g][c] : p.bytes[g][c], q});
        }
    }
}

uint64_t searchedParams(const SensitivityTable& t)
{
    uint64_t n = 0;
    for (uint64_t p : t.params)
        n += p;
    return n;
}

void explain(const SensitivityTable& t, SearchSolution& s)
{
    for (size_t l = 0; l < s.choices.size(); ++l) {
        SearchChoice& ch = s.choices[l];
        if (ch.candidate < 0)
            continue;
        const size_t c = static_cast<size_t>(ch.candidate);
        const auto& cell = t.cells[l][c];
        const double kl = t.predictedKl(l, c);
        std::string e = t.candidates[c].name + ": KL " + klText(kl) + (cell.measured() ? "" : " (estimated)");
        const double saved = double(t.baseBytes[l]) - double(cell.bytes);
        e += saved >= 0 ? ", saves " + bytesText(saved) : ", costs " + bytesText(-saved) + " more";
        // The best smaller alternative: what the next step down would cost in quality.
        int alt = -1;
        double altKl = 0;
        for (size_t o = 0; o < t.candidates.size(); ++o) {
            const auto& oc = t.cells[l][o];
            const double ok = t.predictedKl(l, o);
            if (!oc.applicable || std::isnan(ok) || oc.bytes >= cell.bytes)
                continue;
            if (alt < 0 || ok < altKl) {
                alt = static_cast<int>(o);
                altKl = ok;
            }
        }
        if (alt >= 0)
            e += "; " + t.candidates[static_cast<size_t>(alt)].name + " would save " +
                 bytesText(double(cell.bytes) - double(t.cells[l][static_cast<size_t>(alt)].bytes)) +
                 " more at KL " + klText(altKl);
        if (ch.pinned)
            e += " (pinned)";
        ch.explanation = std::move(e);
    }
}

} // namespace

SearchSolution solveSearch(const SensitivityTable& t, const SearchBudget& budget, const std::vector<int>& pins,
                           const std::vector<std::string>& ties)
{
    SearchSolution s;
    Problem p = makeProblem(t, pins, ties);
    const bool sizeBudget = budget.kind == BudgetKind::Bytes || budget.kind == BudgetKind::BitsPerWeight;
    setItems(p, budget);
    const uint64_t params = searchedParams(t);
    const double capacity = budget.kind == BudgetKind::BitsPerWeight ? budget.value * double(params) / 8.0 : budget.value;
    MckpOptions mo;
    mo.maxNodes = 200000; // interactive: adversarial tables stop near 100 ms with the best found
    const MckpResult r = solveMckp(p.mckp, capacity, mo);
    s.choices.assign(t.layers.size(), SearchChoice{});
    if (!r.feasible) {
        s.message = sizeBudget ? "no choice of the candidates fits the budget"
                    : budget.kind == BudgetKind::LatencyMs
                        ? "no choice of the candidates with a measured latency fits the latency budget"
                        : "no choice of the candidates keeps the quality within the bound";
        return s;
    }
    s.feasible = true;
    s.optimal = r.optimal;
    double bytes = 0;
    for (size_t g = 0; g < p.groups.size(); ++g) {
        const int c = r.choice[g];
        bytes += p.bytes[g][static_cast<size_t>(c)];
        s.predictedKl += p.kl[g][static_cast<size_t>(c)];
        s.predictedDelta += p.drop[g][static_cast<size_t>(c)];
        s.latencyMs += p.latency[g][static_cast<size_t>(c)];
        for (size_t l : p.groups[g]) {
            s.choices[l].candidate = c;
            s.choices[l].pinned = p.mckp[g].pinned >= 0;
        }
    }
    s.bytes = static_cast<uint64_t>(bytes + 0.5);
    s.bitsPerWeight = params ? 8.0 * bytes / double(params) : 0;
    explain(t, s);
    return s;
}

std::vector<LayerConfig> solutionConfigs(const Model& model, const Recipe& recipe, const SensitivityTable& t,
                                         const SearchSolution& s)
{
    std::vector<LayerConfig> configs = resolveConfigs(model, recipe);
    for (size_t l = 0; l < t.layers.size() && l < s.choices.size(); ++l) {
        if (s.choices[l].candidate < 0)
            continue;
        LayerConfig c = t.base[l];
        t.candidates[static_cast<size_t>(s.choices[l].candidate)].patch.applyTo(c);
        configs[static_cast<size_t>(t.layerIndex[l])] = c;
    }
    return configs;
}

Recipe solutionRecipe(const Model& model, const Recipe& recipe, const SensitivityTable& t, const SearchSolution& s)
{
    std::vector<std::string> names;
    for (const auto& l : model.layers)
        names.push_back(l.name);
    LayerConfig defaults;
    recipe.defaults.applyTo(defaults);
    Recipe out = Recipe::fromConfigs(names, solutionConfigs(model, recipe, t, s), defaults);
    out.search = recipe.search;
    return out;
}

std::vector<FrontPoint> searchFront(const SensitivityTable& t, int steps, const std::vector<int>& pins,
                                    const std::vector<std::string>& ties)
{
    std::vector<FrontPoint> front;
    Problem p = makeProblem(t, pins, ties);
    double lo = 0, hi = 0;
    for (size_t g = 0; g < p.groups.size(); ++g) {
        double mn = -1, mx = -1;
        for (double b : p.bytes[g])
            if (!std::isnan(b)) {
                mn = mn < 0 ? b : std::min(mn, b);
                mx = std::max(mx, b);
            }
        if (mn < 0)
            return front;
        lo += mn;
        hi += mx;
    }
    const uint64_t params = searchedParams(t);
    steps = std::max(2, steps);
    for (int i = 0; i < steps; ++i) {
        SearchBudget b{BudgetKind::Bytes, lo + (hi - lo) * double(i) / double(steps - 1)};
        const SearchSolution s = solveSearch(t, b, pins, ties);
        if (!s.feasible)
            continue;
        if (!front.empty() && front.back().bytes == s.bytes)
            continue;
        front.push_back({params ? 8.0 * double(s.bytes) / double(params) : 0, s.bytes, s.predictedKl, s.predictedDelta});
    }
    return front;
}

} // namespace bonsai
