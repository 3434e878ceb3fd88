#pragma once
// Model-level result of the compression configuration: original and compressed bytes of the
// largest layers as paired bars, with the whole model's sizes and ratio in the title.
#include <QChartView>

namespace bonsai::ui {

class CompressionDocument;
class ModelEstimator;

class CompressionChart : public QChartView {
    Q_OBJECT
public:
    static constexpr int TopLayers = 10;

    CompressionChart(CompressionDocument* doc, ModelEstimator* estimator, QWidget* parent = nullptr);
    QString titleText() const;

private:
    void rebuild();

    CompressionDocument* m_doc;
    ModelEstimator* m_estimator;
};

} // namespace bonsai::ui
