#include "perplexityscreenshot.h"

#include "mainwindow.h"
#include "perplexitypanel.h"

namespace bonsai::ui {

PerplexityScreenshot::PerplexityScreenshot(MainWindow* window, ScreenshotDriver* driver, QString outPath,
                                           QObject* parent)
    : JobScreenshot(window, driver, std::move(outPath), parent)
{
}

void PerplexityScreenshot::startJob()
{
    PerplexityPanel* panel = window()->perplexityPanel();
    connect(panel, &PerplexityPanel::measured, this, [this] { jobDone(); });
    connect(panel, &PerplexityPanel::measureFailed, this,
            [this](const QString& msg) { jobDone(tr("perplexity failed: %1").arg(msg)); });
    window()->showPerplexityDock(); // also for other models: the panel says why
    panel->setMaxChunks(MaxChunks);
    panel->start();
}

} // namespace bonsai::ui
