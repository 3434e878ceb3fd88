#include "quantcontrols.h"

#include "compressiondocument.h"
#include "configtext.h"
#include "helppane.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QSignalBlocker>
#include <QSpinBox>

namespace bonsai::ui {

QuantControls::QuantControls(HelpPane* help, QWidget* parent)
    : ConfigEditor(tr("Precision"), parent), m_precision(new QComboBox(this)),
      m_granularity(new QComboBox(this)), m_groupSize(new QSpinBox(this)),
      m_symmetric(new QCheckBox(tr("Symmetric"), this)), m_clip(new QCheckBox(tr("Clip search"), this))
{
    m_precision->setObjectName(QStringLiteral("precisionCombo"));
    for (const QString& name : precisionNames()) {
        m_precision->addItem(precisionLabel(name), name);
        m_precision->setItemData(m_precision->count() - 1, precisionHelp(name), Qt::ToolTipRole);
    }
    m_granularity->addItem(tr("per tensor"), int(bonsai::Granularity::PerTensor));
    m_granularity->addItem(tr("per channel"), int(bonsai::Granularity::PerChannel));
    m_granularity->addItem(tr("group"), int(bonsai::Granularity::Group));
    m_groupSize->setRange(8, 4096);
    m_groupSize->setSingleStep(32);
    m_groupSize->setSuffix(tr(" weights"));

    help->attach(m_precision, helpText(Topic::Precision));
    help->attach(m_granularity, helpText(Topic::Granularity));
    help->attach(m_groupSize, helpText(Topic::GroupSize));
    help->attach(m_symmetric, helpText(Topic::Symmetric));
    help->attach(m_clip, helpText(Topic::ClipSearch));

    auto* checks = new QHBoxLayout;
    checks->addWidget(m_symmetric);
    checks->addWidget(m_clip);
    checks->addStretch(1);
    auto* form = new QFormLayout(this);
    form->addRow(tr("Format:"), m_precision);
    form->addRow(tr("Scale per:"), m_granularity);
    form->addRow(tr("Group size:"), m_groupSize);
    form->addRow(checks);

    connect(m_precision, &QComboBox::activated, this, [this] {
        const QString name = m_precision->currentData().toString();
        const auto p = bonsai::parsePrecision(name.toStdString());
        if (!p)
            return;
        updateEnabled();
        emit edited([p](bonsai::LayerConfig& c) {
            c.precision = *p;
            if (p->kind != bonsai::PrecisionKind::Int && c.granularity == bonsai::Granularity::Group)
                c.granularity = bonsai::Granularity::PerChannel; // FP8 has no groups
        }, tr("Precision %1").arg(precisionLabel(name)), CompressionDocument::NoMerge);
    });
    connect(m_granularity, &QComboBox::activated, this, [this] {
        const auto g = static_cast<bonsai::Granularity>(m_granularity->currentData().toInt());
        updateEnabled();
        emit edited([g](bonsai::LayerConfig& c) { c.granularity = g; },
                    tr("Scale per %1").arg(m_granularity->currentText()), CompressionDocument::NoMerge);
    });
    connect(m_groupSize, &QSpinBox::valueChanged, this, [this](int v) {
        emit edited([v](bonsai::LayerConfig& c) { c.groupSize = static_cast<uint32_t>(v); },
                    tr("Group size %1").arg(v), CompressionDocument::MergeGroupSize);
    });
    connect(m_groupSize, &QSpinBox::editingFinished, this, &ConfigEditor::dragFinished);
    connect(m_symmetric, &QCheckBox::clicked, this, [this](bool on) {
        emit edited([on](bonsai::LayerConfig& c) { c.symmetric = on; },
                    on ? tr("Symmetric") : tr("Asymmetric"), CompressionDocument::NoMerge);
    });
    connect(m_clip, &QCheckBox::clicked, this, [this](bool on) {
        emit edited([on](bonsai::LayerConfig& c) { c.clipSearch = on; },
                    on ? tr("Clip search on") : tr("Clip search off"), CompressionDocument::NoMerge);
    });
}

void QuantControls::setConfig(const bonsai::LayerConfig& c, uint64_t, uint64_t)
{
    const QSignalBlocker b1(m_precision), b2(m_granularity), b3(m_groupSize), b4(m_symmetric), b5(m_clip);
    m_precision->setCurrentIndex(std::max(0, m_precision->findData(QString::fromStdString(bonsai::precisionName(c.precision)))));
    m_granularity->setCurrentIndex(m_granularity->findData(int(c.granularity)));
    m_groupSize->setValue(static_cast<int>(c.groupSize));
    m_symmetric->setChecked(c.symmetric);
    m_clip->setChecked(c.clipSearch);
    updateEnabled();
}

void QuantControls::updateEnabled()
{
    const auto p = bonsai::parsePrecision(m_precision->currentData().toString().toStdString());
    const bool isInt = p && p->kind == bonsai::PrecisionKind::Int;
    const bool isFp8 = p && (p->kind == bonsai::PrecisionKind::FP8_E4M3 || p->kind == bonsai::PrecisionKind::FP8_E5M2);
    m_granularity->setEnabled(isInt || isFp8);
    m_groupSize->setEnabled(isInt && m_granularity->currentData().toInt() == int(bonsai::Granularity::Group));
    m_symmetric->setEnabled(isInt);
    m_clip->setEnabled(isInt);
}

} // namespace bonsai::ui
