// Multiple-choice knapsack: LP relaxation over per-group convex hulls, rounding and repair,
// reduced-cost fixing, then depth-first branch and bound on the LP's fractional group (see
// mckp.h for the method and its tolerances).
#include "search/mckp.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace bonsai {

namespace {

// A choosable, non-dominated item of a group.
struct Option {
    double cost = 0, value = 0;
    int index = 0; // in MckpGroup::items
};
using Options = std::vector<Option>; // by strictly increasing cost, strictly decreasing value

bool choosable(const MckpItem& it) { return std::isfinite(it.cost) && std::isfinite(it.value); }

Options paretoFront(const MckpGroup& g, bool honourPin)
{
    const int n = static_cast<int>(g.items.size());
    Options all;
    if (honourPin && g.pinned >= 0) {
        if (g.pinned < n && choosable(g.items[g.pinned]))
            all.push_back({g.items[g.pinned].cost, g.items[g.pinned].value, g.pinned});
        return all;
    }
    for (int i = 0; i < n; ++i)
        if (choosable(g.items[i]))
            all.push_back({g.items[i].cost, g.items[i].value, i});
    std::sort(all.begin(), all.end(), [](const Option& a, const Option& b) {
        if (a.cost != b.cost)
            return a.cost < b.cost;
        return a.value != b.value ? a.value < b.value : a.index < b.index;
    });
    Options front;
    for (const Option& o : all)
        if (front.empty() || o.value < front.back().value)
            front.push_back(o);
    return front;
}

// Value decrease per unit of cost going from a to the costlier b.
double efficiency(const Option& a, const Option& b) { return (a.value - b.value) / (b.cost - a.cost); }

// Positions in `front` of its lower convex hull. The hull is built with efficiency() itself, so
// the efficiencies of successive steps, as computed, strictly decrease: sorting all steps by
// efficiency then keeps each group's steps in order, which the LP greedy relies on.
std::vector<int> hullPositions(const Options& front)
{
    std::vector<int> h;
    for (int i = 0; i < static_cast<int>(front.size()); ++i) {
        while (h.size() >= 2 && efficiency(front[h[h.size() - 2]], front[h.back()]) <= efficiency(front[h.back()], front[i]))
            h.pop_back();
        h.push_back(i);
    }
    return h;
}

double sumCost(const std::vector<MckpGroup>& groups, const std::vector<int>& choice)
{
    double s = 0;
    for (size_t g = 0; g < groups.size(); ++g)
        s += groups[g].items[choice[g]].cost;
    return s;
}

double sumValue(const std::vector<MckpGroup>& groups, const std::vector<int>& choice)
{
    double s = 0;
    for (size_t g = 0; g < groups.size(); ++g)
        s += groups[g].items[choice[g]].value;
    return s;
}

// The LP relaxation of a set of groups (each an Options list; position 0 is the cheapest).
class Relaxation {
public:
    struct Step {
        double eff, dc, dv;
        int group, to; // the step moves `group` to position `to` of its options
    };
    struct Walk {
        double gain = 0;        // value decrease below the groups' cheapest items, LP optimum
        double roundedGain = 0; // the same without the fractional step
        int frac = -1;          // the fractional step (index in steps()), -1 when none
    };

    explicit Relaxation(const std::vector<Options>& opts)
    {
        for (int g = 0; g < static_cast<int>(opts.size()); ++g) {
            const std::vector<int> h = hullPositions(opts[g]);
            for (size_t k = 1; k < h.size(); ++k) {
                const Option& a = opts[g][h[k - 1]];
                const Option& b = opts[g][h[k]];
                steps_.push_back({efficiency(a, b), b.cost - a.cost, a.value - b.value, g, h[k]});
            }
        }
        // Stable: equal efficiencies stay in group order, so the walk is deterministic.
        std::stable_sort(steps_.begin(), steps_.end(), [](const Step& a, const Step& b) { return a.eff > b.eff; });
    }

    const std::vector<Step>& steps() const { return steps_; }

