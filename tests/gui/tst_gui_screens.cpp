// The window on the screens people have, headless: the demo model and the tiny Llama opened
// at 1366 × 768 and at 1920 × 1080. Checked through the widgets, not pixels: the histogram's
// and the channel-range chart's plot areas are at least 300 × 150, no text QtCharts drew in a
// visible chart is elided, every axis's tick labels fit the room per tick (font metrics of the
// axis's label font), and the layer table shows Layer, Bytes, Precision and Compressed
// without horizontal scrolling; a long error in a job panel is not cut off.
#include "channelrangeview.h"
#include "bonsai/presets.h"
#include "histogramview.h"
#include "layerdetailsview.h"
#include "layertablemodel.h"
#include "layertableview.h"
#include "mainwindow.h"
#include "modelestimator.h"
#include "previewrunner.h"

#include <QBarCategoryAxis>
#include <QCategoryAxis>
#include <QChart>
#include <QChartView>
#include <QDockWidget>
#include <QFontMetricsF>
#include <QGraphicsTextItem>
#include <QHeaderView>
#include <QLabel>
#include <QLogValueAxis>
#include <QScrollArea>
#include <QScrollBar>
#include <QSettings>
#include <QStandardPaths>
#include <QTreeView>
#include <QValueAxis>
#include <QtTest>

#include <cmath>

using bonsai::ui::LayerTableModel;
using bonsai::ui::MainWindow;

// Headless by default, also when run by hand outside CTest.
static const bool forceOffscreen = [] {
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    return true;
}();

namespace {

constexpr qreal MinPlotWidth = 300, MinPlotHeight = 150;

bool isElided(const QString& text)
{
    return text.contains(QChar(0x2026)) || text.contains(QStringLiteral("..."));
}

// The text items QtCharts drew in `view`'s scene (titles, tick labels, legend entries) that
// are visible but elided.
QStringList elidedTexts(QChartView* view)
{
    QStringList out;
    for (QGraphicsItem* item : view->scene()->items()) {
        auto* text = dynamic_cast<QGraphicsTextItem*>(item);
        if (text && text->isVisible() && isElided(text->toPlainText()))
            out << text->toPlainText();
    }
    return out;
}

struct Tick {
    QString label;
    qreal pos; // pixels along the axis from the plot area's start
};

// Labelled positions of an axis, in pixels along the plot area (x from the left, y from the
// bottom), for the axis kinds the charts use.
QList<Tick> ticksOf(QAbstractAxis* axis, qreal length)
{
    QList<Tick> ticks;
    if (auto* cat = qobject_cast<QCategoryAxis*>(axis)) {
        const qreal lo = cat->min(), hi = cat->max();
        for (const QString& label : cat->categoriesLabels()) {
            const qreal v = cat->endValue(label);
            if (v >= lo - 1e-9 * (hi - lo) && v <= hi + 1e-9 * (hi - lo))
                ticks.append({label, (v - lo) / (hi - lo) * length});
        }
    } else if (auto* bar = qobject_cast<QBarCategoryAxis*>(axis)) {
        const QStringList cats = bar->categories();
        for (int i = 0; i < cats.size(); ++i)
            ticks.append({cats[i], (i + 0.5) / cats.size() * length});
    } else if (const auto* value = qobject_cast<const QValueAxis*>(axis)) {
        const int n = value->tickCount();
        for (int i = 0; i < n; ++i) {
            const qreal v = value->min() + (value->max() - value->min()) * i / std::max(1, n - 1);
            ticks.append({QString::number(v, 'g', 6), length * i / std::max(1, n - 1)});
        }
    } else if (const auto* log = qobject_cast<const QLogValueAxis*>(axis)) {
        const qreal l0 = std::log10(log->min()), l1 = std::log10(log->max());
        for (int e = int(std::ceil(l0)); e <= int(std::floor(l1)); ++e)
            ticks.append({QString::number(std::pow(10.0, e), 'g', 6), (e - l0) / (l1 - l0) * length});
    }
    return ticks;
}

// Problems with the tick labels of `axis` in `chart`: a label wider (bottom axis) or taller
// (left axis) than the room between its neighbours' positions.
QStringList tickProblems(const QChart* chart, QAbstractAxis* axis)
{
    QStringList out;
    if (!axis->isVisible() || !axis->labelsVisible())
        return out;
    const QRectF plot = chart->plotArea();
    const bool horizontal = axis->orientation() == Qt::Horizontal;
    const QList<Tick> ticks = ticksOf(axis, horizontal ? plot.width() : plot.height());
    const QFontMetricsF fm(axis->labelsFont());
    auto extent = [&](const QString& s) { return horizontal ? fm.horizontalAdvance(s) + 4 : fm.height(); };
    for (qsizetype i = 0; i + 1 < ticks.size(); ++i) {
        const qreal room = std::abs(ticks[i + 1].pos - ticks[i].pos);
        const qreal need = (extent(ticks[i].label) + extent(ticks[i + 1].label)) / 2;
        if (need > room)
            out << QStringLiteral("%1 axis labels \"%2\" and \"%3\" need %4 px, have %5")
                       .arg(horizontal ? "x" : "y", ticks[i].label, ticks[i + 1].label)
                       .arg(need, 0, 'f', 0)
                       .arg(room, 0, 'f', 0);
    }
    return out;
}

// A window without error dialogs, shown at `size`.
bool showAt(MainWindow& w, QSize size)
{
    w.setErrorDialogsEnabled(false);
    w.resize(size);
    w.show();
    return QTest::qWaitForWindowExposed(&w);
}

QString nameOf(const QChartView* view)
{
    const QString title = view->chart()->title();
    return view->objectName() + (title.isEmpty() ? QString() : QStringLiteral(" (") + title + QLatin1Char(')'));
}

} // namespace

