#include "searchbudgetbar.h"

#include "budgetsearch.h"
#include "compressiondocument.h"
#include "formatting.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace bonsai::ui {

namespace {

constexpr double DefaultBitsPerWeight = 4.0;

QString signedText(double v, int decimals)
{
    return (v >= 0 ? QStringLiteral("+") : QStringLiteral("−")) + QString::number(std::abs(v), 'f', decimals);
}

} // namespace

SearchBudgetBar::SearchBudgetBar(BudgetSearch* search, QWidget* parent) : QWidget(parent), m_search(search)
{
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(0, 0, 0, 0);
    m_kind = new QComboBox(this);
    m_kind->setObjectName(QStringLiteral("searchBudgetKind"));
    m_kind->addItem(tr("Size"), int(bonsai::BudgetKind::Bytes));
    m_kind->addItem(tr("Bits per weight"), int(bonsai::BudgetKind::BitsPerWeight));
    m_kind->addItem(tr("Quality bound (ΔKL)"), int(bonsai::BudgetKind::MaxKl));
    m_kind->addItem(tr("Accuracy drop"), int(bonsai::BudgetKind::MaxDrop)); // named per model in reset()
    m_kind->addItem(tr("Latency"), int(bonsai::BudgetKind::LatencyMs));
    m_kind->setCurrentIndex(1);
    m_kind->setToolTip(tr("Size, bits per weight and latency: the best predicted quality that fits. Quality "
                          "bounds: the smallest size whose predicted ΔKL, or accuracy drop (perplexity rise), "
                          "summed over the layers, stays under it. Latency: the searched layers' measured time "
                          "(a decode step's matrix-vector products, or the nodes on one sample)."));
    connect(m_kind, &QComboBox::currentIndexChanged, this, [this] { updateRange(); });
    m_objective = new QComboBox(this);
    m_objective->setObjectName(QStringLiteral("searchObjective"));
    m_objective->addItem(tr("min ΔKL"), int(bonsai::SearchObjective::Kl));
    m_objective->addItem(tr("min accuracy drop"), int(bonsai::SearchObjective::Metric)); // named per model in reset()
    m_objective->setToolTip(tr("Under a size, bits-per-weight or latency budget, what the solution minimizes: the summed "
                               "ΔKL (closest to the uncompressed model's outputs) or the summed accuracy drop "
                               "(perplexity rise), the metric itself. The metric needs enough calibration data for "
                               "one layer's change to stand out of the noise."));
    connect(m_objective, &QComboBox::currentIndexChanged, this, [this] {
        if (m_syncing || !m_search->table())
            return;
        choose(value());
        m_search->document()->endDrag();
    });
    m_slider = new QSlider(Qt::Horizontal, this);
    m_slider->setObjectName(QStringLiteral("searchBudgetSlider"));
    m_slider->setRange(0, SliderSteps);
    m_slider->setToolTip(tr("Move to re-solve: the layers get the solution at once (one undo step per drag)."));
    m_value = new QDoubleSpinBox(this);
    m_value->setObjectName(QStringLiteral("searchBudgetValue"));
    m_value->setKeyboardTracking(false);
    m_value->setMinimumWidth(110);
    auto* row = new QHBoxLayout;
    row->addWidget(new QLabel(tr("Budget:"), this));
    row->addWidget(m_kind);
    row->addWidget(m_slider, 1);
    row->addWidget(m_value);
    row->addWidget(m_objective);
    v->addLayout(row);
    connect(m_slider, &QSlider::valueChanged, this, &SearchBudgetBar::onSliderMoved);
    connect(m_slider, &QSlider::sliderReleased, this, [this] { m_search->document()->endDrag(); });
    connect(m_value, &QDoubleSpinBox::valueChanged, this, &SearchBudgetBar::onSpinEdited);
    m_solution = new QLabel(this);
    m_solution->setObjectName(QStringLiteral("searchSolution"));
    m_solution->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_solution->setWordWrap(true);
    m_solution->setMinimumWidth(200);
    v->addWidget(m_solution);
    connect(m_search, &BudgetSearch::solved, this, &SearchBudgetBar::showSolution);
}

