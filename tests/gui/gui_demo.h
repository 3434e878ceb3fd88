#pragma once
// The set-up the GUI tests of evaluation, export and search share: the demo CNN opened in a
// shown main window, with Debian's Fashion-MNIST (when installed) in the Evaluation dock.
#include "evalpanel.h"
#include "mainwindow.h"

#include "bonsai/dataset.h"

#include <QFileInfo>
#include <QSignalSpy>
#include <QSize>
#include <QtTest>

namespace guitest {

// Debian's Fashion-MNIST folder, or empty when it is not installed.
inline QString fashionMnist()
{
    const QString dir = QString::fromStdString(bonsai::defaultDatasetDir());
    return QFileInfo::exists(dir) ? dir : QString();
}

// The demo CNN in a window of `size`, shown, once it is open, with `data` in the Evaluation
// dock; false when the window or the model did not come up within a minute.
inline bool openDemo(bonsai::ui::MainWindow& w, const QString& data, QSize size = QSize(1400, 900))
{
    w.setErrorDialogsEnabled(false);
    w.resize(size);
    w.show();
    QSignalSpy opened(&w, &bonsai::ui::MainWindow::modelOpened);
    w.openPath(QStringLiteral(BONSAI_DEMO_MODEL));
    if (!QTest::qWaitForWindowExposed(&w) || !QTest::qWaitFor([&] { return opened.size() == 1; }, 60000))
        return false;
    w.evalPanel()->setDataset(data);
    return true;
}

} // namespace guitest
