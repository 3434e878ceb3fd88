#include "sensitivitydelegate.h"

#include "sensitivitymodel.h"

#include <QApplication>
#include <QLinearGradient>
#include <QPainter>
#include <QPainterPath>

#include <algorithm>
#include <cmath>

namespace bonsai::ui {

namespace {

QColor mix(const QColor& a, const QColor& b, double t)
{
    return QColor::fromRgbF(float(a.redF() + (b.redF() - a.redF()) * t), float(a.greenF() + (b.greenF() - a.greenF()) * t),
                            float(a.blueF() + (b.blueF() - a.blueF()) * t));
}

// Green (harmless) through yellow to red (harmful).
const QColor Stops[] = {QColor(0x1a, 0x98, 0x50), QColor(0x91, 0xcf, 0x60), QColor(0xfe, 0xe0, 0x8b),
                        QColor(0xfc, 0x8d, 0x59), QColor(0xd7, 0x30, 0x27)};

bool isDark(const QColor& c) { return 0.299 * c.redF() + 0.587 * c.greenF() + 0.114 * c.blueF() < 0.5; }

QString klLabel(double kl) { return QString::number(kl, 'g', 2); }

} // namespace

QColor sensitivityColor(double heat, bool measured)
{
    const int n = int(std::size(Stops)) - 1;
    const double x = std::clamp(heat, 0.0, 1.0) * n;
    const int i = std::min(int(x), n - 1);
    const QColor c = mix(Stops[i], Stops[i + 1], x - i);
    return measured ? c : mix(c, Qt::white, 0.55);
}

QSize SensitivityDelegate::sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const
{
    QSize s = QStyledItemDelegate::sizeHint(option, index);
    if (index.column() >= SensitivityModel::FirstCandidateColumn)
        s.setWidth(std::max(s.width() + 10, option.fontMetrics.horizontalAdvance(QStringLiteral("999.99 KiB")) + 18));
    s.setHeight(std::max(s.height(), option.fontMetrics.height() + 8));
    return s;
}

void SensitivityDelegate::paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const
{
    if (index.column() < SensitivityModel::FirstCandidateColumn) {
        QStyledItemDelegate::paint(painter, option, index);
        return;
    }
    painter->save();
    const QRect r = option.rect.adjusted(1, 1, -1, -1);
    const bool applicable = index.data(SensitivityModel::ApplicableRole).toBool();
    const bool measured = index.data(SensitivityModel::MeasuredRole).toBool();
    QColor fill = applicable ? sensitivityColor(index.data(SensitivityModel::HeatRole).toDouble(), measured)
                             : QColor(0xe4, 0xe4, 0xe4);
    painter->fillRect(r, fill);
    if (applicable && !measured) // estimated: hatched
        painter->fillRect(r, QBrush(QColor(0, 0, 0, 40), Qt::BDiagPattern));
    if (option.state & QStyle::State_HasFocus)
        painter->fillRect(r, QColor(0, 0, 0, 28));
    const bool chosen = index.data(SensitivityModel::ChosenRole).toBool();
    const bool pinned = index.data(SensitivityModel::PinnedRole).toBool();
    if (pinned) { // a dark corner, top right
        QPainterPath corner;
        const int k = std::min(10, r.height() / 2);
        corner.moveTo(r.topRight() + QPoint(1, 0));
        corner.lineTo(r.topRight() + QPoint(1 - k, 0));
        corner.lineTo(r.topRight() + QPoint(1, k));
        corner.closeSubpath();
        painter->fillPath(corner, QColor(0x20, 0x20, 0x60));
    }
    if (chosen) {
        painter->setPen(QPen(QColor(0x10, 0x10, 0x10), 3));
        painter->drawRect(r.adjusted(1, 1, -2, -2));
    }
    QFont font = option.font;
    font.setBold(chosen);
    painter->setFont(font);
    painter->setPen(applicable ? (isDark(fill) ? Qt::white : QColor(0x10, 0x10, 0x10)) : QColor(0x80, 0x80, 0x80));
    const QString text = option.fontMetrics.elidedText(index.data(Qt::DisplayRole).toString(), Qt::ElideRight,
                                                       r.width() - 6);
    painter->drawText(r, Qt::AlignCenter, text);
    painter->restore();
}

SensitivityLegend::SensitivityLegend(QWidget* parent) : QWidget(parent)
{
    setObjectName(QStringLiteral("sensitivityLegend"));
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
}

void SensitivityLegend::setScale(double klMin, double klMax)
{
    m_min = klMin;
    m_max = klMax;
    updateGeometry();
    update();
}

QSize SensitivityLegend::sizeHint() const
{
    const int line = fontMetrics().height() + 4;
    return {draw(nullptr), 2 * line + 2};
}

QSize SensitivityLegend::minimumSizeHint() const { return sizeHint(); }

void SensitivityLegend::paintEvent(QPaintEvent*)
{
    QPainter p(this);
    draw(&p);
}

int SensitivityLegend::draw(QPainter* p) const
{
    // Two lines: the scale, then the marks.
    const QFontMetrics fm = fontMetrics();
    const int h = fm.height();
    int y = 1;
    int x = 0, widest = 0;
    auto text = [&](const QString& s) {
        if (p) {
            p->setPen(palette().color(QPalette::WindowText));
            p->drawText(QRect(x, y, fm.horizontalAdvance(s) + 2, h), Qt::AlignVCenter | Qt::AlignLeft, s);
        }
        x += fm.horizontalAdvance(s) + 8;
        widest = std::max(widest, x);
    };
    auto swatch = [&](const QColor& c, bool hatch, bool frame, bool corner) {
        const QRect box(x, y + 1, 2 * h, h - 2);
        x += box.width() + 4;
        if (!p)
            return;
        p->fillRect(box, c);
        if (hatch)
            p->fillRect(box, QBrush(QColor(0, 0, 0, 40), Qt::BDiagPattern));
        if (frame) {
            p->setPen(QPen(QColor(0x10, 0x10, 0x10), 2));
            p->drawRect(box.adjusted(1, 1, -1, -1));
        }
        if (corner) {
            const QPoint tr = box.topRight() + QPoint(1, 0);
            const QPoint pts[] = {tr, tr + QPoint(-8, 0), tr + QPoint(0, 8)};
            p->setPen(Qt::NoPen);
            p->setBrush(QColor(0x20, 0x20, 0x60));
            p->drawPolygon(pts, 3);
            p->setBrush(Qt::NoBrush);
        }
    };
    text(tr("ΔKL, log scale:"));
    if (m_max > m_min) {
        text(klLabel(m_min));
        const QRect bar(x, y + 1, 90, h - 2);
        if (p) {
            QLinearGradient g(bar.topLeft(), bar.topRight());
            const int n = int(std::size(Stops)) - 1;
            for (int i = 0; i <= n; ++i)
                g.setColorAt(double(i) / n, Stops[i]);
            p->fillRect(bar, g);
        }
        x += bar.width() + 4;
        text(klLabel(m_max) + tr(" nats"));
    } else {
        text(tr("not measured yet"));
    }
    x = 0;
    y += h + 4;
    swatch(sensitivityColor(0.3, false), true, false, false);
    text(tr("estimated"));
    swatch(QColor(0xe4, 0xe4, 0xe4), false, false, false);
    text(tr("n/a"));
    swatch(sensitivityColor(0.3), false, true, false);
    text(tr("chosen"));
    swatch(sensitivityColor(0.3), false, false, true);
    text(tr("pinned"));
    return widest;
}

} // namespace bonsai::ui
