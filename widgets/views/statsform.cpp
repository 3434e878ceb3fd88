#include "statsform.h"

#include "formatting.h"

#include <QFormLayout>
#include <QLabel>

namespace bonsai::ui {

StatsForm::StatsForm(QWidget* parent) : QWidget(parent), m_form(new QFormLayout(this))
{
    m_form->setContentsMargins(4, 4, 4, 4);
    m_form->setLabelAlignment(Qt::AlignRight);
    m_form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    addRow(QStringLiteral("count"), tr("Elements:"), tr("Finite values counted"));
    addRow(QStringLiteral("min"), tr("Min:"), {});
    addRow(QStringLiteral("max"), tr("Max:"), {});
    addRow(QStringLiteral("mean"), tr("Mean:"), {});
    addRow(QStringLiteral("std"), tr("Std dev:"), tr("Standard deviation"));
    addRow(QStringLiteral("kurtosis"), tr("Excess kurtosis:"),
           tr("0 for a Gaussian; large values mean heavy tails, which hurt quantization"));
    addRow(QStringLiteral("outliers"), tr("Outliers (> 6σ):"),
           tr("Values farther than 6 standard deviations from the mean"));
    addRow(QStringLiteral("zeros"), tr("Zeros:"), tr("Values exactly 0"));
    addRow(QStringLiteral("nonFinite"), tr("NaN / Inf:"), tr("Non-finite values, excluded from the rest"));
    clear();
}

QLabel* StatsForm::addRow(const QString& name, const QString& label, const QString& tip)
{
    auto* value = new QLabel(this);
    value->setObjectName(name);
    value->setTextInteractionFlags(Qt::TextSelectableByMouse);
    value->setToolTip(tip);
    auto* caption = new QLabel(label, this);
    caption->setToolTip(tip);
    m_form->addRow(caption, value);
    m_values.append(value);
    return value;
}

void StatsForm::clear()
{
    for (QLabel* v : std::as_const(m_values))
        v->setText(QStringLiteral("—"));
}

QString StatsForm::valueText(const QString& fieldName) const
{
    const auto* l = findChild<QLabel*>(fieldName);
    return l ? l->text() : QString();
}

void StatsForm::setStats(const StatsResult& result)
{
    if (!result.stats) {
        clear();
        return;
    }
    const auto& s = *result.stats;
    const double n = static_cast<double>(std::max<uint64_t>(s.count, 1));
    auto set = [this](const char* name, const QString& text) {
        if (auto* l = findChild<QLabel*>(QLatin1String(name)))
            l->setText(text);
    };
    set("count", formatCount(s.count));
    set("min", formatValue(s.min));
    set("max", formatValue(s.max));
    set("mean", formatValue(s.mean));
    set("std", formatValue(s.std));
    set("kurtosis", formatValue(s.kurtosis));
    set("outliers", tr("%1 (%2)").arg(formatCount(s.outliers), formatPercent(static_cast<double>(s.outliers) / n, 3)));
    set("zeros", tr("%1 (%2)").arg(formatCount(s.zeros), formatPercent(static_cast<double>(s.zeros) / n, 2)));
    set("nonFinite", formatCount(s.nonFinite));
}

} // namespace bonsai::ui
