#include "helppane.h"

#include <QEvent>

namespace bonsai::ui {

HelpPane::HelpPane(QWidget* parent) : QTextBrowser(parent)
{
    setObjectName(QStringLiteral("helpPane"));
    setOpenExternalLinks(true);
    setFrameShape(QFrame::StyledPanel);
    setMinimumHeight(70);
}

void HelpPane::setDefault(const QString& html) { setHtml(html); }

void HelpPane::attach(QWidget* control, const QString& html)
{
    m_help.insert(control, html);
    control->setToolTip(QStringLiteral("<p>%1</p>").arg(html)); // rich text wraps
    control->installEventFilter(this);
    connect(control, &QObject::destroyed, this, [this, control] { m_help.remove(control); });
}

bool HelpPane::eventFilter(QObject* watched, QEvent* event)
{
    if (event->type() == QEvent::Enter || event->type() == QEvent::FocusIn) {
        auto it = m_help.constFind(watched);
        if (it != m_help.cend())
            setHtml(*it);
    }
    return QTextBrowser::eventFilter(watched, event);
}

} // namespace bonsai::ui
