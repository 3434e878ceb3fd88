#pragma once
// Recipes as a feature of the main window: File > Open Recipe, Save Recipe, Save Recipe As
// (enabled once a model is open), applying a recipe file from the command line, and the
// question whether to save unsaved settings before they are lost. Errors go through the
// window's reportError() (they name the file and key, as the core says them). A recipe is
// saved with its provenance (the model's files and, for GPTQ/AWQ layers, the calibration data
// chosen in the window, with their SHA-256), hashed and written in the background.
#include "bonsai/provenance.h"

#include <QObject>

#include <vector>

class QMenu;

namespace bonsai::ui {

class CompressionDocument;
class MainWindow;
class RecipeSaver;

class RecipeFeature : public QObject {
    Q_OBJECT
public:
    RecipeFeature(MainWindow* window, CompressionDocument* doc);

    void addActions(QMenu* file);
    // Applies a recipe file to the open model (an undoable step). On error shows the core's
    // message, changes nothing and returns false.
    bool applyRecipeFile(const QString& path);
    // Starts the save (false: no model); recipeSaved() or recipeFailed() tells how it ended.
    bool saveRecipeTo(const QString& path);
    bool saveRecipe();   // to the recipe's path, or Save As
    bool saveRecipeAs(); // asks for a file
    bool isSaving() const;
    bool maybeDiscardChanges(); // false: the user cancelled (or the save failed)

signals:
    void recipeFailed(const QString& message);
    void recipeSaved(const QString& path);

private:
    void openRecipeDialog();
    bool saveAndWait(); // Save in the question before discarding: the window stays live meanwhile
    // The data GPTQ/AWQ layers calibrate on: the Evaluation dock's data set (classifiers) or
    // the Perplexity dock's calibration text, else its text (language models); empty: none.
    std::vector<bonsai::ProvenanceCalibration> calibrationData() const;

    MainWindow* m_window;
    CompressionDocument* m_doc;
    RecipeSaver* m_saver;
    quint64 m_saveJob = 0;
};

} // namespace bonsai::ui
