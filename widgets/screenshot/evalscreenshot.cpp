#include "evalscreenshot.h"

#include "evalpanel.h"
#include "mainwindow.h"

#include <QDockWidget>

namespace bonsai::ui {

EvalScreenshot::EvalScreenshot(MainWindow* window, ScreenshotDriver* driver, QString outPath, QObject* parent)
    : JobScreenshot(window, driver, std::move(outPath), parent)
{
}

void EvalScreenshot::startJob()
{
    EvalPanel* panel = window()->evalPanel();
    connect(panel, &EvalPanel::evaluated, this, [this] { jobDone(); });
    connect(panel, &EvalPanel::evaluationFailed, this,
            [this](const QString& msg) { jobDone(tr("evaluation failed: %1").arg(msg)); });
    showJobDock(); // also for models that cannot run: the panel says why
    panel->showTab(EvalPanel::TradeoffTab);
    panel->evaluate();
}

void EvalScreenshot::showJobDock()
{
    // The panel sits in the dock's content (possibly inside a scroll area).
    QWidget* w = window()->evalPanel();
    while (w && !qobject_cast<QDockWidget*>(w))
        w = w->parentWidget();
    if (auto* dock = qobject_cast<QDockWidget*>(w)) {
        dock->show();
        dock->raise(); // in front of the docks tabbed with it
    }
}

} // namespace bonsai::ui
