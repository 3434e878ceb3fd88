#pragma once
// The Bonsai main window: opens models (dialog, recent files, drag and drop, command line),
// lays out the layer table, the overview and the selected layer's statistics, and assembles
// the features, each of which owns its dock, actions and wiring and talks to the compression
// document: the compression editor, recipes, evaluation, recovery, perplexity, the budget search and speed. The window
// keeps the File, Evaluate and Help menus and hands them to the features. The accessors
// reach the features' parts (tests, screenshots).
#include <QMainWindow>

#include <memory>

class QDockWidget;
class QLabel;
class QProgressBar;
class QSplitter;
class QStackedWidget;

namespace bonsai {
class Model;
enum class Preset;
}

namespace bonsai::ui {

class BlockBytesChart;
class CompressionChart;
class CompressionDocument;
class CompressionFeature;
class ConfigInspector;
class EmptyState;
class EvalPanel;
class EvaluationFeature;
class LayerDetailsView;
class LayerTableView;
class ModelEstimator;
class ModelLoader;
class PerplexityFeature;
class PerplexityPanel;
class PreviewForm;
class PreviewRunner;
class RecentFiles;
class RecipeFeature;
class ExportFeature;
class RecoverPanel;
class RecoveryFeature;
class SearchFeature;
class SearchPanel;
class SpeedFeature;
class SpeedPanel;
class StatsRunner;
class SummaryPanel;
class WindowLayout;
struct StatsResult;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Opens in the background; the current model stays until the new one has loaded.
    void openPath(const QString& path);
    // Restores geometry and splitter sizes saved by the last session.
    void restoreSettings();
    // Whether errors pop up a (non-modal) message box; always reported via openFailed() and
    // lastError().
    void setErrorDialogsEnabled(bool enabled) { m_errorDialogs = enabled; }
    bool errorDialogsEnabled() const { return m_errorDialogs; }
    // An error in the status bar and (dialogs enabled) a message box; kept as lastError().
    void reportError(const QString& title, const QString& message);
    // A feature's panel in a closable bottom dock, hidden until the feature shows it; tabbed
    // with `tabWith` when given.
    QDockWidget* addPanelDock(const QString& title, const QString& objectName, QWidget* panel,
                              QDockWidget* tabWith = nullptr);

    std::shared_ptr<const bonsai::Model> model() const { return m_model; }
    QString modelFile() const { return m_modelFile; } // file name shown in the title
    QString lastError() const { return m_lastError; }
    bool isOpening() const;
    bool selectLargestLayer();
    LayerTableView* layerTable() const { return m_table; }
    LayerDetailsView* details() const { return m_details; }
    SummaryPanel* summary() const { return m_summary; }
    // The status bar's progress bar, and whether opening or the statistics own it.
    QProgressBar* progressBar() const { return m_progress; }
    bool isProgressBarTaken() const;

    // The compression editor.
    CompressionDocument* document() const { return m_doc; }
    ExportFeature* exportFeature() const { return m_export; }
    CompressionFeature* compression() const { return m_compression; }
    ConfigInspector* inspector() const;
    PreviewForm* previewForm() const;
    ModelEstimator* estimator() const;
    PreviewRunner* previewRunner() const;
    CompressionChart* compressionChart() const;
    BlockBytesChart* blockChart() const; // language models' bytes per block
    void applyPreset(bonsai::Preset preset);
    // Applies the current layer's configuration to every layer whose name matches `regex`.
    bool applyToMatching(const QString& regex);
    // Recipes: applying one is an undoable step; on error the core's message (naming the
    // file and key) is shown, nothing changes and the result is false.
    bool applyRecipeFile(const QString& path);
    bool saveRecipeTo(const QString& path); // in the background: recipeSaved() or recipeFailed()
    // Evaluation, recovery and perplexity (language models).
    EvalPanel* evalPanel() const;
    RecoverPanel* recoverPanel() const;
    PerplexityPanel* perplexityPanel() const;
    QDockWidget* perplexityDock() const;
    void showPerplexityDock();
    // The budget search (sensitivity map, budget, pins).
    SearchPanel* searchPanel() const;
    QDockWidget* searchDock() const;
    void showSearchDock();
    // Speed on this machine (latency, throughput, memory).
    SpeedPanel* speedPanel() const;
    QDockWidget* speedDock() const;
    void showSpeedDock();

signals:
    void modelOpened(const QString& path);
    void openFailed(const QString& message);
    void statsShown(int tensor);
    void statsFailed(const QString& message);
    void previewShown(int layer);       // the current layer's preview arrived
    void estimatesReady();              // every layer's compressed size is known
    void recipeFailed(const QString& message);
    void recipeSaved(const QString& path); // written, with its provenance

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void createMenus();
    void openFileDialog();
    void openFolderDialog();
    void onLoaded(std::shared_ptr<const bonsai::Model> model, const QString& path);
    void onLoadFailed(const QString& path, const QString& message);
    void onCurrentTensorChanged(int tensor, int channelAxis, const QString& label);
    void onStatsFinished(const StatsResult& result);
    void setBusy(const QString& message);
    void showProgress(const QString& text, double fraction);
    QString describeTensor(int tensor) const;
    void updateTitle();
    void showAbout();

    std::shared_ptr<const bonsai::Model> m_model;
    ModelLoader* m_loader;
    StatsRunner* m_stats;
    QStackedWidget* m_central;
    EmptyState* m_empty;
    QSplitter* m_mainSplitter;
    QSplitter* m_leftSplitter;
    LayerTableView* m_table;
    SummaryPanel* m_summary;
    LayerDetailsView* m_details;
    QProgressBar* m_progress;
    QLabel* m_modelInfo;
    RecentFiles* m_recent = nullptr;
    CompressionDocument* m_doc;
    CompressionFeature* m_compression = nullptr;
    RecipeFeature* m_recipes = nullptr;
    ExportFeature* m_export = nullptr;
    EvaluationFeature* m_evaluation = nullptr;
    RecoveryFeature* m_recovery = nullptr;
    PerplexityFeature* m_perplexity = nullptr;
    SearchFeature* m_search = nullptr;
    SpeedFeature* m_speed = nullptr;
    WindowLayout* m_windowLayout = nullptr; // View menu, default and remembered layout
    QString m_modelFile;
    QString m_lastError;
    int m_currentTensor = -1;
    bool m_errorDialogs = true;
};

} // namespace bonsai::ui
