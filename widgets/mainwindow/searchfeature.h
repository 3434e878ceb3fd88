#pragma once
// The budget search as a feature of the main window: the "Budget search" dock below the
// central area (tabbed with the evaluation dock on tall windows), opened from the Evaluate
// menu (F8). It measures on the Evaluation dock's data set (classifiers) or the Perplexity
// dock's text (language models), and its predicted front is drawn on the evaluation
// dock's trade-off chart.
#include <QObject>

class QDockWidget;
class QMenu;

namespace bonsai::ui {

class CompressionDocument;
class EvaluationFeature;
class MainWindow;
class PerplexityFeature;
class SearchPanel;

class SearchFeature : public QObject {
    Q_OBJECT
public:
    SearchFeature(MainWindow* window, CompressionDocument* doc, EvaluationFeature* evaluation,
                  PerplexityFeature* perplexity);

    void addActions(QMenu* evaluate);
    void showDock();
    SearchPanel* panel() const { return m_panel; }
    QDockWidget* dock() const { return m_dock; }

private:
    MainWindow* m_window;
    EvaluationFeature* m_evaluation;
    SearchPanel* m_panel;
    QDockWidget* m_dock;
};

} // namespace bonsai::ui
