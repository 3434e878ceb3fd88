#pragma once
// The model overview: format, file, parameter count, size, dtype mix, layer count and key
// metadata, next to charts of where the bytes are. Narrower than NarrowWidth the facts become
// the charts' last tab ("Model"), so the charts keep room for their titles and labels.
#include <QWidget>

#include <memory>

class QFormLayout;
class QGroupBox;
class QHBoxLayout;
class QLabel;

namespace bonsai {
class Model;
}

namespace bonsai::ui {

class BytesChart;

class SummaryPanel : public QWidget {
    Q_OBJECT
public:
    static constexpr int MaxMetadataRows = 6;
    static constexpr int NarrowWidth = 620; // below: the facts are a tab of the charts

    explicit SummaryPanel(QWidget* parent = nullptr);
    void setModel(const std::shared_ptr<const bonsai::Model>& model);
    BytesChart* bytesChart() const { return m_chart; }
    bool isNarrow() const { return m_narrow; }

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    void setNarrow(bool narrow);

    QHBoxLayout* m_layout;
    QGroupBox* m_box;
    bool m_narrow = false;
    QFormLayout* m_form;
    BytesChart* m_chart;
};

} // namespace bonsai::ui
