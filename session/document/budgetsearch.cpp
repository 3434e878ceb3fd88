#include "budgetsearch.h"

#include "compressiondocument.h"
#include "configtext.h"
#include "formatting.h"

#include "bonsai/model.h"

#include <QElapsedTimer>
#include <QPointer>
#include <QUndoCommand>
#include <QUndoStack>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace bonsai::ui {

// The pins and ties before and after one pin, unpin or tie change; the configurations it led
// to are the document's own command, pushed after it in the same macro.
class SearchEditCommand : public QUndoCommand {
public:
    SearchEditCommand(BudgetSearch* search, BudgetSearch::Edit before, BudgetSearch::Edit after, quint64 tableKey,
                      const QString& text)
        : QUndoCommand(text), m_search(search), m_before(std::move(before)), m_after(std::move(after)),
          m_tableKey(tableKey)
    {
    }
    void undo() override
    {
        if (m_search)
            m_search->setFromCommand(m_before, m_tableKey);
    }
    void redo() override
    {
        if (m_search)
            m_search->setFromCommand(m_after, m_tableKey);
    }

private:
    QPointer<BudgetSearch> m_search;
    BudgetSearch::Edit m_before, m_after;
    quint64 m_tableKey;
};

namespace {

quint64 shapeKey(const bonsai::SensitivityTable& t)
{
    std::string s;
    for (const auto& l : t.layers)
        s += l + '\n';
    s += '\x01';
    for (const auto& c : t.candidates)
        s += c.name + '\t' + c.patch.toJson() + '\n';
    return quint64(std::hash<std::string>{}(s)) | 1; // never 0 (no table)
}

// The metric's change as a drop (positive = worse): accuracy falls, perplexity rises.
double dropOf(const bonsai::SensitivityTable& t, const bonsai::SensitivityCell& c)
{
    return t.languageModel ? c.metricDelta : -c.metricDelta;
}

} // namespace

BudgetSearch::BudgetSearch(CompressionDocument* doc, QObject* parent) : QObject(parent), m_doc(doc)
{
    connect(doc, &CompressionDocument::modelReset, this, &BudgetSearch::clear);
    connect(doc, &CompressionDocument::configChanged, this, [this](const QList<int>& layers) {
        if (!m_table)
            return;
        for (int l : layers)
            if (std::find(m_table->layerIndex.begin(), m_table->layerIndex.end(), l) != m_table->layerIndex.end()) {
                emit choicesChanged();
                return;
            }
    });
}

BudgetSearch::~BudgetSearch()
{
    m_solveJobs.cancel();
    m_frontJobs.cancel();
    waitForIdle();
}

void BudgetSearch::waitForIdle()
{
    m_solveJobs.waitForIdle();
    m_frontJobs.waitForIdle();
}

void BudgetSearch::clear()
{
    m_solveJobs.cancel();
    m_frontJobs.cancel();
    const bool had = m_table != nullptr;
    m_table.reset();
    m_tableKey = 0;
    m_complete = false;
    m_pins.clear();
    m_solution = {};
    m_front.clear();
    m_lastSolveMs = 0;
    if (had) {
        emit tableChanged(true);
        emit pinsChanged();
        emit frontChanged();
    }
}

void BudgetSearch::setTable(std::shared_ptr<const bonsai::SensitivityTable> table, bool complete)
{
    if (!table || table->cells.size() != table->layers.size() || table->layers.empty()) {
        clear();
        return;
    }
    const quint64 key = shapeKey(*table);
    const bool shapeChanged = key != m_tableKey;
    m_table = std::move(table);
    m_tableKey = key;
    m_complete = complete;
    if (shapeChanged) {
        m_pins.assign(m_table->layers.size(), -1);
        m_solution = {};
        m_front.clear();
        m_frontJobs.cancel();
    }
    emit tableChanged(shapeChanged);
    if (shapeChanged) {
        emit pinsChanged();
        emit frontChanged();
    }
    if (complete)
        updateFront();
}

