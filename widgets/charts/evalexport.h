#pragma once
// Saving charts as pictures: PNG (raster, at the screen's resolution) or SVG (vector, through
// QSvgGenerator), chosen by the file suffix. Written to a temporary file, then renamed.
#include <QString>

class QChartView;

namespace bonsai::ui {

// Returns false and sets *error (naming the file) when it cannot be written.
bool saveChartImage(QChartView* view, const QString& path, QString* error = nullptr);

} // namespace bonsai::ui
