#include "screenshotdriver.h"

#include "layerdetailsview.h"
#include "layertableview.h"
#include "mainwindow.h"
#include "modelestimator.h"
#include "previewrunner.h"

#include <QCoreApplication>
#include <QSaveFile>
#include <QTimer>

namespace bonsai::ui {

ScreenshotDriver::ScreenshotDriver(MainWindow* window, QString outPath, QString modelPath,
                                   QObject* parent)
    : QObject(parent), m_window(window), m_out(std::move(outPath)), m_model(std::move(modelPath))
{
}

void ScreenshotDriver::start(QSize size)
{
    m_window->setErrorDialogsEnabled(false);
    m_window->resize(size);
    m_window->show();
    QTimer::singleShot(TimeoutMs, this, [this] {
        fail(tr("timed out waiting for the model and its statistics"), 2);
    });
    if (m_model.isEmpty()) {
        grabSoon();
        return;
    }
    connect(m_window, &MainWindow::openFailed, this, [this](const QString& msg) { fail(msg, 1); });
    connect(m_window, &MainWindow::modelOpened, this, [this] {
        if (!m_recipe.isEmpty() && !m_window->applyRecipeFile(m_recipe)) {
            fail(m_window->lastError(), 1);
            return;
        }
        if (m_window->details()->shownTensor() < 0 && !m_window->selectLargestLayer())
            grabSoon(); // no layers: nothing to wait for
    });
    auto statsDone = [this] {
        m_statsDone = true;
        grabWhenReady();
    };
    connect(m_window, &MainWindow::statsShown, this, statsDone);
    connect(m_window, &MainWindow::statsFailed, this, statsDone);
    connect(m_window, &MainWindow::previewShown, this, &ScreenshotDriver::grabWhenReady);
    connect(m_window, &MainWindow::estimatesReady, this, &ScreenshotDriver::grabWhenReady);
    m_window->openPath(m_model);
}

void ScreenshotDriver::grabWhenReady()
{
    if (!m_window || !m_statsDone)
        return;
    if (m_window->previewRunner()->isBusy() || m_window->estimator()->isBusy() || !m_window->estimator()->isComplete())
        return; // the next previewShown / estimatesReady calls again
    grabSoon();
}

bool saveScreenshot(const QPixmap& pixmap, const QString& path, QString* error)
{
    QString fault;
    QSaveFile file(path);
    if (pixmap.isNull())
        fault = QStringLiteral("the window could not be grabbed");
    else if (!file.open(QIODevice::WriteOnly) || !pixmap.save(&file, "PNG") || !file.commit())
        fault = file.errorString();
    else
        return true;
    *error = QCoreApplication::translate("bonsai::ui::ScreenshotDriver", "could not write the screenshot to %1: %2")
                 .arg(path, fault);
    return false;
}

void ScreenshotDriver::grabSoon()
{
    // Let layouts and chart geometry settle before grabbing.
    QTimer::singleShot(150, this, &ScreenshotDriver::grabNow);
}

void ScreenshotDriver::grabNow()
{
    if (m_done || !m_window)
        return;
    QString error;
    if (!saveScreenshot(m_window->grab(), m_out, &error)) {
        fail(error, 1);
        return;
    }
    m_done = true;
    emit finished(0);
}

void ScreenshotDriver::fail(const QString& message, int code)
{
    if (m_done)
        return;
    m_done = true;
    m_error = message;
    emit finished(code);
}

} // namespace bonsai::ui
