#include "evalscreenshot.h"

#include "evalpanel.h"
#include "mainwindow.h"
#include "screenshotdriver.h"

#include <QDockWidget>
#include <QPixmap>
#include <QTimer>

namespace bonsai::ui {

EvalScreenshot::EvalScreenshot(MainWindow* window, ScreenshotDriver* driver, QString outPath, QObject* parent)
    : QObject(parent), m_window(window), m_driver(driver), m_out(std::move(outPath))
{
}

void EvalScreenshot::start()
{
    EvalPanel* panel = m_window->evalPanel();
    connect(m_window, &MainWindow::modelOpened, this, [this, panel] {
        // Runs after the driver's own handler, which applied the recipe.
        connect(panel, &EvalPanel::evaluated, this, [this] {
            m_evalDone = true;
            grabWhenDone();
        });
        connect(panel, &EvalPanel::evaluationFailed, this, [this](const QString& msg) {
            m_error = tr("evaluation failed: %1").arg(msg);
            m_evalDone = true;
            grabWhenDone();
        });
        if (auto* dock = qobject_cast<QDockWidget*>(panel->parentWidget()))
            dock->show(); // also for models that cannot run: the panel says why
        panel->showTab(EvalPanel::TradeoffTab);
        panel->evaluate();
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

void EvalScreenshot::grabWhenDone()
{
    if (!m_shotTaken || !m_evalDone || m_done)
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
