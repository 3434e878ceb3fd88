#include "perplexityscreenshot.h"

#include "mainwindow.h"
#include "perplexitypanel.h"
#include "screenshotdriver.h"

#include <QDockWidget>
#include <QPixmap>
#include <QTimer>

namespace bonsai::ui {

PerplexityScreenshot::PerplexityScreenshot(MainWindow* window, ScreenshotDriver* driver, QString outPath,
                                           QObject* parent)
    : QObject(parent), m_window(window), m_driver(driver), m_out(std::move(outPath))
{
}

void PerplexityScreenshot::start()
{
    PerplexityPanel* panel = m_window->perplexityPanel();
    connect(m_window, &MainWindow::modelOpened, this, [this, panel] {
        // Runs after the driver's own handler, which applied the recipe.
        connect(panel, &PerplexityPanel::measured, this, [this] {
            m_runDone = true;
            grabWhenDone();
        });
        connect(panel, &PerplexityPanel::measureFailed, this, [this](const QString& msg) {
            m_error = tr("perplexity failed: %1").arg(msg);
            m_runDone = true;
            grabWhenDone();
        });
        m_window->showPerplexityDock(); // also for other models: the panel says why
        panel->setMaxChunks(MaxChunks);
        panel->start();
    });
    connect(m_driver, &ScreenshotDriver::finished, this, [this](int code) {
        if (code != 0) {
            m_error = m_driver->errorString();
            m_done = true;
            emit finished(code);
            return;
        }
        m_shotTaken = true;
        grabWhenDone();
    });
}

void PerplexityScreenshot::grabWhenDone()
{
    if (!m_shotTaken || !m_runDone || m_done)
        return;
    QTimer::singleShot(150, this, [this] {
        if (m_done || !m_window)
            return;
        m_done = true;
        const QPixmap pixmap = m_window->grab();
        if (pixmap.isNull() || !pixmap.save(m_out, "PNG")) {
            m_error = tr("could not write the screenshot to %1").arg(m_out);
            emit finished(1);
            return;
        }
        emit finished(m_error.isEmpty() ? 0 : 1);
    });
}

} // namespace bonsai::ui
