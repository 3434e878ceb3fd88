#pragma once
// The perplexity panel (language models): perplexity of the model compressed as configured
// on a text file, under the llm.h protocol (chunks of the context length, each run as BOS +
// chunk), compared with the uncompressed model (KL divergence, top-1 agreement). Settings
// (text, context length, chunk limit, calibration text and chunks for GPTQ/AWQ layers),
// Start / Cancel, progress with an ETA, a live chart of the running perplexity against the
// tokens evaluated, the results, and each finished run as a point on the trade-off chart.
// The jobs themselves are a PerplexityRunner's (session layer).
#include "bonsai/layer_config.h"
#include "bonsai/llm.h"

#include <QWidget>

#include <memory>
#include <vector>

class QChartView;
class QLabel;
class QLineEdit;
class QLineSeries;
class QProgressBar;
class QPushButton;
class QScatterSeries;
class QSpinBox;
class QTabWidget;

namespace bonsai::ui {

class CompressionDocument;
class JobRunner;
class PerplexityRunner;
struct PerplexityChunks;
class TradeoffChart;
class TradeoffModel;

class PerplexityPanel : public QWidget {
    Q_OBJECT
public:
    enum Tab { RunningTab, TradeoffTab };

    PerplexityPanel(CompressionDocument* doc, TradeoffModel* tradeoffs, QWidget* parent = nullptr);
    ~PerplexityPanel() override;

    void setTextFile(const QString& path);
    QString textFile() const;
    // Empty: the evaluated text.
    void setCalibrationFile(const QString& path);
    QString calibrationFile() const; // empty: the text
    void setContextLength(int tokens);
    void setMaxChunks(qint64 chunks); // 0: all
    // What Start runs (calibrationTokens are filled in on the worker).
    bonsai::PerplexityOptions options() const;

    void start();
    void cancel();
    bool isBusy() const;
    bool canStart() const; // a language model is open
    void showTab(Tab tab);

    QString message() const; // the error or status shown
    const bonsai::PerplexityResult* result() const { return m_result.get(); }
    QString resultLabel() const { return m_label; }           // "RTN int4 g32"
    int curvePointCount() const;                              // chunks drawn so far
    JobRunner* runner() const;
    TradeoffChart* tradeoffChart() const { return m_tradeoffChart; }

signals:
    // A run completed, its label says how the model was compressed.
    void measured(const QString& label, const bonsai::PerplexityResult& result);
    void measureFailed(const QString& message);
    void measureCancelled();
    void readyChanged(bool canStart);

private:
    void buildUi();
    void onModelReset();
    void onFinished(const std::shared_ptr<bonsai::PerplexityResult>& result, const QString& label,
                    const std::vector<bonsai::LayerConfig>& configs);
    void appendChunks(const PerplexityChunks& chunks);
    void showMessage(const QString& text, bool error);
    void setRunning(bool running);
    void clearResults();
    void browse(QLineEdit* edit, const QString& title);

    CompressionDocument* m_doc;
    TradeoffModel* m_tradeoffs;
    PerplexityRunner* m_job;
    quint64 m_jobId = 0; // the running job (0: none)
    std::shared_ptr<bonsai::PerplexityResult> m_result;
    QString m_label;
    QString m_stage;
    QString m_unsupported;
    double m_maxY = 0;

    QLineEdit* m_text = nullptr;
    QLineEdit* m_calibration = nullptr;
    QSpinBox* m_ctx = nullptr;
    QSpinBox* m_maxChunks = nullptr;
    QPushButton* m_start = nullptr;
    QPushButton* m_cancel = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_message = nullptr;
    QLabel* m_ppl = nullptr;
    QLabel* m_base = nullptr;
    QLabel* m_kl = nullptr;
    QLabel* m_agreement = nullptr;
    QLabel* m_tokens = nullptr;
    QLabel* m_time = nullptr;
    QLabel* m_size = nullptr;
    QTabWidget* m_tabs = nullptr;
    QChartView* m_chartView = nullptr;
    QLineSeries* m_running = nullptr;
    QScatterSeries* m_chunks = nullptr;
    TradeoffChart* m_tradeoffChart = nullptr;
};

} // namespace bonsai::ui
