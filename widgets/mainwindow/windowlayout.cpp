#include "windowlayout.h"

#include <QAction>
#include <QBoxLayout>
#include <QDockWidget>
#include <QEvent>
#include <QLabel>
#include <QLayout>
#include <QMainWindow>
#include <QMenu>
#include <QMenuBar>
#include <QScreen>
#include <QScrollArea>
#include <QScrollBar>
#include <QSettings>
#include <QSplitter>
#include <QTimer>

#include <algorithm>

namespace bonsai::ui {

namespace {

const auto GeometryKey = QStringLiteral("window/geometry");
const auto StateKey = QStringLiteral("window/state");
const auto OverviewHiddenKey = QStringLiteral("window/overviewHidden");
const auto PanelsUnlockedKey = QStringLiteral("window/panelsUnlocked");

// The docks below the central area on tall windows, in tab order.
const char* const BottomDocks[] = {"evalDock", "recoverDock", "perplexityDock", "speedDock"};
const char* const InspectorDock = "inspectorDock";

// Scrolls a panel only when the dock is smaller than the panel's minimum size. (A resizable
// QScrollArea sizes a panel with word-wrapped labels by its height-for-width, which for these
// panels is more than twice what they need: the charts were cut off below a scroll bar.)
class PanelScrollArea : public QScrollArea {
public:
    using QScrollArea::QScrollArea;

protected:
    void resizeEvent(QResizeEvent* event) override
    {
        QScrollArea::resizeEvent(event);
        fit();
    }
    bool eventFilter(QObject* watched, QEvent* event) override
    {
        if (watched == widget() && event->type() == QEvent::LayoutRequest)
            fit();
        return QScrollArea::eventFilter(watched, event);
    }

private:
    void fit()
    {
        QWidget* w = widget();
        if (!w)
            return;
        const QSize min = w->minimumSizeHint().expandedTo(w->minimumSize());
        const int width = std::max(viewport()->width(), min.width());
        if (w->width() != width) {
            w->resize(width, w->height());
            if (QLayout* layout = w->layout())
                layout->activate();
        }
        // The minimum size hint counts a word-wrapped label (a long error) at the height of
        // its widest layout: the panel adds what its lines need beyond that at the width the
        // label got, and scrolls. (The panel's height-for-width is no measure: it is the
        // preferred height of the charts beside the text too.) A function of the width
        // alone, so the resizes it causes settle.
        int wrapped = 0;
        for (const QLabel* label : w->findChildren<QLabel*>())
            if (label->isVisibleTo(w) && label->wordWrap() && !label->text().isEmpty())
                wrapped += std::max(0, label->heightForWidth(label->width()) - label->minimumSizeHint().height());
        const QSize size(width, std::max(viewport()->height(), min.height() + wrapped));
        if (w->size() != size)
            w->resize(size);
    }
};

} // namespace

int bottomDockHeight(const QMainWindow* window, const QDockWidget* dock)
{
    const QWidget* content = dock->widget();
    if (const auto* area = qobject_cast<const QScrollArea*>(content); area && area->widget())
        content = area->widget();
    const int want = content ? content->minimumSizeHint().height() + 8 : 0;
    return std::max(300, std::min(want, window->height() * 42 / 100));
}

WindowLayout::WindowLayout(QMainWindow* window, QSplitter* main, QSplitter* left, QWidget* overview)
    : QObject(window), m_window(window), m_main(main), m_left(left), m_overview(overview),
      m_menu(new QMenu(tr("&View"), window))
{
    m_menu->setObjectName(QStringLiteral("viewMenu"));
    for (const char* name : {InspectorDock, "evalDock", "perplexityDock", "recoverDock", "searchDock", "speedDock"})
        if (QDockWidget* d = dock(name))
            m_menu->addAction(d->toggleViewAction());
    m_overviewAction = m_menu->addAction(tr("Model &Overview"));
    m_overviewAction->setCheckable(true);
    m_overviewAction->setChecked(true);
    m_overviewAction->setStatusTip(tr("Show the model's format, size and metadata and the charts of its bytes"));
    connect(m_overviewAction, &QAction::toggled, m_overview, &QWidget::setVisible);
    m_menu->addSeparator();
    m_lockAction = m_menu->addAction(tr("&Lock Panels"));
    m_lockAction->setCheckable(true);
    m_lockAction->setChecked(true);
    m_lockAction->setStatusTip(tr("Keep the panels where they are: unlock to drag them elsewhere or float them"));
    connect(m_lockAction, &QAction::toggled, this, &WindowLayout::lockPanels);
    QAction* reset = m_menu->addAction(tr("&Reset Layout"), this, &WindowLayout::resetLayout);
    reset->setStatusTip(tr("Put every panel back where it starts, sized for this window"));
    // Before Help, the last menu.
    const auto top = m_window->menuBar()->actions();
    m_window->menuBar()->insertMenu(top.isEmpty() ? nullptr : top.last(), m_menu);
    m_window->setTabPosition(Qt::RightDockWidgetArea, QTabWidget::North);
    // The layer details keep their width when the window or the docks change size.
    m_main->setStretchFactor(0, 1);
    m_main->setStretchFactor(1, 0);
    m_window->installEventFilter(this);
    m_main->installEventFilter(this);
    for (const char* name : BottomDocks)
        if (QDockWidget* d = dock(name))
            adoptBottomDock(d);
    lockPanels(true);
    if (QDockWidget* inspector = dock(InspectorDock))
        connect(inspector, &QDockWidget::visibilityChanged, this, [this, inspector](bool visible) {
            if (visible && isTabbedRight(inspector))
                m_window->resizeDocks({inspector}, {DockWidth}, Qt::Horizontal);
        });
}

void WindowLayout::lockPanels(bool locked)
{
    // Locked, a dock keeps its close button but its title bar no longer starts a drag (a
    // slight one used to float a panel or split the dock area).
    const QDockWidget::DockWidgetFeatures features =
        locked ? QDockWidget::DockWidgetClosable
               : QDockWidget::DockWidgetClosable | QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable;
    for (QDockWidget* d : m_window->findChildren<QDockWidget*>(Qt::FindDirectChildrenOnly))
        d->setFeatures(features);
    if (m_lockAction->isChecked() != locked)
        m_lockAction->setChecked(locked);
}

bool WindowLayout::panelsLocked() const { return m_lockAction->isChecked(); }

bool WindowLayout::isTabbedRight(QDockWidget* d) const
{
    return !d->isFloating() && m_window->dockWidgetArea(d) == Qt::RightDockWidgetArea &&
           !m_window->tabifiedDockWidgets(d).isEmpty();
}

void WindowLayout::adoptBottomDock(QDockWidget* d)
{
    // Scrolls instead of forcing its minimum width on a tab group it shares with a narrower dock.
    if (d->widget() && !qobject_cast<QScrollArea*>(d->widget())) {
        QWidget* panel = d->widget();
        auto* area = new PanelScrollArea(d);
        area->setObjectName(d->objectName() + QStringLiteral("Scroll"));
        area->setFrameShape(QFrame::NoFrame);
        area->setWidget(panel);
        panel->installEventFilter(area);
        d->setWidget(area);
    }
    d->installEventFilter(this);
    connect(d, &QDockWidget::dockLocationChanged, this, [this, d] { orientPanel(d); });
    connect(d, &QDockWidget::topLevelChanged, this, [this, d] { orientPanel(d); });
    // As a tab beside the compression dock: as wide as the panel wants while it is in front.
    connect(d, &QDockWidget::visibilityChanged, this, [this, d](bool visible) {
        auto* area = qobject_cast<QScrollArea*>(d->widget());
        if (!visible || !area || !area->widget() || !isTabbedRight(d))
            return;
        orientPanel(d);
        const int want = area->widget()->minimumSizeHint().width() + area->verticalScrollBar()->sizeHint().width();
        // No wider than leaves the layer table and details their minimum (a laptop screen:
        // the panel then scrolls sideways rather than squeezing the charts).
        const int room = m_window->width() - LeftMinWidth - DetailsMinWidth - 4;
        m_window->resizeDocks({d}, {std::max(DockWidth, std::min(want, room))}, Qt::Horizontal);
    });
    connect(d->toggleViewAction(), &QAction::triggered, this, [this, d] { m_userShown = d; });
}

void WindowLayout::orientPanel(QDockWidget* d) const
{
    // A job panel is its settings beside its charts (one QBoxLayout). In a side dock (tall and
    // narrow, as the compression dock's tab on a laptop screen) the charts go below the
    // settings, so the dock needs the width of one of them, not of both.
    QWidget* panel = d->widget();
    if (auto* area = qobject_cast<QScrollArea*>(panel))
        panel = area->widget();
    auto* box = panel ? qobject_cast<QBoxLayout*>(panel->layout()) : nullptr;
    if (!box)
        return;
    const Qt::DockWidgetArea where = m_window->dockWidgetArea(d);
    const bool side = !d->isFloating() && (where == Qt::LeftDockWidgetArea || where == Qt::RightDockWidgetArea);
    box->setDirection(side ? QBoxLayout::TopToBottom : QBoxLayout::LeftToRight);
}

QDockWidget* WindowLayout::dock(const char* objectName) const
{
    return m_window->findChild<QDockWidget*>(QLatin1String(objectName), Qt::FindDirectChildrenOnly);
}

bool WindowLayout::isCompact() const { return m_window->height() < CompactHeight; }

void WindowLayout::restore()
{
    QSettings s;
    if (!s.contains(GeometryKey)) {
        // First run: the whole available area of the screen the window opens on.
        if (QScreen* screen = m_window->screen()) {
            const QRect area = screen->availableGeometry();
            m_window->setGeometry(area);
            m_window->setWindowState(m_window->windowState() | Qt::WindowMaximized);
        }
    }
    const bool overview = !s.value(OverviewHiddenKey, false).toBool();
    m_overviewAction->setChecked(overview);
    m_overview->setVisible(overview);
    lockPanels(!s.value(PanelsUnlockedKey, false).toBool());
    m_arranged = s.contains(StateKey);
}

void WindowLayout::save() const
{
    QSettings s;
    s.setValue(OverviewHiddenKey, !m_overviewAction->isChecked());
    s.setValue(PanelsUnlockedKey, !m_lockAction->isChecked());
}

void WindowLayout::placeBottomDocks(bool compact)
{
    QDockWidget* inspector = dock(InspectorDock);
    QDockWidget* first = nullptr;
    for (const char* name : BottomDocks) {
        QDockWidget* d = dock(name);
        if (!d)
            continue;
        const bool hidden = d->isHidden();
        d->setFloating(false);
        if (compact && inspector) {
            m_window->tabifyDockWidget(inspector, d);
        } else if (!first) {
            m_window->addDockWidget(Qt::BottomDockWidgetArea, d);
            first = d;
        } else {
            m_window->tabifyDockWidget(first, d);
        }
        d->setHidden(hidden);
        orientPanel(d);
    }
    if (first)
        m_window->resizeDocks({first}, {bottomDockHeight(m_window, first)}, Qt::Vertical);
    if (inspector)
        inspector->raise();
}

void WindowLayout::resetLayout()
{
    m_arranged = true;
    const bool compact = isCompact();
    if (QDockWidget* inspector = dock(InspectorDock)) {
        inspector->setFloating(false);
        m_window->addDockWidget(Qt::RightDockWidgetArea, inspector);
        m_window->resizeDocks({inspector}, {DockWidth}, Qt::Horizontal);
    }
    placeBottomDocks(compact);
    m_overviewAction->setChecked(true);
    m_splitPending = true;
    splitCentral();
}

void WindowLayout::splitCentral()
{
    const int total = m_main->width() - m_main->handleWidth();
    if (!m_splitPending || !m_main->isVisible() || total <= 0)
        return;
    const int details = std::max(std::min(std::max(DetailsMinWidth, total * 2 / 5), total - LeftMinWidth), total / 2);
    m_main->setSizes({total - details, details});
    m_left->setSizes({m_left->height() / 2, m_left->height() - m_left->height() / 2});
    // Settled once the compression dock (shown with the first model) took its room.
    const QDockWidget* inspector = dock(InspectorDock);
    if (!inspector || inspector->isVisible())
        m_splitPending = false;
}

bool WindowLayout::eventFilter(QObject* watched, QEvent* event)
{
    auto* d = qobject_cast<QDockWidget*>(watched);
    if (d && event->type() == QEvent::ShowToParent && d->objectName() == QLatin1String(BottomDocks[0])) {
        // The evaluation dock shows itself once a data set is ready; as a tab it must not
        // cover the compression editor unless the user asked for it.
        QTimer::singleShot(0, this, [this, d] {
            QDockWidget* inspector = dock(InspectorDock);
            const bool asked = m_userShown == d;
            m_userShown = nullptr;
            if (!asked && inspector && isTabbedRight(d) && !inspector->isHidden())
                inspector->raise();
        });
    }
    if (watched == m_window && event->type() == QEvent::Show && !m_arranged)
        resetLayout();
    else if (watched == m_main && (event->type() == QEvent::Resize || event->type() == QEvent::Show))
        splitCentral();
    return QObject::eventFilter(watched, event);
}

} // namespace bonsai::ui
