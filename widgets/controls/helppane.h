#pragma once
// The inspector's help area: says in a sentence or two what the control under the mouse (or
// with focus) does and what it costs. attach() also gives the control the text as tooltip.
#include <QTextBrowser>

#include <QHash>

namespace bonsai::ui {

class HelpPane : public QTextBrowser {
    Q_OBJECT
public:
    explicit HelpPane(QWidget* parent = nullptr);
    void attach(QWidget* control, const QString& html);
    void setDefault(const QString& html); // shown until a control is hovered

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    QHash<QObject*, QString> m_help;
};

} // namespace bonsai::ui
