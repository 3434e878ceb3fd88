#pragma once
// Pieces shared by the job panels (evaluation, recovery, perplexity): the progress bar's text
// with an ETA, the status / error line, a path field with its Browse button, and the wiring
// of a JobRunner's progress, failure and cancellation to the panel's current job.
#include <QString>

#include <functional>

class QHBoxLayout;
class QLabel;
class QLineEdit;
class QObject;
class QProgressBar;
class QPushButton;
class QWidget;

namespace bonsai::ui {

class JobRunner;

QString percentText(double fraction); // 0.91234 -> "91.23%"
// " · about 12 s left", " · about 2:05 min left"; empty while the ETA is unknown (< 0).
QString etaText(double seconds);
// Where a save dialog starts: the open model's folder (a checkpoint folder itself) and a name
// from the model's, e.g. "fashion_cnn" + "-recovered.onnx"; just the name without a model.
QString suggestedSavePath(const QString& modelPath, const QString& suffix);

// The bar of a job panel: 0..1000, empty text until a job starts.
QProgressBar* makeJobProgressBar(const QString& toolTip, QWidget* parent);
// "Training… 42% · about 12 s left".
void showJobProgress(QProgressBar* bar, const QString& stage, double fraction, double etaSeconds);
void showJobDone(QProgressBar* bar, double seconds); // full, "Done in 1.2 s"
void clearJobProgress(QProgressBar* bar);

// The status line under the controls: wraps, selectable; errors in red.
QLabel* makeMessageLabel(QWidget* parent);
void showPanelMessage(QLabel* label, const QString& text, bool error);

// A job panel's Start and Cancel buttons in a row (Cancel disabled until a job runs); the
// caller adds what else the row holds.
struct JobButtons {
    QPushButton* start;
    QPushButton* cancel;
    QHBoxLayout* row;
};
JobButtons makeJobButtons(const QString& startTip, const QString& cancelTip, QWidget* parent);

// `edit` stretched with `browse` beside it, for a form row.
QHBoxLayout* pathRow(QLineEdit* edit, QPushButton* browse);

// What a panel does when its current job reports; empty handlers are left out.
struct JobHandlers {
    std::function<void(double fraction, double etaSeconds)> progress;
    std::function<void(const QString& message)> failed;
    std::function<void()> cancelled;
};
// Connects `runner`'s progress, failed and cancelled signals to `handlers` (in `context`),
// for the job whose id `currentJob` holds when the signal arrives: reports of superseded jobs
// are dropped.
void connectCurrentJob(JobRunner* runner, QObject* context, const quint64& currentJob, JobHandlers handlers);

} // namespace bonsai::ui
