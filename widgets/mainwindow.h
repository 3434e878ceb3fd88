#pragma once
// The Bonsai main window: opens models (dialog, recent files, drag and drop, command line),
// lists their layers and shows the overview and the selected layer's statistics.
#include <QMainWindow>

#include <memory>

class QDockWidget;
class QLabel;
class QProgressBar;
class QSplitter;
class QMenu;
class QStackedWidget;

namespace bonsai {
class Model;
enum class Preset;
}

namespace bonsai::ui {

class BlockBytesChart;
class CompressionChart;
class CompressionDocument;
class ConfigInspector;
class EmptyState;
class EvalPanel;
class LayerDetailsView;
class LayerTableView;
class ModelEstimator;
class ModelLoader;
class PerplexityPanel;
class PreviewForm;
class PreviewRunner;
class RecentFiles;
class RecoverPanel;
class StatsRunner;
class SummaryPanel;
class WindowLayout;
struct PreviewResult;
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
    // Whether open errors pop up a (non-modal) message box; always reported via openFailed().
    void setErrorDialogsEnabled(bool enabled) { m_errorDialogs = enabled; }

    std::shared_ptr<const bonsai::Model> model() const { return m_model; }
    QString lastError() const { return m_lastError; }
    bool isOpening() const;
    bool selectLargestLayer();
    LayerTableView* layerTable() const { return m_table; }
    LayerDetailsView* details() const { return m_details; }

    // The compression editor.
    CompressionDocument* document() const { return m_doc; }
    ConfigInspector* inspector() const { return m_inspector; }
    PreviewForm* previewForm() const { return m_previewForm; }
    ModelEstimator* estimator() const { return m_estimator; }
    PreviewRunner* previewRunner() const { return m_previewRunner; }
    CompressionChart* compressionChart() const { return m_compressionChart; }
    BlockBytesChart* blockChart() const { return m_blockChart; } // language models' bytes per block
    EvalPanel* evalPanel() const { return m_evalPanel; } // the evaluation dock's panel
    RecoverPanel* recoverPanel() const { return m_recoverPanel; } // the recovery dock's panel
    PerplexityPanel* perplexityPanel() const { return m_perplexityPanel; } // language models
    QDockWidget* perplexityDock() const { return m_perplexityDock; }
    void showPerplexityDock();
    // Applies a recipe file to the open model (an undoable step). On error shows the core's
    // message (naming the file and key), changes nothing and returns false.
    bool applyRecipeFile(const QString& path);
    bool saveRecipeTo(const QString& path);
    void applyPreset(bonsai::Preset preset);
    // Applies the current layer's configuration to every layer whose name matches `regex`.
    bool applyToMatching(const QString& regex);

signals:
    void modelOpened(const QString& path);
    void openFailed(const QString& message);
    void statsShown(int tensor);
    void statsFailed(const QString& message);
    void previewShown(int layer);       // the current layer's preview arrived
    void estimatesReady();              // every layer's compressed size is known
    void recipeFailed(const QString& message);

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
    void showAbout();

    // mainwindoweval.cpp
    void setupEvaluation();

    // mainwindowrecover.cpp
    void setupRecovery(QMenu* evaluate);

    // mainwindowperplexity.cpp
    void setupPerplexity(QMenu* evaluate);

    // mainwindowcompress.cpp
    void setupCompression();
    void addRecipeActions(QMenu* file);
    void createCompressionMenus();
    void openRecipeDialog();
    bool saveRecipe();
    bool saveRecipeAs();
    void applyToMatchingDialog();
    void onLayerSelectionChanged(const QList<int>& layers);
    void requestPreview();
    void onPreviewFinished(const PreviewResult& result);
    void updateTitle();
    bool maybeDiscardChanges(); // false: the user cancelled
    void reportError(const QString& title, const QString& message);

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
    CompressionDocument* m_doc = nullptr;
    ModelEstimator* m_estimator = nullptr;
    PreviewRunner* m_previewRunner = nullptr;
    ConfigInspector* m_inspector = nullptr;
    PreviewForm* m_previewForm = nullptr;
    QDockWidget* m_inspectorDock = nullptr;
    CompressionChart* m_compressionChart = nullptr;
    BlockBytesChart* m_blockChart = nullptr;
    EvalPanel* m_evalPanel = nullptr;
    QDockWidget* m_evalDock = nullptr;
    RecoverPanel* m_recoverPanel = nullptr;
    QDockWidget* m_recoverDock = nullptr;
    PerplexityPanel* m_perplexityPanel = nullptr;
    QDockWidget* m_perplexityDock = nullptr;
    WindowLayout* m_windowLayout = nullptr; // View menu, default and remembered layout
    QString m_modelFile; // file name shown in the title
    QString m_lastError;
    int m_currentTensor = -1;
    bool m_errorDialogs = true;
};

} // namespace bonsai::ui
