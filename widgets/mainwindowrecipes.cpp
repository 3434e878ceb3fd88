// MainWindow: recipes — open, save, save as, apply from the command line; error reports.
#include "mainwindow.h"

#include "compressiondocument.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QMessageBox>
#include <QSettings>
#include <QStatusBar>

namespace bonsai::ui {

static const auto RecipeDirKey = QStringLiteral("lastRecipeDirectory");

void MainWindow::reportError(const QString& title, const QString& message)
{
    m_lastError = message;
    statusBar()->showMessage(message, 10000);
    if (!m_errorDialogs)
        return;
    auto* box = new QMessageBox(QMessageBox::Warning, title, title, QMessageBox::Ok, this);
    box->setObjectName(QStringLiteral("recipeErrorBox"));
    box->setInformativeText(message);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
}

bool MainWindow::applyRecipeFile(const QString& path)
{
    if (!m_model) {
        reportError(tr("Could not open recipe"), tr("%1: no model is open").arg(path));
        emit recipeFailed(m_lastError);
        return false;
    }
    if (!m_doc->loadRecipe(path)) {
        reportError(tr("Could not open recipe %1").arg(QFileInfo(path).fileName()), m_doc->lastError());
        emit recipeFailed(m_doc->lastError());
        return false;
    }
    const QStringList warnings = m_doc->lastWarnings();
    if (!warnings.isEmpty()) {
        statusBar()->showMessage(tr("%1: %2").arg(QFileInfo(path).fileName(), warnings.join(QStringLiteral("; "))), 15000);
        if (m_errorDialogs)
            QMessageBox::information(this, tr("Recipe warnings"),
                                     tr("%1:\n%2").arg(QFileInfo(path).fileName(), warnings.join(QLatin1Char('\n'))));
    } else {
        statusBar()->showMessage(tr("Applied recipe %1").arg(path), 5000);
    }
    return true;
}

void MainWindow::openRecipeDialog()
{
    QSettings s;
    const QString path = QFileDialog::getOpenFileName(this, tr("Open Recipe"), s.value(RecipeDirKey).toString(),
                                                      tr("Recipes (*.json);;All files (*)"));
    if (path.isEmpty())
        return;
    s.setValue(RecipeDirKey, QFileInfo(path).absolutePath());
    applyRecipeFile(path);
}

bool MainWindow::saveRecipeTo(const QString& path)
{
    if (!m_doc->saveRecipe(path)) {
        reportError(tr("Could not save recipe"), m_doc->lastError());
        return false;
    }
    statusBar()->showMessage(tr("Saved recipe %1").arg(path), 5000);
    return true;
}

bool MainWindow::saveRecipe()
{
    return m_doc->recipePath().isEmpty() ? saveRecipeAs() : saveRecipeTo(m_doc->recipePath());
}

bool MainWindow::saveRecipeAs()
{
    QSettings s;
    const QString dir = s.value(RecipeDirKey).toString();
    const QString suggested = m_doc->recipePath().isEmpty()
                                  ? QDir(dir).filePath(QFileInfo(m_modelFile).completeBaseName() + QStringLiteral(".recipe.json"))
                                  : m_doc->recipePath();
    const QString path = QFileDialog::getSaveFileName(this, tr("Save Recipe"), suggested, tr("Recipes (*.json)"));
    if (path.isEmpty())
        return false;
    s.setValue(RecipeDirKey, QFileInfo(path).absolutePath());
    return saveRecipeTo(path);
}

} // namespace bonsai::ui
