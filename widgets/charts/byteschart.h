#pragma once
// Where a model's bytes are: horizontal bar charts of the largest layers (the rest grouped
// as "other") and of bytes per op kind.
#include <QTabWidget>

#include <memory>

class QChartView;

namespace bonsai {
class Model;
}

namespace bonsai::ui {

class BytesChart : public QTabWidget {
    Q_OBJECT
public:
    static constexpr int TopLayers = 12;

    explicit BytesChart(QWidget* parent = nullptr);
    void setModel(const std::shared_ptr<const bonsai::Model>& model);

private:
    QChartView* m_layers;
    QChartView* m_ops;
};

} // namespace bonsai::ui
