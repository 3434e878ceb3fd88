#include "recipefeature.h"

#include "compressiondocument.h"
#include "evalengine.h"
#include "evalpanel.h"
#include "jobrunner.h"
#include "mainwindow.h"
#include "panelutil.h"
#include "perplexitypanel.h"
#include "recipesaver.h"

#include "bonsai/model.h"

#include <QDir>
#include <QEventLoop>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenu>
#include <QMessageBox>
#include <QSettings>
#include <QStatusBar>

namespace bonsai::ui {

static const auto RecipeDirKey = QStringLiteral("lastRecipeDirectory");

RecipeFeature::RecipeFeature(MainWindow* window, CompressionDocument* doc)
    : QObject(window), m_window(window), m_doc(doc), m_saver(new RecipeSaver(this))
{
    JobHandlers handlers;
    handlers.progress = [this](double f, double) {
        m_window->statusBar()->showMessage(tr("Saving the recipe: SHA-256 of the model's files… %1").arg(percentText(f)));
    };
    handlers.failed = [this](const QString& message) {
        m_window->reportError(tr("Could not save recipe"), message);
        emit recipeFailed(message);
    };
    handlers.cancelled = [this] {
        m_window->statusBar()->showMessage(tr("Recipe not saved (cancelled)"), 5000);
        emit recipeFailed(tr("cancelled"));
    };
    connectCurrentJob(m_saver->runner(), this, m_saveJob, std::move(handlers));
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

std::vector<bonsai::ProvenanceCalibration> RecipeFeature::calibrationData() const
{
    int64_t samples = 0;
    const std::string use = bonsai::calibrationUse(m_doc->configs(), &samples);
    if (use.empty() || !m_doc->model())
        return {};
    QString path;
    if (m_doc->model()->format == bonsai::Format::Onnx) {
        path = m_window->evalPanel()->settings().dataset;
    } else {
        path = m_window->perplexityPanel()->calibrationFile();
        if (path.isEmpty())
            path = m_window->perplexityPanel()->textFile().trimmed();
    }
    if (path.isEmpty())
        return {};
    return {{path.toStdString(), use, 0, {}, samples, 0}};
}

bool RecipeFeature::saveRecipeTo(const QString& path)
{
    if (!m_doc->model()) {
        m_window->reportError(tr("Could not save recipe"), tr("No model is open."));
        return false;
    }
    const int state = m_doc->saveState();
    m_window->statusBar()->showMessage(tr("Saving the recipe: SHA-256 of the model's files…"));
    m_saveJob = 0; // a save this one supersedes reports nothing
    m_saveJob = m_saver->start(m_doc->model(), m_doc->toRecipe(), calibrationData(), path,
                               [this, path, state](const bonsai::Provenance& p) {
                                   m_doc->markSaved(path, state);
                                   m_window->statusBar()->showMessage(
                                       tr("Saved recipe %1 (provenance: %n file(s) with SHA-256)", "",
                                          int(p.files.size() + p.calibration.size()))
                                           .arg(path),
                                       5000);
                                   emit recipeSaved(path);
                               });
    return true;
}

bool RecipeFeature::isSaving() const { return m_saver->isBusy(); }

bool RecipeFeature::saveAndWait()
{
    bool ended = false, ok = false;
    QEventLoop loop;
    const auto saved = connect(this, &RecipeFeature::recipeSaved, &loop, [&] {
        ended = ok = true;
        loop.quit();
    });
    const auto failed = connect(this, &RecipeFeature::recipeFailed, &loop, [&] {
        ended = true;
        loop.quit();
    });
    if (saveRecipe() && !ended)
        loop.exec(QEventLoop::ExcludeUserInputEvents);
    disconnect(saved);
    disconnect(failed);
    return ok;
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
        return saveAndWait();
    return answer == QMessageBox::Discard;
}

} // namespace bonsai::ui
