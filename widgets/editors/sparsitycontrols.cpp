#include "sparsitycontrols.h"

#include "compressiondocument.h"
#include "configtext.h"
#include "helppane.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QSignalBlocker>
#include <QSlider>

namespace bonsai::ui {

SparsityControls::SparsityControls(HelpPane* help, QWidget* parent)
    : ConfigEditor(tr("Sparsity"), parent), m_pattern(new QComboBox(this)),
      m_slider(new QSlider(Qt::Horizontal, this)), m_percent(new QDoubleSpinBox(this)),
      m_scope(new QComboBox(this))
{
    m_pattern->setObjectName(QStringLiteral("patternCombo"));
    m_slider->setObjectName(QStringLiteral("sparsitySlider"));
    m_pattern->addItems({tr("none"), tr("unstructured"), tr("2:4 (50%)"), tr("4:8 (50%)"), tr("whole channels")});
    m_slider->setRange(0, 95);
    m_slider->setPageStep(10);
    m_percent->setRange(0, 99);
    m_percent->setDecimals(1);
    m_percent->setSuffix(tr(" %"));
    m_scope->addItem(tr("this layer"), int(bonsai::SparsityScope::Layer));
    m_scope->addItem(tr("global (shared threshold)"), int(bonsai::SparsityScope::Global));

    help->attach(m_pattern, helpText(Topic::Pattern));
    help->attach(m_slider, helpText(Topic::Sparsity));
    help->attach(m_percent, helpText(Topic::Sparsity));
    help->attach(m_scope, helpText(Topic::Scope));

    auto* amount = new QHBoxLayout;
    amount->addWidget(m_slider, 1);
    amount->addWidget(m_percent);
    auto* form = new QFormLayout(this);
    form->addRow(tr("Pattern:"), m_pattern);
    form->addRow(tr("Pruned:"), amount);
    form->addRow(tr("Scope:"), m_scope);

    connect(m_pattern, &QComboBox::activated, this, [this](int item) {
        const double pct = m_percent->value() > 0 ? m_percent->value() : 50.0;
        updateEnabled();
        emit edited([item, pct](bonsai::LayerConfig& c) {
            c.n = item == Nm48 ? 4 : 2;
            c.m = item == Nm48 ? 8 : 4;
            switch (item) {
            case None: c.pattern = bonsai::SparsityPattern::Unstructured; c.sparsity = 0; break;
            case Unstructured: c.pattern = bonsai::SparsityPattern::Unstructured; c.sparsity = pct / 100; break;
            case Nm24:
            case Nm48: c.pattern = bonsai::SparsityPattern::NM; c.sparsity = 0; break;
            case Channels:
                c.pattern = bonsai::SparsityPattern::Channels;
                c.sparsity = pct / 100;
                c.scope = bonsai::SparsityScope::Layer;
                break;
            }
        }, tr("Sparsity pattern %1").arg(m_pattern->currentText()), CompressionDocument::NoMerge);
    });
    connect(m_slider, &QSlider::valueChanged, this, [this](int v) {
        const QSignalBlocker block(m_percent);
        m_percent->setValue(v);
        setFraction(v);
    });
    connect(m_slider, &QSlider::sliderReleased, this, &ConfigEditor::dragFinished);
    connect(m_percent, &QDoubleSpinBox::valueChanged, this, [this](double v) {
        const QSignalBlocker block(m_slider);
        m_slider->setValue(static_cast<int>(std::lround(v)));
        setFraction(v);
    });
    connect(m_percent, &QDoubleSpinBox::editingFinished, this, &ConfigEditor::dragFinished);
    connect(m_scope, &QComboBox::activated, this, [this] {
        const auto s = static_cast<bonsai::SparsityScope>(m_scope->currentData().toInt());
        emit edited([s](bonsai::LayerConfig& c) { c.scope = s; },
                    tr("Sparsity scope %1").arg(m_scope->currentText()), CompressionDocument::NoMerge);
    });
}

void SparsityControls::setFraction(double percent)
{
    const bool channels = m_pattern->currentIndex() == Channels;
    emit edited([percent, channels](bonsai::LayerConfig& c) {
        c.pattern = channels ? bonsai::SparsityPattern::Channels : bonsai::SparsityPattern::Unstructured;
        c.sparsity = percent / 100;
    }, tr("Sparsity %1%").arg(percent), CompressionDocument::MergeSparsity);
    if (m_pattern->currentIndex() == None && percent > 0) {
        m_pattern->setCurrentIndex(Unstructured);
        updateEnabled();
    }
}

void SparsityControls::setConfig(const bonsai::LayerConfig& c, uint64_t, uint64_t)
{
    const QSignalBlocker b1(m_pattern), b2(m_slider), b3(m_percent), b4(m_scope);
    int item = None;
    if (c.pattern == bonsai::SparsityPattern::NM)
        item = c.m == 8 && c.n == 4 ? Nm48 : Nm24;
    else if (c.pattern == bonsai::SparsityPattern::Channels)
        item = Channels;
    else if (c.sparsity > 0)
        item = Unstructured;
    m_pattern->setCurrentIndex(item);
    const double pct = c.pattern == bonsai::SparsityPattern::NM ? 100.0 * (1.0 - double(c.n) / c.m) : c.sparsity * 100;
    m_percent->setValue(pct);
    m_slider->setValue(static_cast<int>(std::lround(pct)));
    m_scope->setCurrentIndex(m_scope->findData(int(c.scope)));
    updateEnabled();
}

void SparsityControls::updateEnabled()
{
    const int item = m_pattern->currentIndex();
    const bool nm = item == Nm24 || item == Nm48;
    m_slider->setEnabled(!nm);
    m_percent->setEnabled(!nm);
    m_scope->setEnabled(item == Unstructured);
}

} // namespace bonsai::ui
