#include "jobscreenshot.h"

#include "mainwindow.h"
#include "screenshotdriver.h"

#include <QTimer>

namespace bonsai::ui {

JobScreenshot::JobScreenshot(MainWindow* window, ScreenshotDriver* driver, QString outPath, QObject* parent)
    : QObject(parent), m_window(window), m_driver(driver), m_out(std::move(outPath))
{
}

void JobScreenshot::start()
{
    // Runs after the driver's own handler, which applied the recipe.
    connect(m_window, &MainWindow::modelOpened, this, [this] { startJob(); });
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

void JobScreenshot::jobDone(const QString& error)
{
    if (!error.isEmpty())
        m_error = error;
    m_jobDone = true;
    grabWhenDone();
}

void JobScreenshot::grabWhenDone()
{
    if (!m_shotTaken || !m_jobDone || m_done)
        return;
    QTimer::singleShot(150, this, [this] {
        if (m_done || !m_window)
            return;
        m_done = true;
        showJobDock();
        if (!saveScreenshot(m_window->grab(), m_out, &m_error)) {
            emit finished(1);
            return;
        }
        emit finished(m_error.isEmpty() ? 0 : 1);
    });
}

} // namespace bonsai::ui
