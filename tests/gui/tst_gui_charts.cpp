// Charts on hand-made data. The accuracy-vs-size chart: every point carries its number, points
// drawn on top of each other share one label and one tooltip, the configuration being edited
// is ringed (and its table row bold), and the uncompressed model has a visible legend mark.
// The weight histogram: a compressed overlay whose grid piles counts into one bin leaves the
// original distribution readable.
#include "histogramview.h"
#include "tradeoffchart.h"
#include "tradeoffmodel.h"

#include "bonsai/layer_config.h"
#include "bonsai/stats.h"

#include <QAbstractAxis>
#include <QCategoryAxis>
#include <QChart>
#include <QChartView>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QFont>
#include <QLegend>
#include <QLegendMarker>
#include <QScatterSeries>
#include <QtTest>

using bonsai::ui::TradeoffChart;
using bonsai::ui::TradeoffModel;
using bonsai::ui::TradeoffPoint;

namespace {

std::vector<bonsai::LayerConfig> bits(int b)
{
    bonsai::LayerConfig c;
    c.precision = {bonsai::PrecisionKind::Int, b};
    return {c, c};
}

TradeoffPoint point(int number, int b, uint64_t bytes, double top1)
{
    TradeoffPoint p;
    p.label = QStringLiteral("#%1 int%2 (all 2 layers)").arg(number).arg(b);
    p.details = QStringLiteral("layer a: int%1").arg(b);
    p.configs = bits(b);
    p.result.originalBytes = 4000;
    p.result.compressedBytes = bytes;
    p.result.metrics.top1 = top1;
    p.result.metrics.agreement = top1;
    return p;
}

// The texts drawn beside points (the label series: no legend entry, one point each).
QStringList pointTexts(QChart* chart)
{
    QStringList texts;
    for (QAbstractSeries* s : chart->series()) {
        auto* scatter = qobject_cast<QScatterSeries*>(s);
        if (scatter && scatter->pointLabelsVisible())
            texts << scatter->pointLabelsFormat();
    }
    texts.sort();
    return texts;
}

QScatterSeries* seriesNamed(QChart* chart, const QString& name)
{
    for (QAbstractSeries* s : chart->series())
        if (s->name() == name)
            return qobject_cast<QScatterSeries*>(s);
    return nullptr;
}

} // namespace

class TestGuiCharts : public QObject {
    Q_OBJECT
private slots:
    void labelsCurrentMarkAndOverlaps()
    {
        TradeoffModel model;
        TradeoffChart chart(&model);
        chart.resize(640, 400);
        chart.show();
        QVERIFY(QTest::qWaitForWindowExposed(&chart));

        model.add(point(1, 8, 1000, 0.90));
        model.add(point(2, 4, 500, 0.80));
        // #3 is drawn exactly on #2 (another configuration of the same size and accuracy).
        TradeoffPoint twin = point(3, 4, 500, 0.80);
        twin.configs[1].precision.bits = 5;
        model.add(twin);
        QCOMPARE(chart.pointLabel(0), QStringLiteral("#1"));
        QCOMPARE(pointTexts(chart.chart()), (QStringList{QStringLiteral("#1"), QStringLiteral("#2 · #3")}));

        // One tooltip names both configurations at that place, and only them.
        const QString tip = chart.tipAt(chart.valueOf(1));
        QVERIFY2(tip.contains(QStringLiteral("#2 int4")) && tip.contains(QStringLiteral("#3 int4")), qPrintable(tip));
        QVERIFY2(!tip.contains(QStringLiteral("#1 int8")), qPrintable(tip));
        QVERIFY(tip.contains(QStringLiteral("top-1 80.00%")));
        QVERIFY(tip.contains(QStringLiteral("8.00× smaller"))); // 4000 / 500

        // No current configuration yet: no ring. Editing to #1's configuration rings #1.
        QCOMPARE(model.currentRow(), -1);
        QVERIFY(!seriesNamed(chart.chart(), QStringLiteral("current configuration")));
        model.setCurrentConfigs(bits(8));
        QCOMPARE(model.currentRow(), 0);
        QScatterSeries* ring = seriesNamed(chart.chart(), QStringLiteral("current configuration"));
        QVERIFY(ring);
        QCOMPARE(ring->count(), 1);
        QCOMPARE(ring->at(0), chart.valueOf(0));
        QVERIFY(model.data(model.index(0, 0), Qt::FontRole).value<QFont>().bold());
        QVERIFY(!model.data(model.index(1, 0), Qt::FontRole).value<QFont>().bold());
        QVERIFY(chart.tipAt(chart.valueOf(0)).contains(QStringLiteral("(current)")));
        // A configuration never evaluated: nothing is ringed.
        model.setCurrentConfigs(bits(3));
        QCOMPARE(model.currentRow(), -1);
        QVERIFY(!seriesNamed(chart.chart(), QStringLiteral("current configuration")));
        // Evaluating it later makes the new row current.
        model.add(point(4, 3, 375, 0.5));
        QCOMPARE(model.currentRow(), 3);
        if (qEnvironmentVariableIsSet("BONSAI_SNAPSHOT_DIR")) // to look at
            chart.grab().save(qEnvironmentVariable("BONSAI_SNAPSHOT_DIR") + QStringLiteral("/tradeoff.png"));
    }

