#include "layerdetailsview.h"

#include "channelrangeview.h"
#include "histogramview.h"
#include "statsform.h"

#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSplitter>
#include <QVBoxLayout>

namespace bonsai::ui {

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

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_title);
    layout->addWidget(split, 1);
    clear();
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
