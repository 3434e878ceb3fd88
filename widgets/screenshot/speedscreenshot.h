#pragma once
// `bonsai --screenshot PATH --speed MODEL`: after the ScreenshotDriver has saved the window,
// opens the speed dock, measures the open model (and the recipe's configuration) with short
// settings (language models: a prompt of 32 tokens and 8 decode steps) and saves the window
// again with the results and the layer table's Latency column filled (or the error shown).
#include "jobscreenshot.h"

namespace bonsai::ui {

class SpeedScreenshot : public JobScreenshot {
    Q_OBJECT
public:
    static constexpr int PromptTokens = 32;
    static constexpr int DecodeTokens = 8;

    SpeedScreenshot(MainWindow* window, ScreenshotDriver* driver, QString outPath, QObject* parent = nullptr);

protected:
    void startJob() override;
    void showJobDock() override;
};

} // namespace bonsai::ui
