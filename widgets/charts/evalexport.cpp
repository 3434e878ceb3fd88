#include "evalexport.h"

#include <QBuffer>
#include <QChartView>
#include <QCoreApplication>
#include <QFileInfo>
#include <QGraphicsLayout>
#include <QImage>
#include <QPainter>
#include <QSaveFile>
#include <QSvgGenerator>

namespace bonsai::ui {

static QString tr(const char* s) { return QCoreApplication::translate("ChartExport", s); }

bool saveChartImage(QChartView* view, const QString& path, QString* error)
{
    auto fail = [&](const QString& why) {
        if (error)
            *error = tr("Could not save the chart to %1: %2").arg(path, why);
        return false;
    };
    QSize size = view->size();
    bool offScreen = false;
    if (!view->isVisible() || size.width() < 100 || size.height() < 100) {
        // Not on screen (a tab behind another): a hidden view defers its resize, so the chart
        // would be drawn as last laid out, its titles and axis labels elided. Lay the chart
        // itself out at a readable size for the export, then give it back to the view.
        size = QSize(900, 560);
        offScreen = true;
        view->resize(size);
        if (QChart* chart = view->chart()) {
            chart->resize(size);
            if (QGraphicsLayout* layout = chart->layout())
                layout->activate();
            view->scene()->setSceneRect(QRectF(QPointF(0, 0), size));
            chart->setPos(0, 0);
        }
    }
    const auto draw = [&](QPainter& painter) {
        const QRectF target(QPointF(0, 0), size);
        if (offScreen && view->scene())
            view->scene()->render(&painter, target, target);
        else
            view->render(&painter, target, QRect(QPoint(0, 0), size));
    };
    QByteArray bytes;
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix == QLatin1String("svg")) {
        QBuffer buffer(&bytes);
        buffer.open(QIODevice::WriteOnly);
        QSvgGenerator svg;
        svg.setOutputDevice(&buffer);
        svg.setSize(size);
        svg.setViewBox(QRect(QPoint(0, 0), size));
        svg.setTitle(view->chart() ? view->chart()->title() : QString());
        svg.setDescription(tr("Chart saved by Bonsai"));
        QPainter painter(&svg);
        draw(painter);
    } else if (suffix == QLatin1String("png")) {
        const qreal dpr = view->devicePixelRatioF();
        QImage image(size * dpr, QImage::Format_ARGB32_Premultiplied);
        image.setDevicePixelRatio(dpr);
        image.fill(view->palette().color(QPalette::Base));
        {
            QPainter painter(&image);
            painter.setRenderHint(QPainter::Antialiasing);
            draw(painter);
        }
        QBuffer buffer(&bytes);
        buffer.open(QIODevice::WriteOnly);
        if (!image.save(&buffer, "PNG"))
            return fail(tr("PNG encoding failed"));
    } else {
        return fail(tr("use a .png or .svg file name"));
    }
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit())
        return fail(file.errorString());
    return true;
}

} // namespace bonsai::ui
