#include "layerdetailsview.h"

#include "channelrangeview.h"
#include "histogramview.h"
#include "statsform.h"

#include <QEvent>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QScrollArea>
#include <QScrollBar>
#include <QSplitter>
#include <QVBoxLayout>

#include <algorithm>

namespace bonsai::ui {

namespace {

// Scrolls vertically only: as wide as its content needs at least (with room for the scroll
// bar), any height.
class ColumnScrollArea : public QScrollArea {
public:
    using QScrollArea::QScrollArea;

    QSize minimumSizeHint() const override
    {
        const QSize base = QScrollArea::minimumSizeHint();
        const QWidget* w = widget();
        if (!w)
            return base;
        const int width = w->minimumSizeHint().expandedTo(w->minimumSize()).width() +
                          verticalScrollBar()->sizeHint().width() + 2 * frameWidth();
        return {std::max(base.width(), width), base.height()};
    }
};

} // namespace

LayerDetailsView::LayerDetailsView(QWidget* parent)
    : QWidget(parent), m_title(new QLabel(this)), m_histogram(new HistogramView(this)),
      m_form(new StatsForm(this)), m_channels(new ChannelRangeView(this))
{
    m_title->setTextFormat(Qt::RichText);
    m_title->setWordWrap(true);
    m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto* statsBox = new QGroupBox(tr("Statistics"), this);
    auto* statsLayout = new QVBoxLayout(statsBox);
    statsLayout->setContentsMargins(2, 2, 2, 2);
    statsLayout->addWidget(m_form);
    statsLayout->addStretch(1);

    auto* bottom = new QSplitter(Qt::Horizontal, this);
    bottom->setObjectName(QStringLiteral("detailsBottomSplitter"));
    bottom->addWidget(statsBox);
    bottom->addWidget(m_channels);
    bottom->setStretchFactor(0, 0);
    bottom->setStretchFactor(1, 1);
    bottom->setChildrenCollapsible(false);

    auto* split = new QSplitter(Qt::Vertical, this);
    split->setObjectName(QStringLiteral("detailsSplitter"));
    auto* top = new QWidget(this);
    m_histogramColumn = new QVBoxLayout(top);
    m_histogramColumn->setContentsMargins(0, 0, 0, 0);
    m_histogramColumn->addWidget(m_histogram, 1);
    split->addWidget(top);
    split->addWidget(bottom);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    split->setChildrenCollapsible(false);
    // 3 : 2 of whatever height the column has (the splitter first gets its minimum inside the
    // scroll area, and growing from there left the channel ranges at theirs), until the user
    // drags the handle.
    m_split = split;
    split->installEventFilter(this);
    connect(split, &QSplitter::splitterMoved, this, [this] { m_splitMoved = true; });

    // The charts keep the height their labels need (QtCharts elides tick labels and axis titles
    // to "..." in a squeezed chart): below the sum of those minimums, as under a bottom dock on a
    // laptop screen, the column scrolls instead of squeezing them. Above it the splitter fills
    // the column and no scroll bar shows.
    auto* scroll = new ColumnScrollArea(this);
    scroll->setObjectName(QStringLiteral("detailsScroll"));
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setWidgetResizable(true);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    scroll->setWidget(split);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_title);
    layout->addWidget(scroll, 1);
    clear();
}

bool LayerDetailsView::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == m_split && event->type() == QEvent::Resize && !m_splitMoved) {
        const int total = m_split->height() - m_split->handleWidth();
        const int top = total * 3 / 5;
        m_split->setSizes({top, total - top});
    }
    return QWidget::eventFilter(watched, event);
}

void LayerDetailsView::addBelowHistogram(QWidget* w) { m_histogramColumn->addWidget(w); }

void LayerDetailsView::clear()
{
    m_shownTensor = -1;
    m_title->setText(tr("<b>No layer selected</b>"));
    m_histogram->showMessage(tr("Select a layer to see the distribution of its weights."));
    m_channels->showMessage(tr("Per-channel ranges appear here for the selected layer."));
    m_form->clear();
}

void LayerDetailsView::showPending(const QString& label, const QString& description)
{
    m_shownTensor = -1;
    m_title->setText(QStringLiteral("<b>%1</b> &nbsp; %2").arg(label.toHtmlEscaped(), description.toHtmlEscaped()));
    m_histogram->showMessage(tr("Computing statistics for %1…").arg(label));
    m_channels->showMessage(tr("Computing per-channel ranges…"));
    m_form->clear();
}

void LayerDetailsView::showError(const QString& label, const QString& message)
{
    m_shownTensor = -1;
    m_histogram->showMessage(tr("Could not compute statistics for %1:\n%2").arg(label, message));
    m_channels->showMessage(QString());
    m_form->clear();
}

void LayerDetailsView::setStats(const StatsResult& result, const QString& description)
{
    m_shownTensor = result.tensor;
    m_title->setText(QStringLiteral("<b>%1</b> &nbsp; %2").arg(result.label.toHtmlEscaped(), description.toHtmlEscaped()));
    m_histogram->setStats(result);
    m_form->setStats(result);
    m_channels->setStats(result);
}

} // namespace bonsai::ui
