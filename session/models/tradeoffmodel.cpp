#include "tradeoffmodel.h"

#include "formatting.h"

#include <QFont>
#include <QSaveFile>
#include <QStringList>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace bonsai::ui {

std::vector<int> paretoFront(const std::vector<TradeoffPoint>& points, TradeoffMetric metric)
{
    std::vector<int> order(points.size());
    std::iota(order.begin(), order.end(), 0);
    auto size = [&](int i) { return points[size_t(i)].result.compressedBytes; };
    // "Accuracy": higher is better (perplexity negated).
    auto acc = [&](int i) {
        const auto& p = points[size_t(i)];
        return metric == TradeoffMetric::Perplexity ? -p.perplexity : p.result.metrics.top1;
    };
    // Smallest first, the more accurate first among equal sizes; a point is on the front when
    // it is more accurate than everything before it.
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        return size(a) != size(b) ? size(a) < size(b) : acc(a) > acc(b);
    });
    std::vector<int> front;
    double best = -INFINITY;
    for (int i : order)
        if (acc(i) > best) {
            front.push_back(i);
            best = acc(i);
        }
    return front;
}

std::vector<int> latencyParetoFront(const std::vector<TradeoffPoint>& points, TradeoffMetric metric)
{
    // paretoFront over the measured points with their latency in nanoseconds as the "size".
    std::vector<TradeoffPoint> measured;
    std::vector<int> rows;
    for (size_t r = 0; r < points.size(); ++r)
        if (points[r].latencySeconds >= 0) {
            measured.push_back(points[r]);
            measured.back().result.compressedBytes = uint64_t(std::llround(points[r].latencySeconds * 1e9));
            rows.push_back(int(r));
        }
    std::vector<int> front = paretoFront(measured, metric);
    for (int& i : front)
        i = rows[size_t(i)];
    return front;
}

TradeoffModel::TradeoffModel(QObject* parent) : QAbstractTableModel(parent) {}

int TradeoffModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_points.size());
}

int TradeoffModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : NUM_COLUMNS; }

static QString pct(double f) { return QStringLiteral("%1%").arg(100 * f, 0, 'f', 2); }

QVariant TradeoffModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid))
        return {};
    const TradeoffPoint& p = m_points[size_t(index.row())];
    const auto& m = p.result.metrics;
    if (role == ParetoRole)
        return std::find(m_front.begin(), m_front.end(), index.row()) != m_front.end();
    if (role == Qt::FontRole && index.row() == m_current) {
        QFont bold;
        bold.setBold(true);
        return bold;
    }
    if (role == Qt::ToolTipRole)
        return p.details;
    if (role == Qt::TextAlignmentRole)
        return index.column() == LabelColumn ? QVariant() : QVariant(Qt::AlignRight | Qt::AlignVCenter);
    const bool ppl = m_metric == TradeoffMetric::Perplexity;
    if (role == SortRole) {
        if (ppl && index.column() == Top1Column)
            return p.perplexity;
        if (ppl && index.column() == CiColumn)
            return p.basePerplexity;
        switch (Columns(index.column())) {
        case LabelColumn: return index.row();
        case SizeColumn: return qulonglong(p.result.compressedBytes);
        case RatioColumn: return p.ratio();
        case Top1Column: return m.top1;
        case CiColumn: return m.top1Ci.hi - m.top1Ci.lo;
        case AgreementColumn: return m.agreement;
        case KlColumn: return m.meanKl;
        case SecondsColumn: return p.result.seconds;
        case NUM_COLUMNS: break;
        }
        return {};
    }
    if (role != Qt::DisplayRole)
        return {};
    if (ppl && index.column() == Top1Column)
        return QString::number(p.perplexity, 'f', 3);
    if (ppl && index.column() == CiColumn)
        return p.basePerplexity > 0 ? QString::number(p.basePerplexity, 'f', 3) : QStringLiteral("—");
    switch (Columns(index.column())) {
    case LabelColumn: return p.label;
    case SizeColumn: return formatBytes(p.result.compressedBytes);
    case RatioColumn: return QStringLiteral("%1×").arg(p.ratio(), 0, 'f', 2);
    case Top1Column: return pct(m.top1);
    case CiColumn: return QStringLiteral("%1–%2").arg(pct(m.top1Ci.lo), pct(m.top1Ci.hi));
    case AgreementColumn: return pct(m.agreement);
    case KlColumn: return QString::number(m.meanKl, 'g', 3);
    case SecondsColumn: return QStringLiteral("%1 s").arg(p.result.seconds, 0, 'f', 2);
    case NUM_COLUMNS: break;
    }
    return {};
}

QVariant TradeoffModel::headerData(int section, Qt::Orientation o, int role) const
{
    if (o != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, o, role);
    if (m_metric == TradeoffMetric::Perplexity && section == Top1Column)
        return tr("Perplexity");
    if (m_metric == TradeoffMetric::Perplexity && section == CiColumn)
        return tr("Uncompressed");
    switch (Columns(section)) {
    case LabelColumn: return tr("Configuration");
    case SizeColumn: return tr("Size");
    case RatioColumn: return tr("Ratio");
    case Top1Column: return tr("Top-1");
    case CiColumn: return tr("Top-1 95% CI");
    case AgreementColumn: return tr("Agreement");
    case KlColumn: return tr("KL (nats)");
    case SecondsColumn: return tr("Time");
    case NUM_COLUMNS: break;
    }
    return {};
}

