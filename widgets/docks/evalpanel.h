#pragma once
// The evaluation panel: the data set (path, split, limit) and its preprocessing, Evaluate /
// Cancel / Auto-evaluate, progress with an ETA, the current numbers (top-1 with its 95% CI,
// top-5, agreement, KL, size, ratio, time), and charts: accuracy against size for every
// configuration evaluated this session (click a point to restore it), the running accuracy
// with its confidence band, the per-layer output error, and the trade-off table. Errors and
// models that cannot run are explained in the panel. Jobs run on a JobRunner.
#include "bonsai/evaluate.h"

#include <QTimer>
#include <QWidget>

#include <memory>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTabWidget;
class QTableView;

namespace bonsai::ui {

class CompressionDocument;
class EvalEngine;
class JobRunner;
class LayerErrorChart;
class RunningAccuracyChart;
class TradeoffChart;
class TradeoffModel;
struct EvalPrepared;
struct EvalSettings;
struct TradeoffPoint;

class EvalPanel : public QWidget {
    Q_OBJECT
public:
    static constexpr int DebounceMs = 500;
    enum Chart { TradeoffTab, RunningTab, LayerErrorTab, TableTab };

    explicit EvalPanel(CompressionDocument* doc, QWidget* parent = nullptr);
    ~EvalPanel() override;

    void setDataset(const QString& path); // also the split and limit below; re-checks the data
    QString dataset() const;
    EvalSettings settings() const;        // the data set, split and limit chosen
    void setSplit(const QString& split);
    void setLimit(qint64 samples);
    void setAutoEvaluate(bool on);
    bool autoEvaluate() const;

    void evaluate(); // the document's current configuration
    void cancel();
    bool isBusy() const;
    bool canEvaluate() const;
    void restore(int row); // the configuration of a trade-off row, as an undoable step

    QString message() const;     // the error or explanation shown (empty: none)
    QString top1Text() const;
    QString preprocessingText() const;
    const bonsai::EvalResult* lastResult() const { return m_hasResult ? &m_last : nullptr; }
    TradeoffModel* tradeoffs() const { return m_tradeoffs; }
    TradeoffChart* tradeoffChart() const { return m_tradeoffChart; }
    RunningAccuracyChart* runningChart() const { return m_running; }
    LayerErrorChart* layerErrorChart() const { return m_layerErrors; }
    JobRunner* runner() const { return m_runner; }
    void showTab(Chart tab);
    bool saveChart(Chart chart, const QString& path, QString* error = nullptr);
    bool saveCsv(const QString& path, QString* error = nullptr);

signals:
    void evaluated(const bonsai::EvalResult& result); // a complete result is shown
    void evaluationFailed(const QString& message);    // also: cannot evaluate this model
    void readyChanged(bool canEvaluate);
    void runningChanged(bool running);  // an evaluation started or ended (Cancel can act)
    void autoEvaluateChanged(bool on);  // the panel's Auto-evaluate box was toggled

private:
    QWidget* buildSettings();
    QWidget* buildResults();
    void connectJobs();
    void onModelReset();
    void onSettingsEdited();
    void prepare();
    void onPrepared(const EvalPrepared& p);
    void onPartial(const bonsai::EvalResult& r);
    void onFinished(const TradeoffPoint& point);
    void showResult(const bonsai::EvalResult& r, bool running);
    void showMessage(const QString& text, bool error);
    void setRunning(bool running);
    void browse(bool folder);
    void saveDialog(bool csv);

    CompressionDocument* m_doc;
    JobRunner* m_runner;
    std::shared_ptr<EvalEngine> m_engine;
    quint64 m_evalJob = 0;        // the running evaluation's job id (0: none)
    qint64 m_samples = 0;         // per run, once the data set was checked
    bool m_starting = false;      // inside JobRunner::start (the previous job is superseded)
    QTimer m_debounce;
    bool m_ready = false;
    bool m_hasResult = false;
    bonsai::EvalResult m_last;

    QLineEdit* m_path = nullptr;
    QComboBox* m_split = nullptr;
    QSpinBox* m_limit = nullptr;
    QLabel* m_preprocess = nullptr;
    QPushButton* m_evaluate = nullptr;
    QPushButton* m_cancel = nullptr;
    QCheckBox* m_auto = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_message = nullptr;
    QLabel* m_top1 = nullptr;
    QLabel* m_top5 = nullptr;
    QLabel* m_agreement = nullptr;
    QLabel* m_kl = nullptr;
    QLabel* m_size = nullptr;
    QLabel* m_time = nullptr;
    QTabWidget* m_tabs = nullptr;
    TradeoffModel* m_tradeoffs;
    TradeoffChart* m_tradeoffChart = nullptr;
    RunningAccuracyChart* m_running = nullptr;
    LayerErrorChart* m_layerErrors = nullptr;
    QTableView* m_table = nullptr;
};

} // namespace bonsai::ui
