#include "layertableview.h"

#include "layerfilterproxy.h"
#include "layertablemodel.h"
#include "configdelegates.h"
#include "sharedelegate.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QPainter>
#include <QTimer>
#include <QTreeView>
#include <QVBoxLayout>

namespace bonsai::ui {

namespace {

// Language models: every other group (block) shaded, a line above each group's first row
// while the rows are in model order.
class GroupedTreeView : public QTreeView {
public:
    using QTreeView::QTreeView;
    void setGrouped(bool grouped)
    {
        m_grouped = grouped;
        setAlternatingRowColors(!grouped);
        viewport()->update();
    }

protected:
    void drawRow(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const override
    {
        if (!m_grouped) {
            QTreeView::drawRow(painter, option, index);
            return;
        }
        const int band = index.siblingAtColumn(0).data(LayerTableModel::GroupBandRole).toInt();
        if (band >= 0 && band % 2 == 1)
            painter->fillRect(option.rect, palette().alternateBase());
        QTreeView::drawRow(painter, option, index);
        const auto* proxy = qobject_cast<const QSortFilterProxyModel*>(model());
        const int sorted = proxy ? proxy->sortColumn() : -1;
        if (index.row() == 0 || (sorted >= 0 && sorted != LayerTableModel::Group))
            return;
        const QModelIndex above = index.sibling(index.row() - 1, 0);
        if (above.data(LayerTableModel::GroupKeyRole) == index.siblingAtColumn(0).data(LayerTableModel::GroupKeyRole))
            return;
        painter->save();
        painter->setPen(QPen(palette().color(QPalette::Mid), 1));
        painter->drawLine(option.rect.left(), option.rect.top(), option.rect.right(), option.rect.top());
        painter->restore();
    }

private:
    bool m_grouped = false;
};

} // namespace

LayerTableView::LayerTableView(QWidget* parent)
    : QWidget(parent), m_model(new LayerTableModel(this)), m_proxy(new LayerFilterProxy(this)),
      m_view(new GroupedTreeView(this)), m_search(new QLineEdit(this)),
      m_allTensors(new QCheckBox(tr("All tensors"), this)), m_group(new QComboBox(this)), m_count(new QLabel(this)),
      m_debounce(new QTimer(this))
{
    m_proxy->setSourceModel(m_model);

    m_search->setPlaceholderText(tr("Filter by name, op or dtype…"));
    m_search->setClearButtonEnabled(true);
    m_search->setObjectName(QStringLiteral("layerSearch"));
    m_allTensors->setToolTip(tr("List every tensor (biases, norms, …) instead of only the layers"));
    m_debounce->setSingleShot(true);
    m_debounce->setInterval(300);
    connect(m_search, &QLineEdit::textChanged, m_debounce, qOverload<>(&QTimer::start));
    connect(m_debounce, &QTimer::timeout, this, [this] {
        m_proxy->setSearchText(m_search->text());
        updateCountLabel();
    });
    connect(m_allTensors, &QCheckBox::toggled, this, [this](bool all) {
        m_model->setMode(all ? LayerTableModel::Mode::Tensors : LayerTableModel::Mode::Layers);
        updateCountLabel();
    });
    m_group->setObjectName(QStringLiteral("layerGroupFilter"));
    m_group->setToolTip(tr("Show only the layers of one group: the embeddings, one transformer block, "
                           "the attention or MLP layers of all blocks, or the output head"));
    m_group->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_group->setVisible(false);
    connect(m_group, &QComboBox::currentIndexChanged, this, [this] {
        m_proxy->setGroupFilter(m_group->currentData().toString());
        updateCountLabel();
    });

    m_view->setObjectName(QStringLiteral("layerTable"));
    m_view->setModel(m_proxy);
    m_view->setRootIsDecorated(false);
    m_view->setUniformRowHeights(true);
    m_view->setAlternatingRowColors(true);
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(-1, Qt::AscendingOrder); // file order until the user sorts
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_view->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed);
    m_view->setItemDelegateForColumn(LayerTableModel::Precision, new PrecisionDelegate(this));
    m_view->setItemDelegateForColumn(LayerTableModel::Sparsity, new SparsityDelegate(this));
    m_view->setItemDelegateForColumn(LayerTableModel::Rank, new RankDelegate(this));
    m_model->setSelectedLayers([this] { return selectedLayers(); });
    m_view->setItemDelegateForColumn(LayerTableModel::Share,
                                     new ShareDelegate(LayerTableModel::ShareRole, this));
    auto* header = m_view->header();
    header->setStretchLastSection(false);
    header->setSectionResizeMode(LayerTableModel::Name, QHeaderView::Stretch);
    for (int c = LayerTableModel::Group; c < LayerTableModel::NUM_COLUMNS; ++c)
        header->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    header->setMinimumSectionSize(60);
    header->setSectionResizeMode(LayerTableModel::Share, QHeaderView::Fixed);
    header->resizeSection(LayerTableModel::Share, 110);
    m_view->setTextElideMode(Qt::ElideMiddle); // layer names differ at their ends
    // The compression columns need the room: less used columns start hidden; the header's
    // context menu shows them again.
    for (int c : {LayerTableModel::Group, LayerTableModel::Op, LayerTableModel::Shape, LayerTableModel::DType, LayerTableModel::Parameters,
                  LayerTableModel::Share})
        header->setSectionHidden(c, true);
    header->setMinimumSectionSize(44);
    header->setSectionResizeMode(LayerTableModel::Name, QHeaderView::Interactive);
    header->resizeSection(LayerTableModel::Name, 176);
    header->setStretchLastSection(true);
    // What a layer becomes next to how it is stored: Compressed and Bits/w right after
    // Precision, so a narrow table still shows them; the group, Sparsity and Rank follow.
    header->moveSection(header->visualIndex(LayerTableModel::Compressed), header->visualIndex(LayerTableModel::Precision) + 1);
    header->moveSection(header->visualIndex(LayerTableModel::BitsPerWeight), header->visualIndex(LayerTableModel::Compressed) + 1);
    // The measured latency beside them once a speed run filled it.
    header->moveSection(header->visualIndex(LayerTableModel::Latency), header->visualIndex(LayerTableModel::BitsPerWeight) + 1);
    // Language models' group (also shown by the shading and the group filter) after them.
    header->moveSection(header->visualIndex(LayerTableModel::Group), header->visualIndex(LayerTableModel::BitsPerWeight));
    header->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(header, &QHeaderView::customContextMenuRequested, this, [this, header](const QPoint& pos) {
        QMenu menu(this);
        for (int c = LayerTableModel::Group; c < LayerTableModel::NUM_COLUMNS; ++c) {
            if (c == LayerTableModel::Group && !m_model->isLanguageModel())
                continue;
            QAction* a = menu.addAction(m_model->headerData(c, Qt::Horizontal, Qt::DisplayRole).toString());
            a->setCheckable(true);
            a->setChecked(!header->isSectionHidden(c));
            connect(a, &QAction::toggled, header, [header, c](bool on) { header->setSectionHidden(c, !on); });
        }
        menu.exec(header->mapToGlobal(pos));
    });
    m_view->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_view, &QWidget::customContextMenuRequested, this, &LayerTableView::showRowMenu);
    connect(m_view->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            &LayerTableView::emitCurrent);
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            [this] { emit layerSelectionChanged(selectedLayers()); });

    auto* find = new QAction(tr("Find Layer"), this);
    find->setShortcut(QKeySequence::Find);
    find->setShortcutContext(Qt::WindowShortcut);
    connect(find, &QAction::triggered, this, [this] {
        m_search->setFocus(Qt::ShortcutFocusReason);
        m_search->selectAll();
    });
    addAction(find);

    auto* top = new QHBoxLayout;
    top->addWidget(m_search, 1);
    top->addWidget(m_group);
    top->addWidget(m_allTensors);
    top->addWidget(m_count);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(top);
    layout->addWidget(m_view, 1);
    updateCountLabel();
}

