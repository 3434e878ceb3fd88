#include "emptystate.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

namespace bonsai::ui {

EmptyState::EmptyState(QWidget* parent) : QWidget(parent), m_status(new QLabel(this))
{
    setObjectName(QStringLiteral("emptyState"));
    auto* title = new QLabel(tr("<h2>No model open</h2>"), this);
    auto* hint = new QLabel(
        tr("<p>Open a model: <b>File &gt; Open</b>, drop a file here, or pass a path on the "
           "command line.</p>"
           "<p>Supported formats:</p>"
           "<ul><li><b>safetensors</b>: a <tt>.safetensors</tt> file, a sharded checkpoint's "
           "<tt>model.safetensors.index.json</tt>, or a Hugging Face model folder "
           "(<b>File &gt; Open Folder</b>)</li>"
           "<li><b>ONNX</b>: <tt>.onnx</tt></li>"
           "<li><b>GGUF</b>: <tt>.gguf</tt>, including block-quantized types</li></ul>"),
        this);
    hint->setTextFormat(Qt::RichText);
    hint->setWordWrap(true);
    m_status->setAlignment(Qt::AlignCenter);
    m_status->setVisible(false);

    auto* openFile = new QPushButton(tr("Open Model…"), this);
    auto* openFolder = new QPushButton(tr("Open Folder…"), this);
    connect(openFile, &QPushButton::clicked, this, &EmptyState::openFileRequested);
    connect(openFolder, &QPushButton::clicked, this, &EmptyState::openFolderRequested);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(openFile);
    buttons->addWidget(openFolder);
    buttons->addStretch(1);

    auto* column = new QVBoxLayout;
    column->addWidget(title);
    column->addWidget(hint);
    column->addLayout(buttons);
    column->addSpacing(12);
    column->addWidget(m_status);
    auto* inner = new QWidget(this);
    inner->setLayout(column);
    inner->setMinimumWidth(520);
    inner->setMaximumWidth(680);

    auto* outer = new QVBoxLayout(this);
    outer->addStretch(1);
    auto* row = new QHBoxLayout;
    row->addStretch(1);
    row->addWidget(inner);
    row->addStretch(1);
    outer->addLayout(row);
    outer->addStretch(2);
}

void EmptyState::setBusy(const QString& message)
{
    m_status->setText(message);
    m_status->setVisible(!message.isEmpty());
}

} // namespace bonsai::ui
