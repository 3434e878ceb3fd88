#include "blockbyteschart.h"

#include "chartutil.h"
#include "compressiondocument.h"
#include "formatting.h"
#include "modelestimator.h"

#include "bonsai/llm.h"
#include "bonsai/model.h"

#include <QEvent>
#include <QHelpEvent>
#include <QLabel>
#include <QPainter>
#include <QScrollArea>
#include <QScrollBar>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <map>

namespace bonsai::ui {

namespace {

// The plot: stacked bars per group, the value axis at the left, labels below.
class Canvas : public QWidget {
public:
    explicit Canvas(const std::vector<BlockBytesChart::Bar>* bars, QWidget* parent)
        : QWidget(parent), m_bars(bars)
    {
        setMouseTracking(true);
    }

    static constexpr int AxisWidth = 52, Bottom = 34, Top = 6, Right = 8;

    // Slot width per group (embeddings and head get two slots: their labels are words).
    double slot() const
    {
        const bool paired = std::any_of(m_bars->begin(), m_bars->end(), [](const auto& b) { return b.compressed; });
        const double minSlot = paired ? 22 : 15, maxSlot = paired ? 64 : 48;
        const double units = this->units();
        const double avail = std::max(1.0, double(parentWidget() ? parentWidget()->width() : width()) - AxisWidth - Right);
        return std::clamp(avail / std::max(1.0, units), minSlot, maxSlot);
    }
    double units() const
    {
        double u = 0;
        for (const auto& b : *m_bars)
            u += b.group.startsWith(QStringLiteral("Block")) ? 1.0 : 2.0;
        return u;
    }
    int preferredWidth() const { return int(std::ceil(AxisWidth + Right + slot() * units())); }

    void paintEvent(QPaintEvent*) override
    {
        QPainter p(this);
        p.setRenderHint(QPainter::Antialiasing, false);
        if (m_bars->empty())
            return;
        uint64_t maxBytes = 1;
        for (const auto& b : *m_bars)
            maxBytes = std::max({maxBytes, b.original(), b.compressed ? b.compressedTotal() : 0});
        const auto [scale, unit] = byteUnitFor(maxBytes);
        const double top = double(maxBytes) / scale;
        const double step = niceStep(top, 4);
        const double axisMax = std::ceil(top / step - 1e-9) * step;
        const QRectF plot(AxisWidth, Top, width() - AxisWidth - Right, height() - Top - Bottom);
        auto yOf = [&](double v) { return plot.bottom() - v / axisMax * plot.height(); };
        QFont small = font();
        small.setPointSizeF(small.pointSizeF() * 0.85);
        p.setFont(small);
        const QFontMetrics fm(small);
        const QColor text = palette().color(QPalette::WindowText);
        const QColor grid = palette().color(QPalette::Midlight);
        for (double v = 0; v <= axisMax + step * 1e-6; v += step) {
            const double y = yOf(v);
            p.setPen(grid);
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y));
            p.setPen(text);
            p.drawText(QRectF(0, y - fm.height() / 2.0, AxisWidth - 4, fm.height()), Qt::AlignRight | Qt::AlignVCenter,
                       QString::number(v, 'g', 4));
        }
        p.save();
        p.translate(10, plot.center().y());
        p.rotate(-90);
        p.drawText(QRectF(-plot.height() / 2, -fm.height() / 2.0, plot.height(), fm.height()), Qt::AlignCenter, unit);
        p.restore();