void SearchBudgetBar::reset(bool languageModel)
{
    m_llm = languageModel;
    m_budgetChosen = false;
    m_solution->clear();
    m_kind->setItemText(m_kind->findData(int(bonsai::BudgetKind::MaxDrop)),
                        languageModel ? tr("Perplexity rise") : tr("Accuracy drop"));
    m_objective->setItemText(m_objective->findData(int(bonsai::SearchObjective::Metric)),
                             languageModel ? tr("min perplexity rise") : tr("min accuracy drop"));
}

int SearchBudgetBar::compactHeight() const
{
    const int spacing = std::max(0, layout()->spacing());
    return std::max(m_kind->sizeHint().height(), m_value->sizeHint().height()) + fontMetrics().lineSpacing() + spacing;
}

void SearchBudgetBar::showSolution()
{
    const auto& s = m_search->solution();
    const auto* t = m_search->table();
    if (!t) {
        m_solution->clear();
        return;
    }
    if (!s.feasible) {
        m_solution->setStyleSheet(QStringLiteral("color: #b00020;"));
        m_solution->setText(s.message.empty() ? tr("No configuration fits this budget.") : qstr(s.message));
        return;
    }
    m_solution->setStyleSheet(QString());
    QString metric;
    if (std::isfinite(s.predictedDelta)) // a drop: accuracy falls, perplexity rises
        metric = t->languageModel ? tr(" · perplexity %1").arg(signedText(s.predictedDelta, 3))
                                  : tr(" · accuracy %1 points").arg(signedText(-100 * s.predictedDelta, 2));
    if (std::isfinite(s.latencyMs) && s.latencyMs > 0)
        metric += tr(" · latency %1 ms").arg(s.latencyMs, 0, 'g', 3);
    // One line at 1366 pixels: the layer count and what "ΔKL" sums are in the tooltip.
    m_solution->setText(tr("Solution: %1, %2 bits/weight · ΔKL %3 nats%4")
                            .arg(formatBytes(s.bytes))
                            .arg(s.bitsPerWeight, 0, 'f', 2)
                            .arg(s.predictedKl, 0, 'g', 3)
                            .arg(metric));
    m_solution->setToolTip(tr("The searched layers (%1): their weight bytes, bits per weight, and the predicted ΔKL, "
                              "metric change and latency, each the layers' sum. %2")
                               .arg(t->layers.size())
                               .arg(s.optimal ? tr("Proven optimal for the prediction.")
                                              : tr("The best found; not proven optimal.")));
}

QString SearchBudgetBar::solutionText() const { return m_solution->text(); }

bonsai::BudgetKind SearchBudgetBar::kind() const { return bonsai::BudgetKind(m_kind->currentData().toInt()); }

bonsai::SearchObjective SearchBudgetBar::objective() const
{
    return bonsai::SearchObjective(m_objective->currentData().toInt());
}

void SearchBudgetBar::setObjective(bonsai::SearchObjective objective)
{
    const int i = m_objective->findData(int(objective));
    if (i >= 0)
        m_objective->setCurrentIndex(i);
}

void SearchBudgetBar::setKind(bonsai::BudgetKind kind)
{
    const int i = m_kind->findData(int(kind));
    if (i >= 0)
        m_kind->setCurrentIndex(i);
}

double SearchBudgetBar::value() const { return m_value->value() / spinScale(); }

double SearchBudgetBar::spinScale() const
{
    if (kind() == bonsai::BudgetKind::MaxDrop && !m_llm)
        return 100; // accuracy in points
    if (kind() != bonsai::BudgetKind::Bytes)
        return 1;
    return m_range.second >= double(1 << 20) ? 1.0 / double(1 << 20) : 1.0 / 1024;
}

double SearchBudgetBar::valueAt(int position) const
{
    const auto [lo, hi] = m_range;
    const double f = double(position) / SliderSteps;
    if (kind() == bonsai::BudgetKind::MaxKl) {
        const double a = std::max(lo, 1e-9), b = std::max(hi, a);
        return std::exp(std::log(a) + f * (std::log(b) - std::log(a)));
    }
    return lo + f * (hi - lo);
}

int SearchBudgetBar::positionOf(double value) const
{
    const auto [lo, hi] = m_range;
    double f = 0;
    if (kind() == bonsai::BudgetKind::MaxKl) {
        const double a = std::max(lo, 1e-9), b = std::max(hi, a);
        f = b > a ? (std::log(std::max(value, a)) - std::log(a)) / (std::log(b) - std::log(a)) : 0;
    } else {
        f = hi > lo ? (value - lo) / (hi - lo) : 0;
    }
    return int(std::lround(std::clamp(f, 0.0, 1.0) * SliderSteps));
}

