#pragma once
// `bonsai --screenshot PATH --evaluate MODEL`: after the ScreenshotDriver has saved the window
// (model, statistics and preview shown), evaluates the open model (with its recipe) on the
// panel's data set and saves the window again once the result (or the error) is shown.
#include <QObject>
#include <QPointer>
#include <QString>

namespace bonsai::ui {

class MainWindow;
class ScreenshotDriver;

class EvalScreenshot : public QObject {
    Q_OBJECT
public:
    EvalScreenshot(MainWindow* window, ScreenshotDriver* driver, QString outPath, QObject* parent = nullptr);
    // Call after ScreenshotDriver::start(), so the recipe is applied before evaluating.
    void start();
    QString errorString() const { return m_error; }

signals:
    void finished(int exitCode);

private:
    void grabWhenDone();

    QPointer<MainWindow> m_window;
    ScreenshotDriver* m_driver;
    QString m_out;
    QString m_error;
    bool m_shotTaken = false, m_evalDone = false, m_done = false;
};

} // namespace bonsai::ui
