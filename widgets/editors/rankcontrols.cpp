#include "rankcontrols.h"

#include "compressiondocument.h"
#include "configtext.h"
#include "energychart.h"
#include "formatting.h"
#include "helppane.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>

namespace bonsai::ui {

RankControls::RankControls(HelpPane* help, QWidget* parent)
    : ConfigEditor(tr("Low rank"), parent), m_mode(new QComboBox(this)),
      m_slider(new QSlider(Qt::Horizontal, this)), m_rank(new QSpinBox(this)),
      m_energy(new QDoubleSpinBox(this)), m_info(new QLabel(this)), m_legend(new QLabel(this)), m_chart(new EnergyChart(this))
{
    m_slider->setObjectName(QStringLiteral("rankSlider"));
    m_mode->addItems({tr("full rank (off)"), tr("rank r"), tr("energy kept")});
    m_energy->setRange(1, 100);
    m_energy->setDecimals(1);
    m_energy->setSuffix(tr(" %"));
    m_info->setWordWrap(true);
    m_info->setObjectName(QStringLiteral("rankInfo"));

    help->attach(m_mode, helpText(Topic::Rank));
    help->attach(m_slider, helpText(Topic::Rank));
    help->attach(m_rank, helpText(Topic::Rank));
    help->attach(m_energy, helpText(Topic::Energy));
    help->attach(m_chart, helpText(Topic::Rank));

    auto* row = new QHBoxLayout;
    row->addWidget(m_slider, 1);
    row->addWidget(m_rank);
    auto* form = new QFormLayout(this);
    form->addRow(tr("Mode:"), m_mode);
    form->addRow(tr("Rank:"), row);
    form->addRow(tr("Energy:"), m_energy);
    form->addRow(m_info);
    form->addRow(m_chart);
    form->addRow(m_legend);
    m_legend->setWordWrap(true);
    m_legend->setTextFormat(Qt::RichText);

    connect(m_mode, &QComboBox::activated, this, [this](int mode) {
        const int rank = startRank();
        const double energy = m_energy->value() / 100;
        emit edited([mode, rank, energy](bonsai::LayerConfig& c) {
            c.rank = mode == ByRank ? rank : 0;
            c.energy = mode == ByEnergy ? energy : 0;
        }, tr("Low rank: %1").arg(m_mode->currentText()), CompressionDocument::NoMerge);
    });
    connect(m_slider, &QSlider::valueChanged, this, [this](int v) {
        const QSignalBlocker block(m_rank);
        m_rank->setValue(v);
        emitRank(v);
    });
    connect(m_slider, &QSlider::sliderReleased, this, &ConfigEditor::dragFinished);
    connect(m_rank, &QSpinBox::valueChanged, this, [this](int v) {
        const QSignalBlocker block(m_slider);
        m_slider->setValue(v);
        emitRank(v);
    });
    connect(m_rank, &QSpinBox::editingFinished, this, &ConfigEditor::dragFinished);
    connect(m_energy, &QDoubleSpinBox::valueChanged, this, [this](double v) {
        emit edited([v](bonsai::LayerConfig& c) {
            c.energy = v / 100;
            c.rank = 0;
        }, tr("Keep %1% energy").arg(v), CompressionDocument::MergeEnergy);
    });
    connect(m_energy, &QDoubleSpinBox::editingFinished, this, &ConfigEditor::dragFinished);
}

int RankControls::startRank() const
{
    if (m_configRank > 0) // already rank r: keep it
        return m_configRank;
    // The rank that keeps 95% of the energy, if that still saves storage; else the largest
    // rank that does (ranks at or past the limit store more than the dense matrix). Before the
    // spectrum is known, a quarter of that limit.
    const uint64_t limit = std::max<uint64_t>(1, bonsai::maxSavingRank(m_rows, m_cols));
    const uint64_t at95 = m_chart->rankForEnergy(0.95);
    const uint64_t rank = at95 > 0 ? std::min(at95, limit) : std::max<uint64_t>(1, limit / 4);
    return int(std::min<uint64_t>(rank, uint64_t(m_rank->maximum())));
}

void RankControls::emitRank(int rank)
{
    m_chart->setRank(static_cast<uint64_t>(rank));
    updateInfo();
    emit edited([rank](bonsai::LayerConfig& c) {
        c.rank = rank;
        c.energy = 0;
    }, tr("Rank %1").arg(rank), CompressionDocument::MergeRank);
}

void RankControls::setConfig(const bonsai::LayerConfig& c, uint64_t rows, uint64_t cols)
{
    const QSignalBlocker b1(m_mode), b2(m_slider), b3(m_rank), b4(m_energy);
    m_rows = rows;
    m_cols = cols;
    m_configRank = c.rank;
    const int full = static_cast<int>(std::min<uint64_t>(std::min(rows, cols), 1 << 24));
    m_slider->setRange(1, std::max(1, full));
    m_rank->setRange(1, std::max(1, full));
    const int mode = c.rank > 0 ? ByRank : c.energy > 0 ? ByEnergy : Off;
    m_mode->setCurrentIndex(mode);
    if (c.rank > 0) {
        m_slider->setValue(c.rank);
        m_rank->setValue(c.rank);
    }
    if (c.energy > 0)
        m_energy->setValue(c.energy * 100);
    else if (m_energy->value() < 1.5)
        m_energy->setValue(95);
    m_slider->setEnabled(mode == ByRank);
    m_rank->setEnabled(mode == ByRank);
    m_energy->setEnabled(mode == ByEnergy);
    const uint64_t shown = mode == ByRank ? uint64_t(c.rank) : mode == ByEnergy ? m_chart->rankForEnergy(c.energy) : 0;
    m_chart->setRank(shown);
    updateInfo();
}

void RankControls::updateInfo()
{
    const uint64_t limit = m_chart->savingLimit();
    QString legend = tr("<span style='color:#209fdf'>&#9473;</span> energy kept by rank r");
    if (limit)
        legend += tr(" &nbsp;<span style='color:gray'>&#9476;</span> ranks beyond %1 save nothing").arg(formatCount(limit));
    if (!m_chart->markerText().isEmpty() && m_mode->currentIndex() != Off)
        legend += QStringLiteral(" &nbsp;<span style='color:#d9481c'>&#9475;</span> ") + m_chart->markerText().toHtmlEscaped();
    m_legend->setText(m_chart->curve() ? legend : QString());
    if (m_rows == 0 || m_cols == 0) {
        m_info->clear();
        return;
    }
    const uint64_t saving = bonsai::maxSavingRank(m_rows, m_cols);
    if (m_mode->currentIndex() != ByRank) {
        m_info->setText(tr("%1 × %2 matrix: ranks below %3 save storage (r < mn/(m+n)).")
                            .arg(formatCount(m_rows), formatCount(m_cols), formatCount(saving + 1)));
        return;
    }
    m_info->setText(QString::fromStdString(bonsai::rankSavingText(m_rows, m_cols, static_cast<uint64_t>(m_rank->value()))));
}

void RankControls::setSpectrum(std::shared_ptr<const bonsai::Spectrum> spectrum)
{
    m_chart->setSpectrum(std::move(spectrum));
    if (m_mode->currentIndex() == ByRank)
        m_chart->setRank(static_cast<uint64_t>(m_rank->value()));
    else if (m_mode->currentIndex() == ByEnergy)
        m_chart->setRank(m_chart->rankForEnergy(m_energy->value() / 100));
    updateInfo();
}

void RankControls::showChartMessage(const QString& text)
{
    m_chart->showMessage(text);
    updateInfo();
}

} // namespace bonsai::ui
