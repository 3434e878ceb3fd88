#pragma once
// `bonsai --screenshot PATH --evaluate MODEL`: after the ScreenshotDriver has saved the window
// (model, statistics and preview shown), evaluates the open model (with its recipe) on the
// panel's data set and saves the window again once the result (or the error) is shown.
#include "jobscreenshot.h"

namespace bonsai::ui {

class EvalScreenshot : public JobScreenshot {
    Q_OBJECT
public:
    EvalScreenshot(MainWindow* window, ScreenshotDriver* driver, QString outPath, QObject* parent = nullptr);

protected:
    void startJob() override;
    void showJobDock() override;
};

} // namespace bonsai::ui
