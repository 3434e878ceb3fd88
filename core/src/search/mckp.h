#pragma once
// Multiple-choice knapsack (MCKP): pick exactly one item in every group so that the sum of the
// items' values is smallest while the sum of their costs stays within a capacity.
//
// The budget search uses it both ways round: cost = bytes and value = quality loss (smallest
// loss for a size budget), and cost = quality loss and value = bytes (smallest model for a
// quality bound). Costs may therefore be tiny (1e-6) and capacities small (0.01); nothing is
// discretized. Values may be any finite doubles.
//
// Method. Per group, dominated items (cost >= and value >= another's, one strictly) are dropped
// and the lower convex hull of (cost, value) taken. The LP relaxation is solved exactly by the
// greedy over hull steps in order of value decrease per cost increase (Sinha & Zoltners;
// Dyer & Zemel): every group starts at its cheapest item, steps are taken while they fit and
// the first that does not is taken fractionally. Its value is lowerBound. Rounding the
// fractional step down and greedily spending the capacity left on any item's upgrade gives a
// first solution. Reduced costs at the LP's multiplier then remove the items that cannot be
// part of a better solution (most groups keep one item), and a depth-first branch and bound
// over the remaining groups proves optimality or stops at MckpOptions::maxNodes. It branches
// on the LP's fractional group; each child is bounded by the LP of the groups still free and
// the children are visited best bound first. When the search finds a solution that halves the
// gap to the LP bound it starts over with the fixing that smaller gap allows.
//
// Tolerances. A choice fits when its cost, summed in group order, is <= mckpCapacityLimit(
// capacity) = capacity + 1e-12 |capacity| + 1e-15, so that a budget met exactly is not lost to
// rounding. Subtrees whose bound is within about 1e-12 (relative) of the best value are not
// searched: "optimal" means optimal to that precision.
//
// Items whose cost or value is NaN or infinite cannot be chosen. A group with no choosable item
// (or pinned to an index out of range or to an unchoosable item) makes the problem infeasible.
#include <cstdint>
#include <vector>

namespace bonsai {

struct MckpItem {
    double cost = 0;
    double value = 0; // the quantity to minimize
};

struct MckpGroup {
    std::vector<MckpItem> items;
    int pinned = -1; // >= 0: only items[pinned] may be chosen
};

struct MckpOptions {
    int64_t maxNodes = 2'000'000; // branch-and-bound nodes (LP evaluations) before giving up
};

struct MckpResult {
    bool feasible = false;   // some choice fits the capacity
    bool optimal = false;    // proven optimal (the search finished within maxNodes)
    std::vector<int> choice; // per group, the index of the chosen item; empty when infeasible
    double cost = 0, value = 0; // of the choice, summed in group order
    double lowerBound = 0;   // the whole problem's LP bound on the optimal value (the search
                             // does not raise it); +infinity when infeasible
    int64_t nodes = 0;       // branch-and-bound nodes (LP evaluations) used
};

// The largest total cost accepted for `capacity` (see Tolerances above).
double mckpCapacityLimit(double capacity);

// Minimizes the sum of values subject to the sum of costs <= capacity, one item per group.
// Without feasibility the result has feasible = false and an empty choice. When the node limit
// stops the search, the best choice found is returned with optimal = false.
MckpResult solveMckp(const std::vector<MckpGroup>& groups, double capacity, const MckpOptions& options = {});

// Indices of the group's lower convex hull in the (cost, value) plane, by increasing cost: from
// the cheapest item (the lowest-valued of equally cheap ones) to the lowest-valued item (the
// cheapest of those), keeping only corners (points on a hull edge's interior are left out) and
// of identical items the first. `pinned` is ignored: this describes the candidates.
std::vector<int> lowerHull(const MckpGroup& group);

} // namespace bonsai
