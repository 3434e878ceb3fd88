#include "exportdialog.h"

#include "exportrunner.h"
#include "formatting.h"
#include "jobrunner.h"
#include "panelutil.h"

#include "bonsai/model.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QEvent>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QScreen>
#include <QStyledItemDelegate>
#include <QTableWidget>
#include <QVBoxLayout>

namespace bonsai::ui {

namespace {

enum Column { Tensor, NameInFile, Configured, Stored, Status, Bytes, Reason, ColumnCount };

// The Why column wraps its sentences; the other columns keep one line, elided in the middle.
class WrappingDelegate : public QStyledItemDelegate {
public:
    explicit WrappingDelegate(QTableWidget* table) : QStyledItemDelegate(table), m_table(table) {}

    // The height of the text wrapped at the column's width (the table's word wrap is off, so
    // the view does not pass that width itself).
    QSize sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const override
    {
        QStyleOptionViewItem wrapped = option;
        // less the grid line and the painted text's margins, which the size hint leaves out
        const int margin = m_table->style()->pixelMetric(QStyle::PM_FocusFrameHMargin, nullptr, m_table) + 1;
        wrapped.rect.setWidth(m_table->columnWidth(index.column()) - 2 * margin);
        wrapped.rect.setHeight(std::max(wrapped.rect.height(), 1)); // an empty rect is not wrapped at all
        return QStyledItemDelegate::sizeHint(wrapped, index);
    }

protected:
    void initStyleOption(QStyleOptionViewItem* option, const QModelIndex& index) const override
    {
        QStyledItemDelegate::initStyleOption(option, index);
        option->features |= QStyleOptionViewItem::WrapText;
    }

private:
    QTableWidget* m_table;
};

QString suffixOf(bonsai::ExportFormat f)
{
    switch (f) {
    case bonsai::ExportFormat::Gguf: return QStringLiteral(".gguf");
    case bonsai::ExportFormat::Onnx: return QStringLiteral(".onnx");
    case bonsai::ExportFormat::Safetensors:
    case bonsai::ExportFormat::SafetensorsPacked: return QString();
    case bonsai::ExportFormat::LlmCompressor: return QStringLiteral("-recipe.yaml");
    case bonsai::ExportFormat::TensorTypes: break;
    }
    return QStringLiteral("-tensor-types.txt");
}

} // namespace

ExportDialog::ExportDialog(std::shared_ptr<const bonsai::Model> model, std::vector<bonsai::LayerConfig> configs,
                           ExportPredictionData data, QWidget* parent)
    : QDialog(parent), m_model(std::move(model)), m_configs(std::move(configs)), m_data(std::move(data)),
      m_runner(new ExportRunner(this))
{
    setWindowTitle(tr("Export Compressed Model"));
    setObjectName(QStringLiteral("exportDialog"));
    auto* layout = new QVBoxLayout(this);
    auto* form = new QFormLayout;
    form->setRowWrapPolicy(QFormLayout::WrapLongRows);
    m_format = new QComboBox(this);
    m_format->setObjectName(QStringLiteral("exportFormat"));
    m_format->addItem(tr("GGUF for llama.cpp (.gguf)"), int(bonsai::ExportFormat::Gguf));
    m_format->addItem(tr("llama-quantize tensor types (--tensor-type-file)"), int(bonsai::ExportFormat::TensorTypes));
    m_format->addItem(tr("ONNX for ONNX Runtime (.onnx)"), int(bonsai::ExportFormat::Onnx));
    m_format->addItem(tr("Hugging Face safetensors, F32 (a checkpoint folder)"), int(bonsai::ExportFormat::Safetensors));
    m_format->addItem(tr("compressed-tensors pack-quantized for vLLM (a checkpoint folder)"),
                      int(bonsai::ExportFormat::SafetensorsPacked));
    m_format->addItem(tr("llm-compressor recipe (.yaml)"), int(bonsai::ExportFormat::LlmCompressor));
    form->addRow(tr("Format:"), m_format);
    m_mapping = new QCheckBox(tr("Store what the format cannot as the nearest type it can"), this);
    m_mapping->setObjectName(QStringLiteral("acceptMapping"));
    m_mapping->setToolTip(tr("INT and NF4/FP8 precisions become the GGUF block type of their width; a K type on rows "
                             "that are no multiple of 256 falls back as llama-quantize does. Sparsity and low rank "
                             "cannot be stored."));
    form->addRow(QString(), m_mapping);
    m_path = new QLineEdit(this);
    m_path->setObjectName(QStringLiteral("exportPath"));
    m_browse = new QPushButton(tr("Browse…"), this);
    form->addRow(tr("Save as:"), pathRow(m_path, m_browse));
    layout->addLayout(form);

    m_table = new QTableWidget(0, ColumnCount, this);
    m_table->setObjectName(QStringLiteral("exportCheck"));
    m_table->setHorizontalHeaderLabels(
        {tr("Tensor"), tr("Name in file"), tr("Configured"), tr("Stored"), tr("Status"), tr("Bytes"), tr("Why")});
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setStretchLastSection(false); // fitColumns sizes Why to the rest
    m_table->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff); // the columns fit (fitColumns)
    m_table->setTextElideMode(Qt::ElideMiddle);
    m_table->setWordWrap(false);
    m_table->setItemDelegateForColumn(Reason, new WrappingDelegate(m_table));
    m_table->setMinimumSize(760, 260);
    m_table->viewport()->installEventFilter(this); // its Resize comes with the new width
    layout->addWidget(m_table, 1);