    // The greedy over the steps of the groups not `fixed`, with `room` = capacity left once
    // every free group holds its cheapest option (>= 0).
    Walk walk(double room, const std::vector<char>& fixed) const
    {
        Walk w;
        for (int k = 0; k < static_cast<int>(steps_.size()); ++k) {
            const Step& s = steps_[k];
            if (fixed[s.group])
                continue;
            if (s.dc <= room) {
                room -= s.dc;
                w.gain += s.dv;
            } else {
                w.roundedGain = w.gain;
                w.gain += s.dv * (room / s.dc);
                w.frac = k;
                return w;
            }
        }
        w.roundedGain = w.gain;
        return w;
    }

    // The positions the walk reaches with the fractional step rounded down (pos[g] of the free
    // groups must be 0 on entry).
    void rounded(double room, const std::vector<char>& fixed, std::vector<int>& pos) const
    {
        for (const Step& s : steps_) {
            if (fixed[s.group])
                continue;
            if (s.dc > room)
                return;
            room -= s.dc;
            pos[s.group] = s.to;
        }
    }

private:
    std::vector<Step> steps_;
};

// Spends the capacity a feasible choice leaves on upgrades to any non-dominated item, the best
// value decrease per unit of cost first, until none fits. Each accepted upgrade is checked on
// the sum in group order, so the choice stays within `limit` exactly as reported.
void repair(const std::vector<MckpGroup>& groups, const std::vector<Options>& fronts, std::vector<int>& choice,
            double limit)
{
    double cost = sumCost(groups, choice);
    for (;;) {
        const double room = limit - cost;
        int bestGroup = -1, bestItem = -1;
        double bestEff = 0;
        for (size_t g = 0; g < fronts.size(); ++g) {
            const MckpItem& cur = groups[g].items[choice[g]];
            for (const Option& o : fronts[g]) {
                if (o.cost <= cur.cost)
                    continue;
                const double dc = o.cost - cur.cost;
                if (dc > room)
                    break;
                const double eff = (cur.value - o.value) / dc;
                if (eff > bestEff) {
                    bestEff = eff;
                    bestGroup = static_cast<int>(g);
                    bestItem = o.index;
                }
            }
        }
        if (bestGroup < 0)
            return;
        const int old = choice[bestGroup];
        choice[bestGroup] = bestItem;
        const double next = sumCost(groups, choice);
        if (!(next <= limit)) {
            choice[bestGroup] = old;
            return;
        }
        cost = next;
    }
}

// The groups left to search after reduced-cost fixing (the core) and the choice outside it.
struct Core {
    const std::vector<MckpGroup>* groups = nullptr;
    const std::vector<Options>* fronts = nullptr; // all groups, for repair
    std::vector<int> groupOf;                     // group index of each core group
    std::vector<Options> opts;                    // the options each core group keeps
    std::vector<int> base;                        // the choice outside the core (core entries unused)
    double limit = 0, tol = 0;
    double room = 0;   // capacity left with the core groups at their cheapest options
    double value = 0;  // the value then
    bool proven = false; // some group keeps no option: nothing beats the incumbent
};

// Reduced-cost fixing. With the LP multiplier lambda, every choice x satisfies
// value(x) >= lowerBound + sum_g r_g(x_g), r_g(i) = v_i + lambda c_i - min_j (v_j + lambda c_j),
// so an option with r >= gap = best - lowerBound (less the tolerance) cannot be part of a
// better choice. The margin `err` covers the rounding of r. Groups left with one option go to
// the base choice, the others to the core.
void reduce(const std::vector<Options>& fronts, double lambda, double gap, Core& core)
{
    const size_t n = fronts.size();
    core.base.assign(n, 0);
    double fixedCost = 0, fixedValue = 0;
    for (size_t g = 0; g < n; ++g) {
        double m = std::numeric_limits<double>::infinity();
        for (const Option& o : fronts[g])
            m = std::min(m, o.value + lambda * o.cost);
        Options kept;
        for (const Option& o : fronts[g]) {
            const double r = o.value + lambda * o.cost - m;
            const double err = 1e-15 * (std::abs(o.value) + lambda * std::abs(o.cost) + std::abs(m));
            if (r - err < gap)
                kept.push_back(o);
        }
        if (kept.empty()) {
            core.proven = true;
            return;
        }
        if (kept.size() == 1) {
            core.base[g] = kept[0].index;
            fixedCost += kept[0].cost;
            fixedValue += kept[0].value;
        } else {
            core.groupOf.push_back(static_cast<int>(g));
            core.opts.push_back(std::move(kept));
        }
    }
    core.room = core.limit - fixedCost;
    core.value = fixedValue;
    for (const Options& o : core.opts) {
        core.room -= o[0].cost;
        core.value += o[0].value;
    }
}

// Depth-first branch and bound over the core. A node fixes some core groups; its bound is the
// value so far plus the LP of the free ones. It branches on the LP's fractional group; the
// children are bounded first and visited in order of bound (best first), those that cannot
// beat the best value not at all. Every LP evaluated counts as a node.
class BranchAndBound {
public:
    // Stops early (restart() true) once the best value falls below restartBelow.
    BranchAndBound(const Core& core, double best, std::vector<int> bestChoice, int64_t maxNodes, double restartBelow)
        : c_(core), lp_(core.opts), fixed_(core.opts.size(), 0), chosen_(core.opts.size(), 0),
          children_(core.opts.size() + 1), maxNodes_(maxNodes), restartBelow_(restartBelow), best_(best),
          bestChoice_(std::move(bestChoice))
    {
    }

