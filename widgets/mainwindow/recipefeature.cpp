#include "recipefeature.h"

#include "compressiondocument.h"
#include "mainwindow.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenu>
#include <QMessageBox>
#include <QSettings>
#include <QStatusBar>

namespace bonsai::ui {

static const auto RecipeDirKey = QStringLiteral("lastRecipeDirectory");

RecipeFeature::RecipeFeature(MainWindow* window, CompressionDocument* doc)
    : QObject(window), m_window(window), m_doc(doc)
{
}

void RecipeFeature::addActions(QMenu* file)
{
    QAction* open = file->addAction(tr("Open &Recipe…"), this, &RecipeFeature::openRecipeDialog);
    open->setStatusTip(tr("Apply a JSON recipe (per-layer compression settings) to the open model"));
    open->setShortcut(QKeySequence(tr("Ctrl+Shift+R")));
    QAction* save = file->addAction(tr("&Save Recipe"), this, &RecipeFeature::saveRecipe);
    save->setShortcut(QKeySequence::Save);
    save->setStatusTip(tr("Save the compression settings as a recipe for bonsai-cli compress"));
    QAction* saveAs = file->addAction(tr("Save Recipe &As…"), this, &RecipeFeature::saveRecipeAs);
    saveAs->setShortcut(QKeySequence(tr("Ctrl+Shift+S"))); // QKeySequence::SaveAs is empty on some platforms
    for (QAction* a : {open, save, saveAs}) {
        a->setEnabled(false);
        connect(m_window, &MainWindow::modelOpened, a, [a] { a->setEnabled(true); });
    }
}

bool RecipeFeature::applyRecipeFile(const QString& path)
{
    if (!m_doc->model()) {
        m_window->reportError(tr("Could not open recipe"), tr("%1: no model is open").arg(path));
        emit recipeFailed(m_window->lastError());
        return false;
    }
    if (!m_doc->loadRecipe(path)) {
        m_window->reportError(tr("Could not open recipe %1").arg(QFileInfo(path).fileName()), m_doc->lastError());
        emit recipeFailed(m_doc->lastError());
        return false;
    }
    const QStringList warnings = m_doc->lastWarnings();
    if (!warnings.isEmpty()) {
        m_window->statusBar()->showMessage(
            tr("%1: %2").arg(QFileInfo(path).fileName(), warnings.join(QStringLiteral("; "))), 15000);
        if (m_window->errorDialogsEnabled())
            QMessageBox::information(m_window, tr("Recipe warnings"),
                                     tr("%1:\n%2").arg(QFileInfo(path).fileName(), warnings.join(QLatin1Char('\n'))));
    } else {
        m_window->statusBar()->showMessage(tr("Applied recipe %1").arg(path), 5000);
    }
    return true;
}

void RecipeFeature::openRecipeDialog()
{
    QSettings s;
    const QString path = QFileDialog::getOpenFileName(m_window, tr("Open Recipe"), s.value(RecipeDirKey).toString(),
                                                      tr("Recipes (*.json);;All files (*)"));
    if (path.isEmpty())
        return;
    s.setValue(RecipeDirKey, QFileInfo(path).absolutePath());
    applyRecipeFile(path);
}

bool RecipeFeature::saveRecipeTo(const QString& path)
{
    if (!m_doc->saveRecipe(path)) {
        m_window->reportError(tr("Could not save recipe"), m_doc->lastError());
        return false;
    }
    m_window->statusBar()->showMessage(tr("Saved recipe %1").arg(path), 5000);
    return true;
}

bool RecipeFeature::saveRecipe()
{
    return m_doc->recipePath().isEmpty() ? saveRecipeAs() : saveRecipeTo(m_doc->recipePath());
}

bool RecipeFeature::saveRecipeAs()
{
    QSettings s;
    const QString dir = s.value(RecipeDirKey).toString();
    const QString suggested =
        m_doc->recipePath().isEmpty()
            ? QDir(dir).filePath(QFileInfo(m_window->modelFile()).completeBaseName() + QStringLiteral(".recipe.json"))
            : m_doc->recipePath();
    const QString path = QFileDialog::getSaveFileName(m_window, tr("Save Recipe"), suggested, tr("Recipes (*.json)"));
    if (path.isEmpty())
        return false;
    s.setValue(RecipeDirKey, QFileInfo(path).absolutePath());
    return saveRecipeTo(path);
}

bool RecipeFeature::maybeDiscardChanges()
{
    if (!m_doc->isModified() || !m_window->errorDialogsEnabled())
        return true;
    const auto answer = QMessageBox::question(
        m_window, tr("Unsaved compression settings"),
        tr("The compression settings have unsaved changes. Save them as a recipe?"),
        QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, QMessageBox::Save);
    if (answer == QMessageBox::Save)
        return saveRecipe();
    return answer == QMessageBox::Discard;
}

} // namespace bonsai::ui
