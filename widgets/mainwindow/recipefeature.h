#pragma once
// Recipes as a feature of the main window: File > Open Recipe, Save Recipe, Save Recipe As
// (enabled once a model is open), applying a recipe file from the command line, and the
// question whether to save unsaved settings before they are lost. Errors go through the
// window's reportError() (they name the file and key, as the core says them).
#include <QObject>

class QMenu;

namespace bonsai::ui {

class CompressionDocument;
class MainWindow;

class RecipeFeature : public QObject {
    Q_OBJECT
public:
    RecipeFeature(MainWindow* window, CompressionDocument* doc);

    void addActions(QMenu* file);
    // Applies a recipe file to the open model (an undoable step). On error shows the core's
    // message, changes nothing and returns false.
    bool applyRecipeFile(const QString& path);
    bool saveRecipeTo(const QString& path);
    bool saveRecipe();   // to the recipe's path, or Save As
    bool saveRecipeAs(); // asks for a file
    bool maybeDiscardChanges(); // false: the user cancelled

signals:
    void recipeFailed(const QString& message);

private:
    void openRecipeDialog();

    MainWindow* m_window;
    CompressionDocument* m_doc;
};

} // namespace bonsai::ui