        const double s = slot();
        // Labels every Nth block so that they do not touch.
        const int labelWidth = fm.horizontalAdvance(QStringLiteral("000")) + 4;
        int every = 1;
        for (int n : {1, 2, 4, 5, 8, 10, 16, 20, 32, 50, 100})
            if (n * s >= labelWidth) {
                every = n;
                break;
            }
        const QColor attn = palette().color(QPalette::Highlight);
        const QColor mlp(0xe0, 0x8a, 0x1e);
        const QColor other = palette().color(QPalette::Dark);
        auto light = [](QColor c) {
            c.setAlpha(90);
            return c;
        };
        double x = plot.left();
        m_slots.clear();
        for (const auto& b : *m_bars) {
            const bool block = b.group.startsWith(QStringLiteral("Block"));
            const double w = block ? s : 2 * s;
            m_slots.push_back({x, x + w});
            const double barW = std::max(3.0, (w - 4) / (b.compressed ? 2.0 : 1.0) * (block ? 1.0 : 0.5));
            const double x0 = x + (w - barW * (b.compressed ? 2 : 1)) / 2;
            auto stack = [&](double bx, uint64_t a, uint64_t m, uint64_t o, bool solid) {
                double base = 0;
                for (auto [bytes, color] : {std::pair{a, attn}, std::pair{m, mlp}, std::pair{o, other}}) {
                    if (!bytes)
                        continue;
                    const double v = double(bytes) / scale;
                    const QRectF r(QPointF(bx, yOf(base + v)), QPointF(bx + barW, yOf(base)));
                    p.fillRect(r, solid ? color : light(color));
                    if (!solid) {
                        p.setPen(color);
                        p.drawRect(r.adjusted(0, 0, -1, 0));
                    }
                    base += v;
                }
            };
            stack(x0, b.attention, b.mlp, b.other, !b.compressed);
            if (b.compressed)
                stack(x0 + barW, b.attentionC, b.mlpC, b.otherC, true);
            const int blockIndex = block ? b.label.toInt() : -1;
            if (!block || blockIndex % every == 0) {
                p.setPen(text);
                p.drawText(QRectF(x + w / 2 - 30, plot.bottom() + 2, 60, fm.height()), Qt::AlignHCenter | Qt::AlignTop, b.label);
            }
            x += w;
        }
        p.setPen(palette().color(QPalette::Mid));
        p.drawLine(QPointF(plot.left(), plot.bottom()), QPointF(plot.right(), plot.bottom()));
        p.setPen(text);
        p.drawText(QRectF(plot.left(), plot.bottom() + fm.height() + 4, plot.width(), fm.height()), Qt::AlignHCenter,
                   every > 1 ? QObject::tr("block (labelled every %1 blocks)").arg(every) : QObject::tr("block"));
    }

    bool event(QEvent* e) override
    {
        if (e->type() != QEvent::ToolTip)
            return QWidget::event(e);
        const auto* he = static_cast<QHelpEvent*>(e);
        for (size_t i = 0; i < m_slots.size() && i < m_bars->size(); ++i) {
            if (he->pos().x() < m_slots[i].first || he->pos().x() >= m_slots[i].second)
                continue;
            const auto& b = (*m_bars)[i];
            auto line = [&](const QString& what, uint64_t before, uint64_t after) {
                if (!before)
                    return QString();
                return b.compressed ? QStringLiteral("<br>%1: %2 → %3").arg(what, formatBytes(before), formatBytes(after))
                                    : QStringLiteral("<br>%1: %2").arg(what, formatBytes(before));
            };
            QString tip = QStringLiteral("<b>%1</b>").arg(b.group);
            tip += line(QObject::tr("attention"), b.attention, b.attentionC);
            tip += line(QObject::tr("MLP"), b.mlp, b.mlpC);
            tip += line(b.group, b.other, b.otherC);
            QToolTip::showText(he->globalPos(), tip, this);
            return true;
        }
        QToolTip::hideText();
        e->ignore();
        return true;
    }

private:
    const std::vector<BlockBytesChart::Bar>* m_bars;
    mutable std::vector<std::pair<double, double>> m_slots;
};

// A coloured square and a word.
QString legendEntry(const QColor& c, const QString& label, bool light = false)
{
    return QStringLiteral("<span style=\"color:%1\">■</span>&nbsp;%2").arg(light ? c.lighter(150).name() : c.name(), label);
}

} // namespace

BlockBytesChart::BlockBytesChart(CompressionDocument* doc, ModelEstimator* estimator, QWidget* parent)
    : QWidget(parent), m_doc(doc), m_estimator(estimator), m_title(new QLabel(this)),
      m_scroll(new QScrollArea(this)), m_canvas(new Canvas(&m_bars, nullptr))
{
    setObjectName(QStringLiteral("blockBytesChart"));
    m_title->setAlignment(Qt::AlignHCenter);
    m_title->setWordWrap(true);
    m_title->setTextFormat(Qt::RichText);
    m_scroll->setWidget(m_canvas);
    m_scroll->setWidgetResizable(false);
    m_scroll->setFrameShape(QFrame::NoFrame);
    m_scroll->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    m_scroll->viewport()->installEventFilter(this);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->addWidget(m_title);
    layout->addWidget(m_scroll, 1);
    connect(m_estimator, &ModelEstimator::resultsChanged, this, &BlockBytesChart::rebuild);
    connect(m_doc, &CompressionDocument::modelReset, this, &BlockBytesChart::rebuild);
    connect(m_doc, &CompressionDocument::configChanged, this, &BlockBytesChart::rebuild);
    rebuild();
}