    void run()
    {
        if (c_.room >= 0 && count())
            visit(c_.room, c_.value, lp_.walk(c_.room, fixed_), 0);
    }

    bool aborted() const { return aborted_; }
    bool restart() const { return restart_; }
    int64_t nodes() const { return nodes_; }
    double best() const { return best_; }
    const std::vector<int>& bestChoice() const { return bestChoice_; }

private:
    struct Child {
        double bound;
        int item;
        double room;
        Relaxation::Walk walk;
    };

    bool count()
    {
        if (nodes_ >= maxNodes_) {
            aborted_ = true;
            return false;
        }
        ++nodes_;
        return true;
    }

    // room: capacity left with the free groups at their cheapest options; value0: the value
    // then; w: the node's LP.
    void visit(double room, double value0, const Relaxation::Walk& w, int depth)
    {
        const double bound = value0 - w.gain;
        if (bound >= best_ - c_.tol)
            return;
        if (value0 - w.roundedGain < best_ - c_.tol)
            offer(room);
        if (w.frac < 0 || bound >= best_ - c_.tol)
            return;

        const int g = lp_.steps()[w.frac].group;
        const Options& o = c_.opts[g];
        fixed_[g] = 1;
        std::vector<Child>& kids = children_[depth];
        kids.clear();
        for (int i = 0; i < static_cast<int>(o.size()); ++i) {
            const double r = room + o[0].cost - o[i].cost;
            if (r < 0)
                continue;
            if (!count())
                break;
            const Relaxation::Walk cw = lp_.walk(r, fixed_);
            const double cb = value0 - o[0].value + o[i].value - cw.gain;
            if (cb < best_ - c_.tol)
                kids.push_back({cb, i, r, cw});
        }
        std::stable_sort(kids.begin(), kids.end(), [](const Child& a, const Child& b) { return a.bound < b.bound; });
        for (const Child& k : kids) {
            if (aborted_ || restart_)
                break;
            chosen_[g] = k.item;
            visit(k.room, value0 - o[0].value + o[k.item].value, k.walk, depth + 1);
        }
        fixed_[g] = 0;
    }

    // The node's LP solution rounded down, repaired; kept if it beats the best.
    void offer(double room)
    {
        std::vector<int> pos(c_.opts.size(), 0);
        lp_.rounded(room, fixed_, pos);
        std::vector<int> choice = c_.base;
        for (size_t k = 0; k < c_.opts.size(); ++k)
            choice[c_.groupOf[k]] = c_.opts[k][fixed_[k] ? chosen_[k] : pos[k]].index;
        if (!(sumCost(*c_.groups, choice) <= c_.limit))
            return;
        repair(*c_.groups, *c_.fronts, choice, c_.limit);
        const double v = sumValue(*c_.groups, choice);
        if (v < best_) {
            best_ = v;
            bestChoice_ = std::move(choice);
            restart_ = best_ < restartBelow_;
        }
    }

