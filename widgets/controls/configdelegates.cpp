#include "configdelegates.h"

#include "configtext.h"
#include "layertablemodel.h"

#include <QComboBox>
#include <QLineEdit>
#include <QSpinBox>

namespace bonsai::ui {

QWidget* PrecisionDelegate::createEditor(QWidget* parent, const QStyleOptionViewItem&, const QModelIndex&) const
{
    auto* combo = new QComboBox(parent);
    for (const QString& name : precisionNames()) {
        combo->addItem(precisionLabel(name), name);
        combo->setItemData(combo->count() - 1, precisionHelp(name), Qt::ToolTipRole);
    }
    // Commit as soon as a name is picked.
    connect(combo, &QComboBox::activated, this, [this, combo] {
        auto* self = const_cast<PrecisionDelegate*>(this);
        emit self->commitData(combo);
        emit self->closeEditor(combo);
    });
    return combo;
}

void PrecisionDelegate::setEditorData(QWidget* editor, const QModelIndex& index) const
{
    auto* combo = static_cast<QComboBox*>(editor);
    combo->setCurrentIndex(std::max(0, combo->findData(index.data(Qt::EditRole).toString())));
}

void PrecisionDelegate::setModelData(QWidget* editor, QAbstractItemModel* model, const QModelIndex& index) const
{
    model->setData(index, static_cast<QComboBox*>(editor)->currentData().toString(), Qt::EditRole);
}

QWidget* SparsityDelegate::createEditor(QWidget* parent, const QStyleOptionViewItem&, const QModelIndex&) const
{
    auto* combo = new QComboBox(parent);
    combo->setEditable(true);
    combo->setInsertPolicy(QComboBox::NoInsert);
    for (const char* s : {"—", "25%", "50%", "75%", "90%", "2:4", "4:8", "25% channels", "50% channels"})
        combo->addItem(QString::fromUtf8(s));
    combo->setToolTip(tr("A percentage of weights to prune (\"50%\"), an N:M pattern (\"2:4\"), or "
                         "\"30% channels\" to remove whole output channels"));
    connect(combo, &QComboBox::activated, this, [this, combo] {
        auto* self = const_cast<SparsityDelegate*>(this);
        emit self->commitData(combo);
        emit self->closeEditor(combo);
    });
    return combo;
}

void SparsityDelegate::setEditorData(QWidget* editor, const QModelIndex& index) const
{
    static_cast<QComboBox*>(editor)->setEditText(index.data(Qt::EditRole).toString());
}

void SparsityDelegate::setModelData(QWidget* editor, QAbstractItemModel* model, const QModelIndex& index) const
{
    model->setData(index, static_cast<QComboBox*>(editor)->currentText(), Qt::EditRole);
}

QWidget* RankDelegate::createEditor(QWidget* parent, const QStyleOptionViewItem&, const QModelIndex& index) const
{
    auto* spin = new QSpinBox(parent);
    spin->setSpecialValueText(QStringLiteral("—"));
    spin->setRange(0, static_cast<int>(std::min<qulonglong>(index.data(LayerTableModel::MaxRankRole).toULongLong(), 1 << 24)));
    spin->setToolTip(tr("Rank of the low-rank factorization; — (0) keeps the full matrix"));
    return spin;
}

void RankDelegate::setEditorData(QWidget* editor, const QModelIndex& index) const
{
    static_cast<QSpinBox*>(editor)->setValue(index.data(Qt::EditRole).toInt());
}

void RankDelegate::setModelData(QWidget* editor, QAbstractItemModel* model, const QModelIndex& index) const
{
    auto* spin = static_cast<QSpinBox*>(editor);
    spin->interpretText();
    model->setData(index, spin->value(), Qt::EditRole);
}

} // namespace bonsai::ui
