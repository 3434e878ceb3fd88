#pragma once
// The compression editor as a feature of the main window: it owns the inspector dock, the
// live preview (runner and form, the histogram overlay), the model charts (compression and,
// for language models, bytes per block), the size estimator and the Edit and Presets menus,
// and wires them to the compression document and the layer table. The window calls
// setModel() before the document gets a new model and modelShown() once the views have it.
#include <QObject>

#include <memory>

class QDockWidget;
class QMenuBar;

namespace bonsai {
class Model;
enum class Preset;
}

namespace bonsai::ui {

class BlockBytesChart;
class CompressionChart;
class CompressionDocument;
class ConfigInspector;
class MainWindow;
class ModelEstimator;
class PreviewForm;
class PreviewRunner;
struct PreviewResult;

class CompressionFeature : public QObject {
    Q_OBJECT
public:
    CompressionFeature(MainWindow* window, CompressionDocument* doc);

    void addMenus(QMenuBar* bar); // Edit and Presets
    void setModel(const std::shared_ptr<const bonsai::Model>& model); // before the document's
    void modelShown(); // the chart tab that suits the model; the inspector dock appears

    void applyPreset(bonsai::Preset preset);
    // Applies the current layer's configuration to every layer whose name matches `regex`.
    bool applyToMatching(const QString& regex);

    ConfigInspector* inspector() const { return m_inspector; }
    PreviewForm* previewForm() const { return m_previewForm; }
    ModelEstimator* estimator() const { return m_estimator; }
    PreviewRunner* previewRunner() const { return m_previewRunner; }
    CompressionChart* compressionChart() const { return m_compressionChart; }
    BlockBytesChart* blockChart() const { return m_blockChart; }

signals:
    void previewShown(int layer); // the current layer's preview arrived
    void estimatesReady();        // every layer's compressed size is known

private:
    void applyToMatchingDialog();
    void onLayerSelectionChanged(const QList<int>& layers);
    void requestPreview();
    void onPreviewFinished(const PreviewResult& result);

    MainWindow* m_window;
    CompressionDocument* m_doc;
    ModelEstimator* m_estimator;
    PreviewRunner* m_previewRunner;
    ConfigInspector* m_inspector;
    PreviewForm* m_previewForm;
    QDockWidget* m_inspectorDock;
    CompressionChart* m_compressionChart;
    BlockBytesChart* m_blockChart;
};

} // namespace bonsai::ui
