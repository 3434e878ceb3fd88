// Keyboard focus is visible on every kind of control the window uses: tabbing to a control
// changes, in clear contrast, at least a frame side's worth of its pixels (FocusStyle,
// installed as the application's style by bonsai).
#include "focusstyle.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QLineEdit>
#include <QPushButton>
#include <QSlider>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>
#include <QtTest>

namespace {

// Pixels whose colour differs clearly (by 90 or more, summed over R, G and B) between two
// renderings of the same control.
int changedPixels(const QImage& a, const QImage& b)
{
    int n = 0;
    for (int y = 0; y < std::min(a.height(), b.height()); ++y)
        for (int x = 0; x < std::min(a.width(), b.width()); ++x) {
            const QColor p = QColor::fromRgb(a.pixel(x, y)), q = QColor::fromRgb(b.pixel(x, y));
            if (std::abs(p.red() - q.red()) + std::abs(p.green() - q.green()) + std::abs(p.blue() - q.blue()) >= 90)
                ++n;
        }
    return n;
}

QImage render(QWidget* w) { return w->grab().toImage().convertToFormat(QImage::Format_RGB32); }

} // namespace

class TestGuiFocus : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { bonsai::ui::installFocusStyle(); }

    void tabbingShowsWhereTheFocusIs()
    {
        QWidget window;
        auto* layout = new QVBoxLayout(&window);
        auto* first = new QLineEdit(&window); // where the focus starts
        auto* button = new QPushButton(QStringLiteral("Evaluate"), &window);
        auto* tool = new QToolButton(&window);
        tool->setText(QStringLiteral("Save…"));
        tool->setFocusPolicy(Qt::StrongFocus);
        auto* check = new QCheckBox(QStringLiteral("Auto-evaluate"), &window);
        auto* slider = new QSlider(Qt::Horizontal, &window);
        auto* combo = new QComboBox(&window);
        combo->addItems({QStringLiteral("int8"), QStringLiteral("int4")});
        auto* spin = new QSpinBox(&window);
        auto* edit = new QLineEdit(QStringLiteral("fashion_cnn.onnx"), &window);
        auto* table = new QTableView(&window);
        auto* model = new QStandardItemModel(3, 2, table);
        for (int r = 0; r < 3; ++r)
            for (int c = 0; c < 2; ++c)
                model->setItem(r, c, new QStandardItem(QStringLiteral("cell")));
        table->setModel(model);
        table->setCurrentIndex(model->index(0, 0));
        const QList<QWidget*> controls{button, tool, check, slider, combo, spin, edit, table};
        layout->addWidget(first);
        for (QWidget* w : controls)
            layout->addWidget(w);
        window.resize(360, 520);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        first->setFocus();
        QTRY_VERIFY(first->hasFocus());

        std::vector<QImage> unfocused;
        for (QWidget* w : controls)
            unfocused.push_back(render(w));
        for (int i = 0; i < int(controls.size()); ++i) {
            QWidget* w = controls[i];
            QTest::keyClick(QApplication::focusWidget(), Qt::Key_Tab);
            QTRY_VERIFY2(w->hasFocus(), w->metaObject()->className());
            // A visible frame: highlight along at least one full side of the control.
            const int gained = changedPixels(render(w), unfocused[size_t(i)]);
            const int side = std::min(w->width(), w->height());
            QVERIFY2(gained >= side,
                     qPrintable(QStringLiteral("%1: %2 pixels change with focus, want %3")
                                    .arg(QLatin1String(w->metaObject()->className()))
                                    .arg(gained)
                                    .arg(side)));
        }
    }
};

QTEST_MAIN(TestGuiFocus)
#include "tst_gui_focus.moc"
