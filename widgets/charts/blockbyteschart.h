#pragma once
// Language models: where the bytes are, per group in model order — embeddings, each
// transformer block split into attention and MLP, output head — with the original size as a
// light bar and the compressed size (from the ModelEstimator) as a solid bar beside it. Scrolls
// horizontally when the blocks do not fit; block labels thin out to every Nth block.
#include <QWidget>

#include <cstdint>
#include <vector>

class QLabel;
class QScrollArea;

namespace bonsai::ui {

class CompressionDocument;
class ModelEstimator;

class BlockBytesChart : public QWidget {
    Q_OBJECT
public:
    struct Bar {
        QString label;   // axis label: "emb", "0", "1", …, "head"
        QString group;   // "Embeddings", "Block 3", "Output head"
        uint64_t attention = 0, mlp = 0, other = 0;          // original bytes
        uint64_t attentionC = 0, mlpC = 0, otherC = 0;       // compressed bytes
        bool compressed = false; // every layer of the group has a current estimate
        uint64_t original() const { return attention + mlp + other; }
        uint64_t compressedTotal() const { return attentionC + mlpC + otherC; }
    };

    BlockBytesChart(CompressionDocument* doc, ModelEstimator* estimator, QWidget* parent = nullptr);
    // True when the document's model is a language model (otherwise the chart is empty).
    bool hasData() const { return !m_bars.empty(); }
    const std::vector<Bar>& bars() const { return m_bars; }
    QString titleText() const;

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void rebuild();

    CompressionDocument* m_doc;
    ModelEstimator* m_estimator;
    QLabel* m_title;
    QScrollArea* m_scroll;
    QWidget* m_canvas;
    std::vector<Bar> m_bars;
};

} // namespace bonsai::ui
