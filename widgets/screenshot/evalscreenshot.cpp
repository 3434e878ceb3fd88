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
    if (auto* dock = qobject_cast<QDockWidget*>(panel->parentWidget()))
        dock->show(); // also for models that cannot run: the panel says why
    panel->showTab(EvalPanel::TradeoffTab);
    panel->evaluate();
}

} // namespace bonsai::ui
