#pragma once
// Cells of the budget search's sensitivity map (SensitivityModel): the colour is ΔKL on the
// table's log scale (green: harmless, red: harmful), estimated cells paler and hatched,
// not-applicable cells grey with a dash, the chosen cell framed in bold, a pinned cell with a
// dark corner; the bytes as text in a colour that stays readable on the fill. The legend
// below the map explains the same marks with the scale's ends.
#include <QStyledItemDelegate>
#include <QWidget>

namespace bonsai::ui {

// The fill for a position on the log scale in [0, 1]; `measured` false: the paler tone.
QColor sensitivityColor(double heat, bool measured = true);

class SensitivityDelegate : public QStyledItemDelegate {
    Q_OBJECT
public:
    using QStyledItemDelegate::QStyledItemDelegate;
    void paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const override;
    QSize sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const override;
};

class SensitivityLegend : public QWidget {
    Q_OBJECT
public:
    explicit SensitivityLegend(QWidget* parent = nullptr);
    void setScale(double klMin, double klMax); // nats; equal: no scale yet
    // Never narrower than every mark and its words.
    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    int draw(QPainter* painter) const; // the width used; nullptr: measures only

    double m_min = 0, m_max = 0;
};

} // namespace bonsai::ui