void SearchBudgetBar::updateRange()
{
    const bonsai::BudgetKind k = kind();
    m_range = m_search->budgetRange(k);
    const double scale = spinScale();
    m_syncing = true;
    switch (k) {
    case bonsai::BudgetKind::Bytes:
        m_value->setDecimals(scale < 1.0 / 1024 ? 3 : 2);
        m_value->setSuffix(scale < 1.0 / 1024 ? tr(" MiB") : tr(" KiB"));
        m_value->setSingleStep(scale < 1.0 / 1024 ? 0.1 : 1);
        break;
    case bonsai::BudgetKind::BitsPerWeight:
        m_value->setDecimals(2);
        m_value->setSuffix(tr(" bits/weight"));
        m_value->setSingleStep(0.1);
        break;
    case bonsai::BudgetKind::LatencyMs:
        m_value->setDecimals(4);
        m_value->setSuffix(tr(" ms"));
        m_value->setSingleStep(0.001);
        break;
    case bonsai::BudgetKind::MaxDrop:
        m_value->setDecimals(m_llm ? 4 : 2);
        m_value->setSuffix(m_llm ? tr(" perplexity") : tr(" points"));
        m_value->setSingleStep(m_llm ? 0.01 : 0.1);
        break;
    default:
        m_value->setDecimals(6);
        m_value->setSuffix(tr(" nats"));
        m_value->setSingleStep(0.0001);
        break;
    }
    m_value->setRange(m_range.first * scale, m_range.second * scale);
    // Bounds minimize the bytes: the objective is for resource budgets only.
    m_objective->setEnabled(k == bonsai::BudgetKind::Bytes || k == bonsai::BudgetKind::BitsPerWeight ||
                            k == bonsai::BudgetKind::LatencyMs);
    // The value the document has now in this unit, else the budget asked for.
    const auto& s = m_search->solution();
    double value = m_search->budget().value;
    if (!m_budgetChosen && k == bonsai::BudgetKind::BitsPerWeight)
        value = DefaultBitsPerWeight; // until a budget is chosen: the range may still grow
    else if (s.feasible && m_search->budget().kind != k)
        value = k == bonsai::BudgetKind::Bytes           ? double(s.bytes)
              : k == bonsai::BudgetKind::BitsPerWeight ? s.bitsPerWeight
              : k == bonsai::BudgetKind::MaxDrop       ? s.predictedDelta
              : k == bonsai::BudgetKind::LatencyMs     ? s.latencyMs
                                                         : s.predictedKl;
    value = std::clamp(value, m_range.first, m_range.second);
    m_value->setValue(value * scale);
    m_slider->setValue(positionOf(value));
    m_syncing = false;
    if (m_search->budget().kind != k || !m_budgetChosen)
        m_search->setBudgetQuiet({k, value, objective()});
}

void SearchBudgetBar::choose(double value)
{
    m_budgetChosen = true;
    m_search->setBudget({kind(), value, objective()});
}

void SearchBudgetBar::onSliderMoved(int position)
{
    if (m_syncing || !m_search->table())
        return;
    const double value = valueAt(position);
    m_syncing = true;
    m_value->setValue(value * spinScale());
    m_syncing = false;
    choose(value);
    if (!m_slider->isSliderDown())
        m_search->document()->endDrag(); // keys and clicks: a step each
}

void SearchBudgetBar::onSpinEdited()
{
    if (m_syncing || !m_search->table())
        return;
    const double value = m_value->value() / spinScale();
    m_syncing = true;
    m_slider->setValue(positionOf(value));
    m_syncing = false;
    choose(value);
    m_search->document()->endDrag();
}

void SearchBudgetBar::setValue(double value)
{
    m_syncing = true;
    m_value->setValue(value * spinScale());
    m_slider->setValue(positionOf(value));
    m_syncing = false;
    choose(value);
    m_search->document()->endDrag();
}

void SearchBudgetBar::setSliderPosition(int position)
{
    m_slider->setValue(position);
    m_search->document()->endDrag();
}

} // namespace bonsai::ui