void LayerTableView::setModel(std::shared_ptr<const bonsai::Model> model)
{
    m_model->setModel(std::move(model));
    updateGrouping();
    updateCountLabel();
}

void LayerTableView::updateGrouping()
{
    const bool llm = m_model->isLanguageModel();
    static_cast<GroupedTreeView*>(m_view)->setGrouped(llm);
    auto* header = m_view->header();
    header->setSectionHidden(LayerTableModel::Group, !llm);
    header->resizeSection(LayerTableModel::Name, llm ? 105 : 176);
    {
        const QSignalBlocker block(m_group);
        m_group->clear();
        if (llm) {
            m_group->addItem(tr("All groups"), QString());
            const QStringList keys = m_model->groupKeys();
            const QString head = QStringLiteral("Output head");
            for (const QString& key : keys)
                if (key != head)
                    m_group->addItem(key, key);
            m_group->addItem(tr("Attention (all blocks)"), QStringLiteral("part:attention"));
            m_group->addItem(tr("MLP (all blocks)"), QStringLiteral("part:mlp"));
            if (keys.contains(head))
                m_group->addItem(head, head);
        }
    }
    m_group->setVisible(llm);
    m_proxy->setGroupFilter(QString());
}

bool LayerTableView::setGroupFilter(const QString& filter)
{
    const int i = m_group->findData(filter);
    if (i < 0)
        return false;
    m_group->setCurrentIndex(i);
    return true;
}