bonsai::LayerConfig BudgetSearch::candidateConfig(int row, int candidate) const
{
    bonsai::LayerConfig c = m_table->base.at(size_t(row));
    m_table->candidates.at(size_t(candidate)).patch.applyTo(c);
    return c;
}

int BudgetSearch::chosen(int row) const
{
    if (!m_table || row < 0 || size_t(row) >= m_table->layers.size())
        return -1;
    const int layer = m_table->layerIndex[size_t(row)];
    if (layer < 0 || layer >= m_doc->layerCount())
        return -1;
    const bonsai::LayerConfig& now = m_doc->config(layer);
    // The solver's pick first: two candidates may give one configuration.
    const auto& choices = m_solution.choices;
    if (size_t(row) < choices.size() && choices[size_t(row)].candidate >= 0 &&
        candidateConfig(row, choices[size_t(row)].candidate) == now)
        return choices[size_t(row)].candidate;
    for (size_t c = 0; c < m_table->candidates.size(); ++c)
        if (m_table->cells[size_t(row)][c].applicable && candidateConfig(row, int(c)) == now)
            return int(c);
    return -1;
}

int BudgetSearch::pinned(int row) const
{
    return row >= 0 && size_t(row) < m_pins.size() ? m_pins[size_t(row)] : -1;
}

QString BudgetSearch::explanation(int row) const
{
    if (!m_table || row < 0 || size_t(row) >= m_table->layers.size())
        return {};
    const int c = chosen(row);
    const auto& choices = m_solution.choices;
    if (c >= 0 && size_t(row) < choices.size() && choices[size_t(row)].candidate == c &&
        !choices[size_t(row)].explanation.empty())
        return qstr(choices[size_t(row)].explanation);
    if (c >= 0) {
        const auto& cell = m_table->cells[size_t(row)][size_t(c)];
        return tr("%1: ΔKL %2, %3 (not the search's choice: set by hand or by another step)")
            .arg(qstr(m_table->candidates[size_t(c)].name),
                 QString::number(m_table->predictedKl(size_t(row), size_t(c)), 'g', 3), formatBytes(cell.bytes));
    }
    const int layer = m_table->layerIndex[size_t(row)];
    if (layer < 0 || layer >= m_doc->layerCount())
        return {};
    return tr("%1 (none of the candidates: set by hand)").arg(precisionText(m_doc->config(layer)));
}

std::pair<double, double> BudgetSearch::budgetRange(bonsai::BudgetKind kind) const
{
    if (!m_table)
        return {0, 0};
    const auto& t = *m_table;
    double lo = 0, hi = 0;
    uint64_t params = 0;
    for (size_t r = 0; r < t.layers.size(); ++r) {
        params += t.params[r];
        double rowLo = INFINITY, rowHi = -INFINITY;
        for (size_t c = 0; c < t.candidates.size(); ++c) {
            const auto& cell = t.cells[r][c];
            if (!cell.applicable)
                continue;
            double v = double(cell.bytes);
            if (kind == bonsai::BudgetKind::MaxKl)
                v = t.predictedKl(r, c);
            else if (kind == bonsai::BudgetKind::MaxDrop)
                v = dropOf(t, cell) < 0 ? 0.0 : dropOf(t, cell); // no layer counts as a gain (NaN stays)
            else if (kind == bonsai::BudgetKind::LatencyMs)
                v = cell.latencyMs;
            if (std::isnan(v))
                continue;
            rowLo = std::min(rowLo, v);
            rowHi = std::max(rowHi, v);
        }
        if (std::isfinite(rowLo)) {
            lo += rowLo;
            hi += rowHi;
        }
    }
    if (kind == bonsai::BudgetKind::BitsPerWeight) {
        if (!params)
            return {0, 0};
        return {8 * lo / double(params), 8 * hi / double(params)};
    }
    return {lo, hi};
}

