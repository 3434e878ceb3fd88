#pragma once
// `bonsai --screenshot PATH [MODEL]`: shows the window at a fixed size, opens MODEL, selects
// the largest layer, waits for its statistics, and saves the window as a PNG.
#include <QObject>
#include <QPointer>
#include <QSize>
#include <QString>

namespace bonsai::ui {

class MainWindow;

class ScreenshotDriver : public QObject {
    Q_OBJECT
public:
    static constexpr int TimeoutMs = 5 * 60 * 1000;

    ScreenshotDriver(MainWindow* window, QString outPath, QString modelPath,
                     QObject* parent = nullptr);
    void start(QSize size = QSize(1400, 900));
    QString errorString() const { return m_error; }

signals:
    // 0 when the PNG was written; non-zero after errorString() was set.
    void finished(int exitCode);

private:
    void grabSoon();
    void grabNow();
    void fail(const QString& message, int code);

    QPointer<MainWindow> m_window;
    QString m_out;
    QString m_model;
    QString m_error;
    bool m_done = false;
};

} // namespace bonsai::ui
