#pragma once
// The speed panel: the open model measured on this machine, as it is (FP32 for floating-point
// checkpoints) beside compressed as configured (bonsai/speed.h). Settings (batch, repeats;
// language models: prompt and decode tokens; classifiers: INT8 layers in INT8), Start /
// Cancel, progress with an ETA; then a summary (latency median with its range, throughput in
// samples/s or prefill and decode tokens/s, resident weights, KV cache or activations, the
// process's peak memory, each with its unit and the change) and the time per part (language
// models) or per node (classifiers). Before a run the results say how to get them. The job is
// a SpeedRunner's.
#include "speedrunner.h"

#include <QWidget>

#include <optional>
#include <utility>
#include <vector>

class QCheckBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QStackedWidget;
class QTableWidget;
class QTabWidget;

namespace bonsai::ui {

class CompressionDocument;
class JobRunner;

class SpeedPanel : public QWidget {
    Q_OBJECT
public:
    static constexpr int CompactWidth = 600; // narrower (a side dock): times on two lines, no Change column

    explicit SpeedPanel(CompressionDocument* doc, QWidget* parent = nullptr);
    ~SpeedPanel() override;

    bonsai::SpeedOptions options() const; // what Start measures with
    void setOptions(const bonsai::SpeedOptions& options);
    void start();
    void cancel();
    bool isBusy() const;
    bool canStart() const; // a model the speed can be measured of is open

    QString message() const; // the status or error shown
    const SpeedComparison* result() const { return m_result ? &*m_result : nullptr; }
    QTableWidget* summaryTable() const { return m_summary; }
    QTableWidget* partsTable() const { return m_parts; }
    bool showsEmptyState() const;
    JobRunner* runner() const;

signals:
    void measured(const SpeedComparison& result);
    void measureFailed(const QString& message);
    void measureCancelled();
    void readyChanged(bool canStart);

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    void buildUi();
    void showCompact(QTableWidget* table, bool withChange) const;
    void onModelReset();
    void onFinished(const SpeedComparison& result);
    void fillSummary(const SpeedComparison& r);
    void fillParts(const SpeedComparison& r);
    // The measures shown, with their column headers: the original, the configured, or both.
    static std::vector<std::pair<QString, const bonsai::SpeedResult*>> columns(const SpeedComparison& r);
    void showMessage(const QString& text, bool error);
    void setRunning(bool running);
    void showEmpty(const QString& text);

    CompressionDocument* m_doc;
    SpeedRunner* m_job;
    quint64 m_jobId = 0;
    std::optional<SpeedComparison> m_result;
    QString m_stage;
    QString m_unsupported;
    bool m_compact = false;

    QSpinBox* m_batch = nullptr;
    QSpinBox* m_repeats = nullptr;
    QSpinBox* m_prompt = nullptr;
    QSpinBox* m_tokens = nullptr;
    QCheckBox* m_deploy = nullptr;
    std::vector<QWidget*> m_llmOnly; // the prompt and decode rows' labels and fields
    QPushButton* m_start = nullptr;
    QPushButton* m_cancel = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_message = nullptr;
    QStackedWidget* m_stack = nullptr;
    QLabel* m_empty = nullptr;
    QTabWidget* m_tabs = nullptr;
    QTableWidget* m_summary = nullptr;
    QTableWidget* m_parts = nullptr;
};

} // namespace bonsai::ui
