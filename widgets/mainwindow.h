#pragma once
// The Bonsai main window: opens models (dialog, recent files, drag and drop, command line),
// lists their layers and shows the overview and the selected layer's statistics.
#include <QMainWindow>

#include <memory>

class QLabel;
class QProgressBar;
class QSplitter;
class QStackedWidget;

namespace bonsai {
class Model;
}

namespace bonsai::ui {

class EmptyState;
class LayerDetailsView;
class LayerTableView;
class ModelLoader;
class RecentFiles;
class StatsRunner;
class SummaryPanel;
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

signals:
    void modelOpened(const QString& path);
    void openFailed(const QString& message);
    void statsShown(int tensor);
    void statsFailed(const QString& message);

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
    QString m_lastError;
    int m_currentTensor = -1;
    bool m_errorDialogs = true;
};

} // namespace bonsai::ui
