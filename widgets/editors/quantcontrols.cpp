#include "quantcontrols.h"

#include "compressiondocument.h"
#include "configtext.h"
#include "helppane.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QSignalBlocker>
#include <QSpinBox>

namespace bonsai::ui {

// Spin-box steps merge into one undo step per edit, like the group size (CompressionDocument's
// own keys are small numbers).
constexpr int MergeDamping = 1001, MergeCalibration = 1002;

QuantControls::QuantControls(HelpPane* help, QWidget* parent)
    : ConfigEditor(tr("Precision"), parent), m_precision(new QComboBox(this)),
      m_granularity(new QComboBox(this)), m_groupSize(new QSpinBox(this)),
      m_symmetric(new QCheckBox(tr("Symmetric"), this)), m_clip(new QCheckBox(tr("Clip search"), this)),
      m_method(new QComboBox(this)), m_actOrder(new QCheckBox(tr("Act-order"), this)),
      m_damping(new QDoubleSpinBox(this)), m_calib(new QSpinBox(this))
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

    m_method->setObjectName(QStringLiteral("methodCombo"));
    for (const bonsai::QuantMethod m : quantMethods()) {
        m_method->addItem(methodLabel(m), int(m));
        m_method->setItemData(m_method->count() - 1, methodHelp(m), Qt::ToolTipRole);
    }
    m_actOrder->setObjectName(QStringLiteral("actOrderCheck"));
    m_damping->setObjectName(QStringLiteral("dampingSpin"));
    m_damping->setRange(0.001, 1.0);
    m_damping->setDecimals(3);
    m_damping->setSingleStep(0.005);
    m_damping->setValue(0.01);
    m_calib->setObjectName(QStringLiteral("calibrationSpin"));
    m_calib->setRange(1, 1024);
    m_calib->setValue(32);
    m_calib->setSingleStep(8);
    m_calib->setSuffix(tr(" samples"));

    help->attach(m_precision, helpText(Topic::Precision));
    help->attach(m_granularity, helpText(Topic::Granularity));
    help->attach(m_groupSize, helpText(Topic::GroupSize));
    help->attach(m_symmetric, helpText(Topic::Symmetric));
    help->attach(m_clip, helpText(Topic::ClipSearch));
    help->attach(m_method, helpText(Topic::Method));
    help->attach(m_actOrder, helpText(Topic::ActOrder));
    help->attach(m_damping, helpText(Topic::Damping));
    help->attach(m_calib, helpText(Topic::Calibration));

    auto* checks = new QHBoxLayout;
    checks->addWidget(m_symmetric);
    checks->addWidget(m_clip);
    checks->addStretch(1);
    auto* form = m_form = new QFormLayout(this);
    form->addRow(tr("Format:"), m_precision);
    form->addRow(tr("Scale per:"), m_granularity);
    form->addRow(tr("Group size:"), m_groupSize);
    form->addRow(checks);
    form->addRow(tr("Method:"), m_method);
    form->addRow(tr("Calibration:"), m_calib);
    // Only the settings the chosen method uses are shown (round to nearest: none), so the
    // group grows only when they matter.
    auto* gptq = m_gptqRow = new QHBoxLayout;
    gptq->addWidget(m_damping);
    gptq->addWidget(m_actOrder);
    gptq->addStretch(1);
    form->addRow(tr("Damping:"), gptq);

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
    connect(m_method, &QComboBox::activated, this, [this] {
        const auto m = static_cast<bonsai::QuantMethod>(m_method->currentData().toInt());
        updateEnabled();
        emit edited([m](bonsai::LayerConfig& c) { c.method = m; },
                    tr("Method %1").arg(methodLabel(m)), CompressionDocument::NoMerge);
    });
    connect(m_actOrder, &QCheckBox::clicked, this, [this](bool on) {
        emit edited([on](bonsai::LayerConfig& c) { c.actOrder = on; },
                    on ? tr("Act-order on") : tr("Act-order off"), CompressionDocument::NoMerge);
    });
    connect(m_damping, &QDoubleSpinBox::valueChanged, this, [this](double v) {
        emit edited([v](bonsai::LayerConfig& c) { c.damping = v; },
                    tr("Damping %1").arg(v, 0, 'g', 3), MergeDamping);
    });
    connect(m_damping, &QDoubleSpinBox::editingFinished, this, &ConfigEditor::dragFinished);
    connect(m_calib, &QSpinBox::valueChanged, this, [this](int v) {
        emit edited([v](bonsai::LayerConfig& c) { c.calibSamples = v; },
                    tr("Calibration %1").arg(v), MergeCalibration);
    });
    connect(m_calib, &QSpinBox::editingFinished, this, &ConfigEditor::dragFinished);
    connect(m_clip, &QCheckBox::clicked, this, [this](bool on) {
        emit edited([on](bonsai::LayerConfig& c) { c.clipSearch = on; },
                    on ? tr("Clip search on") : tr("Clip search off"), CompressionDocument::NoMerge);
    });
}

void QuantControls::setConfig(const bonsai::LayerConfig& c, uint64_t, uint64_t)
{
    const QSignalBlocker b1(m_precision), b2(m_granularity), b3(m_groupSize), b4(m_symmetric), b5(m_clip),
        b6(m_method), b7(m_actOrder), b8(m_damping), b9(m_calib);
    m_precision->setCurrentIndex(std::max(0, m_precision->findData(QString::fromStdString(bonsai::precisionName(c.precision)))));
    m_granularity->setCurrentIndex(m_granularity->findData(int(c.granularity)));
    m_groupSize->setValue(static_cast<int>(c.groupSize));
    m_symmetric->setChecked(c.symmetric);
    m_clip->setChecked(c.clipSearch);
    m_method->setCurrentIndex(std::max(0, m_method->findData(int(c.method))));
    m_actOrder->setChecked(c.actOrder);
    m_damping->setValue(c.damping);
    m_calib->setValue(c.calibSamples);
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
    const auto method = static_cast<bonsai::QuantMethod>(m_method->currentData().toInt());
    const bool gptq = isInt && method == bonsai::QuantMethod::GPTQ;
    m_method->setEnabled(isInt);
    m_calib->setEnabled(isInt && method != bonsai::QuantMethod::RTN);
    m_damping->setEnabled(gptq);
    m_actOrder->setEnabled(gptq);
    m_form->setRowVisible(m_calib, method != bonsai::QuantMethod::RTN);
    m_form->setRowVisible(m_gptqRow, method == bonsai::QuantMethod::GPTQ);
}

} // namespace bonsai::ui