    const Core& c_;
    const Relaxation lp_;
    std::vector<char> fixed_;
    std::vector<int> chosen_;
    std::vector<std::vector<Child>> children_; // per depth, reused
    const int64_t maxNodes_;
    const double restartBelow_;
    int64_t nodes_ = 0;
    bool aborted_ = false, restart_ = false;
    double best_;
    std::vector<int> bestChoice_;
};

} // namespace

double mckpCapacityLimit(double capacity)
{
    if (!std::isfinite(capacity))
        return capacity;
    return capacity + 1e-12 * std::abs(capacity) + 1e-15;
}

MckpResult solveMckp(const std::vector<MckpGroup>& groups, double capacity, const MckpOptions& options)
{
    MckpResult res;
    res.lowerBound = std::numeric_limits<double>::infinity();
    const double limit = mckpCapacityLimit(capacity);
    const size_t n = groups.size();
    std::vector<Options> fronts(n);
    std::vector<int> cheapest(n);
    double minCost = 0, baseValue = 0, valueScale = 0;
    for (size_t g = 0; g < n; ++g) {
        fronts[g] = paretoFront(groups[g], true);
        if (fronts[g].empty())
            return res;
        cheapest[g] = fronts[g][0].index;
        minCost += fronts[g][0].cost;
        baseValue += fronts[g][0].value;
        double m = 0;
        for (const Option& o : fronts[g])
            m = std::max(m, std::abs(o.value));
        valueScale += m;
    }
    if (!(minCost <= limit)) // also false for a NaN capacity
        return res;
    res.feasible = true;

    // LP relaxation, its rounding and repair.
    const Relaxation lp(fronts);
    const std::vector<char> none(n, 0);
    const double room = limit - minCost;
    const Relaxation::Walk w = lp.walk(room, none);
    res.lowerBound = baseValue - w.gain;
    std::vector<int> pos(n, 0);
    lp.rounded(room, none, pos);
    std::vector<int> choice(n);
    for (size_t g = 0; g < n; ++g)
        choice[g] = fronts[g][pos[g]].index;
    if (!(sumCost(groups, choice) <= limit)) // rounding at the very edge: start from the cheapest
        choice = cheapest;
    repair(groups, fronts, choice, limit);
    double best = sumValue(groups, choice);

    const double tol = 1e-12 * std::max(std::abs(best), std::abs(res.lowerBound)) + 1e-15 * valueScale;
    const double lambda = w.frac >= 0 ? lp.steps()[w.frac].eff : 0.0;
    bool optimal = false;
    int64_t budget = options.maxNodes;
    // Each round fixes what the incumbent allows and searches the rest. A round that finds a
    // choice halving the gap to the bound restarts: a smaller gap fixes more options.
    for (;;) {
        if (best - res.lowerBound <= tol) {
            optimal = true;
            break;
        }
        Core core;
        core.groups = &groups;
        core.fronts = &fronts;
        core.limit = limit;
        core.tol = tol;
        reduce(fronts, lambda, best - res.lowerBound - tol, core);
        if (core.proven) {
            optimal = true;
            break;
        }
        if (core.opts.empty()) {
            // Every group is fixed: that one choice is the only candidate to beat the incumbent.
            if (sumCost(groups, core.base) <= limit && sumValue(groups, core.base) < best) {
                choice = core.base;
                best = sumValue(groups, choice);
            }
            optimal = true;
            break;
        }
        BranchAndBound bb(core, best, choice, budget, res.lowerBound + (best - res.lowerBound) / 2);
        bb.run();
        res.nodes += bb.nodes();
        budget -= bb.nodes();
        choice = bb.bestChoice();
        best = bb.best();
        if (!bb.restart()) {
            optimal = !bb.aborted();
            break;
        }
    }

    res.optimal = optimal;
    res.choice = std::move(choice);
    res.cost = sumCost(groups, res.choice);
    res.value = sumValue(groups, res.choice);
    return res;
}

std::vector<int> lowerHull(const MckpGroup& group)
{
    const Options front = paretoFront(group, false);
    std::vector<int> out;
    for (int p : hullPositions(front))
        out.push_back(front[p].index);
    return out;
}

} // namespace bonsai