int LayerTableView::selectRole(int llmRole)
{
    QList<int> layers;
    for (int r = 0; r < m_model->rowCount(); ++r) {
        const QModelIndex idx = m_model->index(r, 0);
        const int l = idx.data(LayerTableModel::LayerRole).toInt();
        if (l >= 0 && idx.data(LayerTableModel::LlmRoleRole).toInt() == llmRole)
            layers << l;
    }
    if (layers.isEmpty())
        return 0;
    int visible = 0;
    for (int r = 0; r < m_proxy->rowCount(); ++r)
        visible += layers.contains(m_proxy->index(r, 0).data(LayerTableModel::LayerRole).toInt());
    if (visible < layers.size() && !m_proxy->groupFilter().isEmpty())
        setGroupFilter(QString());
    const int current = currentLayer();
    if (layers.contains(current))
        layers.move(layers.indexOf(current), 0); // the current row stays current
    selectLayers(layers);
    return int(selectedLayers().size());
}

void LayerTableView::showRowMenu(const QPoint& pos)
{
    if (!m_model->isLanguageModel())
        return;
    const QModelIndex idx = m_view->indexAt(pos);
    if (!idx.isValid())
        return;
    const QModelIndex name = idx.siblingAtColumn(LayerTableModel::Name);
    const int role = name.data(LayerTableModel::LlmRoleRole).toInt();
    const QString groupKey = name.data(LayerTableModel::GroupKeyRole).toString();
    QMenu menu(this);
    if (role >= 0 && name.data(LayerTableModel::LayerRole).toInt() >= 0) {
        int count = 0;
        for (int r = 0; r < m_model->rowCount(); ++r) {
            const QModelIndex i = m_model->index(r, 0);
            count += i.data(LayerTableModel::LlmRoleRole).toInt() == role && i.data(LayerTableModel::LayerRole).toInt() >= 0;
        }
        QAction* a = menu.addAction(tr("Select All %1 (%n layers)", nullptr, count).arg(name.data().toString()),
                                    this, [this, role] { selectRole(role); });
        a->setStatusTip(tr("Select this role's layer in every block, to configure them at once"));
    }
    if (!groupKey.isEmpty()) {
        menu.addAction(tr("Select All of %1").arg(groupKey), this, [this, groupKey] {
            QList<int> layers;
            for (int r = 0; r < m_model->rowCount(); ++r) {
                const QModelIndex i = m_model->index(r, 0);
                const int l = i.data(LayerTableModel::LayerRole).toInt();
                if (l >= 0 && i.data(LayerTableModel::GroupKeyRole).toString() == groupKey)
                    layers << l;
            }
            selectLayers(layers);
        });
        if (m_proxy->groupFilter() != groupKey)
            menu.addAction(tr("Show Only %1").arg(groupKey), this, [this, groupKey] { setGroupFilter(groupKey); });
    }
    if (!m_proxy->groupFilter().isEmpty())
        menu.addAction(tr("Show All Groups"), this, [this] { setGroupFilter(QString()); });
    if (!menu.isEmpty())
        menu.exec(m_view->viewport()->mapToGlobal(pos));
}