QString BudgetSearch::budgetText() const
{
    switch (m_budget.kind) {
    case bonsai::BudgetKind::Bytes: return tr("Budget search: %1").arg(formatBytes(uint64_t(m_budget.value)));
    case bonsai::BudgetKind::BitsPerWeight:
        return tr("Budget search: %1 bits/weight").arg(m_budget.value, 0, 'f', 2);
    case bonsai::BudgetKind::MaxKl: return tr("Budget search: ΔKL ≤ %1").arg(m_budget.value, 0, 'g', 3);
    case bonsai::BudgetKind::MaxDrop: return tr("Budget search: drop ≤ %1").arg(m_budget.value, 0, 'g', 3);
    case bonsai::BudgetKind::LatencyMs: return tr("Budget search: latency %1 ms").arg(m_budget.value, 0, 'g', 3);
    }
    return tr("Budget search");
}

void BudgetSearch::setBudget(const bonsai::SearchBudget& budget)
{
    m_budget = budget;
    solveWith(budgetText(), MergeBudget);
}

void BudgetSearch::solve(const QString& text) { solveWith(text.isEmpty() ? budgetText() : text, CompressionDocument::NoMerge); }

void BudgetSearch::solveWith(const QString& text, int mergeKey)
{
    if (!m_table)
        return;
    struct Solved {
        bonsai::SearchSolution solution;
        double ms = 0;
    };
    auto run = [table = m_table, budget = m_budget, pins = m_pins, ties = m_ties] {
        Solved out;
        QElapsedTimer clock;
        clock.start();
        try {
            out.solution = bonsai::solveSearch(*table, budget, pins, ties);
        } catch (const std::exception& e) {
            out.solution.message = errorText(e).toStdString();
        }
        out.ms = double(clock.nsecsElapsed()) / 1e6;
        return out;
    };
    if (m_lastSolveMs < FastSolveMs || mergeKey == CompressionDocument::NoMerge) {
        m_solveJobs.cancel(); // a slower solve still running no longer applies
        const Solved s = run();
        m_lastSolveMs = s.ms;
        applySolution(s.solution, text, mergeKey);
        return;
    }
    const JobTracker::Id id = m_solveJobs.start();
    const quint64 key = m_tableKey;
    m_solveJobs.run(run, [this, id, key, text, mergeKey](const Solved& s) {
        m_lastSolveMs = s.ms;
        if (m_solveJobs.finish(id) && key == m_tableKey)
            applySolution(s.solution, text, mergeKey);
    });
}

void BudgetSearch::applySolution(const bonsai::SearchSolution& solution, const QString& text, int mergeKey)
{
    m_solution = solution;
    if (solution.feasible && m_table && m_doc->model()) {
        QList<int> layers;
        std::vector<bonsai::LayerConfig> configs;
        for (size_t r = 0; r < solution.choices.size() && r < m_table->layers.size(); ++r) {
            const int c = solution.choices[r].candidate;
            if (c < 0)
                continue;
            layers << m_table->layerIndex[r];
            configs.push_back(candidateConfig(int(r), c));
        }
        m_doc->setConfigs(layers, configs, text, mergeKey);
    }
    emit solved();
    emit choicesChanged(); // the explanations changed even where the configurations did not
}

void BudgetSearch::setFromCommand(const Edit& edit, quint64 tableKey)
{
    // Pins belong to the table they were set on; ties to any table.
    const bool pins = tableKey == m_tableKey && edit.pins.size() == m_pins.size() && edit.pins != m_pins;
    const bool ties = edit.ties != m_ties;
    if (!pins && !ties)
        return;
    if (pins)
        m_pins = edit.pins;
    m_ties = edit.ties;
    // The solution for these pins and ties (the document's own command restores the
    // configurations): so the explanations are those of the choices shown.
    if (m_table) {
        try {
            m_solution = bonsai::solveSearch(*m_table, m_budget, m_pins, m_ties);
        } catch (const std::exception& e) {
            m_solution = {};
            m_solution.message = errorText(e).toStdString();
        }
    }
    if (pins)
        emit pinsChanged();
    if (ties)
        emit tiesChanged();
    emit solved();
    emit choicesChanged();
    updateFront();
}

