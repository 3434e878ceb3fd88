#pragma once
// Perplexity as a feature of the main window (language models): the perplexity dock, tabbed
// with the evaluation dock and opened from the Evaluate menu (enabled while a language model
// is open). Each finished run becomes a point on the trade-off chart, which measures
// perplexity (lower is better) while a language model is open; clicking a point restores
// its configuration as in the evaluation dock.
#include <QObject>

class QDockWidget;
class QMenu;

namespace bonsai::ui {

class CompressionDocument;
class EvaluationFeature;
class MainWindow;
class PerplexityPanel;

class PerplexityFeature : public QObject {
    Q_OBJECT
public:
    PerplexityFeature(MainWindow* window, CompressionDocument* doc, EvaluationFeature* evaluation);

    void addActions(QMenu* evaluate);
    void showDock();
    PerplexityPanel* panel() const { return m_panel; }
    QDockWidget* dock() const { return m_dock; }

private:
    MainWindow* m_window;
    PerplexityPanel* m_panel;
    QDockWidget* m_dock;
};

} // namespace bonsai::ui
