#include "searchscreenshot.h"

#include "mainwindow.h"
#include "modelestimator.h"
#include "searchpanel.h"
#include "sensitivitymodel.h"

#include "bonsai/llm.h"
#include "compressiondocument.h"

#include <QTableView>

namespace bonsai::ui {

SearchScreenshot::SearchScreenshot(MainWindow* window, ScreenshotDriver* driver, QString outPath, QObject* parent)
    : JobScreenshot(window, driver, std::move(outPath), parent)
{
}

void SearchScreenshot::startJob()
{
    SearchPanel* panel = window()->searchPanel();
    connect(panel, &SearchPanel::measured, this, [this, panel] {
        // The row of the layer with the most weights: its explanation in the line below.
        SensitivityModel* model = panel->model();
        int best = -1;
        qulonglong most = 0;
        for (int r = 0; r < model->rowCount(); ++r) {
            const qulonglong bytes = model->index(r, SensitivityModel::ChoiceColumn).data(SensitivityModel::BytesRole).toULongLong();
            if (best < 0 || bytes > most) {
                best = r;
                most = bytes;
            }
        }
        if (best >= 0)
            panel->view()->setCurrentIndex(model->index(best, SensitivityModel::ChoiceColumn));
        // The layer table's compressed sizes of the solution too.
        if (window()->estimator()->isBusy() || !window()->estimator()->isComplete())
            connect(window(), &MainWindow::estimatesReady, this, [this] { jobDone(); }, Qt::SingleShotConnection);
        else
            jobDone();
    });
    connect(panel, &SearchPanel::measureFailed, this,
            [this](const QString& msg) { jobDone(tr("budget search failed: %1").arg(msg)); });
    window()->showSearchDock(); // also without data: the panel says what to do
    // A few text chunks for a language model (each is 128 tokens), a few hundred images otherwise.
    const auto* doc = window()->document();
    panel->setSamples(doc->model() && bonsai::isLanguageModel(*doc->model()) ? LlmChunks : Samples);
    if (panel->canMeasure())
        panel->measure();
    else
        jobDone(tr("budget search: %1").arg(panel->emptyText()));
}

} // namespace bonsai::ui
