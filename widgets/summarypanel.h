#pragma once
// The model overview: format, file, parameter count, size, dtype mix, layer count and key
// metadata, next to charts of where the bytes are.
#include <QWidget>

#include <memory>

class QFormLayout;
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

    explicit SummaryPanel(QWidget* parent = nullptr);
    void setModel(const std::shared_ptr<const bonsai::Model>& model);
    BytesChart* bytesChart() const { return m_chart; }

private:
    QFormLayout* m_form;
    BytesChart* m_chart;
};

} // namespace bonsai::ui
