#pragma once
// The compression document: one LayerConfig per layer of the open model. Every change goes
// through a QUndoCommand on its undo stack (slider drags merge into one step); typed change
// signals tell models, charts and jobs which layers changed. Loads and saves recipes.
// Qt Core/Gui only: no widgets.
#include "bonsai/layer_config.h"

#include <QList>
#include <QObject>
#include <QStringList>

#include <functional>
#include <memory>
#include <vector>

class QUndoStack;

namespace bonsai {
class Model;
class Recipe;
}

namespace bonsai::ui {

class CompressionDocument : public QObject {
    Q_OBJECT
public:
    // Merge keys: consecutive edits with the same key and layers in one drag merge.
    enum MergeKey { NoMerge = -1, MergeSparsity = 1, MergeRank, MergeEnergy, MergeGroupSize };

    explicit CompressionDocument(QObject* parent = nullptr);

    // A new model: every layer back to "no compression", empty undo stack, clean.
    void setModel(std::shared_ptr<const bonsai::Model> model);
    const std::shared_ptr<const bonsai::Model>& model() const { return m_model; }
    int layerCount() const { return static_cast<int>(m_configs.size()); }
    const bonsai::LayerConfig& config(int layer) const;
    const std::vector<bonsai::LayerConfig>& configs() const { return m_configs; }
    QString layerName(int layer) const;
    QUndoStack* undoStack() const { return m_undo; }
    bool isModified() const;

    // Pushes one undo command giving each layer in `layers` its config changed by `edit`.
    // Returns false when nothing changed (no command is pushed).
    bool edit(const QList<int>& layers, const std::function<void(bonsai::LayerConfig&)>& edit,
              const QString& text, int mergeKey = NoMerge);
    bool setConfigs(const QList<int>& layers, const std::vector<bonsai::LayerConfig>& configs,
                    const QString& text, int mergeKey = NoMerge);
    // Ends the current drag: the next mergeable edit starts a new undo step.
    void endDrag() { ++m_dragSession; }
    quint64 dragSession() const { return m_dragSession; }
    // Layers whose name matches an ECMAScript regex (searched, not anchored).
    QList<int> layersMatching(const QString& pattern, QString* error = nullptr) const;

    // Recipes. On failure nothing changes and lastError() names the file and key.
    bool applyRecipe(const bonsai::Recipe& recipe, const QString& text);
    bool loadRecipe(const QString& path);
    bool saveRecipe(const QString& path); // at once, without provenance
    // What saveRecipe writes (without provenance), and the state it was taken in: markSaved()
    // after writing it elsewhere (a background save) marks the document clean if nothing
    // changed since, and takes `path` as the recipe's.
    bonsai::Recipe toRecipe() const;
    int saveState() const;
    void markSaved(const QString& path, int state);
    QString recipePath() const { return m_recipePath; }
    QString lastError() const { return m_error; }
    QStringList lastWarnings() const { return m_warnings; } // of the last loaded recipe

signals:
    void configChanged(const QList<int>& layers);
    void modelReset();
    void modifiedChanged(bool modified);
    void recipePathChanged(const QString& path);

private:
    friend class SetConfigsCommand;
    void assign(const QList<int>& layers, const std::vector<bonsai::LayerConfig>& configs);
    bonsai::LayerConfig mostCommonConfig() const;

    std::shared_ptr<const bonsai::Model> m_model;
    std::vector<bonsai::LayerConfig> m_configs;
    QUndoStack* m_undo;
    quint64 m_dragSession = 0;
    QString m_recipePath;
    QString m_error;
    QStringList m_warnings;
};

} // namespace bonsai::ui
