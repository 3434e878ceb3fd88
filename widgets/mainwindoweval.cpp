// MainWindow: the evaluation dock (accuracy of the compressed model on a data set) and its menu.
#include "mainwindow.h"

#include "evalpanel.h"

#include <QDockWidget>
#include <QMenu>
#include <QMenuBar>

namespace bonsai::ui {

void MainWindow::setupEvaluation()
{
    m_evalPanel = new EvalPanel(m_doc, this);
    m_evalDock = new QDockWidget(tr("Evaluation"), this);
    m_evalDock->setObjectName(QStringLiteral("evalDock"));
    m_evalDock->setWidget(m_evalPanel);
    m_evalDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable |
                            QDockWidget::DockWidgetClosable);
    addDockWidget(Qt::BottomDockWidgetArea, m_evalDock);
    m_evalDock->setVisible(false); // until an ONNX model is open; the menu shows it for any model
    connect(m_evalPanel, &EvalPanel::readyChanged, m_evalDock, [this](bool canEvaluate) {
        if (canEvaluate && !m_evalDock->isVisible()) {
            m_evalDock->setVisible(true);
            resizeDocks({m_evalDock}, {300}, Qt::Vertical);
        }
    });

    // The Evaluate menu, before Help.
    auto* menu = new QMenu(tr("E&valuate"), this);
    QAction* run = menu->addAction(tr("&Evaluate"), m_evalPanel, &EvalPanel::evaluate);
    run->setShortcut(QKeySequence(Qt::Key_F5));
    run->setStatusTip(tr("Measure the accuracy of the compressed model on the data set"));
    QAction* cancel = menu->addAction(tr("&Cancel Evaluation"), m_evalPanel, &EvalPanel::cancel);
    cancel->setShortcut(QKeySequence(Qt::SHIFT | Qt::Key_F5));
    QAction* autoEval = menu->addAction(tr("&Auto-evaluate"));
    autoEval->setCheckable(true);
    autoEval->setStatusTip(tr("Evaluate again after every configuration change"));
    connect(autoEval, &QAction::toggled, m_evalPanel, &EvalPanel::setAutoEvaluate);
    for (QAction* a : {run, autoEval}) {
        a->setEnabled(false);
        connect(m_evalPanel, &EvalPanel::readyChanged, a, &QAction::setEnabled);
    }
    menu->addSeparator();
    menu->addAction(m_evalDock->toggleViewAction());
    setupRecovery(menu);
    setupPerplexity(menu);
    const auto top = menuBar()->actions();
    menuBar()->insertMenu(top.isEmpty() ? nullptr : top.last(), menu);
}

} // namespace bonsai::ui
