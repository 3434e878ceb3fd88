#pragma once
// The recovery panel: short training runs that win back the accuracy the current compression
// configuration costs (recover.h): fine-tuning, quantization-aware training, distillation from
// the uncompressed model, or lottery-ticket pruning. Settings (method, epochs, learning rate,
// T and alpha, rounds and target sparsity, sample limits), a note when the method does not
// train through the configured quantization, Start / Cancel, progress with an
// ETA, loss and accuracy curves per epoch, the accuracy before and after, and saving the
// recovered ONNX model. Errors and models that cannot be trained are explained in the panel.
// The jobs themselves are a RecoveryRunner's (session layer).
#include "bonsai/recover.h"

#include <QWidget>

#include <memory>

class QChart;
class QChartView;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QLineSeries;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace bonsai::ui {

class CompressionDocument;
class JobRunner;
class RecoveryRunner;

class RecoverPanel : public QWidget {
    Q_OBJECT
public:
    explicit RecoverPanel(CompressionDocument* doc, QWidget* parent = nullptr);
    ~RecoverPanel() override;

    // The training data (file or MNIST-style folder; a folder uses its train split) and the
    // data the accuracies are measured on (a folder uses its test split). Empty test: the
    // training path's test split.
    void setTrainData(const QString& path);
    void setTestData(const QString& path);
    QString trainData() const;

    void setMethod(bonsai::RecoverMethod method);
    void setEpochs(int epochs);
    void setLearningRate(double lr);
    void setTrainLimit(qint64 samples);
    void setTestLimit(qint64 samples);
    void setMaxSteps(qint64 steps); // per run (0: whole epochs); no control, for quick runs
    bonsai::RecoverOptions options() const; // what Start runs

    void start();
    void cancel();
    bool isBusy() const;
    bool canStart() const;
    QString unsupportedReason() const; // why Start cannot run (empty when it can)

    QString message() const; // the error or status shown
    // What the chosen method does with the configured compression that may surprise
    // (recoverNotes: finetune applies a quantizing recipe only after training), shown under
    // the method; empty when there is nothing to say.
    QString note() const;
    const bonsai::RecoverResult* result() const { return m_result.get(); }
    QString resultLabel() const { return m_label; } // "QAT 1 epoch"
    // The configuration the result was trained for (one per layer).
    const std::vector<bonsai::LayerConfig>& resultConfigs() const { return m_resultConfigs; }
    int curvePointCount() const;                    // points of the loss curve
    JobRunner* runner() const;
    bool saveRecovered(const QString& path, QString* error = nullptr);

signals:
    // A run completed; `label` says how it was obtained ("QAT 1 epoch").
    void recovered(const QString& label, const bonsai::RecoverResult& result);
    void recoverFailed(const QString& message);
    // Whether the open model can be trained; `reason` says why not (empty when it can).
    void readyChanged(bool canStart, const QString& reason);

private:
    void buildUi();
    void onModelReset();
    void onMethodChanged();
    void updateNote();
    void onFinished(const std::shared_ptr<bonsai::RecoverResult>& result, const QString& label);
    void showCurves(const bonsai::RecoverResult& r);
    void showResult(); // m_result: progress "Done in", accuracy, curves, Save enabled
    // After a cancelled or failed run: shows the last finished result again (if it is of the
    // open model) and returns whether there was one.
    bool restorePrevious();
    void appendEpoch(const bonsai::RecoverEpoch& e); // live, per epoch
    void rescale(int epochs, double maxLoss);
    void showMessage(const QString& text, bool error);
    void setRunning(bool running);
    void saveDialog();

    CompressionDocument* m_doc;
    RecoveryRunner* m_job;
    quint64 m_jobId = 0; // the running job (0: none)
    qint64 m_steps = 0;
    std::shared_ptr<bonsai::RecoverResult> m_result;
    std::shared_ptr<const bonsai::Model> m_resultModel; // the model m_result was trained from
    std::vector<bonsai::LayerConfig> m_resultConfigs;
    QString m_label;
    QString m_unsupported; // why the open model cannot be trained (empty: may be)

    QLineEdit* m_train = nullptr;
    QLineEdit* m_test = nullptr;
    QComboBox* m_method = nullptr;
    QLabel* m_note = nullptr;
    QSpinBox* m_epochs = nullptr;
    QDoubleSpinBox* m_lr = nullptr;
    QDoubleSpinBox* m_temperature = nullptr;
    QDoubleSpinBox* m_alpha = nullptr;
    QSpinBox* m_rounds = nullptr;
    QDoubleSpinBox* m_sparsity = nullptr;
    QSpinBox* m_limit = nullptr;
    QSpinBox* m_testLimit = nullptr;
    QPushButton* m_start = nullptr;
    QPushButton* m_cancel = nullptr;
    QPushButton* m_save = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_message = nullptr;
    QLabel* m_accuracy = nullptr;
    QChartView* m_chartView = nullptr;
    QLineSeries* m_loss = nullptr;
    QLineSeries* m_trainAcc = nullptr;
    QLineSeries* m_testAcc = nullptr;
};

} // namespace bonsai::ui
