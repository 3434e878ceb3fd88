#include "speedscreenshot.h"

#include "mainwindow.h"
#include "speedpanel.h"

#include <QDockWidget>

namespace bonsai::ui {

SpeedScreenshot::SpeedScreenshot(MainWindow* window, ScreenshotDriver* driver, QString outPath, QObject* parent)
    : JobScreenshot(window, driver, std::move(outPath), parent)
{
}

void SpeedScreenshot::startJob()
{
    SpeedPanel* panel = window()->speedPanel();
    connect(panel, &SpeedPanel::measured, this, [this] { jobDone(); });
    connect(panel, &SpeedPanel::measureFailed, this,
            [this](const QString& msg) { jobDone(tr("speed failed: %1").arg(msg)); });
    window()->showSpeedDock(); // also for models it cannot measure: the panel says why
    bonsai::SpeedOptions o = panel->options();
    o.prompt = PromptTokens;
    o.tokens = DecodeTokens;
    panel->setOptions(o);
    panel->start();
}

void SpeedScreenshot::showJobDock()
{
    window()->speedDock()->raise();
}

} // namespace bonsai::ui
