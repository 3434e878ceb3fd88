#include "compressionchart.h"

#include "chartutil.h"
#include "compressiondocument.h"
#include "formatting.h"
#include "modelestimator.h"

#include "bonsai/model.h"

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QCategoryAxis>
#include <QChart>
#include <QHorizontalBarSeries>
#include <QLegend>

#include <algorithm>
#include <numeric>

namespace bonsai::ui {

CompressionChart::CompressionChart(CompressionDocument* doc, ModelEstimator* estimator, QWidget* parent)
    : QChartView(parent), m_doc(doc), m_estimator(estimator)
{
    setObjectName(QStringLiteral("compressionChart"));
    setRenderHint(QPainter::Antialiasing);
    connect(m_estimator, &ModelEstimator::resultsChanged, this, &CompressionChart::rebuild);
    connect(m_estimator, &ModelEstimator::started, this, &CompressionChart::rebuild);
    rebuild();
}

QString CompressionChart::titleText() const { return chart() ? chart()->title() : QString(); }

void CompressionChart::rebuild()
{
    auto* chart = new QChart;
    chart->setMargins(QMargins(2, 2, 2, 2));
    const auto& model = m_doc->model();
    if (!model || model->layers.empty()) {
        chart->setTitle(model ? tr("This model has no compressible layers.") : QString());
        replaceChart(this, chart);
        return;
    }
    if (m_estimator->isComplete()) {
        const uint64_t before = m_estimator->originalBytes(), after = m_estimator->compressedBytes();
        chart->setTitle(tr("Model: %1 → %2 (%3× smaller)")
                            .arg(formatBytes(before), formatBytes(after))
                            .arg(after ? double(before) / double(after) : 0.0, 0, 'f', 2));
    } else {
        chart->setTitle(tr("Model: %1 → computing…").arg(formatBytes(model->totalBytes())));
    }
    // The largest layers by original weight bytes, largest at the top.
    std::vector<int> order(model->layers.size());
    std::iota(order.begin(), order.end(), 0);
    auto weightBytes = [&](int l) { return model->tensors[static_cast<size_t>(model->layers[static_cast<size_t>(l)].weight)].storedBytes(); };
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return weightBytes(a) > weightBytes(b); });
    order.resize(std::min<size_t>(order.size(), TopLayers));

    const uint64_t maxBytes = weightBytes(order.front());
    const double scale = maxBytes >= (1u << 20) ? double(1u << 20) : maxBytes >= 1024 ? 1024.0 : 1.0;
    const QString unit = scale > 1024 ? QStringLiteral("MiB") : scale > 1 ? QStringLiteral("KiB") : QStringLiteral("B");
    auto* original = new QBarSet(tr("original"));
    auto* compressed = new QBarSet(tr("compressed"));
    original->setColor(palette().color(QPalette::Mid));
    compressed->setColor(palette().color(QPalette::Highlight));
    // Names without the prefix every layer shares ("model."), shortened in the middle.
    QString prefix = m_doc->layerName(0);
    for (int i = 1; i < m_doc->layerCount() && !prefix.isEmpty(); ++i) {
        const QString n = m_doc->layerName(i);
        qsizetype k = 0;
        while (k < prefix.size() && k < n.size() && prefix[k] == n[k])
            ++k;
        prefix.truncate(k);
    }
    prefix.truncate(prefix.lastIndexOf(QLatin1Char('.')) + 1); // whole name parts only
    QStringList categories;
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        QString label = elideMiddle(m_doc->layerName(*it).mid(prefix.size()), 26);
        while (categories.contains(label))
            label += QLatin1Char(' ');
        categories << label;
        *original << double(weightBytes(*it)) / scale;
        const auto* r = m_estimator->result(*it);
        *compressed << (r ? double((r->compressedBits + 7) / 8) / scale : 0.0);
    }
    auto* series = new QHorizontalBarSeries;
    series->append(original);
    series->append(compressed);
    series->setBarWidth(0.8);
    chart->addSeries(series);
    auto* y = new QBarCategoryAxis;
    y->append(categories);
    y->setTruncateLabels(false);
    QFont small = y->labelsFont();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    y->setLabelsFont(small);
    auto* x = makeNiceAxis(0, double(maxBytes) / scale, 4);
    x->setTitleText(tr("weight size (%1)").arg(unit));
    chart->addAxis(y, Qt::AlignLeft);
    chart->addAxis(x, Qt::AlignBottom);
    series->attachAxis(y);
    series->attachAxis(x);
    chart->legend()->setVisible(true);
    chart->legend()->setAlignment(Qt::AlignBottom);
    replaceChart(this, chart);
}

} // namespace bonsai::ui
