#include "perplexityfeature.h"

#include "compressiondocument.h"
#include "evalpanel.h"
#include "evaluationfeature.h"
#include "mainwindow.h"
#include "perplexitypanel.h"
#include "tradeoffchart.h"
#include "tradeoffmodel.h"

#include "bonsai/llm.h"
#include "bonsai/model.h"

#include "windowlayout.h"

#include <QDockWidget>
#include <QMenu>

namespace bonsai::ui {

PerplexityFeature::PerplexityFeature(MainWindow* window, CompressionDocument* doc, EvaluationFeature* evaluation)
    : QObject(window), m_window(window), m_panel(new PerplexityPanel(doc, evaluation->panel()->tradeoffs(), window)),
      m_dock(window->addPanelDock(tr("Perplexity"), QStringLiteral("perplexityDock"), m_panel, evaluation->dock()))
{
    // Clicking a point restores its configuration (an undoable step), as in the evaluation dock.
    EvalPanel* eval = evaluation->panel();
    connect(m_panel->tradeoffChart(), &TradeoffChart::restoreRequested, eval, &EvalPanel::restore);

    // The trade-off chart measures perplexity while a language model is open.
    connect(doc, &CompressionDocument::modelReset, this, [this, doc, eval] {
        const auto& model = doc->model();
        const bool llm = model && bonsai::isLanguageModel(*model);
        eval->tradeoffs()->setMetric(llm ? TradeoffMetric::Perplexity : TradeoffMetric::Top1);
        if (!llm && m_dock->isVisible())
            m_dock->setVisible(false);
    });
}

void PerplexityFeature::addActions(QMenu* evaluate)
{
    QAction* open = evaluate->addAction(tr("&Perplexity…"), this, [this] { showDock(); });
    open->setShortcut(QKeySequence(Qt::Key_F6));
    open->setStatusTip(tr("Measure a language model's perplexity on a text, compressed as configured"));
    open->setEnabled(false);
    connect(m_panel, &PerplexityPanel::readyChanged, open, &QAction::setEnabled);
}

void PerplexityFeature::showDock()
{
    const bool wasVisible = m_dock->isVisible();
    m_dock->setVisible(true);
    m_dock->raise();
    if (!wasVisible)
        m_window->resizeDocks({m_dock}, {bottomDockHeight(m_window, m_dock)}, Qt::Vertical); // the layer table keeps its room
}

} // namespace bonsai::ui
