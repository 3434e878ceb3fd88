#pragma once
// `bonsai --screenshot PATH --perplexity MODEL`: after the ScreenshotDriver has saved the
// window, measures the open language model's perplexity (with the recipe, if any) on the
// panel's default text, a few chunks only, and saves the window again once the result (or
// the error) is shown in the perplexity dock.
#include "jobscreenshot.h"

namespace bonsai::ui {

class PerplexityScreenshot : public JobScreenshot {
    Q_OBJECT
public:
    static constexpr int MaxChunks = 16;

    PerplexityScreenshot(MainWindow* window, ScreenshotDriver* driver, QString outPath, QObject* parent = nullptr);

protected:
    void startJob() override;
};

} // namespace bonsai::ui
