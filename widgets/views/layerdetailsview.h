#pragma once
// Everything about the selected layer: its weight histogram, summary statistics and
// per-channel ranges.
#include "statsresult.h"

#include <QWidget>

class QLabel;
class QSplitter;
class QVBoxLayout;

namespace bonsai::ui {

class ChannelRangeView;
class HistogramView;
class StatsForm;

class LayerDetailsView : public QWidget {
    Q_OBJECT
public:
    explicit LayerDetailsView(QWidget* parent = nullptr);

    void clear();                              // no model
    void showPending(const QString& label, const QString& description); // statistics running
    void showError(const QString& label, const QString& message);
    void setStats(const StatsResult& result, const QString& description);
    int shownTensor() const { return m_shownTensor; }
    // Puts `w` under the histogram (the compression preview).
    void addBelowHistogram(QWidget* w);

    HistogramView* histogram() const { return m_histogram; }
    ChannelRangeView* channelRanges() const { return m_channels; }
    StatsForm* statsForm() const { return m_form; }

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    QLabel* m_title;
    QSplitter* m_split;
    bool m_splitMoved = false; // the user dragged the handle between the histogram and the rest
    QVBoxLayout* m_histogramColumn;
    HistogramView* m_histogram;
    StatsForm* m_form;
    ChannelRangeView* m_channels;
    int m_shownTensor = -1;
};

} // namespace bonsai::ui