int TradeoffModel::add(TradeoffPoint point)
{
    const int row = int(m_points.size());
    beginInsertRows({}, row, row);
    if (point.latencySeconds < 0)
        point.latencySeconds = latencyOf(point.configs);
    m_points.push_back(std::move(point));
    m_front = paretoFront(m_points, m_metric);
    endInsertRows();
    if (row > 0) // the front may have changed for earlier rows
        emit dataChanged(index(0, 0), index(row - 1, NUM_COLUMNS - 1), {ParetoRole});
    updateCurrent();
    return row;
}

void TradeoffModel::setCurrentConfigs(const std::vector<bonsai::LayerConfig>& configs)
{
    m_currentConfigs = configs;
    updateCurrent();
}

void TradeoffModel::updateCurrent()
{
    int row = -1;
    for (size_t r = 0; r < m_points.size() && row < 0 && !m_currentConfigs.empty(); ++r)
        if (m_points[r].configs == m_currentConfigs)
            row = int(r);
    if (row == m_current)
        return;
    const int old = m_current;
    m_current = row;
    for (int r : {old, row})
        if (r >= 0)
            emit dataChanged(index(r, 0), index(r, NUM_COLUMNS - 1), {Qt::FontRole});
    emit currentRowChanged(row);
}

void TradeoffModel::setMetric(TradeoffMetric metric)
{
    if (metric == m_metric)
        return;
    beginResetModel();
    m_metric = metric;
    m_predicted.clear();
    m_points.clear();
    m_front.clear();
    m_current = -1;
    endResetModel();
    emit headerDataChanged(Qt::Horizontal, 0, NUM_COLUMNS - 1);
}

void TradeoffModel::setPredictedFront(std::vector<PredictedPoint> front)
{
    m_predicted = std::move(front);
    emit predictedFrontChanged();
}

namespace {

// Configurations compare equal when they are, or when both leave every layer unchanged.
bool sameConfigs(const std::vector<bonsai::LayerConfig>& a, const std::vector<bonsai::LayerConfig>& b)
{
    auto identity = [](const std::vector<bonsai::LayerConfig>& v) {
        return std::all_of(v.begin(), v.end(), [](const bonsai::LayerConfig& c) { return c.isIdentity(); });
    };
    return a == b || (identity(a) && identity(b));
}

} // namespace

double TradeoffModel::latencyOf(const std::vector<bonsai::LayerConfig>& configs) const
{
    for (auto it = m_latencies.rbegin(); it != m_latencies.rend(); ++it)
        if (sameConfigs(it->first, configs))
            return it->second;
    return -1;
}

double TradeoffModel::uncompressedLatency() const { return latencyOf({}); }

void TradeoffModel::setMeasuredLatency(const std::vector<bonsai::LayerConfig>& configs, double seconds)
{
    m_latencies.emplace_back(configs, seconds);
    for (TradeoffPoint& p : m_points)
        if (sameConfigs(p.configs, configs))
            p.latencySeconds = seconds;
    emit latencyChanged();
}

void TradeoffModel::clearMeasuredLatency()
{
    m_latencies.clear();
    for (TradeoffPoint& p : m_points)
        p.latencySeconds = -1;
    emit latencyChanged();
}

void TradeoffModel::clear()
{
    beginResetModel();
    m_points.clear();
    m_front.clear();
    m_current = -1;
    endResetModel();
}

static QString csvField(const QString& s)
{
    if (!s.contains(QLatin1Char(',')) && !s.contains(QLatin1Char('"')) && !s.contains(QLatin1Char('\n')))
        return s;
    QString q = s;
    q.replace(QLatin1String("\""), QLatin1String("\"\""));
    return QLatin1Char('"') + q + QLatin1Char('"');
}

QString TradeoffModel::toCsv() const
{
    if (m_metric == TradeoffMetric::Perplexity) {
        QString out = QStringLiteral("label,compressed_bytes,ratio,perplexity,base_perplexity,agreement,kl_nats,seconds\n");
        for (const auto& p : m_points) {
            QStringList f{csvField(p.label), QString::number(p.result.compressedBytes)};
            for (double v : {p.ratio(), p.perplexity, p.basePerplexity, p.result.metrics.agreement,
                             p.result.metrics.meanKl, p.result.seconds})
                f << QString::number(v, 'g', 8);
            out += f.join(QLatin1Char(',')) + QLatin1Char('\n');
        }
        return out;
    }
    QString out = QStringLiteral("label,compressed_bytes,ratio,top1,top1_ci_lo,top1_ci_hi,agreement,kl_nats,seconds\n");
    for (const auto& p : m_points) {
        const auto& m = p.result.metrics;
        QStringList f{csvField(p.label), QString::number(p.result.compressedBytes)};
        for (double v : {p.ratio(), m.top1, m.top1Ci.lo, m.top1Ci.hi, m.agreement, m.meanKl, p.result.seconds})
            f << QString::number(v, 'g', 8);
        out += f.join(QLatin1Char(',')) + QLatin1Char('\n');
    }
    return out;
}

bool TradeoffModel::saveCsv(const QString& path, QString* error) const
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Text) || file.write(toCsv().toUtf8()) < 0 || !file.commit()) {
        if (error)
            *error = tr("Could not write %1: %2").arg(path, file.errorString());
        return false;
    }
    return true;
}

} // namespace bonsai::ui
