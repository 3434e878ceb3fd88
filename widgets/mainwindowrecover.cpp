// MainWindow: the recovery dock (training runs that win back the accuracy compression costs),
// opened from the Evaluate menu; each completed run becomes its own point on the evaluation
// panel's accuracy-against-size chart, labelled with how it was obtained.
#include "mainwindow.h"

#include "compressiondocument.h"
#include "evalengine.h"
#include "evalpanel.h"
#include "modelestimator.h"
#include "recoverpanel.h"
#include "tradeoffmodel.h"

#include <QDockWidget>
#include <QMenu>

namespace bonsai::ui {

void MainWindow::setupRecovery(QMenu* evaluate)
{
    m_recoverPanel = new RecoverPanel(m_doc, this);
    m_recoverDock = new QDockWidget(tr("Recover Accuracy"), this);
    m_recoverDock->setObjectName(QStringLiteral("recoverDock"));
    m_recoverDock->setWidget(m_recoverPanel);
    m_recoverDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable |
                               QDockWidget::DockWidgetClosable);
    addDockWidget(Qt::BottomDockWidgetArea, m_recoverDock);
    tabifyDockWidget(m_evalDock, m_recoverDock);
    m_recoverDock->setVisible(false);

    QAction* open = evaluate->addAction(tr("&Recover Accuracy…"), this, [this] {
        // The evaluation panel's data set (a folder: its train split is used for training).
        if (!m_evalPanel->dataset().trimmed().isEmpty() && !m_recoverPanel->isBusy())
            m_recoverPanel->setTrainData(m_evalPanel->dataset().trimmed());
        m_recoverDock->setVisible(true);
        m_recoverDock->raise();
    });
    open->setStatusTip(tr("Win back accuracy lost to compression by a short training run "
                          "(fine-tuning, QAT, distillation or lottery ticket)"));

    connect(m_recoverPanel, &RecoverPanel::recovered, this,
            [this](const QString& label, const bonsai::RecoverResult& r) {
                const auto& model = m_doc->model();
                // Lottery replaces the recipe's sparsity: the recipe's size would be wrong.
                if (!model || r.method == bonsai::RecoverMethod::Lottery)
                    return;
                TradeoffPoint p;
                p.label = label;
                p.configs = m_recoverPanel->resultConfigs();
                p.details = describeConfigs(*model, p.configs);
                p.result.metrics.top1 = r.accuracyAfter;
                p.result.complete = true;
                p.result.seconds = r.seconds;
                p.result.originalBytes = model->totalBytes();
                p.result.compressedBytes = m_estimator->compressedBytes();
                for (const auto& known : m_evalPanel->tradeoffs()->points())
                    if (known.configs == p.configs) // the evaluator's size for this configuration
                        p.result.compressedBytes = known.result.compressedBytes;
                m_evalPanel->tradeoffs()->add(std::move(p));
            });
}

} // namespace bonsai::ui