    m_summary = new QLabel(this);
    m_summary->setObjectName(QStringLiteral("exportSummary"));
    m_summary->setWordWrap(true);
    layout->addWidget(m_summary);
    auto* predictionRow = new QHBoxLayout;
    m_predictionLabel = new QLabel(this);
    m_predictionLabel->setObjectName(QStringLiteral("exportPrediction"));
    m_predictionLabel->setWordWrap(true);
    m_predictionLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    predictionRow->addWidget(m_predictionLabel, 1);
    m_stop = new QPushButton(tr("Stop Prediction"), this);
    m_stop->setObjectName(QStringLiteral("stopPrediction"));
    m_stop->setToolTip(tr("Stop evaluating the weights written; the check above stands"));
    m_stop->hide();
    predictionRow->addWidget(m_stop);
    layout->addLayout(predictionRow);
    m_progress = makeJobProgressBar(tr("Progress of the export"), this);
    layout->addWidget(m_progress);
    m_message = makeMessageLabel(this);
    layout->addWidget(m_message);

    auto* buttons = new QDialogButtonBox(this);
    m_export = buttons->addButton(tr("Export"), QDialogButtonBox::AcceptRole);
    m_export->setObjectName(QStringLiteral("exportButton"));
    m_cancel = buttons->addButton(QDialogButtonBox::Cancel);
    m_cancel->setObjectName(QStringLiteral("cancelButton"));
    layout->addWidget(buttons);

    connect(m_format, &QComboBox::currentIndexChanged, this, [this] {
        const QString p = m_path->text();
        if (!p.isEmpty()) { // keep the folder and stem, follow the format's suffix
            const QFileInfo info(p);
            QString stem = info.completeBaseName();
            stem.remove(QStringLiteral("-tensor-types"));
            stem.remove(QStringLiteral("-recipe"));
            m_path->setText(info.dir().filePath(stem + suffixOf(format())));
        }
        replan();
    });
    connect(m_mapping, &QCheckBox::toggled, this, &ExportDialog::replan);
    connect(m_path, &QLineEdit::textChanged, this, [this] { m_export->setEnabled(isWritable() && !m_running); });
    connect(m_browse, &QPushButton::clicked, this, &ExportDialog::browse);
    connect(m_export, &QPushButton::clicked, this, &ExportDialog::startExport);
    connect(m_cancel, &QPushButton::clicked, this, [this] {
        if (m_running)
            m_runner->cancel();
        else
            reject();
    });
    connect(m_stop, &QPushButton::clicked, this, &ExportDialog::stopPrediction);
    JobHandlers handlers;
    handlers.progress = [this](double f, double eta) {
        if (m_running)
            showJobProgress(m_progress, tr("Writing"), f, eta);
        else if (m_predicting)
            showJobProgress(m_progress, tr("Predicting"), f, eta);
    };
    handlers.failed = [this](const QString& msg) {
        if (m_running) {
            finish(false, msg);
        } else {
            m_predicting = false;
            m_stop->hide();
            clearJobProgress(m_progress);
            showPanelMessage(m_message, msg, true);
            emit predicted();
        }
    };
    handlers.cancelled = [this] {
        if (m_running) {
            finish(false, tr("Export cancelled: nothing was written."));
        } else {
            m_predicting = false;
            m_stop->hide();
            clearJobProgress(m_progress);
            m_predictionLabel->setText(tr("Prediction stopped; the check above stands (change a setting to predict again)."));
            emit predicted();
        }
    };
    connectCurrentJob(m_runner->runner(), this, m_job, std::move(handlers));

