#include "recoveryfeature.h"

#include "compressiondocument.h"
#include "evalpanel.h"
#include "evaluationfeature.h"
#include "mainwindow.h"
#include "modelestimator.h"
#include "recoverpanel.h"
#include "recoveryrunner.h"
#include "tradeoffmodel.h"

#include <QDockWidget>
#include <QMenu>

namespace bonsai::ui {

RecoveryFeature::RecoveryFeature(MainWindow* window, CompressionDocument* doc, EvaluationFeature* evaluation,
                                 ModelEstimator* estimator)
    : QObject(window), m_doc(doc), m_evaluation(evaluation), m_estimator(estimator),
      m_panel(new RecoverPanel(doc, window)),
      m_dock(window->addPanelDock(tr("Recover Accuracy"), QStringLiteral("recoverDock"), m_panel, evaluation->dock()))
{
    connect(m_panel, &RecoverPanel::recovered, this, [this](const QString& label, const bonsai::RecoverResult& r) {
        const auto& model = m_doc->model();
        if (!model)
            return;
        TradeoffModel* tradeoffs = m_evaluation->panel()->tradeoffs();
        tradeoffs->add(RecoveryRunner::tradeoffPoint(*model, label, m_panel->resultConfigs(), r,
                                                     m_estimator->compressedBytes(), tradeoffs->points()));
    });
}

void RecoveryFeature::addActions(QMenu* evaluate)
{
    QAction* open = evaluate->addAction(tr("&Recover Accuracy…"), this, [this] {
        // The evaluation panel's data set (a folder: its train split is used for training).
        const QString data = m_evaluation->panel()->dataset().trimmed();
        if (!data.isEmpty() && !m_panel->isBusy())
            m_panel->setTrainData(data);
        m_dock->setVisible(true);
        m_dock->raise();
    });
    open->setShortcut(QKeySequence(Qt::Key_F7));
    const QString what = tr("Win back accuracy lost to compression by a short training run "
                            "(fine-tuning, QAT, distillation or lottery ticket)");
    auto ready = [open, what](bool canStart, const QString& reason) {
        open->setEnabled(canStart);
        open->setStatusTip(canStart ? what : reason);
        open->setToolTip(canStart ? what : reason);
    };
    ready(m_panel->canStart(), m_panel->unsupportedReason());
    connect(m_panel, &RecoverPanel::readyChanged, open, ready);
}

} // namespace bonsai::ui
