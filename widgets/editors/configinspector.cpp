#include "configinspector.h"

#include "compressiondocument.h"
#include "configtext.h"
#include "formatting.h"
#include "helppane.h"
#include "quantcontrols.h"
#include "rankcontrols.h"
#include "sparsitycontrols.h"
#include "spectrumrunner.h"
#include "undokeys.h"

#include "bonsai/model.h"

#include <QFormLayout>
#include <QLabel>
#include <QScrollArea>
#include <QVBoxLayout>

namespace bonsai::ui {

ConfigInspector::ConfigInspector(CompressionDocument* doc, QWidget* parent)
    : QWidget(parent), m_doc(doc), m_spectra(new SpectrumRunner(this)), m_title(new QLabel(this)),
      m_help(new HelpPane(this)), m_quant(new QuantControls(m_help, this)),
      m_sparsity(new SparsityControls(m_help, this)), m_rank(new RankControls(m_help, this))
{
    setObjectName(QStringLiteral("configInspector"));
    m_title->setWordWrap(true);
    m_title->setTextFormat(Qt::RichText);
    m_help->setDefault(helpText(Topic::Overview));

    auto* content = new QWidget;
    auto* column = new QVBoxLayout(content);
    column->setContentsMargins(4, 4, 4, 4);
    column->addWidget(m_title);
    for (ConfigEditor* e : std::initializer_list<ConfigEditor*>{m_quant, m_sparsity, m_rank}) {
        // Rows a little closer than the style's default: the three groups then fit a 900-pixel
        // window's dock without a scroll bar.
        if (auto* form = qobject_cast<QFormLayout*>(e->layout()))
            form->setVerticalSpacing(4);
        column->addWidget(e);
    }
    column->addStretch(1);
    passUndoKeysToWindow(content);
    auto* scroll = new QScrollArea(this);
    scroll->setWidget(content);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(scroll, 1);
    layout->addWidget(m_help);
    m_help->setMaximumHeight(110);

    for (ConfigEditor* e : std::initializer_list<ConfigEditor*>{m_quant, m_sparsity, m_rank}) {
        connect(e, &ConfigEditor::edited, this, [this](const ConfigEdit& edit, const QString& text, int key) {
            if (m_layers.isEmpty())
                return;
            const QString what = m_layers.size() == 1 ? m_doc->layerName(m_layers.first())
                                                      : tr("%n layers", nullptr, int(m_layers.size()));
            m_doc->edit(m_layers, edit, tr("%1: %2").arg(what, text), key);
        });
        connect(e, &ConfigEditor::dragFinished, m_doc, &CompressionDocument::endDrag);
    }
    connect(m_doc, &CompressionDocument::configChanged, this, [this](const QList<int>& changed) {
        if (!m_layers.isEmpty() && changed.contains(m_layers.first()))
            refresh();
    });
    connect(m_doc, &CompressionDocument::modelReset, this, [this] {
        m_spectra->setModel(m_doc->model());
        setLayers({});
    });
    connect(m_spectra, &SpectrumRunner::started, this,
            [this] { m_rank->showChartMessage(tr("Computing singular values…")); });
    connect(m_spectra, &SpectrumRunner::ready, this, [this](int layer, std::shared_ptr<const bonsai::Spectrum> s) {
        if (!m_layers.isEmpty() && m_layers.first() == layer)
            m_rank->setSpectrum(std::move(s));
    });
    connect(m_spectra, &SpectrumRunner::failed, this, [this](int, const QString& msg) {
        m_rank->showChartMessage(tr("Singular values unavailable: %1").arg(msg));
    });
    setLayers({});
}

void ConfigInspector::setLayers(const QList<int>& layers)
{
    const bool sameFirst = !layers.isEmpty() && !m_layers.isEmpty() && layers.first() == m_layers.first();
    m_doc->endDrag();
    m_layers = layers;
    const bool any = !m_layers.isEmpty();
    for (QWidget* w : std::initializer_list<QWidget*>{m_quant, m_sparsity, m_rank})
        w->setEnabled(any);
    if (!any) {
        m_title->setText(tr("<b>No layer selected</b><br>Select one or more rows of the layer table."));
        m_rank->showChartMessage(tr("Select a layer to see its singular-value energy."));
        return;
    }
    refresh();
    if (!sameFirst)
        m_spectra->request(m_layers.first());
}

void ConfigInspector::refresh()
{
    const auto& model = m_doc->model();
    const int layer = m_layers.first();
    if (!model || layer < 0 || static_cast<size_t>(layer) >= model->layers.size())
        return;
    const auto& l = model->layers[static_cast<size_t>(layer)];
    const auto& t = model->tensors[static_cast<size_t>(l.weight)];
    const int axis = std::clamp(l.outAxis, 0, std::max(0, int(t.shape.size()) - 1));
    const uint64_t rows = t.shape.empty() ? 1 : static_cast<uint64_t>(t.shape[static_cast<size_t>(axis)]);
    const uint64_t cols = rows ? t.numel / rows : 0;
    const QString name = elideMiddle(QString::fromStdString(l.name), 48).toHtmlEscaped();
    m_title->setText(m_layers.size() == 1
                         ? tr("<b>%1</b><br>%2 × %3 weights, %4").arg(name, formatCount(rows), formatCount(cols), qstr(t.storedType()))
                         : tr("<b>%1 layers selected</b><br>Showing %2; changes apply to all of them.")
                               .arg(m_layers.size()).arg(name));
    const auto& c = m_doc->config(layer);
    m_quant->setConfig(c, rows, cols);
    m_sparsity->setConfig(c, rows, cols);
    m_rank->setConfig(c, rows, cols);
}

} // namespace bonsai::ui
