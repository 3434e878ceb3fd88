#include "speedfeature.h"

#include "compressiondocument.h"
#include "evalpanel.h"
#include "evaluationfeature.h"
#include "layertablemodel.h"
#include "layertableview.h"
#include "mainwindow.h"
#include "speedpanel.h"
#include "tradeoffmodel.h"
#include "windowlayout.h"

#include <QDockWidget>
#include <QHeaderView>
#include <QMenu>
#include <QTreeView>

namespace bonsai::ui {

SpeedFeature::SpeedFeature(MainWindow* window, CompressionDocument* doc, EvaluationFeature* evaluation)
    : QObject(window), m_window(window), m_evaluation(evaluation), m_panel(new SpeedPanel(doc, window)),
      m_dock(window->addPanelDock(tr("Speed"), QStringLiteral("speedDock"), m_panel, evaluation->dock()))
{
    connect(m_panel, &SpeedPanel::measured, this, &SpeedFeature::onMeasured);
    // A new model: its latencies are not known yet (the table clears its own column).
    TradeoffModel* tradeoffs = evaluation->panel()->tradeoffs();
    connect(doc, &CompressionDocument::modelReset, tradeoffs, &TradeoffModel::clearMeasuredLatency);
}

void SpeedFeature::onMeasured(const SpeedComparison& r)
{
    const bonsai::SpeedResult& c = *r.configured;
    const bool llm = c.kind == bonsai::SpeedResult::Kind::LanguageModel;
    const QString per = llm ? tr("per decoded token") : tr("per batch of %n", nullptr, int(c.batch));
    LayerTableView* table = m_window->layerTable();
    table->tableModel()->setMeasuredLatency(c.layerSeconds, r.original ? r.original->layerSeconds : std::vector<double>{},
                                            r.configs, per);
    // The column may be hidden or out of a narrow table's view: then it moves next to the
    // precision, where the layer names stay in view beside it.
    QHeaderView* header = table->view()->header();
    header->setSectionHidden(LayerTableModel::Latency, false);
    const int x = header->sectionViewportPosition(LayerTableModel::Latency);
    if (x < 0 || x + header->sectionSize(LayerTableModel::Latency) > header->viewport()->width())
        header->moveSection(header->visualIndex(LayerTableModel::Latency),
                            header->visualIndex(LayerTableModel::Precision) + 1);
    TradeoffModel* tradeoffs = m_evaluation->panel()->tradeoffs();
    if (r.original)
        tradeoffs->setMeasuredLatency({}, r.original->latencySeconds());
    if (r.compressed())
        tradeoffs->setMeasuredLatency(r.configs, c.latencySeconds());
}

void SpeedFeature::addActions(QMenu* evaluate)
{
    QAction* open = evaluate->addAction(tr("&Speed…"), this, [this] { showDock(); });
    open->setShortcut(QKeySequence(Qt::Key_F9));
    open->setStatusTip(tr("Measure latency, throughput and memory on this machine, uncompressed and as configured"));
    open->setEnabled(false);
    connect(m_panel, &SpeedPanel::readyChanged, open, &QAction::setEnabled);
}

void SpeedFeature::showDock()
{
    // A tab beside the evaluation dock wherever that is (below the central area, or on the
    // right in a low window), so the tables get the dock's whole width.
    QDockWidget* eval = m_evaluation->dock();
    if (!m_dock->isVisible() && !m_dock->isFloating() && eval->isVisible() && !eval->isFloating())
        m_window->tabifyDockWidget(eval, m_dock);
    const bool wasVisible = m_dock->isVisible();
    m_dock->setVisible(true);
    m_dock->raise();
    if (!wasVisible)
        m_window->resizeDocks({m_dock}, {bottomDockHeight(m_window, m_dock)}, Qt::Vertical);
}

} // namespace bonsai::ui
