// The trade-off table's measured latencies: a speed run's latency reaches the rows evaluated
// with exactly its configuration (also rows added later), an all-unchanged configuration is
// the uncompressed model whatever its length, a new model clears them, and the front against
// latency takes only the measured rows (worked out by hand below).
#include "tradeoffmodel.h"

#include "bonsai/layer_config.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QtTest>

using bonsai::ui::TradeoffMetric;
using bonsai::ui::TradeoffModel;
using bonsai::ui::TradeoffPoint;

namespace {

std::vector<bonsai::LayerConfig> bits(std::initializer_list<int> perLayer)
{
    std::vector<bonsai::LayerConfig> c;
    for (int b : perLayer) {
        bonsai::LayerConfig l;
        if (b < 32)
            l.precision = *bonsai::parsePrecision("int" + std::to_string(b));
        c.push_back(l);
    }
    return c;
}

TradeoffPoint measured(double top1, double latency)
{
    TradeoffPoint p;
    p.result.metrics.top1 = top1;
    p.result.compressedBytes = 100;
    p.latencySeconds = latency;
    return p;
}

} // namespace

class TstSessionTradeoffLatency : public QObject {
    Q_OBJECT
private slots:
    void latencyReachesTheRowsOfItsConfiguration()
    {
        TradeoffModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        TradeoffPoint int8;
        int8.configs = bits({8, 8});
        TradeoffPoint int4 = int8;
        int4.configs = bits({4, 4});
        model.add(int8);
        model.add(int4);
        QSignalSpy changed(&model, &TradeoffModel::latencyChanged);
        model.setMeasuredLatency(bits({8, 8}), 0.002);
        QCOMPARE(changed.size(), 1);
        QCOMPARE(model.point(0).latencySeconds, 0.002);
        QCOMPARE(model.point(1).latencySeconds, -1.0);
        QCOMPARE(model.uncompressedLatency(), -1.0);
        // Unchanged layers: the uncompressed model, as an empty list or one per layer.
        model.setMeasuredLatency(bits({32, 32}), 0.003);
        QCOMPARE(model.uncompressedLatency(), 0.003);
        // A row evaluated later with a measured configuration gets its latency; the newest wins.
        model.setMeasuredLatency(bits({8, 8}), 0.001);
        QCOMPARE(model.point(0).latencySeconds, 0.001);
        QCOMPARE(model.point(model.add(int8)).latencySeconds, 0.001);
        // clear() (other data) keeps the latencies, clearMeasuredLatency() (a new model) drops them.
        model.clear();
        QCOMPARE(model.point(model.add(int8)).latencySeconds, 0.001);
        model.clearMeasuredLatency();
        QCOMPARE(model.point(0).latencySeconds, -1.0);
        QCOMPARE(model.uncompressedLatency(), -1.0);
    }

    void frontAgainstLatency()
    {
        // By latency: E(1 ms, 0.70), A(2, 0.80), C(3, 0.78), B(4, 0.90), D unmeasured (0.99).
        // E opens the front, A beats 0.70, C does not beat 0.80, B beats it; D is not drawn.
        const std::vector<TradeoffPoint> pts{measured(0.80, 0.002), measured(0.90, 0.004), measured(0.78, 0.003),
                                             measured(0.99, -1), measured(0.70, 0.001)};
        QCOMPARE(bonsai::ui::latencyParetoFront(pts, TradeoffMetric::Top1), (std::vector<int>{4, 0, 1}));
        // Perplexity (lower is better): 10, 9, 12, -, 20 -> E(20), A(10), B(9).
        std::vector<TradeoffPoint> ppl = pts;
        const double values[] = {10, 9, 12, 5, 20};
        for (size_t i = 0; i < ppl.size(); ++i)
            ppl[i].perplexity = values[i];
        QCOMPARE(bonsai::ui::latencyParetoFront(ppl, TradeoffMetric::Perplexity), (std::vector<int>{4, 0, 1}));
        QVERIFY(bonsai::ui::latencyParetoFront({measured(0.5, -1)}, TradeoffMetric::Top1).empty());
    }
};

QTEST_GUILESS_MAIN(TstSessionTradeoffLatency)
#include "tst_session_tradeoff_latency.moc"