    // The format the model can go to: ONNX for ONNX models, GGUF for language models.
    if (m_model->format == bonsai::Format::Onnx)
        m_format->setCurrentIndex(m_format->findData(int(bonsai::ExportFormat::Onnx)));
    // Room for the check's seven columns, within the screen (1366 x 768 included).
    if (const QScreen* screen = this->screen())
        resize(QSize(1180, 680).boundedTo(screen->availableGeometry().size() * 0.95));
    m_path->setText(suggestedSavePath(QString::fromStdString(m_model->path), QStringLiteral("-compressed") + suffixOf(format())));
    replan();
}

ExportDialog::~ExportDialog() = default;

bonsai::ExportFormat ExportDialog::format() const { return bonsai::ExportFormat(m_format->currentData().toInt()); }

bool ExportDialog::isWritable() const { return m_planned && m_plan.writable() && !m_path->text().isEmpty(); }

void ExportDialog::setPath(const QString& path) { m_path->setText(path); }

void ExportDialog::setAcceptMapping(bool accept) { m_mapping->setChecked(accept); }

void ExportDialog::replan()
{
    if (m_running)
        return;
    const bonsai::ExportOptions options = exportOptions();
    m_planned = false;
    m_predicting = false;
    m_prediction = {};
    m_stop->hide();
    m_export->setEnabled(false);
    m_summary->setText(tr("Checking what %1 can store…").arg(m_format->currentText()));
    m_predictionLabel->setText(tr("The prediction follows the check."));
    m_job = 0; // the job this one supersedes reports no cancellation here
    m_job = m_runner->check(m_model, m_configs, format(), options,
                            [this](const bonsai::ExportPlan& plan, const QString& error) { showPlan(plan, error); });
}

void ExportDialog::predict()
{
    if (!m_plan.writable()) {
        ExportPrediction none;
        none.hint = tr("No prediction while a tensor cannot be stored: the export would be refused.");
        showPrediction(none);
        return;
    }
    m_predicting = true;
    m_stop->show();
    m_predictionLabel->setText(tr("Predicting the quality of the weights written…"));
    m_job = 0;
    m_job = m_runner->predict(m_model, m_plan.configs, m_data, [this](const ExportPrediction& p) { showPrediction(p); });
}

void ExportDialog::stopPrediction()
{
    if (m_predicting && !m_running)
        m_runner->cancel();
}

void ExportDialog::showPrediction(const ExportPrediction& p)
{
    m_predicting = false;
    m_prediction = p;
    m_stop->hide();
    clearJobProgress(m_progress);
    const QString count = formatCount(uint64_t(p.samples));
    const QString data = QFileInfo(p.data).fileName();
    const bool images = p.dataKind == QStringLiteral("IDX") || p.dataKind == QStringLiteral("image folder");
    QString on;
    if (p.metric == ExportPrediction::Metric::Accuracy && images)
        on = p.split.isEmpty() ? tr("on %1 images of %2").arg(count, data) : tr("on %1 %2 images of %3").arg(count, p.split, data);
    else if (p.metric == ExportPrediction::Metric::Accuracy)
        on = tr("on %1 samples of %2").arg(count, data);
    else
        on = tr("on %1 tokens of %2").arg(count, data);
    switch (p.metric) {
    case ExportPrediction::Metric::Accuracy:
        m_predictionLabel->setText(tr("Predicted accuracy: %1 (uncompressed %2) %3")
                                       .arg(percentText(p.value), percentText(p.uncompressed), on));
        break;
    case ExportPrediction::Metric::Perplexity:
        m_predictionLabel->setText(tr("Predicted perplexity: %1 (uncompressed %2) %3")
                                       .arg(p.value, 0, 'f', 4)
                                       .arg(p.uncompressed, 0, 'f', 4)
                                       .arg(on));
        break;
    case ExportPrediction::Metric::None:
        m_predictionLabel->setText(!p.error.isEmpty() ? tr("No prediction: %1").arg(p.error) : p.hint);
        break;
    }
    m_predictionLabel->setToolTip(p.data);
    emit predicted();
}

