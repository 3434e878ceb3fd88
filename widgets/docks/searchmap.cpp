#include "searchmap.h"

#include "budgetsearch.h"
#include "formatting.h"
#include "sensitivitydelegate.h"
#include "sensitivitymodel.h"

#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QScrollBar>
#include <QStackedWidget>
#include <QTableView>
#include <QVBoxLayout>

#include <algorithm>

namespace bonsai::ui {

SearchMap::SearchMap(BudgetSearch* search, SensitivityModel* model, QWidget* parent)
    : QWidget(parent), m_search(search), m_model(model)
{
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(0, 0, 0, 0);
    m_stack = new QStackedWidget(this);
    m_empty = new QLabel(m_stack);
    m_empty->setObjectName(QStringLiteral("searchEmpty"));
    m_empty->setAlignment(Qt::AlignCenter);
    m_empty->setWordWrap(true);
    m_empty->setMargin(16);
    m_empty->setStyleSheet(QStringLiteral("color: palette(mid); font-size: 11pt;"));
    m_view = new QTableView(m_stack);
    m_view->setObjectName(QStringLiteral("sensitivityMap"));
    m_view->setModel(m_model);
    m_view->setItemDelegate(new SensitivityDelegate(m_view));
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->setSelectionBehavior(QAbstractItemView::SelectItems);
    m_view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_view->setContextMenuPolicy(Qt::CustomContextMenu);
    m_view->verticalHeader()->setVisible(false);
    m_view->verticalHeader()->setDefaultSectionSize(m_view->fontMetrics().height() + 7);
    m_view->horizontalHeader()->setDefaultAlignment(Qt::AlignCenter);
    m_view->horizontalHeader()->setHighlightSections(false);
    m_view->setMouseTracking(true);
    connect(m_view, &QTableView::clicked, this, &SearchMap::activateCell);
    connect(m_view, &QWidget::customContextMenuRequested, this, &SearchMap::showContextMenu);
    connect(m_view->selectionModel(), &QItemSelectionModel::currentChanged, this, [this] { updateDetail(); });
    // Candidate columns all as wide as the widest size text; Layer and Choice fit their text.
    m_view->horizontalHeader()->setDefaultSectionSize(
        m_view->fontMetrics().horizontalAdvance(QStringLiteral("999.99 KiB")) + 18);
    connect(m_model, &QAbstractItemModel::modelReset, this, [this] {
        for (int c : {int(SensitivityModel::LayerColumn), int(SensitivityModel::ChoiceColumn)})
            m_view->resizeColumnToContents(c);
        emit mapReset();
    });
    m_stack->addWidget(m_empty);
    m_stack->addWidget(m_view);
    v->addWidget(m_stack, 1);
    m_detail = new QLabel(this);
    m_detail->setObjectName(QStringLiteral("searchDetail"));
    m_detail->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_detail->setWordWrap(true);
    m_detail->setMinimumWidth(200);
    v->addWidget(m_detail);

    connect(m_search, &BudgetSearch::solved, this, &SearchMap::updateDetail);
    connect(m_search, &BudgetSearch::choicesChanged, this, &SearchMap::updateDetail);
    connect(m_search, &BudgetSearch::pinsChanged, this, &SearchMap::updateDetail);
}

int SearchMap::compactHeight(int rows) const
{
    const int line = fontMetrics().lineSpacing();
    const int spacing = std::max(0, layout()->spacing());
    return line + std::max(m_view->horizontalHeader()->sizeHint().height(), 2 * line + 6) + // "int4 / g32"
           rows * m_view->verticalHeader()->defaultSectionSize() + m_view->horizontalScrollBar()->sizeHint().height() +
           2 * m_view->frameWidth() + spacing;
}

void SearchMap::showState(const QString& emptyText)
{
    const bool map = m_search->table() != nullptr;
    m_empty->setText(emptyText);
    m_stack->setCurrentWidget(map ? static_cast<QWidget*>(m_view) : m_empty);
    m_detail->setVisible(map);
}

bool SearchMap::isMapShown() const { return m_stack->currentWidget() == m_view; }

QString SearchMap::emptyText() const { return m_empty->text(); }

void SearchMap::updateDetail()
{
    const auto* t = m_search->table();
    if (!t || t->layers.empty()) {
        m_detail->clear();
        return;
    }
    const QModelIndex current = m_view->currentIndex();
    const int row = current.isValid() ? current.row() : -1;
    if (row < 0) {
        m_detail->setText(tr("Select a layer to see why it has its configuration; click a cell to pin the layer to it."));
        return;
    }
    const QString layer = qstr(t->layers[size_t(row)]);
    const QString pin = m_search->pinned(row) >= 0 ? tr(" (pinned)") : QString();
    m_detail->setText(tr("%1%2: %3").arg(layer, pin, m_search->explanation(row)));
}

QString SearchMap::detailText() const { return m_detail->text(); }

void SearchMap::activateCell(const QModelIndex& index)
{
    const int candidate = SensitivityModel::candidateOf(index.column());
    if (!index.isValid() || candidate < 0 || !index.data(SensitivityModel::ApplicableRole).toBool())
        return;
    m_search->togglePin(index.row(), candidate);
}

void SearchMap::showContextMenu(const QPoint& pos)
{
    const QModelIndex index = m_view->indexAt(pos);
    if (!index.isValid())
        return;
    const int row = index.row();
    const int candidate = SensitivityModel::candidateOf(index.column());
    const auto* t = m_search->table();
    QMenu menu(this);
    if (candidate >= 0 && index.data(SensitivityModel::ApplicableRole).toBool() && m_search->pinned(row) != candidate)
        menu.addAction(tr("Pin %1 to %2").arg(qstr(t->layers[size_t(row)]), qstr(t->candidates[size_t(candidate)].name)),
                       this, [this, row, candidate] { m_search->pin(row, candidate); });
    if (m_search->pinned(row) >= 0)
        menu.addAction(tr("Unpin %1").arg(qstr(t->layers[size_t(row)])), this, [this, row] { m_search->unpin(row); });
    if (menu.actions().isEmpty())
        return;
    menu.exec(m_view->viewport()->mapToGlobal(pos));
}

} // namespace bonsai::ui
