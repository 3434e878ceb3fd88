#pragma once
// The main window's panel layout: the View menu (show and hide each dock and the model
// overview, Lock Panels, Reset Layout), the default arrangement for the window's size, and remembering it.
// Contract: construct it after every dock of the window exists. restore() replaces the
// geometry/state restore of a first run by a window that fills the available screen area;
// until a saved state was restored, the default arrangement is applied when the window is
// first shown, for the size it is shown at. Windows lower than CompactHeight (880 px: a 1366x768 screen, not 1400x900) put the bottom
// docks (evaluation, perplexity, recovery) as tabs behind the compression dock, so the layer
// details keep the height their charts need; taller ones keep them below the central area.
#include <QObject>
#include <QPointer>

class QAction;
class QDockWidget;
class QMainWindow;
class QMenu;
class QSplitter;

namespace bonsai::ui {

// The height a bottom dock (evaluation, perplexity) opens at below the central area: all its
// panel needs without scrolling (at least 300 px), but at most 42% of the window, so the
// layer details keep their charts.
int bottomDockHeight(const QMainWindow* window, const QDockWidget* dock);

class WindowLayout : public QObject {
    Q_OBJECT
public:
    static constexpr int CompactHeight = 880;    // below: bottom docks become tabs on the right
    static constexpr int DetailsMinWidth = 600;  // the layer details' share of the central area
    static constexpr int LeftMinWidth = 440;     // the layer table's Layer to Compressed columns
    static constexpr int DockWidth = 300;        // the compression dock's default width

    // `main` splits the left column from the layer details, `left` the table from `overview`.
    WindowLayout(QMainWindow* window, QSplitter* main, QSplitter* left, QWidget* overview);

    QMenu* viewMenu() const { return m_menu; }
    // First run (no saved geometry): fills the available screen area. Restores which panels
    // were hidden. Call after the window restored its own geometry and state.
    void restore();
    void save() const;
    // The default arrangement for the window's current size; also the "Reset Layout" action.
    void resetLayout();
    bool isCompact() const;
    // View > Lock Panels (on by default, remembered): docks can be closed but not dragged,
    // floated or split off; unlocked, they move as Qt docks do.
    void lockPanels(bool locked);
    bool panelsLocked() const;

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    QDockWidget* dock(const char* objectName) const;
    void placeBottomDocks(bool compact);
    void splitCentral();
    void adoptBottomDock(QDockWidget* d);
    void orientPanel(QDockWidget* d) const; // charts below the settings in a side dock
    bool isTabbedRight(QDockWidget* d) const;

    QMainWindow* m_window;
    QSplitter* m_main;
    QSplitter* m_left;
    QWidget* m_overview;
    QMenu* m_menu;
    QAction* m_overviewAction;
    QAction* m_lockAction;
    QPointer<QDockWidget> m_userShown; // shown through its View menu action just now
    bool m_arranged = false; // a default was applied or a saved state restored
    bool m_splitPending = false; // the central split waits for the splitter's real width
};

} // namespace bonsai::ui