void ExportDialog::showPlan(const bonsai::ExportPlan& plan, const QString& error)
{
    m_plan = plan;
    m_planned = error.isEmpty();
    m_table->setRowCount(0);
    if (!m_planned) {
        m_summary->setText(tr("This model cannot be exported in this format."));
        showPanelMessage(m_message, error, true);
        m_export->setEnabled(false);
        m_predictionLabel->clear();
        emit checked();
        return;
    }
    m_table->setRowCount(int(m_plan.tensors.size()));
    int changed = 0, impossible = 0;
    for (int r = 0; r < int(m_plan.tensors.size()); ++r) {
        const auto& t = m_plan.tensors[size_t(r)];
        const QString status = QString::fromUtf8(bonsai::storeStatusName(t.status).data());
        const QStringList cells{QString::fromStdString(t.source), QString::fromStdString(t.target),
                                QString::fromStdString(t.configured), QString::fromStdString(t.stored), status,
                                formatBytes(t.bytes), QString::fromStdString(t.reason)};
        for (int c = 0; c < ColumnCount; ++c) {
            auto* item = new QTableWidgetItem(cells[c]);
            item->setToolTip(cells[c]);
            if (c == Bytes)
                item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            if (t.status == bonsai::StoreStatus::Impossible)
                item->setForeground(QColor(176, 0, 32));
            m_table->setItem(r, c, item);
        }
        changed += t.status == bonsai::StoreStatus::Changed;
        impossible += t.status == bonsai::StoreStatus::Impossible;
    }
    fitColumns();
    const QString size = format() != bonsai::ExportFormat::TensorTypes
                             ? tr("File: %1 (%2 besides the weights: graph, metadata, scales).")
                                   .arg(formatBytes(m_plan.fileBytes), formatBytes(m_plan.metadataBytes))
                             : tr("File: %1; the GGUF llama-quantize makes with it: %2 of tensors.")
                                   .arg(formatBytes(m_plan.fileBytes), formatBytes([this] {
                                       uint64_t b = 0;
                                       for (const auto& t : m_plan.tensors)
                                           b += t.bytes;
                                       return b;
                                   }()));
    QString state;
    if (impossible)
        state = tr("%n tensor(s) cannot be stored as configured: change them, or store them as the nearest type.", "",
                   impossible);
    else if (changed)
        state = tr("%n tensor(s) stored differently from their configuration (see Why).", "", changed);
    else
        state = tr("Every tensor is stored as configured.");
    QStringList notes;
    for (const auto& n : m_plan.notes)
        notes << QString::fromStdString(n);
    m_summary->setText(size + QLatin1Char(' ') + state + (notes.isEmpty() ? QString() : QLatin1Char('\n') + notes.join(QLatin1Char('\n'))));
    showPanelMessage(m_message, QString(), false);
    m_export->setEnabled(isWritable() && !m_running);
    predict(); // started before checked() is told, so that a receiver of it may stop it
    emit checked();
}

