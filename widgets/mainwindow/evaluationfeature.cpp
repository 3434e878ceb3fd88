#include "evaluationfeature.h"

#include "evalpanel.h"
#include "mainwindow.h"

#include "windowlayout.h"

#include <QDockWidget>
#include <QMenu>

namespace bonsai::ui {

EvaluationFeature::EvaluationFeature(MainWindow* window, CompressionDocument* doc)
    : QObject(window), m_window(window), m_panel(new EvalPanel(doc, window)),
      // Hidden until an ONNX model is open; the menu shows it for any model.
      m_dock(window->addPanelDock(tr("Evaluation"), QStringLiteral("evalDock"), m_panel))
{
    connect(m_panel, &EvalPanel::readyChanged, m_dock, [this](bool canEvaluate) {
        if (canEvaluate && !m_dock->isVisible()) {
            m_dock->setVisible(true);
            m_window->resizeDocks({m_dock}, {bottomDockHeight(m_window, m_dock)}, Qt::Vertical);
        }
    });
}

void EvaluationFeature::addActions(QMenu* menu)
{
    QAction* run = menu->addAction(tr("&Evaluate"), m_panel, &EvalPanel::evaluate);
    run->setShortcut(QKeySequence(Qt::Key_F5));
    run->setStatusTip(tr("Measure the accuracy of the compressed model on the data set"));
    QAction* cancel = menu->addAction(tr("&Cancel Evaluation"), m_panel, &EvalPanel::cancel);
    cancel->setShortcut(QKeySequence(Qt::SHIFT | Qt::Key_F5));
    cancel->setEnabled(m_panel->isBusy());
    connect(m_panel, &EvalPanel::runningChanged, cancel, &QAction::setEnabled);
    // One setting, shown twice: the menu item and the dock's check box follow each other.
    QAction* autoEval = menu->addAction(tr("&Auto-evaluate"));
    autoEval->setCheckable(true);
    autoEval->setChecked(m_panel->autoEvaluate());
    autoEval->setStatusTip(tr("Evaluate again after every configuration change"));
    connect(autoEval, &QAction::toggled, m_panel, &EvalPanel::setAutoEvaluate);
    connect(m_panel, &EvalPanel::autoEvaluateChanged, autoEval, &QAction::setChecked);
    for (QAction* a : {run, autoEval}) {
        a->setEnabled(false);
        connect(m_panel, &EvalPanel::readyChanged, a, &QAction::setEnabled);
    }
    menu->addSeparator();
    menu->addAction(m_dock->toggleViewAction());
}

} // namespace bonsai::ui
