#include "searchfeature.h"

#include "budgetsearch.h"
#include "compressiondocument.h"
#include "evalpanel.h"
#include "evaluationfeature.h"
#include "mainwindow.h"
#include "perplexityfeature.h"
#include "perplexitypanel.h"
#include "searchpanel.h"
#include "tradeoffmodel.h"

#include "bonsai/llm.h"
#include "bonsai/model.h"

#include "windowlayout.h"

#include <QDockWidget>
#include <QMenu>

#include <algorithm>

namespace bonsai::ui {

SearchFeature::SearchFeature(MainWindow* window, CompressionDocument* doc, EvaluationFeature* evaluation,
                             PerplexityFeature* perplexity)
    : QObject(window), m_window(window), m_evaluation(evaluation), m_panel(new SearchPanel(doc, window)),
      m_dock(window->addPanelDock(tr("Budget search"), QStringLiteral("searchDock"), m_panel))
{
    EvalPanel* eval = evaluation->panel();
    PerplexityPanel* ppl = perplexity->panel();
    m_panel->setDataSource([doc, eval, ppl] {
        const auto& model = doc->model();
        if (model && bonsai::isLanguageModel(*model))
            return SearchPanel::DataChoice{ppl->textFile(), tr("Perplexity")};
        return SearchPanel::DataChoice{eval->dataset(), tr("Evaluation")};
    });
    // The data may change in those docks at any time: read it again when they report.
    connect(eval, &EvalPanel::readyChanged, m_panel, &SearchPanel::refreshData);
    connect(ppl, &PerplexityPanel::readyChanged, m_panel, &SearchPanel::refreshData);
    connect(m_dock, &QDockWidget::visibilityChanged, m_panel, [this](bool visible) {
        if (visible)
            m_panel->refreshData();
    });

    // The predicted front on the trade-off chart (evaluation's, shared with perplexity).
    BudgetSearch* search = m_panel->search();
    TradeoffModel* tradeoffs = eval->tradeoffs();
    connect(search, &BudgetSearch::frontChanged, tradeoffs,
            [search, tradeoffs] { tradeoffs->setPredictedFront(search->predictedFront()); });
}

void SearchFeature::addActions(QMenu* evaluate)
{
    evaluate->addSeparator();
    QAction* open = evaluate->addAction(tr("&Budget Search…"), this, [this] { showDock(); });
    open->setShortcut(QKeySequence(Qt::Key_F8));
    open->setStatusTip(tr("Measure each layer's sensitivity and let a size or quality budget choose every "
                          "layer's configuration"));
    QAction* cancel = evaluate->addAction(tr("Cancel Budget &Measurement"), m_panel, &SearchPanel::cancel);
    cancel->setEnabled(false);
    connect(m_panel, &SearchPanel::runningChanged, cancel, &QAction::setEnabled);
}

void SearchFeature::showDock()
{
    if (!m_dock->isVisible() && !m_dock->isFloating()) {
        // Tall windows: a tab beside the evaluation dock when that is below the central area;
        // else along the bottom, where the map has the window's width.
        QDockWidget* eval = m_evaluation->dock();
        const bool tall = m_window->height() >= WindowLayout::CompactHeight;
        if (tall && eval->isVisible() && m_window->dockWidgetArea(eval) == Qt::BottomDockWidgetArea)
            m_window->tabifyDockWidget(eval, m_dock);
        else if (m_window->dockWidgetArea(m_dock) != Qt::BottomDockWidgetArea)
            m_window->addDockWidget(Qt::BottomDockWidgetArea, m_dock);
    }
    const bool wasVisible = m_dock->isVisible();
    m_dock->setVisible(true);
    m_dock->raise();
    if (!wasVisible) {
        // A low window (a laptop screen): only the height the panel needs (its settings, the
        // budget row, three rows of the map and the explanation line, plus the dock's title
        // bar), so the layer details above keep their histogram readable; the map scrolls.
        int height = bottomDockHeight(m_window, m_dock);
        if (m_window->height() < WindowLayout::CompactHeight) {
            const int titleBar = m_dock->minimumSizeHint().height() - m_dock->widget()->minimumSizeHint().height();
            height = std::min(height, m_panel->compactHeight() + std::max(0, titleBar));
        }
        m_window->resizeDocks({m_dock}, {height}, Qt::Vertical);
    }
}

} // namespace bonsai::ui
