#pragma once
// File > Export…: the pre-export check as a table (per tensor: configured, stored, status and
// why; the columns fit the table's width, the Why column wraps), the file size, the quality
// predicted for exactly the weights written (on the data chosen in the window, computed on the
// worker with progress and Stop), the choice of format, "store what the format cannot as the
// nearest type", the output path, and the export itself in the background with progress and
// cancel.
#include "exportprediction.h"

#include "bonsai/export.h"

#include <QDialog>
#include <QElapsedTimer>

#include <memory>
#include <vector>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QTableWidget;

namespace bonsai {
class Model;
}

namespace bonsai::ui {

class ExportRunner;

class ExportDialog : public QDialog {
    Q_OBJECT
public:
    ExportDialog(std::shared_ptr<const bonsai::Model> model, std::vector<bonsai::LayerConfig> configs,
                 ExportPredictionData data = {}, QWidget* parent = nullptr);
    ~ExportDialog() override;

    const bonsai::ExportPlan& plan() const { return m_plan; }
    bool isWritable() const;
    void setPath(const QString& path);
    void setAcceptMapping(bool accept);
    void startExport();   // the Export button
    bool isRunning() const { return m_running; }

    bool isChecked() const { return m_planned; }
    bool isPredicting() const { return m_predicting; }
    const ExportPrediction& prediction() const { return m_prediction; }
    void stopPrediction();

signals:
    void checked(); // a check (on the worker) finished: plan() and the table show it
    void predicted(); // the prediction (or the hint which data to choose) is shown
    void exported(const QString& path, qint64 bytes);
    void exportFailed(const QString& message);

private:
    void replan();  // starts the check on the worker
    void predict(); // then the prediction of the plan's quality
    void showPlan(const bonsai::ExportPlan& plan, const QString& error);
    void showPrediction(const ExportPrediction& p);
    void fitColumns(); // the Why column gets the room the others leave
    bool eventFilter(QObject* watched, QEvent* event) override;
    void browse();
    void finish(bool ok, const QString& message);
    bonsai::ExportFormat format() const;
    bonsai::ExportOptions exportOptions() const; // as checked, and as written

    std::shared_ptr<const bonsai::Model> m_model;
    std::vector<bonsai::LayerConfig> m_configs;
    bonsai::ExportPlan m_plan;
    ExportPredictionData m_data;
    ExportPrediction m_prediction;
    bool m_planned = false;
    bool m_running = false;
    bool m_predicting = false;
    quint64 m_job = 0; // the current check or export
    QElapsedTimer m_clock;
    ExportRunner* m_runner;
    QComboBox* m_format;
    QCheckBox* m_mapping;
    QTableWidget* m_table;
    QLabel* m_summary;
    QLabel* m_predictionLabel;
    QPushButton* m_stop;
    QLineEdit* m_path;
    QPushButton* m_browse;
    QProgressBar* m_progress;
    QLabel* m_message;
    QPushButton* m_export;
    QPushButton* m_cancel;
};

} // namespace bonsai::ui