void ExportDialog::fitColumns()
{
    // Every column but Why at its contents' width; when they leave Why less than a third of
    // the table, the widest of the long ones (names, stored type) are cut to one width, as
    // little as needed and not below 80 px (elided in the middle, whole in their tooltips).
    // Why takes the rest and wraps (the rows grow to its lines).
    const int available = m_table->viewport()->width();
    if (available <= 0 || m_table->rowCount() == 0)
        return;
    m_table->resizeColumnsToContents();
    int fixed = 0;
    for (int c = 0; c < Reason; ++c)
        fixed += m_table->columnWidth(c);
    const int budget = available - std::max(available / 3, 160);
    const std::initializer_list<int> longColumns{int(Tensor), int(NameInFile), int(Stored)};
    if (fixed > budget) {
        int cap = 0;
        for (int c : longColumns)
            cap = std::max(cap, m_table->columnWidth(c));
        auto cut = [&](int limit) { // how much capping the long columns at `limit` saves
            int saved = 0;
            for (int c : longColumns)
                saved += std::max(0, m_table->columnWidth(c) - limit);
            return saved;
        };
        while (cap > 80 && cut(cap) < fixed - budget)
            cap -= 4;
        for (int c : longColumns)
            m_table->setColumnWidth(c, std::min(m_table->columnWidth(c), cap));
    }
    int used = 0;
    for (int c = 0; c < Reason; ++c)
        used += m_table->columnWidth(c);
    m_table->setColumnWidth(Reason, std::max(available - used, 160));
    m_table->resizeRowsToContents();
}

bool ExportDialog::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == m_table->viewport() && event->type() == QEvent::Resize)
        fitColumns();
    return QDialog::eventFilter(watched, event);
}

void ExportDialog::browse()
{
    const QString filter = format() == bonsai::ExportFormat::Gguf   ? tr("GGUF files (*.gguf)")
                           : format() == bonsai::ExportFormat::Onnx ? tr("ONNX models (*.onnx)")
                           : format() == bonsai::ExportFormat::LlmCompressor ? tr("YAML recipes (*.yaml)")
                                                                    : tr("Text files (*.txt)");
    const QString path = QFileDialog::getSaveFileName(this, tr("Export As"), m_path->text(), filter);
    if (!path.isEmpty())
        m_path->setText(path);
}

bonsai::ExportOptions ExportDialog::exportOptions() const
{
    bonsai::ExportOptions options;
    options.acceptMapping = m_mapping->isChecked();
    // The file records the data its quality is predicted on (hashed on the worker when
    // written); the check plans the file with that record, so its size is exact.
    const bool onnx = m_model->format == bonsai::Format::Onnx;
    const QString data = onnx ? m_data.eval.dataset : m_data.text;
    if (!data.isEmpty() && QFileInfo::exists(data))
        options.calibration.push_back({data.toStdString(), onnx ? "accuracy" : "perplexity", 0, {},
                                       onnx ? m_data.eval.limit : m_data.maxChunks, 0});
    return options;
}

void ExportDialog::startExport()
{
    if (!isWritable() || m_running)
        return;
    bonsai::ExportOptions options = exportOptions();
    // The path was chosen here (a save dialog asks before replacing a file).
    options.overwrite = true;
    m_running = true;
    m_clock.start();
    for (QWidget* w : std::initializer_list<QWidget*>{m_format, m_mapping, m_path, m_browse, m_export})
        w->setEnabled(false);
    m_cancel->setText(tr("Cancel Export"));
    showPanelMessage(m_message, QString(), false);
    const QString path = m_path->text();
    if (m_predicting) { // an export supersedes a running prediction
        m_predicting = false;
        m_stop->hide();
        m_predictionLabel->setText(tr("Prediction stopped by the export."));
    }
    m_job = 0;
    m_job = m_runner->start(m_model, m_configs, format(), path, options, [this, path](const bonsai::ExportPlan& plan) {
        showJobDone(m_progress, double(m_clock.elapsed()) / 1000.0);
        finish(true, tr("Exported %1 (%2).").arg(path, formatBytes(plan.fileBytes)));
        emit exported(path, qint64(plan.fileBytes));
    });
}

void ExportDialog::finish(bool ok, const QString& message)
{
    m_running = false;
    for (QWidget* w : std::initializer_list<QWidget*>{m_format, m_mapping, m_path, m_browse})
        w->setEnabled(true);
    m_export->setEnabled(isWritable());
    m_cancel->setText(ok ? tr("Close") : tr("Cancel"));
    if (!ok)
        clearJobProgress(m_progress);
    showPanelMessage(m_message, message, !ok && !message.startsWith(tr("Export cancelled")));
    if (!ok && !message.startsWith(tr("Export cancelled")))
        emit exportFailed(message);
}

} // namespace bonsai::ui
