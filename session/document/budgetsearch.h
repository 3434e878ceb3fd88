#pragma once
// The budget search's state beside the compression document: the sensitivity table (live
// while it is measured), the budget, the pinned layers and the solver's last solution, and
// the predicted front. Solving (bonsai::solveSearch) gives the searched layers of the
// document their chosen configuration as one undoable step (budget moves in one drag merge
// into one step); pinning or unpinning a layer is one undoable step too, the pin and the
// configurations it leads to together. Which candidate a layer has is read from the document
// itself, so undo, redo and edits elsewhere show in the map as they are. Solving runs on the
// calling thread while it is fast (under FastSolveMs); after a slower solve, later ones run on
// a worker, newest request wins. The front is computed on the worker. Qt Core only.
#include "bonsai/search.h"

#include "jobtracker.h"
#include "tradeoffmodel.h"

#include <QObject>
#include <QString>

#include <memory>
#include <vector>

namespace bonsai::ui {

class CompressionDocument;

class BudgetSearch : public QObject {
    Q_OBJECT
public:
    static constexpr double FastSolveMs = 100;
    // The merge key of budget edits in the document's undo stack (one drag, one step).
    static constexpr int MergeBudget = 64;

    explicit BudgetSearch(CompressionDocument* doc, QObject* parent = nullptr);
    ~BudgetSearch() override;

    CompressionDocument* document() const { return m_doc; }
    // A new table: `complete` once its measurement ended. A table of other layers or
    // candidates than the current one clears the pins and the solution.
    void setTable(std::shared_ptr<const bonsai::SensitivityTable> table, bool complete);
    const bonsai::SensitivityTable* table() const { return m_table.get(); }
    std::shared_ptr<const bonsai::SensitivityTable> sharedTable() const { return m_table; }
    bool isComplete() const { return m_complete; }
    void clear(); // no table (a new model)

    // Tied groups ("qkv", "gate_up": bonsai::tieKey): layers of a group share one candidate.
    // An undoable step with the re-solve it leads to.
    void setTies(const std::vector<std::string>& ties);
    // Without undo or solving: a new model's default ties.
    void setTiesQuiet(const std::vector<std::string>& ties) { m_ties = ties; }
    const std::vector<std::string>& ties() const { return m_ties; }

    // The budget: solves and applies (merged with the previous budget edit of this drag; end
    // a drag with the document's endDrag()).
    void setBudget(const bonsai::SearchBudget& budget);
    bonsai::SearchBudget budget() const { return m_budget; }
    // The budget the next solve() uses, without solving now.
    void setBudgetQuiet(const bonsai::SearchBudget& budget) { m_budget = budget; }
    // The range a budget of `kind` can take on this table: from the smallest configuration
    // to the largest (sizes), from the best to the worst predicted KL / metric drop, or from
    // the fastest to the slowest measured latency.
    std::pair<double, double> budgetRange(bonsai::BudgetKind kind) const;
    // Solves for the current budget and pins and gives the document the solution (undoable,
    // labelled `text`; empty: from the budget).
    void solve(const QString& text = {});

    // Pins (searched-layer rows): undoable, each with the re-solve around it.
    void pin(int row, int candidate);
    void unpin(int row);
    void togglePin(int row, int candidate); // a click on a cell
    int pinned(int row) const;               // -1: free
    const std::vector<int>& pins() const { return m_pins; }

    const bonsai::SearchSolution& solution() const { return m_solution; }
    double lastSolveMs() const { return m_lastSolveMs; }
    // The candidate whose configuration the layer has in the document now (-1: none).
    int chosen(int row) const;
    // Why the layer has what it has: the solver's explanation while the document holds the
    // solution's choice, else what the layer holds now.
    QString explanation(int row) const;
    // The configuration candidate `candidate` gives searched layer `row`.
    bonsai::LayerConfig candidateConfig(int row, int candidate) const;

    const std::vector<bonsai::FrontPoint>& front() const { return m_front; }
    // The front as sizes of the whole model and the metric the trade-off chart shows
    // (top-1 accuracy as a fraction, or perplexity); points without a metric are left out.
    std::vector<PredictedPoint> predictedFront() const;
    // Solves and front computations still running on the worker.
    bool isBusy() const { return m_solveJobs.isBusy() || m_frontJobs.isBusy(); }
    void waitForIdle();

signals:
    void tableChanged(bool shapeChanged);
    void pinsChanged();
    void tiesChanged();
    void solved();          // a new solution (it may change the document)
    void choicesChanged();  // the document's configuration of searched layers changed
    void frontChanged();

private:
    friend class SearchEditCommand;
    struct Edit { // what a pin or tie command sets
        std::vector<int> pins;
        std::vector<std::string> ties;
    };
    void setFromCommand(const Edit& edit, quint64 tableKey);
    void pushEdit(const Edit& after, const QString& text);
    void applySolution(const bonsai::SearchSolution& solution, const QString& text, int mergeKey);
    void solveWith(const QString& text, int mergeKey);
    void updateFront();
    QString budgetText() const;

    CompressionDocument* m_doc;
    std::shared_ptr<const bonsai::SensitivityTable> m_table;
    quint64 m_tableKey = 0; // changes with the table's layers and candidates
    bool m_complete = false;
    bonsai::SearchBudget m_budget;
    std::vector<std::string> m_ties;
    std::vector<int> m_pins;
    bonsai::SearchSolution m_solution;
    std::vector<bonsai::FrontPoint> m_front;
    double m_lastSolveMs = 0;
    JobTracker m_solveJobs{this};
    JobTracker m_frontJobs{this};
};

} // namespace bonsai::ui
