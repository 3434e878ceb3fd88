#pragma once
// Recovery as a feature of the main window: the recovery dock (training runs that win back
// the accuracy compression costs), tabbed with the evaluation dock and opened from the
// Evaluate menu with the evaluation's data set; each completed run becomes its own point on
// the evaluation panel's accuracy-against-size chart, labelled with how it was obtained.
#include <QObject>

class QDockWidget;
class QMenu;

namespace bonsai::ui {

class CompressionDocument;
class EvaluationFeature;
class MainWindow;
class ModelEstimator;
class RecoverPanel;

class RecoveryFeature : public QObject {
    Q_OBJECT
public:
    RecoveryFeature(MainWindow* window, CompressionDocument* doc, EvaluationFeature* evaluation,
                    ModelEstimator* estimator);

    void addActions(QMenu* evaluate);
    RecoverPanel* panel() const { return m_panel; }

private:
    CompressionDocument* m_doc;
    EvaluationFeature* m_evaluation;
    ModelEstimator* m_estimator;
    RecoverPanel* m_panel;
    QDockWidget* m_dock;
};

} // namespace bonsai::ui