    void legendShowsTheUncompressedMark()
    {
        TradeoffModel model;
        TradeoffChart chart(&model);
        model.add(point(1, 8, 1000, 0.90));
        bonsai::EvalResult ref;
        ref.originalBytes = 4000;
        ref.compressedBytes = 4000;
        ref.metrics.top1 = 0.91;
        chart.setReference(ref);
        QScatterSeries* star = seriesNamed(chart.chart(), QStringLiteral("uncompressed (top-1)"));
        QVERIFY(star);
        QCOMPARE(star->markerShape(), QScatterSeries::MarkerShapeStar);
        QVERIFY(star->color().alpha() == 255 && star->color() != chart.chart()->backgroundBrush().color());
        QCOMPARE(chart.chart()->legend()->markerShape(), QLegend::MarkerShapeFromSeries);
        const auto markers = chart.chart()->legend()->markers(star);
        QCOMPARE(markers.size(), 1);
        QVERIFY(markers.front()->isVisible());
        // The label series stay out of the legend.
        int visible = 0;
        for (QLegendMarker* m : chart.chart()->legend()->markers())
            visible += m->isVisible();
        QCOMPARE(visible, 4); // front, uncompressed, agreement, top-1
    }

    void dominantOverlayBinKeepsTheOriginalReadable()
    {
        // 64 bins over [-1, 1] shaped like a bell peaking at 100; the compressed weights (a
        // 3-level grid) put 5,000 of them in the middle bin.
        auto stats = std::make_shared<bonsai::TensorStats>();
        stats->min = -1;
        stats->max = 1;
        for (int i = 0; i < 64; ++i) {
            const double z = (i - 31.5) / 10.0;
            stats->histogram.push_back(uint64_t(std::lround(100 * std::exp(-z * z / 2))));
            stats->count += stats->histogram.back();
        }
        const double originalPeak = double(*std::max_element(stats->histogram.begin(), stats->histogram.end()));
        bonsai::ui::StatsResult result;
        result.tensor = 0;
        result.label = QStringLiteral("fc1.weight");
        result.stats = stats;
        bonsai::ui::HistogramOverlay overlay;
        overlay.tensor = 0;
        overlay.lo = -1;
        overlay.hi = 1;
        overlay.counts.assign(64, 0);
        overlay.counts[0] = 100;
        overlay.counts[32] = 5000;
        overlay.counts[63] = 100;
        overlay.name = QStringLiteral("compressed (int2)");

        bonsai::ui::HistogramView view;
        view.resize(600, 360);
        view.setStats(result);
        view.setOverlay(overlay);
        QVERIFY(view.hasOverlay());
        QChart* chart = view.chartView()->chart();
        auto yAxis = [&chart]() -> QAbstractAxis* {
            for (QAbstractAxis* a : chart->axes(Qt::Vertical))
                return a;
            return nullptr;
        };
        // Linear: the axis stops at 2.5 times the original's peak (plus the nice rounding),
        // so the bell fills at least a third of the plot; the legend names the true peak.
        auto* linear = qobject_cast<QCategoryAxis*>(yAxis());
        QVERIFY(linear);
        QVERIFY2(linear->max() <= 3 * originalPeak, qPrintable(QString::number(linear->max())));
        QVERIFY(originalPeak / linear->max() >= 1.0 / 3);
        bool named = false;
        for (QAbstractSeries* s : chart->series())
            named = named || s->name() == QStringLiteral("compressed (int2), peaks to 5,000");
        QVERIFY(named);
        // Log: the whole spike fits and the original still spans decades.
        view.setLogScale(true);
        chart = view.chartView()->chart();
        auto* log = qobject_cast<QLogValueAxis*>(yAxis());
        QVERIFY(log);
        QVERIFY(log->max() >= 5000);
    }
};

QTEST_MAIN(TestGuiCharts)
#include "tst_gui_charts.moc"
