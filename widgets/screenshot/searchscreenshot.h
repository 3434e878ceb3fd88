#pragma once
// `bonsai --screenshot PATH --search MODEL`: after the ScreenshotDriver has saved the window,
// opens the budget search dock, measures the open model's sensitivity on the data the
// Evaluation (or Perplexity) dock has chosen, a few samples only, selects the largest layer's
// row of the map (so its explanation shows) and saves the window again once the map is
// measured and solved (or the error is shown).
#include "jobscreenshot.h"

namespace bonsai::ui {

class SearchScreenshot : public JobScreenshot {
    Q_OBJECT
public:
    static constexpr int Samples = 200;
    static constexpr int LlmChunks = 4;

    SearchScreenshot(MainWindow* window, ScreenshotDriver* driver, QString outPath, QObject* parent = nullptr);

protected:
    void startJob() override;
};

} // namespace bonsai::ui