void LayerTableView::setCompression(CompressionDocument* doc, ModelEstimator* estimator)
{
    m_model->setCompression(doc, estimator);
}

int LayerTableView::currentLayer() const
{
    const QModelIndex idx = m_view->currentIndex();
    return idx.isValid() ? idx.data(LayerTableModel::LayerRole).toInt() : -1;
}

QList<int> LayerTableView::selectedLayers() const
{
    QList<int> out;
    const int current = currentLayer();
    if (current >= 0 && m_view->selectionModel()->isRowSelected(m_view->currentIndex().row(), {}))
        out << current;
    for (const QModelIndex& idx : m_view->selectionModel()->selectedRows()) {
        const int l = idx.data(LayerTableModel::LayerRole).toInt();
        if (l >= 0 && !out.contains(l))
            out << l;
    }
    return out;
}

void LayerTableView::selectLayers(const QList<int>& layers)
{
    QItemSelection selection;
    QModelIndex first;
    for (int r = 0; r < m_proxy->rowCount(); ++r) {
        const QModelIndex idx = m_proxy->index(r, 0);
        const int l = idx.data(LayerTableModel::LayerRole).toInt();
        if (l < 0 || !layers.contains(l))
            continue;
        selection.select(idx, idx.siblingAtColumn(LayerTableModel::NUM_COLUMNS - 1));
        if (!first.isValid() || l == layers.first())
            first = idx;
    }
    if (!first.isValid())
        return;
    m_view->selectionModel()->setCurrentIndex(first, QItemSelectionModel::NoUpdate);
    m_view->selectionModel()->select(selection, QItemSelectionModel::ClearAndSelect);
    m_view->scrollTo(first);
}

bool LayerTableView::selectLargest()
{
    int bestRow = -1;
    qulonglong best = 0;
    for (int r = 0; r < m_proxy->rowCount(); ++r) {
        const auto bytes = m_proxy->index(r, LayerTableModel::Bytes)
                               .data(LayerTableModel::SortRole).toULongLong();
        if (bestRow < 0 || bytes > best) {
            best = bytes;
            bestRow = r;
        }
    }
    if (bestRow < 0)
        return false;
    const QModelIndex idx = m_proxy->index(bestRow, 0);
    m_view->setCurrentIndex(idx);
    m_view->scrollTo(idx);
    return true;
}

void LayerTableView::emitCurrent()
{
    const QModelIndex idx = m_view->currentIndex();
    if (!idx.isValid())
        return;
    emit currentTensorChanged(idx.data(LayerTableModel::TensorRole).toInt(),
                              idx.data(LayerTableModel::ChannelAxisRole).toInt(),
                              idx.siblingAtColumn(LayerTableModel::Name).data(LayerTableModel::FullNameRole).toString());
}

void LayerTableView::updateCountLabel()
{
    const int shown = m_proxy->rowCount();
    const int total = m_model->rowCount();
    const bool layers = m_model->mode() == LayerTableModel::Mode::Layers;
    m_count->setText(shown == total ? (layers ? tr("%1 layers") : tr("%1 tensors")).arg(total)
                                    : tr("%1 of %2").arg(shown).arg(total));
}

} // namespace bonsai::ui
