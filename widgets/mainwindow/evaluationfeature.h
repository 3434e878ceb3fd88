#pragma once
// Evaluation as a feature of the main window: the evaluation dock (accuracy of the
// compressed model on a data set; it appears once a model can be evaluated) and its actions
// in the Evaluate menu (Evaluate, Cancel, Auto-evaluate, the dock's toggle).
#include <QObject>

class QDockWidget;
class QMenu;

namespace bonsai::ui {

class CompressionDocument;
class EvalPanel;
class MainWindow;

class EvaluationFeature : public QObject {
    Q_OBJECT
public:
    EvaluationFeature(MainWindow* window, CompressionDocument* doc);

    void addActions(QMenu* evaluate);
    EvalPanel* panel() const { return m_panel; }
    QDockWidget* dock() const { return m_dock; }

private:
    MainWindow* m_window;
    EvalPanel* m_panel;
    QDockWidget* m_dock;
};

} // namespace bonsai::ui
