#include "sensitivitymodel.h"

#include "budgetsearch.h"
#include "formatting.h"

#include <QFont>

#include <algorithm>
#include <cmath>
#include <limits>

namespace bonsai::ui {

namespace {

// Below this a KL is noise: the log scale starts there at the lowest.
constexpr double KlFloor = 1e-7;

QString klText(double kl) { return QString::number(kl, 'g', 3); }

} // namespace

SensitivityModel::SensitivityModel(BudgetSearch* search, QObject* parent)
    : QAbstractTableModel(parent), m_search(search)
{
    connect(search, &BudgetSearch::tableChanged, this, &SensitivityModel::onTableChanged);
    connect(search, &BudgetSearch::pinsChanged, this, [this] { refreshAll({PinnedRole, Qt::ToolTipRole}); });
    connect(search, &BudgetSearch::choicesChanged, this, [this] { refreshAll(); });
}

void SensitivityModel::onTableChanged(bool shapeChanged)
{
    const auto* t = m_search->table();
    const int rows = t ? int(t->layers.size()) : 0;
    const int candidates = t ? int(t->candidates.size()) : 0;
    if (shapeChanged || rows != m_rows || candidates != m_candidates) {
        beginResetModel();
        m_rows = rows;
        m_candidates = candidates;
        updateScale();
        endResetModel();
        return;
    }
    updateScale();
    refreshAll();
}

void SensitivityModel::refreshAll(const QList<int>& roles)
{
    if (m_rows > 0)
        emit dataChanged(index(0, 0), index(m_rows - 1, columnCount() - 1), roles);
}

void SensitivityModel::updateScale()
{
    double lo = INFINITY, hi = 0;
    if (const auto* t = m_search->table())
        for (size_t r = 0; r < t->layers.size(); ++r)
            for (size_t c = 0; c < t->candidates.size(); ++c) {
                const double kl = t->cells[r][c].applicable ? t->predictedKl(r, c) : NAN;
                if (!std::isfinite(kl))
                    continue;
                lo = std::min(lo, std::max(kl, KlFloor));
                hi = std::max(hi, std::max(kl, KlFloor));
            }
    if (!std::isfinite(lo))
        lo = hi = 0;
    if (lo == m_klMin && hi == m_klMax)
        return;
    m_klMin = lo;
    m_klMax = hi;
    emit scaleChanged(lo, hi);
}

int SensitivityModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : m_rows; }

int SensitivityModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : FirstCandidateColumn + m_candidates;
}

QString SensitivityModel::cellToolTip(int row, int candidate) const
{
    const auto& t = *m_search->table();
    const auto& cell = t.cells[size_t(row)][size_t(candidate)];
    const QString layer = qstr(t.layers[size_t(row)]);
    const QString name = qstr(t.candidates[size_t(candidate)].name);
    if (!cell.applicable)
        return tr("%1 on %2: not applicable. %3").arg(name, layer, qstr(cell.reason));
    QString text = tr("%1 on %2: %3 (%4 bits/weight)")
                       .arg(name, layer, formatBytes(cell.bytes))
                       .arg(t.params[size_t(row)] ? 8.0 * double(cell.bytes) / double(t.params[size_t(row)]) : 0.0,
                            0, 'f', 2);
    if (cell.measured())
        text += tr("\nΔKL %1 nats (measured)").arg(klText(cell.kl));
    else
        text += tr("\nΔKL ≈ %1 nats (estimated from the weight error; not measured yet)")
                    .arg(klText(t.predictedKl(size_t(row), size_t(candidate))));
    if (!std::isnan(cell.metricDelta))
        text += t.languageModel ? tr(", perplexity %1%2").arg(cell.metricDelta >= 0 ? QStringLiteral("+") : QString())
                                      .arg(cell.metricDelta, 0, 'f', 3)
                                : tr(", accuracy %1%2 points").arg(cell.metricDelta >= 0 ? QStringLiteral("+") : QString())
                                      .arg(100 * cell.metricDelta, 0, 'f', 2);
    if (std::isfinite(cell.latencyMs))
        text += tr("\nLatency %1 ms (measured: %2)")
                    .arg(cell.latencyMs, 0, 'g', 3)
                    .arg(t.languageModel ? tr("the decode step's matrix-vector product") : tr("its node, one sample"));
    if (m_search->chosen(row) == candidate)
        text += tr("\nChosen: %1").arg(m_search->explanation(row));
    text += m_search->pinned(row) == candidate ? tr("\nPinned. Click to unpin.")
                                               : tr("\nClick to pin the layer to %1.").arg(name);
    return text;
}