void BudgetSearch::pushEdit(const Edit& after, const QString& text)
{
    QUndoStack* undo = m_doc->undoStack();
    undo->beginMacro(text);
    undo->push(new SearchEditCommand(this, {m_pins, m_ties}, after, m_tableKey, text)); // sets them
    if (m_table)
        solveWith(text, CompressionDocument::NoMerge);
    undo->endMacro();
}

void BudgetSearch::pin(int row, int candidate)
{
    if (!m_table || row < 0 || size_t(row) >= m_pins.size())
        return;
    if (candidate >= 0 && (size_t(candidate) >= m_table->candidates.size() ||
                           !m_table->cells[size_t(row)][size_t(candidate)].applicable))
        return;
    std::vector<int> after = m_pins;
    after[size_t(row)] = candidate;
    if (after == m_pins)
        return;
    const QString layer = qstr(m_table->layers[size_t(row)]);
    pushEdit({after, m_ties}, candidate >= 0
                                  ? tr("Pin %1 to %2").arg(layer, qstr(m_table->candidates[size_t(candidate)].name))
                                  : tr("Unpin %1").arg(layer));
}

void BudgetSearch::setTies(const std::vector<std::string>& ties)
{
    if (ties == m_ties)
        return;
    QStringList names;
    for (const auto& t : ties)
        names << qstr(t);
    pushEdit({m_pins, ties}, ties.empty() ? tr("Untie the search's layers")
                                          : tr("Tie %1 in the search").arg(names.join(QStringLiteral(", "))));
}

void BudgetSearch::unpin(int row) { pin(row, -1); }

void BudgetSearch::togglePin(int row, int candidate)
{
    if (pinned(row) == candidate)
        unpin(row);
    else
        pin(row, candidate);
}

void BudgetSearch::updateFront()
{
    if (!m_table || !m_complete)
        return;
    const JobTracker::Id id = m_frontJobs.start();
    const quint64 key = m_tableKey;
    m_frontJobs.run(
        [table = m_table, pins = m_pins, ties = m_ties, cancelled = m_frontJobs.cancelCheck(id)] {
            std::vector<bonsai::FrontPoint> front;
            if (cancelled())
                return front;
            try {
                front = bonsai::searchFront(*table, 24, pins, ties);
            } catch (const std::exception&) {
                front.clear(); // no front to draw; the solve itself reports its faults
            }
            return front;
        },
        [this, id, key](const std::vector<bonsai::FrontPoint>& front) {
            if (!m_frontJobs.finish(id) || key != m_tableKey)
                return;
            m_front = front;
            emit frontChanged();
        });
}

std::vector<PredictedPoint> BudgetSearch::predictedFront() const
{
    std::vector<PredictedPoint> out;
    const auto& model = m_doc->model();
    if (!m_table || !model)
        return out;
    uint64_t searchedBase = 0;
    for (uint64_t b : m_table->baseBytes)
        searchedBase += b;
    const uint64_t total = model->totalBytes();
    for (const auto& f : m_front) {
        // predictedDelta is a drop: accuracy falls by it, perplexity rises by it.
        const double metric = m_table->baseMetric + (m_table->languageModel ? f.predictedDelta : -f.predictedDelta);
        if (!std::isfinite(metric))
            continue;
        PredictedPoint p;
        p.originalBytes = total;
        p.compressedBytes = total - std::min(total, searchedBase) + f.bytes;
        p.metric = m_table->languageModel ? metric : std::clamp(metric, 0.0, 1.0);
        p.bitsPerWeight = f.bitsPerWeight;
        p.predictedKl = f.predictedKl;
        out.push_back(p);
    }
    return out;
}

} // namespace bonsai::ui
