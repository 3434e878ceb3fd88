#include "formatting.h"

#include "bonsai/fault.h"
#include "bonsai/model.h"

#include <QCoreApplication>
#include <QLocale>
#include <QStringList>

#include <algorithm>
#include <cmath>
#include <map>

namespace bonsai::ui {

static QLocale numberLocale()
{
    QLocale loc;
    loc.setNumberOptions(QLocale::DefaultNumberOptions); // keep group separators, even in "C"
    return loc;
}

QString qstr(std::string_view s)
{
    return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size()));
}

QString errorText(const std::exception& e, const QString& path, const char* doing)
{
    return QString::fromStdString(bonsai::userMessage(e, path.toStdString(), doing));
}

QString formatCount(uint64_t n)
{
    return numberLocale().toString(static_cast<qulonglong>(n));
}

QString formatBytes(uint64_t bytes)
{
    if (bytes < 1024)
        return QCoreApplication::translate("Format", "%1 B").arg(bytes);
    return numberLocale().formattedDataSize(static_cast<qint64>(bytes), 2, QLocale::DataSizeIecFormat);
}

QString formatShape(const std::vector<int64_t>& shape)
{
    if (shape.empty())
        return QStringLiteral("scalar");
    QStringList parts;
    for (int64_t d : shape)
        parts << QString::number(d);
    return parts.join(QStringLiteral(" × "));
}

QString formatPercent(double fraction, int decimals)
{
    return numberLocale().toString(fraction * 100.0, 'f', decimals) + QLatin1Char('%');
}

QString formatValue(double v)
{
    return numberLocale().toString(v, 'g', 4);
}

namespace {

// The unit a time is shown in (s, ms or µs: its value at least 1 there) and its decimals for
// 3 significant digits.
struct TimeUnit {
    double scale;
    QString name;
};

TimeUnit timeUnit(double seconds)
{
    const double a = std::abs(seconds);
    if (a >= 1.0)
        return {1.0, QStringLiteral("s")};
    if (a >= 1e-3)
        return {1e3, QStringLiteral("ms")};
    return {1e6, QStringLiteral("µs")};
}

QString threeDigits(double v)
{
    const double a = std::abs(v);
    return numberLocale().toString(v, 'f', a >= 100 ? 0 : a >= 10 ? 1 : 2);
}

} // namespace

QString formatLatency(double seconds)
{
    const TimeUnit u = timeUnit(seconds);
    return threeDigits(seconds * u.scale) + QLatin1Char(' ') + u.name;
}

QString formatLatencySpread(double median, double min, double max, bool twoLines)
{
    const TimeUnit u = timeUnit(median);
    const QString m = threeDigits(median * u.scale), lo = threeDigits(min * u.scale), hi = threeDigits(max * u.scale);
    return twoLines ? QStringLiteral("%1 %4\n(%2–%3)").arg(m, lo, hi, u.name)
                    : QStringLiteral("%1 (%2–%3) %4").arg(m, lo, hi, u.name);
}

QString dtypeMix(const bonsai::Model& model)
{
    std::map<std::string, uint64_t> bytes;
    for (const auto& t : model.tensors)
        bytes[t.dequant ? t.dequant->describe() : std::string(dtypeName(t.dtype))] += t.storedBytes();
    std::vector<std::pair<std::string, uint64_t>> sorted(bytes.begin(), bytes.end());
    std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.second > b.second; });
    const double total = static_cast<double>(std::max<uint64_t>(model.totalBytes(), 1));
    QStringList parts;
    for (const auto& [name, b] : sorted)
        parts << qstr(name) + QLatin1Char(' ') + formatPercent(static_cast<double>(b) / total);
    return parts.isEmpty() ? QStringLiteral("—") : parts.join(QStringLiteral(", "));
}

QString elideMiddle(const QString& s, int maxChars)
{
    if (s.size() <= maxChars || maxChars < 5)
        return s;
    const int tail = (maxChars - 1) / 2;
    const int head = maxChars - 1 - tail;
    return s.left(head) + QChar(0x2026) + s.right(tail);
}

} // namespace bonsai::ui
