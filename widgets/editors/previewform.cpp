#include "previewform.h"

#include "configtext.h"
#include "formatting.h"
#include "helppane.h"
#include "previewrunner.h"

#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>

#include <cmath>

namespace bonsai::ui {

PreviewForm::PreviewForm(HelpPane* help, QWidget* parent)
    : QGroupBox(tr("Compression preview"), parent), m_busy(new QLabel(this))
{
    setObjectName(QStringLiteral("previewForm"));
    // A compact strip under the histogram: two label/value pairs per row.
    auto* form = new QGridLayout;
    form->setHorizontalSpacing(6);
    form->setVerticalSpacing(2);
    int item = 0;
    auto add = [&](const QString& key, const QString& label, const QString& tip) {
        auto* value = new QLabel(QStringLiteral("—"), this);
        value->setObjectName(key);
        value->setTextInteractionFlags(Qt::TextSelectableByMouse);
        value->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred); // may clip, never widens the window
        value->setMinimumWidth(90);
        auto* name = new QLabel(label, this);
        name->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
        form->addWidget(name, item / 2, (item % 2) * 2);
        form->addWidget(value, item / 2, (item % 2) * 2 + 1);
        ++item;
        name->setToolTip(tip);
        value->setToolTip(tip);
        return value;
    };
    m_orig = add(QStringLiteral("original"), tr("Original:"), tr("Stored bytes of the weight in the file"));
    m_size = add(QStringLiteral("size"), tr("Compressed:"), tr("Stored bytes of the weight after compression, and how many times smaller"));
    m_bits = add(QStringLiteral("bits"), tr("Bits/w:"), tr("Compressed bits divided by the number of weights, scales and masks included"));
    m_rel = add(QStringLiteral("error"), tr("Rel. error:"), tr("‖W − Ŵ‖ / ‖W‖ (Frobenius norms); 0 is exact"));
    m_sqnr = add(QStringLiteral("sqnr"), tr("SQNR:"), tr("Signal-to-quantization-noise ratio in dB; every 6 dB halves the error"));
    m_cosine = add(QStringLiteral("cosine"), tr("Cosine:"), tr("Cosine similarity of W and Ŵ as vectors; 1 keeps the direction exactly"));
    m_max = add(QStringLiteral("max"), tr("Max |err|:"), tr("The largest absolute change of any single weight"));
    form->setColumnStretch(1, 1);
    form->setColumnStretch(3, 1);
    m_notes = new QLabel(this);
    m_notes->setObjectName(QStringLiteral("notes"));
    m_notes->setWordWrap(true);
    m_busy->setObjectName(QStringLiteral("previewBusy"));
    m_busy->setText(tr("computing…"));
    m_busy->setVisible(false);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 2, 6, 4);
    layout->setSpacing(2);
    layout->addLayout(form);
    auto* bottom = new QHBoxLayout;
    bottom->addWidget(m_notes, 1);
    bottom->addWidget(m_busy);
    layout->addLayout(bottom);
    help->attach(this, helpText(Topic::Preview));
}

void PreviewForm::setBusy(bool busy)
{
    m_busy->setVisible(busy);
    // Values stay, greyed, until the new ones arrive.
    for (QLabel* l : {m_orig, m_size, m_bits, m_rel, m_sqnr, m_cosine, m_max})
        l->setEnabled(!busy);
}

void PreviewForm::clear(const QString& message)
{
    for (QLabel* l : {m_orig, m_size, m_bits, m_rel, m_sqnr, m_cosine, m_max})
        l->setText(QStringLiteral("—"));
    m_notes->setText(message);
    setBusy(false);
}

void PreviewForm::setResult(const PreviewResult& p)
{
    setBusy(false);
    if (!p.error.isEmpty()) {
        clear(tr("<span style='color:#b00020'>This configuration cannot apply: %1</span>").arg(p.error.toHtmlEscaped()));
        return;
    }
    const auto& r = p.result;
    const uint64_t before = (r.originalBits + 7) / 8, after = (r.compressedBits + 7) / 8;
    m_orig->setText(formatBytes(before));
    m_size->setText(tr("%1 (%2×)").arg(formatBytes(after)).arg(after ? double(before) / double(after) : 0.0, 0, 'f', 2));
    m_bits->setText(tr("%1 (was %2)").arg(r.bitsPerWeight(), 0, 'f', 2)
                        .arg(r.params ? double(r.originalBits) / double(r.params) : 0.0, 0, 'f',
                             r.params && r.originalBits % r.params ? 2 : 0)); // "was 16", "was 4.50"
    m_rel->setText(QString::number(r.error.relFrobenius, 'g', 4));
    m_sqnr->setText(std::isfinite(r.error.sqnrDb) ? tr("%1 dB").arg(r.error.sqnrDb, 0, 'f', 2) : tr("∞ (exact)"));
    m_cosine->setText(QString::number(r.error.cosine, 'f', 5));
    m_max->setText(formatValue(r.error.maxAbsError));
    QStringList notes;
    if (r.rankUsed)
        notes << tr("rank used: %1").arg(r.rankUsed);
    if (!r.removedChannels.empty())
        notes << tr("%n output channels removed", nullptr, int(r.removedChannels.size()));
    QString fallback;
    for (const auto& n : r.notes) {
        const QString note = QString::fromStdString(n);
        // GPTQ/AWQ without calibration data (a single layer has none): say loudly that these
        // numbers are round-to-nearest's and where the calibrated result is computed.
        if (fallback.isEmpty() && note.contains(QStringLiteral("needs calibration data")))
            fallback = note;
        else
            notes << note;
    }
    QString html = notes.join(QStringLiteral("; ")).toHtmlEscaped();
    if (!fallback.isEmpty()) {
        const QString method = methodLabel(r.config.method).section(QLatin1Char(' '), 0, 0);
        html = tr("<span style='color:#9a5b00'><b>Round-to-nearest preview</b> (%1). %2 runs when you "
                  "evaluate the model (Evaluate or Perplexity), on its calibration data.</span>")
                   .arg(fallback.toHtmlEscaped(), method.toHtmlEscaped()) +
               (html.isEmpty() ? QString() : QStringLiteral("<br>") + html);
    }
    m_notes->setText(html);
}

QString PreviewForm::valueText(const QString& key) const
{
    auto* l = findChild<QLabel*>(key);
    return l ? l->text() : QString();
}

} // namespace bonsai::ui
