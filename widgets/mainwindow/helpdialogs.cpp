#include "helpdialogs.h"

#include <QAction>
#include <QCoreApplication>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>

namespace bonsai::ui {

namespace {

QString tr(const char* s) { return QCoreApplication::translate("HelpDialogs", s); }

QString plain(QString text) { return text.remove(QLatin1Char('&')).remove(QStringLiteral("…")); }

void addRows(const QMenu* menu, const QString& path, QString& rows)
{
    for (QAction* a : menu->actions()) {
        if (a->menu()) {
            addRows(a->menu(), path + QStringLiteral(" › ") + plain(a->text()), rows);
            continue;
        }
        if (a->isSeparator() || a->shortcut().isEmpty())
            continue;
        rows += QStringLiteral("<tr><td>%1 › %2</td><td>&nbsp;&nbsp;<b>%3</b></td></tr>")
                    .arg(path, plain(a->text()).toHtmlEscaped(), a->shortcut().toString(QKeySequence::NativeText));
    }
}

} // namespace

QString shortcutTable(const QMenuBar* bar)
{
    QString rows;
    for (QAction* a : bar->actions())
        if (a->menu())
            addRows(a->menu(), plain(a->text()), rows);
    return QStringLiteral("<table>") + rows + QStringLiteral("</table>");
}

QString quickStartText()
{
    return tr("<h3>Quick start</h3><ol>"
              "<li><b>Open a model</b> (File › Open, or drop a file on the window): safetensors, ONNX or GGUF, "
              "or a Hugging Face checkpoint folder. The table lists every layer with its size.</li>"
              "<li><b>Look at a layer</b>: select a row to see its weight histogram, statistics and per-channel "
              "ranges.</li>"
              "<li><b>Compress</b>: in the Compression dock choose a precision, sparsity or rank for the selected "
              "layers, or start from a preset (Presets menu). The preview shows the error; the bars show the "
              "new size.</li>"
              "<li><b>Measure</b>: Evaluate (F5) runs a classifier on its data set, Perplexity (F6) a language "
              "model on a text. Each run is a point on the trade-off chart; click a point to restore it.</li>"
              "<li><b>Recover and save</b>: Recover Accuracy trains a compressed classifier back; File › Save "
              "Recipe keeps the configuration (bonsai-cli reads it too).</li></ol>"
              "<p>Hover any control for an explanation; the help pane under the Compression dock explains the "
              "technique you are editing. Ctrl+Z undoes every edit.</p>");
}

void showQuickStart(QWidget* parent)
{
    QMessageBox box(QMessageBox::Information, tr("Quick Start"), quickStartText(), QMessageBox::Ok, parent);
    box.setTextFormat(Qt::RichText);
    box.exec();
}

void showShortcuts(QWidget* parent, const QMenuBar* bar)
{
    QMessageBox box(QMessageBox::Information, tr("Keyboard Shortcuts"),
                    tr("<h3>Keyboard shortcuts</h3>") + shortcutTable(bar), QMessageBox::Ok, parent);
    box.setTextFormat(Qt::RichText);
    box.exec();
}

} // namespace bonsai::ui
