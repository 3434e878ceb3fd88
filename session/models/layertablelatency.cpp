// LayerTableModel: the Latency column (each layer's time from the last speed measurement).
#include "layertablemodel.h"

#include "compressiondocument.h"
#include "formatting.h"

#include <QBrush>
#include <QColor>
#include <QCoreApplication>
#include <QGuiApplication>
#include <QPalette>

namespace bonsai::ui {

void LayerTableModel::setMeasuredLatency(std::vector<double> seconds, std::vector<double> originalSeconds,
                                         std::vector<bonsai::LayerConfig> configs, const QString& per)
{
    m_latency = std::move(seconds);
    m_originalLatency = std::move(originalSeconds);
    m_latencyConfigs = std::move(configs);
    m_latencyPer = per;
    emitColumnsChanged(Latency, Latency);
}

QVariant LayerTableModel::latencyData(const Row& r, int role) const
{
    const size_t li = static_cast<size_t>(r.layer);
    const bool measured = r.layer >= 0 && li < m_latency.size() && m_latency[li] >= 0;
    // Changed since the measure: the configuration edited differs from the one measured.
    const bool stale = measured && m_doc && r.layer < m_doc->layerCount() && li < m_latencyConfigs.size() &&
                       !(m_doc->config(r.layer) == m_latencyConfigs[li]);
    switch (role) {
    case Qt::DisplayRole: return measured ? formatLatency(m_latency[li]) : QStringLiteral("—");
    case SortRole: return measured ? m_latency[li] : -1.0;
    case Qt::TextAlignmentRole: return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
    case Qt::ForegroundRole:
        if (stale) // greyed as disabled text; a fixed grey without a GUI application (tests)
            return QBrush(qobject_cast<QGuiApplication*>(QCoreApplication::instance())
                              ? QGuiApplication::palette().color(QPalette::Disabled, QPalette::Text)
                              : QColor(Qt::gray));
        break;
    case Qt::ToolTipRole: {
        if (m_latency.empty())
            return tr("Not measured yet: Evaluate > Speed… (F9) measures each layer's time on this machine.");
        if (!measured)
            return tr("Not timed on its own (it runs inside another part of the model).");
        QString tip = tr("Measured %1 %2 (median over the repeats)").arg(formatLatency(m_latency[li]), m_latencyPer);
        if (li < m_originalLatency.size() && m_originalLatency[li] >= 0)
            tip += tr("\nUncompressed: %1").arg(formatLatency(m_originalLatency[li]));
        if (stale)
            tip += tr("\nMeasured before this layer's configuration changed: measure the speed again.");
        return tip;
    }
    }
    return {};
}

QVariant LayerTableModel::latencyHeader(int role) const
{
    if (role == Qt::DisplayRole)
        return tr("Latency");
    if (role == Qt::ToolTipRole)
        return m_latency.empty()
                   ? tr("Each layer's measured time; empty until a speed measurement (Evaluate > Speed…, F9)")
                   : tr("Each layer's measured time %1, as configured at the measurement").arg(m_latencyPer);
    return {};
}

} // namespace bonsai::ui
