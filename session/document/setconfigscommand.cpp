#include "setconfigscommand.h"

#include "compressiondocument.h"

namespace bonsai::ui {

SetConfigsCommand::SetConfigsCommand(CompressionDocument* doc, QList<int> layers,
                                     std::vector<bonsai::LayerConfig> before,
                                     std::vector<bonsai::LayerConfig> after, const QString& text,
                                     int mergeKey, quint64 session)
    : QUndoCommand(text), m_doc(doc), m_layers(std::move(layers)), m_before(std::move(before)),
      m_after(std::move(after)), m_mergeKey(mergeKey), m_session(session)
{
}

void SetConfigsCommand::undo() { m_doc->assign(m_layers, m_before); }

void SetConfigsCommand::redo() { m_doc->assign(m_layers, m_after); }

bool SetConfigsCommand::mergeWith(const QUndoCommand* other)
{
    const auto* o = static_cast<const SetConfigsCommand*>(other); // same id(): same class
    if (o->m_doc != m_doc || o->m_layers != m_layers || o->m_session != m_session)
        return false;
    m_after = o->m_after;
    setText(o->text()); // "Rank 128", not the "Rank 1" typed on the way
    setObsolete(m_after == m_before); // dragged back to where it started
    return true;
}

} // namespace bonsai::ui
