#pragma once
// Speed as a feature of the main window: the speed dock (tabbed with the evaluation dock),
// opened from the Evaluate menu (F9). A finished run fills the layer table's Latency column
// and gives the trade-off chart the measured latency of the configuration and of the
// uncompressed model (its "vs measured latency" axis).
#include <QObject>

class QDockWidget;
class QMenu;

namespace bonsai::ui {

class CompressionDocument;
class EvaluationFeature;
class MainWindow;
class SpeedPanel;
struct SpeedComparison;

class SpeedFeature : public QObject {
    Q_OBJECT
public:
    SpeedFeature(MainWindow* window, CompressionDocument* doc, EvaluationFeature* evaluation);

    void addActions(QMenu* evaluate);
    void showDock();
    SpeedPanel* panel() const { return m_panel; }
    QDockWidget* dock() const { return m_dock; }

private:
    void onMeasured(const SpeedComparison& result);

    MainWindow* m_window;
    EvaluationFeature* m_evaluation;
    SpeedPanel* m_panel;
    QDockWidget* m_dock;
};

} // namespace bonsai::ui
