#pragma once
// Text formatting shared by the views: counts with thousands separators, IEC byte sizes,
// shapes, percentages, the dtype mix of a model and error messages.
#include <QString>

#include <cstdint>
#include <exception>
#include <string_view>
#include <vector>

namespace bonsai {
class Model;
}

namespace bonsai::ui {

QString qstr(std::string_view s);
QString formatCount(uint64_t n);                         // "1,234,567"
QString formatBytes(uint64_t bytes);                     // "1.50 MiB"
QString formatShape(const std::vector<int64_t>& shape);  // "768 × 3072"
QString formatPercent(double fraction, int decimals = 1); // 0.125 -> "12.5%"
QString formatValue(double v);                           // 4 significant digits
// A measured time with its unit, 3 significant digits: "41.7 µs", "2.35 ms", "1.20 s".
QString formatLatency(double seconds);
// A median with its range, all in the median's unit: "2.35 (2.30–2.51) ms", or on two lines
// "2.35 ms" and "(2.30–2.51)".
QString formatLatencySpread(double median, double min, double max, bool twoLines = false);
QString dtypeMix(const bonsai::Model& model);            // "F16 98.7%, F32 1.3%"
// What to show for an exception: a bonsai::Error's message (it names its file); any other
// fault in words, never its raw text ("model.onnx: not enough memory to load (...)").
QString errorText(const std::exception& e, const QString& path = {}, const char* doing = "");
// Shortens long names in the middle, keeping the distinctive ends.
QString elideMiddle(const QString& s, int maxChars);

} // namespace bonsai::ui
