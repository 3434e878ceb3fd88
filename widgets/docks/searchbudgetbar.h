#pragma once
// The budget search's budget row and solution line. The budget's kind (size, bits per weight, a
// bound on the predicted ΔKL or on the metric's drop, the measured latency) with a slider and a number that follow
// each other: each move re-solves (BudgetSearch::setBudget) and the document takes the
// solution, one undo step per drag. The slider runs over the range the kind can take on the
// table (BudgetSearch::budgetRange), linearly, and logarithmically for ΔKL. Under it, the
// solution: its size, bits per weight, predicted ΔKL and metric change, or why none fits.
#include "bonsai/search.h"

#include <QWidget>

#include <utility>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QSlider;

namespace bonsai::ui {

class BudgetSearch;

class SearchBudgetBar : public QWidget {
    Q_OBJECT
public:
    static constexpr int SliderSteps = 1000;

    explicit SearchBudgetBar(BudgetSearch* search, QWidget* parent = nullptr);

    // A new model: the drop bound named for its metric; no budget chosen yet.
    void reset(bool languageModel);
    // The range of the current kind on the search's table; the value kept within it.
    void updateRange();
    // The user (or a caller) set a budget: the range no longer follows the measurement.
    bool isBudgetChosen() const { return m_budgetChosen; }
    bool isRangeEmpty() const { return m_range.first == m_range.second; }

    void setKind(bonsai::BudgetKind kind);
    bonsai::BudgetKind kind() const;
    // What a size or latency budget minimizes (the summed ΔKL or metric drop); re-solves.
    void setObjective(bonsai::SearchObjective objective);
    bonsai::SearchObjective objective() const;
    void setValue(double value); // in the kind's unit: bytes, bits/weight, nats, drop
    double value() const;
    void setSliderPosition(int position); // 0..SliderSteps, as a user drag would end there

    QString solutionText() const;
    // The height of the budget row and a one-line solution, with the spacing between them.
    int compactHeight() const;

private:
    void showSolution();
    void onSliderMoved(int position);
    void onSpinEdited();
    void choose(double value); // gives the search the budget and ends the undo step
    double valueAt(int position) const;
    int positionOf(double value) const;
    double spinScale() const; // spin box unit per budget unit (bytes in KiB or MiB, points)

    BudgetSearch* m_search;
    bool m_llm = false;
    std::pair<double, double> m_range{0, 0};
    bool m_budgetChosen = false;
    bool m_syncing = false; // slider and spin box follow each other

    QComboBox* m_kind = nullptr;
    QComboBox* m_objective = nullptr;
    QSlider* m_slider = nullptr;
    QDoubleSpinBox* m_value = nullptr;
    QLabel* m_solution = nullptr;
};

} // namespace bonsai::ui
