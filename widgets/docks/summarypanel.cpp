#include "summarypanel.h"

#include "byteschart.h"
#include "formatting.h"

#include "bonsai/model.h"

#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>

namespace bonsai::ui {

namespace {

// Metadata keys worth showing first, by substring (ONNX opset/producer, GGUF architecture).
int metadataPriority(const std::string& key)
{
    static const char* const preferred[] = {"architecture", "producer", "opset", "general.name",
                                            "format", "ir_version", "domain", "quantization"};
    int rank = 0;
    for (const char* p : preferred) {
        if (key.find(p) != std::string::npos)
            return rank;
        ++rank;
    }
    return rank;
}

} // namespace

SummaryPanel::SummaryPanel(QWidget* parent)
    : QWidget(parent), m_layout(new QHBoxLayout(this)), m_box(new QGroupBox(tr("Model"), this)),
      m_form(new QFormLayout), m_chart(new BytesChart(this))
{
    m_box->setObjectName(QStringLiteral("modelFacts"));
    m_box->setLayout(m_form);
    m_form->setLabelAlignment(Qt::AlignRight);
    m_form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    m_layout->setContentsMargins(0, 0, 0, 0);
    m_layout->addWidget(m_box, 2);
    m_layout->addWidget(m_chart, 3);
    setModel(nullptr);
}

void SummaryPanel::resizeEvent(QResizeEvent* event)
{
    QWidget::resizeEvent(event);
    // A little hysteresis, so that moving the tab does not flip the width back and forth.
    if (width() < NarrowWidth - 20)
        setNarrow(true);
    else if (width() > NarrowWidth + 20)
        setNarrow(false);
}

void SummaryPanel::setNarrow(bool narrow)
{
    if (narrow == m_narrow)
        return;
    m_narrow = narrow;
    if (narrow) {
        m_layout->removeWidget(m_box);
        m_box->setTitle(QString()); // the tab says "Model"
        m_chart->addTab(m_box, tr("Model"));
        m_chart->setTabToolTip(m_chart->indexOf(m_box), tr("Format, size, data types and metadata of the model"));
    } else {
        m_chart->removeTab(m_chart->indexOf(m_box));
        m_box->setTitle(tr("Model"));
        m_layout->insertWidget(0, m_box, 2);
        m_box->show();
    }
}

void SummaryPanel::setModel(const std::shared_ptr<const bonsai::Model>& model)
{
    while (m_form->rowCount() > 0)
        m_form->removeRow(0);
    auto add = [this](const QString& label, const QString& value, const QString& tip = {}) {
        auto* v = new QLabel(value);
        v->setTextInteractionFlags(Qt::TextSelectableByMouse);
        v->setWordWrap(true);
        v->setToolTip(tip.isEmpty() ? value : tip);
        m_form->addRow(label, v);
    };
    m_chart->setModel(model);
    if (!model) {
        add(tr("Format:"), QStringLiteral("—"));
        return;
    }
    const QString path = QString::fromStdString(model->path);
    add(tr("Format:"), qstr(formatName(model->format)));
    add(tr("Path:"), elideMiddle(path, 64), path);
    add(tr("Parameters:"), formatCount(model->totalParams()));
    add(tr("Tensor bytes:"), formatBytes(model->totalBytes()),
        tr("%1 bytes of tensor storage").arg(formatCount(model->totalBytes())));
    add(tr("Data types:"), dtypeMix(*model), tr("Share of tensor bytes per storage type"));
    add(tr("Layers:"), tr("%1 (of %2 tensors)").arg(formatCount(model->layers.size()), formatCount(model->tensors.size())));

    std::vector<std::pair<std::string, std::string>> meta(model->metadata.begin(), model->metadata.end());
    std::stable_sort(meta.begin(), meta.end(), [](const auto& a, const auto& b) {
        return metadataPriority(a.first) < metadataPriority(b.first);
    });
    if (!meta.empty()) {
        auto* heading = new QLabel(tr("<b>Metadata</b>"));
        m_form->addRow(heading);
    }
    int shown = 0;
    for (const auto& [key, value] : meta) {
        if (shown++ >= MaxMetadataRows)
            break;
        const QString v = QString::fromStdString(value);
        add(elideMiddle(QString::fromStdString(key), 28) + QLatin1Char(':'), elideMiddle(v, 60), v.left(2000));
    }
    if (meta.size() > static_cast<size_t>(MaxMetadataRows))
        add(QString(), tr("… and %1 more metadata entries").arg(meta.size() - MaxMetadataRows));
}

} // namespace bonsai::ui
