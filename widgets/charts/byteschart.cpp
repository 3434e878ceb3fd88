#include "byteschart.h"

#include "chartutil.h"
#include "formatting.h"

#include "bonsai/model.h"

#include <QBarCategoryAxis>
#include <QFont>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QHorizontalBarSeries>
#include <QLegend>
#include <QCategoryAxis>

#include <algorithm>
#include <map>

namespace bonsai::ui {

namespace {

struct Entry {
    QString label;
    uint64_t bytes;
};

// Largest first; drawn top-down.
QChart* barChart(const std::vector<Entry>& entries, const QString& title, const QColor& color)
{
    auto* chart = new QChart;
    chart->setTitle(title);
    chart->legend()->hide();
    chart->setMargins(QMargins(2, 2, 2, 2));
    if (entries.empty())
        return chart;
    // The grouped "other" entry comes last and may be the largest.
    const uint64_t maxBytes = std::max_element(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
                                  return a.bytes < b.bytes;
                              })->bytes;
    const auto [scale, unit] = byteUnitFor(maxBytes);
    auto* set = new QBarSet(QObject::tr("bytes"));
    set->setColor(color);
    QStringList categories;
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) { // bottom-up for the axis
        QString label = elideMiddle(it->label, 30);
        while (categories.contains(label))
            label += QLatin1Char(' '); // categories must be unique
        categories << label;
        *set << static_cast<double>(it->bytes) / scale;
    }
    auto* series = new QHorizontalBarSeries;
    series->append(set);
    series->setBarWidth(0.7);
    series->setLabelsVisible(false);
    chart->addSeries(series);
    auto* y = new QBarCategoryAxis;
    y->append(categories);
    y->setTruncateLabels(false);
    QFont small = y->labelsFont();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    y->setLabelsFont(small);
    auto* x = makeNiceAxis(0, static_cast<double>(maxBytes) / scale, 4);
    x->setTitleText(QObject::tr("size (%1)").arg(unit));
    chart->addAxis(y, Qt::AlignLeft);
    chart->addAxis(x, Qt::AlignBottom);
    series->attachAxis(y);
    series->attachAxis(x);
    return chart;
}

} // namespace

BytesChart::BytesChart(QWidget* parent)
    : QTabWidget(parent), m_layers(new QChartView(this)), m_ops(new QChartView(this))
{
    m_layers->setObjectName(QStringLiteral("largestLayersChart"));
    m_ops->setObjectName(QStringLiteral("bytesByOpChart"));
    for (auto* v : {m_layers, m_ops}) {
        v->setRenderHint(QPainter::Antialiasing);
        v->setChart(new QChart);
    }
    addTab(m_layers, tr("Largest layers"));
    addTab(m_ops, tr("Bytes by op"));
}

void BytesChart::setModel(const std::shared_ptr<const bonsai::Model>& model)
{
    std::vector<Entry> layers;
    std::map<QString, uint64_t> byOp;
    uint64_t inLayers = 0;
    if (model) {
        const auto& ts = model->tensors;
        for (const auto& l : model->layers) {
            uint64_t b = l.weight >= 0 ? ts[static_cast<size_t>(l.weight)].storedBytes() : 0;
            if (l.bias >= 0)
                b += ts[static_cast<size_t>(l.bias)].storedBytes();
            layers.push_back({qstr(l.name), b});
            byOp[qstr(l.op)] += b;
            inLayers += b;
        }
        const uint64_t rest = model->totalBytes() - std::min(inLayers, model->totalBytes());
        if (rest > 0)
            byOp[tr("(not in a layer)")] += rest;
    }
    std::sort(layers.begin(), layers.end(), [](auto& a, auto& b) { return a.bytes > b.bytes; });
    // The rest is summed in the title, not drawn: in a model of many equal blocks a bar for
    // "everything else" would dwarf the layers the chart is about.
    QString layersTitle = tr("Largest layers by bytes");
    if (model && layers.size() > static_cast<size_t>(TopLayers)) {
        uint64_t other = model->totalBytes();
        const size_t more = layers.size() - static_cast<size_t>(TopLayers);
        layers.resize(TopLayers);
        for (const auto& e : layers)
            other -= e.bytes;
        layersTitle = tr("Largest %1 of %2 layers (the other %3 and the rest: %4)")
                          .arg(TopLayers)
                          .arg(model->layers.size())
                          .arg(more)
                          .arg(formatBytes(other));
    }
    std::vector<Entry> ops;
    for (const auto& [op, b] : byOp)
        ops.push_back({op, b});
    std::sort(ops.begin(), ops.end(), [](auto& a, auto& b) { return a.bytes > b.bytes; });

    const QColor color = palette().color(QPalette::Highlight);
    replaceChart(m_layers, barChart(layers, model ? layersTitle : QString(), color));
    replaceChart(m_ops, barChart(ops, model ? tr("Bytes by op kind") : QString(), color.darker(130)));
}

} // namespace bonsai::ui
