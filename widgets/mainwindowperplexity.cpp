// MainWindow: the perplexity dock (language models), opened from the Evaluate menu; each
// finished run becomes a point on the trade-off chart, which measures perplexity (lower is
// better) while a language model is open.
#include "mainwindow.h"

#include "compressiondocument.h"
#include "evalpanel.h"
#include "perplexitypanel.h"
#include "tradeoffchart.h"
#include "tradeoffmodel.h"

#include "bonsai/llm.h"
#include "bonsai/model.h"

#include <QDockWidget>
#include <QMenu>

namespace bonsai::ui {

void MainWindow::setupPerplexity(QMenu* evaluate)
{
    m_perplexityPanel = new PerplexityPanel(m_doc, m_evalPanel->tradeoffs(), this);
    m_perplexityDock = new QDockWidget(tr("Perplexity"), this);
    m_perplexityDock->setObjectName(QStringLiteral("perplexityDock"));
    m_perplexityDock->setWidget(m_perplexityPanel);
    m_perplexityDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable |
                                  QDockWidget::DockWidgetClosable);
    addDockWidget(Qt::BottomDockWidgetArea, m_perplexityDock);
    tabifyDockWidget(m_evalDock, m_perplexityDock);
    m_perplexityDock->setVisible(false);

    QAction* open = evaluate->addAction(tr("&Perplexity…"), this, [this] { showPerplexityDock(); });
    open->setShortcut(QKeySequence(Qt::Key_F6));
    open->setStatusTip(tr("Measure a language model's perplexity on a text, compressed as configured"));
    open->setEnabled(false);
    connect(m_perplexityPanel, &PerplexityPanel::readyChanged, open, &QAction::setEnabled);

    // Clicking a point restores its configuration (an undoable step), as in the evaluation dock.
    connect(m_perplexityPanel->tradeoffChart(), &TradeoffChart::restoreRequested, m_evalPanel, &EvalPanel::restore);

    // The trade-off chart measures perplexity while a language model is open.
    connect(m_doc, &CompressionDocument::modelReset, this, [this] {
        const auto& model = m_doc->model();
        const bool llm = model && bonsai::isLanguageModel(*model);
        m_evalPanel->tradeoffs()->setMetric(llm ? TradeoffMetric::Perplexity : TradeoffMetric::Top1);
        if (!llm && m_perplexityDock->isVisible())
            m_perplexityDock->setVisible(false);
    });
}

void MainWindow::showPerplexityDock()
{
    const bool wasVisible = m_perplexityDock->isVisible();
    m_perplexityDock->setVisible(true);
    m_perplexityDock->raise();
    if (!wasVisible)
        resizeDocks({m_perplexityDock}, {300}, Qt::Vertical); // the layer table keeps its room
}

} // namespace bonsai::ui
