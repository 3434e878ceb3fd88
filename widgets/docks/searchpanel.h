#pragma once
// The budget search panel: which configuration each layer should get for a size or quality
// budget. Settings (the calibration data, taken from the Evaluation dock's data set or the
// Perplexity dock's text; samples; export target; candidates; tied groups of a language
// model's layers), Measure / Cancel with progress and an ETA; beside them the budget row
// (SearchBudgetBar: size, bits per weight, or a bound on the predicted ΔKL or metric drop, as
// a slider and a number; each move re-solves, one undo step per drag) and the sensitivity map
// (SearchMap: fills live while measuring, a click pins a layer, the selected layer's
// explanation under it). Until data is chosen and measured, the map's place says what to
// do. The state is a BudgetSearch, the job a SensitivityRunner (session layer).
#include "searchbudgetbar.h"

#include "bonsai/search.h"

#include <QWidget>

#include <functional>
#include <memory>
#include <vector>

class QCheckBox;
class QComboBox;
class QLabel;
class QMenu;
class QModelIndex;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableView;
class QToolButton;

namespace bonsai::ui {

class BudgetSearch;
class CompressionDocument;
class SearchMap;
class SensitivityLegend;
class SensitivityModel;
class SensitivityRunner;
struct SensitivitySnapshot;

class SearchPanel : public QWidget {
    Q_OBJECT
public:
    // Where the calibration data comes from: a path (empty: none chosen yet) and the dock
    // that chooses it ("Evaluation", "Perplexity").
    struct DataChoice {
        QString path;
        QString dock;
    };
    using DataSource = std::function<DataChoice()>;

    explicit SearchPanel(CompressionDocument* doc, QWidget* parent = nullptr);
    ~SearchPanel() override;

    void setDataSource(DataSource source);
    void refreshData(); // reads the data source again (also when shown and before measuring)
    QString dataPath() const { return m_data.path; }
    void setSamples(qint64 samples); // 0: the core's default
    void setTarget(const QString& target); // "", "gguf", "onnx", "safetensors-packed"
    // The candidates offered (all checked); defaultCandidates(target) until set.
    void setCandidates(const std::vector<bonsai::SearchCandidate>& candidates);
    std::vector<bonsai::SearchCandidate> candidates() const; // the checked ones
    void setCacheDir(const QString& dir); // empty: the core's default

    void measure();
    // A finished table measured elsewhere (as a measurement's end shows it): the map, the
    // budget's range and the solution for the budget shown (one undo step).
    void showTable(std::shared_ptr<const bonsai::SensitivityTable> table);
    void cancel();
    bool isBusy() const;
    bool canMeasure() const; // a model and data are chosen

    // Tied groups ("qkv", "gate_up"), as the Tied check boxes set them: one undo step.
    void setTies(const std::vector<std::string>& ties);
    std::vector<std::string> checkedTies() const;

    void setBudgetKind(bonsai::BudgetKind kind);
    bonsai::BudgetKind budgetKind() const;
    void setObjective(bonsai::SearchObjective objective);
    void setBudgetValue(double value); // in the kind's unit: bytes, bits/weight, nats, drop
    double budgetValue() const;
    void setSliderPosition(int position); // 0..SliderSteps, as a user drag would end there
    static constexpr int SliderSteps = SearchBudgetBar::SliderSteps;

    // A click on a cell: pins the layer to its candidate, or unpins it.
    void activateCell(const QModelIndex& index);

    BudgetSearch* search() const { return m_search; }
    SensitivityModel* model() const { return m_model; }
    QTableView* view() const;
    SensitivityRunner* runner() const { return m_runner; }
    QString message() const;      // the status or error line
    QString emptyText() const;    // what the map's place says while there is no map
    bool isMapShown() const;
    QString detailText() const;   // the line under the map
    QString solutionText() const; // the solution's summary
    // The least height that shows the settings (with a two-line status), the budget row, the
    // solution line, the map's header and three rows and the explanation line: the height the
    // panel opens at below the layer details of a low window.
    int compactHeight() const;

signals:
    void measured();  // a measurement completed (and its solution applied)
    void measureFailed(const QString& message);
    void measureCancelled();
    void runningChanged(bool running);
    void readyChanged(bool canMeasure);

protected:
    void showEvent(QShowEvent* event) override;

private:
    QWidget* buildSettings();
    void onModelReset();
    void onSnapshot(const SensitivitySnapshot& s);
    void onDone(const SensitivitySnapshot& s);
    void setRunning(bool running);
    void showMessage(const QString& text, bool error);
    void updateEmptyState();
    void showTies(); // the check boxes from the search's ties
    void rebuildCandidateMenu(const std::vector<bonsai::SearchCandidate>& all);
    void updateCandidateButton();

    CompressionDocument* m_doc;
    BudgetSearch* m_search;
    SensitivityModel* m_model;
    SensitivityRunner* m_runner;
    DataSource m_source;
    DataChoice m_data;
    quint64 m_jobId = 0;
    QString m_stage;
    QString m_cacheDir;

    QLabel* m_dataLabel = nullptr;
    QSpinBox* m_samples = nullptr;
    QComboBox* m_target = nullptr;
    QToolButton* m_candidateButton = nullptr;
    QMenu* m_candidateMenu = nullptr;
    std::vector<QCheckBox*> m_ties;
    QPushButton* m_measure = nullptr;
    QPushButton* m_cancel = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_message = nullptr;
    SensitivityLegend* m_legend = nullptr;
    SearchBudgetBar* m_budget = nullptr;
    SearchMap* m_map = nullptr;
};

} // namespace bonsai::ui
