#pragma once
// `bonsai --screenshot PATH --perplexity MODEL`: after the ScreenshotDriver has saved the
// window, measures the open language model's perplexity (with the recipe, if any) on the
// panel's default text, a few chunks only, and saves the window again once the result (or
// the error) is shown in the perplexity dock.
#include <QObject>
#include <QPointer>
#include <QString>

namespace bonsai::ui {

class MainWindow;
class ScreenshotDriver;

class PerplexityScreenshot : public QObject {
    Q_OBJECT
public:
    static constexpr int MaxChunks = 16;

    PerplexityScreenshot(MainWindow* window, ScreenshotDriver* driver, QString outPath, QObject* parent = nullptr);
    // Call after ScreenshotDriver::start(), so the recipe is applied before measuring.
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
    bool m_shotTaken = false, m_runDone = false, m_done = false;
};

} // namespace bonsai::ui
