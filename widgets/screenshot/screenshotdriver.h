#pragma once
// `bonsai --screenshot PATH [--size WxH] [--recipe R.json] [MODEL]`: shows the window at a size,
// opens MODEL, applies the recipe, selects the largest layer, waits for its statistics, its
// compression preview and the model's compressed sizes, and saves the window as a PNG.
#include <QObject>
#include <QPixmap>
#include <QPointer>
#include <QSize>
#include <QString>

namespace bonsai::ui {

class MainWindow;

// Writes the window's grab as PNG to `path` through QSaveFile (all or nothing: a failed write
// leaves no file); false with the message, naming the file and the fault, in *error.
bool saveScreenshot(const QPixmap& pixmap, const QString& path, QString* error);

class ScreenshotDriver : public QObject {
    Q_OBJECT
public:
    static constexpr int TimeoutMs = 5 * 60 * 1000;

    ScreenshotDriver(MainWindow* window, QString outPath, QString modelPath,
                     QObject* parent = nullptr);
    void setRecipe(const QString& path) { m_recipe = path; }
    void start(QSize size = QSize(1400, 900));
    QString errorString() const { return m_error; }

signals:
    // 0 when the PNG was written; non-zero after errorString() was set.
    void finished(int exitCode);

private:
    void grabSoon();
    void grabWhenReady(); // statistics, preview and model sizes shown
    void grabNow();
    void fail(const QString& message, int code);

    QPointer<MainWindow> m_window;
    QString m_out;
    QString m_model;
    QString m_recipe;
    bool m_statsDone = false;
    QString m_error;
    bool m_done = false;
};

} // namespace bonsai::ui
