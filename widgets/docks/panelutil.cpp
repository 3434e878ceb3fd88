#include "panelutil.h"

#include "jobrunner.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>

namespace bonsai::ui {

namespace {
QString tr(const char* text) { return QCoreApplication::translate("JobPanel", text); }
} // namespace

QString percentText(double fraction) { return QStringLiteral("%1%").arg(100 * fraction, 0, 'f', 2); }

QString etaText(double seconds)
{
    if (seconds < 0)
        return {};
    const int s = int(seconds + 0.5);
    return s < 60 ? tr(" · about %1 s left").arg(s)
                  : tr(" · about %1:%2 min left").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
}

QString suggestedSavePath(const QString& modelPath, const QString& suffix)
{
    if (modelPath.isEmpty())
        return QStringLiteral("model") + suffix;
    const QFileInfo info(modelPath);
    if (info.isDir())
        return QDir(info.absoluteFilePath()).filePath(info.fileName() + suffix);
    return QDir(info.absolutePath()).filePath(info.completeBaseName() + suffix);
}

QProgressBar* makeJobProgressBar(const QString& toolTip, QWidget* parent)
{
    auto* bar = new QProgressBar(parent);
    bar->setRange(0, 1000);
    bar->setValue(0);
    bar->setFormat(QString());
    bar->setToolTip(toolTip);
    return bar;
}

void showJobProgress(QProgressBar* bar, const QString& stage, double fraction, double etaSeconds)
{
    bar->setValue(int(fraction * 1000));
    bar->setFormat(tr("%1… %p%").arg(stage) + etaText(etaSeconds));
}

void showJobDone(QProgressBar* bar, double seconds)
{
    bar->setValue(1000);
    bar->setFormat(tr("Done in %1 s").arg(seconds, 0, 'f', 1));
}

void clearJobProgress(QProgressBar* bar)
{
    bar->setValue(0);
    bar->setFormat(QString());
}

QLabel* makeMessageLabel(QWidget* parent)
{
    auto* label = new QLabel(parent);
    label->setObjectName(QStringLiteral("panelMessage"));
    label->setWordWrap(true);
    label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    return label;
}

void showPanelMessage(QLabel* label, const QString& text, bool error)
{
    label->setText(text);
    label->setStyleSheet(error ? QStringLiteral("color: #b00020;") : QString());
}

JobButtons makeJobButtons(const QString& startTip, const QString& cancelTip, QWidget* parent)
{
    JobButtons b{new QPushButton(tr("Start"), parent), new QPushButton(tr("Cancel"), parent), new QHBoxLayout};
    b.start->setToolTip(startTip);
    b.cancel->setToolTip(cancelTip);
    b.cancel->setEnabled(false);
    b.row->addWidget(b.start);
    b.row->addWidget(b.cancel);
    return b;
}

QHBoxLayout* pathRow(QLineEdit* edit, QPushButton* browse)
{
    auto* row = new QHBoxLayout;
    row->addWidget(edit, 1);
    row->addWidget(browse);
    return row;
}

void connectCurrentJob(JobRunner* runner, QObject* context, const quint64& currentJob, JobHandlers handlers)
{
    if (handlers.progress)
        QObject::connect(runner, &JobRunner::progress, context,
                         [&currentJob, f = std::move(handlers.progress)](quint64 id, double fraction, double eta) {
                             if (id == currentJob)
                                 f(fraction, eta);
                         });
    if (handlers.failed)
        QObject::connect(runner, &JobRunner::failed, context,
                         [&currentJob, f = std::move(handlers.failed)](quint64 id, const QString& message) {
                             if (id == currentJob)
                                 f(message);
                         });
    if (handlers.cancelled)
        QObject::connect(runner, &JobRunner::cancelled, context,
                         [&currentJob, f = std::move(handlers.cancelled)](quint64 id) {
                             if (id == currentJob)
                                 f();
                         });
}

} // namespace bonsai::ui
