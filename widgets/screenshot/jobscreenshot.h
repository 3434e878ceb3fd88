#pragma once
// Base of the screenshots that run a job first (`--evaluate`, `--perplexity`, `--search`): after the
// ScreenshotDriver has saved the window and the model is open, startJob() runs the panel's
// job; once it has reported (jobDone()) the window is saved again, over the first shot.
// finished(0) when both shots were written and the job succeeded, else finished(non-zero)
// with errorString().
#include "mainwindow.h" // complete for QPointer<MainWindow> in this library's moc

#include <QObject>
#include <QPointer>
#include <QString>

namespace bonsai::ui {

class ScreenshotDriver;

class JobScreenshot : public QObject {
    Q_OBJECT
public:
    // Call after ScreenshotDriver::start(), so the recipe is applied before the job runs.
    void start();
    QString errorString() const { return m_error; }

signals:
    void finished(int exitCode);

protected:
    JobScreenshot(MainWindow* window, ScreenshotDriver* driver, QString outPath, QObject* parent);
    // The model is open (and the recipe applied): connect the panel's outcome to jobDone()
    // and start its job.
    virtual void startJob() = 0;
    // The job ended; a non-empty `error` fails the screenshot (the window is still saved).
    void jobDone(const QString& error = {});
    // Just before the second shot: bring the job's dock to the front (the window may have
    // raised another since).
    virtual void showJobDock() {}
    MainWindow* window() const { return m_window; }

private:
    void grabWhenDone();

    QPointer<MainWindow> m_window;
    ScreenshotDriver* m_driver;
    QString m_out;
    QString m_error;
    bool m_shotTaken = false, m_jobDone = false, m_done = false;
};

} // namespace bonsai::ui
