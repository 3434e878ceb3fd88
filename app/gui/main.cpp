// bonsai: the desktop workbench. Parses the command line and shows the main window.
#include "evalscreenshot.h"
#include "focusstyle.h"
#include "mainwindow.h"
#include "perplexityscreenshot.h"
#include "screenshotdriver.h"
#include "searchscreenshot.h"
#include "speedscreenshot.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QSize>
#include <QTextStream>

#include <csignal>
#include <malloc.h>

int main(int argc, char** argv)
{
    // A file size limit (ulimit -f) makes write() fail with EFBIG, reported with the file's name
    // and its temporary removed, instead of killing the process mid-write.
    std::signal(SIGXFSZ, SIG_IGN);
    // Layers are compressed into large temporary buffers again and again: keep freed blocks
    // for reuse instead of returning (and re-faulting) them each time.
    mallopt(M_MMAP_MAX, 0); // all from the heap, so freed blocks are reused
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("Bonsai"));
    QApplication::setApplicationName(QStringLiteral("Bonsai"));
    QApplication::setApplicationVersion(QStringLiteral(BONSAI_VERSION));
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/bonsai.svg")));
    bonsai::ui::installFocusStyle();

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Neural-network compression workbench."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption screenshot(
        QStringLiteral("screenshot"),
        QStringLiteral("Open MODEL, show the largest layer's statistics, save the window to PATH "
                       "as PNG and exit."),
        QStringLiteral("PATH"));
    parser.addOption(screenshot);
    const QCommandLineOption recipe(
        QStringLiteral("recipe"),
        QStringLiteral("Apply the compression recipe R.json once MODEL has loaded."),
        QStringLiteral("R.json"));
    parser.addOption(recipe);
    const QCommandLineOption evaluate(
        QStringLiteral("evaluate"),
        QStringLiteral("With --screenshot: evaluate MODEL (and the recipe) on the default data "
                       "set and save the window with the results."));
    parser.addOption(evaluate);
    const QCommandLineOption perplexity(
        QStringLiteral("perplexity"),
        QStringLiteral("With --screenshot: measure the language model's perplexity (and the "
                       "recipe's) on the default text, a few chunks, and save the window with "
                       "the perplexity dock."));
    parser.addOption(perplexity);
    const QCommandLineOption search(
        QStringLiteral("search"),
        QStringLiteral("With --screenshot: measure MODEL's sensitivity map (a few samples of the "
                       "default data set or text), solve the default budget and save the window "
                       "with the budget search dock."));
    parser.addOption(search);
    const QCommandLineOption speed(
        QStringLiteral("speed"),
        QStringLiteral("With --screenshot: measure MODEL's speed on this machine, uncompressed and as "
                       "configured (short settings), and save the window with the speed dock and the "
                       "layer table's measured latencies."));
    parser.addOption(speed);
    const QCommandLineOption size(
        QStringLiteral("size"),
        QStringLiteral("With --screenshot: the window's size in pixels, e.g. 1366x768 (default "
                       "1400x900)."),
        QStringLiteral("WxH"));
    parser.addOption(size);
    parser.addPositionalArgument(QStringLiteral("model"),
                                 QStringLiteral("Model file (.safetensors, .onnx, .gguf, "
                                                "index.json) or checkpoint folder."),
                                 QStringLiteral("[MODEL]"));
    parser.process(app);
    const QString model = parser.positionalArguments().value(0);

    QSize shotSize(1400, 900);
    if (parser.isSet(size)) {
        const QStringList wh = parser.value(size).split(QLatin1Char('x'));
        bool okW = false, okH = false;
        if (wh.size() == 2)
            shotSize = QSize(wh[0].toInt(&okW), wh[1].toInt(&okH));
        if (!okW || !okH || shotSize.width() < 320 || shotSize.height() < 240 || shotSize.width() > 16384 ||
            shotSize.height() > 16384) {
            QTextStream(stderr) << "bonsai: --size wants WIDTHxHEIGHT in pixels (320x240 to 16384x16384), not \""
                                << parser.value(size) << "\"\n";
            return 2;
        }
    }
    bonsai::ui::MainWindow window;
    if (parser.isSet(screenshot)) {
        bonsai::ui::ScreenshotDriver driver(&window, parser.value(screenshot), model);
        driver.setRecipe(parser.value(recipe));
        bonsai::ui::EvalScreenshot evalShot(&window, &driver, parser.value(screenshot));
        bonsai::ui::PerplexityScreenshot pplShot(&window, &driver, parser.value(screenshot));
        bonsai::ui::SearchScreenshot searchShot(&window, &driver, parser.value(screenshot));
        bonsai::ui::SpeedScreenshot speedShot(&window, &driver, parser.value(screenshot));
        auto finish = [](int code, const QString& error) {
            if (code != 0)
                QTextStream(stderr) << "bonsai: " << error << '\n';
            QCoreApplication::exit(code);
        };
        if (parser.isSet(speed))
            QObject::connect(&speedShot, &bonsai::ui::SpeedScreenshot::finished, &app,
                             [&](int code) { finish(code, speedShot.errorString()); });
        else if (parser.isSet(search))
            QObject::connect(&searchShot, &bonsai::ui::SearchScreenshot::finished, &app,
                             [&](int code) { finish(code, searchShot.errorString()); });
        else if (parser.isSet(perplexity))
            QObject::connect(&pplShot, &bonsai::ui::PerplexityScreenshot::finished, &app,
                             [&](int code) { finish(code, pplShot.errorString()); });
        else if (parser.isSet(evaluate))
            QObject::connect(&evalShot, &bonsai::ui::EvalScreenshot::finished, &app,
                             [&](int code) { finish(code, evalShot.errorString()); });
        else
            QObject::connect(&driver, &bonsai::ui::ScreenshotDriver::finished, &app,
                             [&](int code) { finish(code, driver.errorString()); });
        driver.start(shotSize);
        if (parser.isSet(speed))
            speedShot.start();
        else if (parser.isSet(search))
            searchShot.start();
        else if (parser.isSet(perplexity))
            pplShot.start();
        else if (parser.isSet(evaluate))
            evalShot.start();
        return app.exec();
    }
    window.restoreSettings();
    window.show();
    if (parser.isSet(recipe)) {
        const QString recipePath = parser.value(recipe);
        auto* once = new QObject(&window);
        QObject::connect(&window, &bonsai::ui::MainWindow::modelOpened, once, [&window, recipePath, once] {
            window.applyRecipeFile(recipePath); // errors are shown in a dialog
            once->deleteLater();
        });
    }
    window.openPath(model);
    return app.exec();
}
