#pragma once
// The one undoable edit of a CompressionDocument: new configurations for some layers.
// Commands with the same merge key, layers and drag session merge (a slider drag is one step).
#include "bonsai/layer_config.h"

#include <QList>
#include <QUndoCommand>

#include <vector>

namespace bonsai::ui {

class CompressionDocument;

class SetConfigsCommand : public QUndoCommand {
public:
    SetConfigsCommand(CompressionDocument* doc, QList<int> layers,
                      std::vector<bonsai::LayerConfig> before, std::vector<bonsai::LayerConfig> after,
                      const QString& text, int mergeKey, quint64 session);
    void undo() override;
    void redo() override;
    int id() const override { return m_mergeKey; }
    bool mergeWith(const QUndoCommand* other) override;

private:
    CompressionDocument* m_doc;
    QList<int> m_layers;
    std::vector<bonsai::LayerConfig> m_before, m_after;
    int m_mergeKey;
    quint64 m_session;
};

} // namespace bonsai::ui