class TstGuiScreens : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
    }

    void fits_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QSize>("size");
        QTest::addColumn<QString>("dock"); // a job dock brought to the front, or none
        const QString demo = QStringLiteral(BONSAI_DEMO_MODEL);
        const QString llama = QStringLiteral(BONSAI_TEST_DATA "/tiny-llama");
        for (const QSize size : {QSize(1366, 768), QSize(1920, 1080)}) {
            const QByteArray tag = QByteArray::number(size.width()) + 'x' + QByteArray::number(size.height());
            QTest::newRow("demo " + tag) << demo << size << QString();
            QTest::newRow("tiny-llama " + tag) << llama << size << QString();
            // The job docks: below the central area on tall screens, a tab beside the
            // compression dock on low ones (their charts then go below their settings).
            QTest::newRow("demo, evaluation " + tag) << demo << size << QStringLiteral("evalDock");
            QTest::newRow("tiny-llama, perplexity " + tag) << llama << size << QStringLiteral("perplexityDock");
        }
    }

    void fits()
    {
        QFETCH(QString, model);
        QFETCH(QSize, size);
        QFETCH(QString, dock);
        MainWindow w;
        QVERIFY(showAt(w, size));
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        QSignalSpy stats(&w, &MainWindow::statsShown);
        QSignalSpy preview(&w, &MainWindow::previewShown);
        w.openPath(model);
        QVERIFY(QTest::qWaitFor([&] { return opened.size() == 1; }, 60000));
        QVERIFY(QTest::qWaitFor([&] { return !stats.isEmpty(); }, 60000));
        // The compressed overlay (4-bit: a few tall spikes) is part of what must fit.
        preview.clear();
        w.applyPreset(bonsai::Preset::Int4Group128);
        QVERIFY(QTest::qWaitFor([&] {
            return !preview.isEmpty() && !w.previewRunner()->isBusy() && w.estimator()->isComplete() &&
                   !w.estimator()->isBusy();
        }, 120000));
        if (!dock.isEmpty()) {
            auto* d = w.findChild<QDockWidget*>(dock);
            QVERIFY(d);
            d->setVisible(true);
            d->raise();
        }
        QTest::qWait(200); // layouts and chart geometry settle
        if (qEnvironmentVariableIsSet("BONSAI_SCREENS_GRAB"))
            w.grab().save(qEnvironmentVariable("BONSAI_SCREENS_GRAB") + QLatin1Char('/') +
                          QFileInfo(model).baseName() + QString::number(size.width()) + dock + QStringLiteral(".png"));

        QStringList problems;
        if (w.size() != size)
            problems << QStringLiteral("window is %1 × %2").arg(w.width()).arg(w.height());
        QVERIFY(w.details()->histogram()->hasOverlay());
        for (QChartView* v : {w.details()->histogram()->chartView(), w.details()->channelRanges()->chartView()}) {
            const QRectF plot = v->chart()->plotArea();
            if (!v->isVisible() || plot.width() < MinPlotWidth || plot.height() < MinPlotHeight)
                problems << QStringLiteral("%1: plot area %2 × %3%4")
                                .arg(nameOf(v))
                                .arg(plot.width(), 0, 'f', 0)
                                .arg(plot.height(), 0, 'f', 0)
                                .arg(v->isVisible() ? QString() : QStringLiteral(" (hidden)"));
        }
        int charts = 0;
        for (QChartView* v : w.findChildren<QChartView*>()) {
            if (!v->isVisible() || !v->chart() || v->chart()->series().isEmpty())
                continue;
            ++charts;
            for (const QString& text : elidedTexts(v))
                problems << QStringLiteral("%1: elided \"%2\"").arg(nameOf(v), text);
            for (QAbstractAxis* axis : v->chart()->axes())
                for (const QString& p : tickProblems(v->chart(), axis))
                    problems << nameOf(v) + QStringLiteral(": ") + p;
        }
        QVERIFY(charts >= 3); // histogram, channel ranges and a bytes chart at least

        QTreeView* table = w.layerTable()->view();
        QHeaderView* header = table->header();
        const int viewport = table->viewport()->width();
        for (int c : {int(LayerTableModel::Name), int(LayerTableModel::Bytes), int(LayerTableModel::Precision),
                      int(LayerTableModel::Compressed)}) {
            const QString name = w.layerTable()->tableModel()->headerData(c, Qt::Horizontal, Qt::DisplayRole).toString();
            const int x = header->sectionViewportPosition(c);
            const int need = header->fontMetrics().horizontalAdvance(name) + 16;
            if (header->isSectionHidden(c) || x < 0 || x + header->sectionSize(c) > viewport ||
                header->sectionSize(c) < need)
                problems << QStringLiteral("layer table: column %1 at %2 + %3 px (needs %4) in a %5 px viewport")
                                .arg(name)
                                .arg(x)
                                .arg(header->sectionSize(c))
                                .arg(need)
                                .arg(viewport);
        }
        if (table->horizontalScrollBar()->value() != 0)
            problems << QStringLiteral("layer table scrolled horizontally");
        // A job dock in front shows its whole panel across: no sideways scrolling.
        for (QScrollArea* area : w.findChildren<QScrollArea*>()) {
            if (!area->objectName().endsWith(QLatin1String("DockScroll")) || !area->isVisible() || !area->widget())
                continue;
            if (area->horizontalScrollBar()->isVisible())
                problems << QStringLiteral("%1 scrolls sideways: its panel needs %2 px, the dock shows %3")
                                .arg(area->objectName())
                                .arg(area->widget()->minimumSizeHint().width())
                                .arg(area->viewport()->width());
        }
        if (!problems.isEmpty())
            QFAIL(qPrintable(problems.join(QStringLiteral("\n  "))));
    }

    // A long error in each job panel wraps onto as many lines as it needs: every visible
    // word-wrapped label is at least as tall as its text at its width (it was cut off).
    void messagesFit_data()
    {
        QTest::addColumn<QSize>("size");
        QTest::newRow("1366x768") << QSize(1366, 768);
        QTest::newRow("1920x1080") << QSize(1920, 1080);
    }

    void messagesFit()
    {
        QFETCH(QSize, size);
        MainWindow w;
        QVERIFY(showAt(w, size));
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        w.openPath(QStringLiteral(BONSAI_DEMO_MODEL));
        QVERIFY(QTest::qWaitFor([&] { return opened.size() == 1; }, 60000));
        const QString error = QStringLiteral(
            "Cannot read /home/someone/Downloads/checkpoints/fashion-mnist/run-2026-11-30/"
            "validation-set-images.idx3-ubyte: the header says 60000 images of 28 x 28 pixels, but the "
            "file holds 7840016 bytes, not the 47040016 that many images need. Choose the matching labels "
            "file or another data set, then try again.");
        for (const char* name : {"evalDock", "recoverDock", "perplexityDock"}) {
            auto* d = w.findChild<QDockWidget*>(QLatin1String(name));
            QVERIFY2(d, name);
            d->setVisible(true);
            d->raise();
            const auto labels = d->findChildren<QLabel*>(QStringLiteral("panelMessage"));
            QVERIFY2(!labels.isEmpty(), name);
            for (QLabel* l : labels) {
                l->setText(error);
                l->setVisible(true);
            }
            // Layouts settle through posted events: poll (a loaded machine takes longer).
            QStringList problems;
            auto check = [&] {
                problems.clear();
                for (QLabel* l : w.findChildren<QLabel*>()) {
                    if (!l->isVisible() || !l->wordWrap() || l->text().isEmpty())
                        continue;
                    const int need = l->heightForWidth(l->width());
                    if (l->height() < need)
                        problems << QStringLiteral("%1 label \"%2…\" is %3 px tall at %4 px wide, its text needs %5")
                                        .arg(QLatin1String(name), l->text().left(40))
                                        .arg(l->height())
                                        .arg(l->width())
                                        .arg(need);
                }
                return problems.isEmpty();
            };
            QTest::qWaitFor(check, 5000);
            if (qEnvironmentVariableIsSet("BONSAI_SCREENS_GRAB"))
                w.grab().save(qEnvironmentVariable("BONSAI_SCREENS_GRAB") + QStringLiteral("/message-%1-%2.png")
                                                                                  .arg(QLatin1String(name))
                                                                                  .arg(size.width()));
            if (!problems.isEmpty())
                QFAIL(qPrintable(problems.join(QStringLiteral("\n  "))));
        }
    }
};

QTEST_MAIN(TstGuiScreens)
#include "tst_gui_screens.moc"
