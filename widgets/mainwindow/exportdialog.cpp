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
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

namespace bonsai::ui {

namespace {

enum Column { Tensor, NameInFile, Configured, Stored, Status, Bytes, Reason, ColumnCount };

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
                           QWidget* parent)
    : QDialog(parent), m_model(std::move(model)), m_configs(std::move(configs)), m_runner(new ExportRunner(this))
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
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setTextElideMode(Qt::ElideMiddle);
    m_table->setMinimumSize(760, 260);
    layout->addWidget(m_table, 1);

    m_summary = new QLabel(this);
    m_summary->setObjectName(QStringLiteral("exportSummary"));
    m_summary->setWordWrap(true);
    layout->addWidget(m_summary);
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
    JobRunner* jobs = m_runner->runner();
    connect(jobs, &JobRunner::progress, this, [this](quint64, double f, double eta) {
        if (m_running)
            showJobProgress(m_progress, tr("Writing"), f, eta);
    });
    connect(jobs, &JobRunner::failed, this, [this](quint64, const QString& msg) {
        if (m_running)
            finish(false, msg);
    });
    connect(jobs, &JobRunner::cancelled, this, [this](quint64) {
        if (m_running)
            finish(false, tr("Export cancelled: nothing was written."));
    });

    // The format the model can go to: ONNX for ONNX models, GGUF for language models.
    if (m_model->format == bonsai::Format::Onnx)
        m_format->setCurrentIndex(m_format->findData(int(bonsai::ExportFormat::Onnx)));
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
    bonsai::ExportOptions options;
    options.acceptMapping = m_mapping->isChecked();
    m_planned = false;
    m_export->setEnabled(false);
    m_summary->setText(tr("Checking what %1 can store…").arg(m_format->currentText()));
    m_runner->check(m_model, m_configs, format(), options, [this](const bonsai::ExportPlan& plan, const QString& error) {
        showPlan(plan, error);
    });
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
    m_table->resizeColumnsToContents();
    for (int c : {int(Tensor), int(Reason)})
        m_table->setColumnWidth(c, std::min(m_table->columnWidth(c), 300));
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
    emit checked();
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

void ExportDialog::startExport()
{
    if (!isWritable() || m_running)
        return;
    bonsai::ExportOptions options;
    options.acceptMapping = m_mapping->isChecked();
    // The path was chosen here (a save dialog asks before replacing a file).
    options.overwrite = true;
    m_running = true;
    m_clock.start();
    for (QWidget* w : std::initializer_list<QWidget*>{m_format, m_mapping, m_path, m_browse, m_export})
        w->setEnabled(false);
    m_cancel->setText(tr("Cancel Export"));
    showPanelMessage(m_message, QString(), false);
    const QString path = m_path->text();
    m_runner->start(m_model, m_configs, format(), path, options, [this, path](const bonsai::ExportPlan& plan) {
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