QVariant SensitivityModel::data(const QModelIndex& index, int role) const
{
    const auto* t = m_search->table();
    if (!t || !checkIndex(index, CheckIndexOption::IndexIsValid))
        return {};
    const int row = index.row();
    const int col = index.column();
    const int candidate = candidateOf(col);
    if (role == ExplanationRole)
        return m_search->explanation(row);
    if (role == ModelLayerRole)
        return t->layerIndex[size_t(row)];
    if (role == CandidateRole)
        return candidate >= 0 ? candidate : -1;
    if (col == LayerColumn) {
        switch (role) {
        case Qt::DisplayRole: return qstr(t->layers[size_t(row)]);
        case SortRole: return row;
        case Qt::ToolTipRole:
            return tr("%1: %2 weights, %3 as the search starts")
                .arg(qstr(t->layers[size_t(row)]), formatCount(t->params[size_t(row)]),
                     formatBytes(t->baseBytes[size_t(row)]));
        default: return {};
        }
    }
    const int chosen = m_search->chosen(row);
    if (col == ChoiceColumn) {
        const bool pinned = m_search->pinned(row) >= 0;
        switch (role) {
        case Qt::DisplayRole:
            if (chosen < 0)
                return tr("other");
            return (pinned ? tr("%1 (pinned)") : QStringLiteral("%1"))
                .arg(qstr(t->candidates[size_t(chosen)].name));
        case SortRole: return chosen >= 0 ? qulonglong(t->cells[size_t(row)][size_t(chosen)].bytes) : qulonglong(0);
        case BytesRole: return chosen >= 0 ? qulonglong(t->cells[size_t(row)][size_t(chosen)].bytes) : QVariant();
        case Qt::ToolTipRole: return m_search->explanation(row);
        case PinnedRole: return pinned;
        case Qt::FontRole:
            if (pinned) {
                QFont f;
                f.setBold(true);
                return f;
            }
            return {};
        default: return {};
        }
    }
    const auto& cell = t->cells[size_t(row)][size_t(candidate)];
    const double kl = cell.applicable ? t->predictedKl(size_t(row), size_t(candidate)) : NAN;
    switch (role) {
    case Qt::DisplayRole: return cell.applicable ? formatBytes(cell.bytes) : QStringLiteral("—");
    case Qt::ToolTipRole: return cellToolTip(row, candidate);
    case Qt::TextAlignmentRole: return QVariant(Qt::AlignCenter);
    case SortRole: return std::isnan(kl) ? std::numeric_limits<double>::infinity() : kl;
    case KlRole: return kl;
    case HeatRole: {
        if (std::isnan(kl))
            return -1.0;
        if (m_klMax <= m_klMin)
            return 0.0;
        const double v = std::log(std::max(kl, m_klMin)) - std::log(m_klMin);
        return std::clamp(v / (std::log(m_klMax) - std::log(m_klMin)), 0.0, 1.0);
    }
    case MeasuredRole: return cell.measured();
    case ApplicableRole: return cell.applicable;
    case BytesRole: return qulonglong(cell.bytes);
    case ChosenRole: return chosen == candidate;
    case PinnedRole: return m_search->pinned(row) == candidate;
    case MetricDeltaRole: return cell.metricDelta;
    case LatencyRole: return cell.latencyMs;
    default: return {};
    }
}

QVariant SensitivityModel::headerData(int section, Qt::Orientation o, int role) const
{
    const auto* t = m_search->table();
    if (o != Qt::Horizontal)
        return QAbstractTableModel::headerData(section, o, role);
    if (section == LayerColumn)
        return role == Qt::DisplayRole ? tr("Layer") : QVariant();
    if (section == ChoiceColumn) {
        if (role == Qt::DisplayRole)
            return tr("Choice");
        if (role == Qt::ToolTipRole)
            return tr("The candidate each layer has now; pinned layers keep theirs when the budget moves");
        return {};
    }
    const int c = candidateOf(section);
    if (!t || c < 0 || c >= int(t->candidates.size()))
        return {};
    const auto& cand = t->candidates[size_t(c)];
    if (role == Qt::DisplayRole) // two lines at most: "int4\ng32", "rank 0.95\nfp16"
    {
        QString name = qstr(cand.name);
        const qsizetype space = name.lastIndexOf(QLatin1Char(' '));
        if (space > 0)
            name[space] = QLatin1Char('\n');
        return name;
    }
    if (role == Qt::ToolTipRole)
        return tr("%1: %2").arg(qstr(cand.name), qstr(cand.patch.toJson()));
    return {};
}

} // namespace bonsai::ui