QString BlockBytesChart::titleText() const { return m_title->text(); }

void BlockBytesChart::rebuild()
{
    m_bars.clear();
    const auto& model = m_doc->model();
    if (model && bonsai::isLanguageModel(*model)) {
        std::map<int64_t, Bar> byOrder; // embeddings, blocks, head
        const auto& ts = model->tensors;
        for (size_t li = 0; li < model->layers.size(); ++li) {
            const auto& l = model->layers[li];
            const auto info = bonsai::llmLayerInfo(l.name);
            if (!info || l.weight < 0)
                continue;
            const int64_t key = info->role == bonsai::LlmRole::Embedding ? -1 : info->block >= 0 ? info->block : INT32_MAX;
            Bar& b = byOrder[key];
            if (b.group.isEmpty()) {
                b.group = qstr(info->group);
                b.label = key == -1 ? tr("emb") : key == INT32_MAX ? tr("head") : QString::number(key);
                b.compressed = true;
            }
            uint64_t bytes = ts[static_cast<size_t>(l.weight)].storedBytes();
            uint64_t bias = l.bias >= 0 ? ts[static_cast<size_t>(l.bias)].storedBytes() : 0;
            const bonsai::LayerResult* r = m_estimator->result(static_cast<int>(li));
            const uint64_t after = r ? (r->compressedBits + 7) / 8 + r->biasBits / 8 : 0;
            b.compressed = b.compressed && r;
            uint64_t& orig = info->part == "attention" ? b.attention : info->part == "mlp" ? b.mlp : b.other;
            uint64_t& comp = info->part == "attention" ? b.attentionC : info->part == "mlp" ? b.mlpC : b.otherC;
            orig += bytes + bias;
            comp += after;
        }
        for (auto& [key, b] : byOrder)
            m_bars.push_back(std::move(b));
    }
    const bool compressed = !m_bars.empty() &&
                            std::all_of(m_bars.begin(), m_bars.end(), [](const Bar& b) { return b.compressed; });
    if (m_bars.empty()) {
        m_title->setText(model ? tr("Not a language model: no blocks to show.") : QString());
    } else {
        const int blocks = int(std::count_if(m_bars.begin(), m_bars.end(),
                                             [](const Bar& b) { return b.group.startsWith(QStringLiteral("Block")); }));
        uint64_t before = 0, after = 0;
        for (const Bar& b : m_bars) {
            before += b.original();
            after += b.compressedTotal();
        }
        const QColor attn = palette().color(QPalette::Highlight), mlp(0xe0, 0x8a, 0x1e), other = palette().color(QPalette::Dark);
        QString title = compressed ? tr("<b>%1 blocks: %2 → %3</b>").arg(blocks).arg(formatBytes(before), formatBytes(after))
                                   : tr("<b>%1 blocks: %2</b>%3").arg(blocks).arg(formatBytes(before),
                                         m_estimator->isBusy() ? tr(" (compressed sizes: computing…)") : QString());
        title += QStringLiteral("<br>") + legendEntry(attn, tr("attention")) + QStringLiteral("&nbsp;&nbsp;") +
                 legendEntry(mlp, tr("MLP")) + QStringLiteral("&nbsp;&nbsp;") + legendEntry(other, tr("embeddings / head"));
        if (compressed)
            title += tr("&nbsp;&nbsp;(light: original, solid: compressed)");
        m_title->setText(title);
    }
    auto* canvas = static_cast<Canvas*>(m_canvas);
    m_canvas->resize(std::max(canvas->preferredWidth(), m_scroll->viewport()->width()), m_scroll->viewport()->height());
    m_canvas->update();
}

bool BlockBytesChart::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == m_scroll->viewport() && event->type() == QEvent::Resize) {
        auto* canvas = static_cast<Canvas*>(m_canvas);
        m_canvas->resize(std::max(canvas->preferredWidth(), m_scroll->viewport()->width()), m_scroll->viewport()->height());
    }
    return QWidget::eventFilter(watched, event);
}

} // namespace bonsai::ui
