// The budget search dock on the demo CNN with Fashion-MNIST (skipped when it is not installed):
// a small measurement fills the sensitivity map (under QAbstractItemModelTester), each cell's
// bytes are compressLayer's for that layer and candidate, moving the budget gives the
// document the solver's choice (checked against solveSearch on the same table), a pin is one
// undo step (undo restores the previous choice), a second run comes from the cache, Cancel
// stops a run, and without data the dock says what to do. The accuracy-drop bound gives the
// smallest configuration whose summed drop holds (against every combination), and the tied
// groups of a language model get one candidate each (undoable); a latency budget gives the
// least summed KL whose measured latencies fit (against every combination). On a 1366 × 768 screen the dock
// leaves the layer details' charts their labels whole.
#include "budgetsearch.h"
#include "channelrangeview.h"
#include "compressiondocument.h"
#include "evalpanel.h"
#include "formatting.h"
#include "gui_demo.h"
#include "histogramview.h"
#include "jobrunner.h"
#include "layerdetailsview.h"
#include "mainwindow.h"
#include "modelestimator.h"
#include "previewrunner.h"
#include "searchpanel.h"
#include "sensitivitymodel.h"
#include "sensitivityrunner.h"
#include "tradeoffmodel.h"

#include "bonsai/compress.h"
#include "bonsai/dataset.h"
#include "bonsai/model.h"
#include "bonsai/presets.h"
#include "bonsai/search.h"

#include "search_brute.h"

#include <QAbstractItemModelTester>
#include <QChart>
#include <QChartView>
#include <QDoubleSpinBox>
#include <QRegularExpression>
#include <QDockWidget>
#include <QFileInfo>
#include <QGraphicsTextItem>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableView>
#include <QTemporaryDir>
#include <QUndoStack>
#include <QtTest>

using bonsai::ui::MainWindow;
using bonsai::ui::SearchPanel;
using bonsai::ui::SensitivityModel;

static const bool forceOffscreen = [] {
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    return true;
}();

namespace {

// A few candidates of the default list, by name.
std::vector<bonsai::SearchCandidate> someCandidates(const std::vector<std::string>& names)
{
    std::vector<bonsai::SearchCandidate> out;
    for (const auto& c : bonsai::defaultCandidates())
        if (std::find(names.begin(), names.end(), c.name) != names.end())
            out.push_back(c);
    return out;
}

// The configuration a candidate gives a layer that starts uncompressed.
bonsai::LayerConfig configOf(const bonsai::SearchCandidate& c)
{
    bonsai::LayerConfig cfg;
    c.patch.applyTo(cfg);
    return cfg;
}

} // namespace

class TstGuiSearch : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
        QVERIFY(m_cache.isValid());
        qputenv("BONSAI_CACHE_DIR", m_cache.path().toUtf8());
    }

    void emptyStateSaysWhatToDo();
    void measureSolvePin();
    void maxDropIsTheSmallestThatHolds();
    void metricObjectiveIsTheLeastDropThatFits();
    void tiesGiveOneChoicePerGroup();
    void latencyBudgetHolds();
    void cancelStops();
    void laptopScreenKeepsChartsWhole();

private:
    static bool openDemo(MainWindow& w, const QString& data) { return guitest::openDemo(w, data); }
    // Measures `panel` on `samples` samples of `candidates` and waits for the map.
    static bool measureWith(SearchPanel* panel, const std::vector<bonsai::SearchCandidate>& candidates, int samples)
    {
        panel->setCandidates(candidates);
        panel->setSamples(samples);
        QSignalSpy measured(panel, &SearchPanel::measured);
        panel->measure();
        return QTest::qWaitFor([&] { return measured.size() == 1; }, 180000) && panel->isMapShown();
    }
    // The demo CNN's search dock measured on 64 samples of fp16, int8, int4 g32 and int2 g32
    // (nullptr when something failed).
    static SearchPanel* measuredDemo(MainWindow& w, const QString& data)
    {
        if (!openDemo(w, data))
            return nullptr;
        w.showSearchDock();
        SearchPanel* panel = w.searchPanel();
        return measureWith(panel, someCandidates({"fp16", "int8", "int4 g32", "int2 g32"}), 64) ? panel : nullptr;
    }
    static QString fashionMnist() { return guitest::fashionMnist(); }

    QTemporaryDir m_cache;
};

void TstGuiSearch::emptyStateSaysWhatToDo()
{
    MainWindow w;
    QVERIFY(openDemo(w, QString()));
    w.showSearchDock();
    SearchPanel* panel = w.searchPanel();
    QVERIFY(w.searchDock()->isVisible());
    QVERIFY(!panel->isMapShown());
    QVERIFY(!panel->canMeasure());
    QCOMPARE(panel->emptyText(), QStringLiteral("Choose a data set in the Evaluation dock, then press Measure."));
    panel->measure(); // refused, in words
    QVERIFY(!panel->isBusy());
    QCOMPARE(panel->message(), panel->emptyText());
}

void TstGuiSearch::measureSolvePin()
{
    const QString data = fashionMnist();
    if (data.isEmpty())
        QSKIP("Fashion-MNIST is not installed");
    MainWindow w;
    QVERIFY(openDemo(w, data));
    w.showSearchDock();
    SearchPanel* panel = w.searchPanel();
    bonsai::ui::CompressionDocument* doc = w.document();
    bonsai::ui::BudgetSearch* search = panel->search();
    SensitivityModel* model = panel->model();
    QAbstractItemModelTester tester(model, QAbstractItemModelTester::FailureReportingMode::QtTest);

    const auto candidates = someCandidates({"fp16", "int8", "int4 g32", "int2 g32"});
    QCOMPARE(candidates.size(), size_t(4));
    panel->setCandidates(candidates);
    panel->setSamples(64);
    QSignalSpy measured(panel, &SearchPanel::measured);
    panel->measure();
    QVERIFY(panel->isBusy());
    QTRY_COMPARE_WITH_TIMEOUT(measured.size(), 1, 180000);
    QVERIFY(!panel->isBusy());
    QVERIFY(panel->isMapShown());

    const bonsai::SensitivityTable* t = search->table();
    QVERIFY(t);
    const auto& m = *doc->model();
    QCOMPARE(model->rowCount(), int(t->layers.size()));
    QCOMPARE(model->rowCount(), 4); // the demo's two convolutions and two dense layers
    QCOMPARE(model->columnCount(), SensitivityModel::FirstCandidateColumn + 4);
    for (int r = 0; r < model->rowCount(); ++r) {
        QCOMPARE(model->index(r, SensitivityModel::LayerColumn).data().toString(),
                 QString::fromStdString(m.layers[size_t(t->layerIndex[size_t(r)])].name));
        for (int c = 0; c < 4; ++c) {
            const QModelIndex cell = model->index(r, SensitivityModel::FirstCandidateColumn + c);
            QCOMPARE(model->headerData(cell.column(), Qt::Horizontal).toString().replace(QLatin1Char('\n'), QLatin1Char(' ')),
                     QString::fromStdString(candidates[size_t(c)].name));
            QVERIFY(cell.data(SensitivityModel::ApplicableRole).toBool()); // every layer stores these
            QVERIFY(cell.data(SensitivityModel::MeasuredRole).toBool());
            // The bytes shown are the layer's storage with the candidate, as compressLayer gives them.
            const auto result = bonsai::compressLayer(m, t->layerIndex[size_t(r)], configOf(candidates[size_t(c)]));
            const qulonglong bytes = (result.compressedBits + 7) / 8;
            QCOMPARE(cell.data(SensitivityModel::BytesRole).toULongLong(), bytes);
            QCOMPARE(cell.data().toString(), bonsai::ui::formatBytes(bytes));
            const double kl = cell.data(SensitivityModel::KlRole).toDouble();
            QVERIFY(kl >= 0 && std::isfinite(kl));
            QCOMPARE(cell.data(SensitivityModel::SortRole).toDouble(), kl);
        }
        // Fewer bits, more harm: int2 costs more KL than int8 on every layer.
        QVERIFY(model->index(r, SensitivityModel::FirstCandidateColumn + 3).data(SensitivityModel::KlRole).toDouble() >
                model->index(r, SensitivityModel::FirstCandidateColumn + 1).data(SensitivityModel::KlRole).toDouble());
    }

    // The budget gives the document the solver's choice, layer by layer.
    bonsai::SearchSolution s;
    auto expectChoice = [&](const bonsai::SearchBudget& budget, const std::vector<int>& pins) {
        s = bonsai::solveSearch(*t, budget, pins);
        QVERIFY(s.feasible);
        for (size_t r = 0; r < t->layers.size(); ++r) {
            const int c = s.choices[r].candidate;
            QCOMPARE(doc->config(t->layerIndex[r]), configOf(candidates[size_t(c)]));
            QVERIFY(model->index(int(r), SensitivityModel::FirstCandidateColumn + c).data(SensitivityModel::ChosenRole).toBool());
            QCOMPARE(search->chosen(int(r)), c);
            QVERIFY(!model->index(int(r), SensitivityModel::ChoiceColumn).data(Qt::ToolTipRole).toString().isEmpty());
        }
    };
    panel->setBudgetKind(bonsai::BudgetKind::BitsPerWeight);
    panel->setBudgetValue(5.0);
    expectChoice({bonsai::BudgetKind::BitsPerWeight, 5.0}, {});
    if (QTest::currentTestFailed())
        return;
    const bonsai::SearchSolution at5 = s;
    QVERIFY(at5.bitsPerWeight <= 5.0 + 1e-9);
    const std::vector<bonsai::LayerConfig> configsAt5 = doc->configs();
    panel->setBudgetValue(12.0);
    expectChoice({bonsai::BudgetKind::BitsPerWeight, 12.0}, {});
    if (QTest::currentTestFailed())
        return;
    const bonsai::SearchSolution at12 = s;
    QVERIFY(at12.bitsPerWeight > at5.bitsPerWeight);
    QVERIFY(at12.predictedKl <= at5.predictedKl);
    QVERIFY(doc->configs() != configsAt5);
    QVERIFY(panel->solutionText().contains(QStringLiteral("bits/weight")));
    doc->undoStack()->undo(); // the budget step
    QCOMPARE(doc->configs(), configsAt5);
    doc->undoStack()->redo();

    // The predicted front reaches the trade-off chart.
    QTRY_VERIFY_WITH_TIMEOUT(!w.evalPanel()->tradeoffs()->predictedFront().empty(), 30000);

    // A pin: the layer takes the cell's candidate, the rest is solved around it; undo restores.
    const std::vector<bonsai::LayerConfig> before = doc->configs();
    const int row = 2; // fc1, most of the weights
    const int chosenBefore = search->chosen(row);
    const int pinTo = chosenBefore == 3 ? 0 : 3;
    panel->activateCell(model->index(row, SensitivityModel::FirstCandidateColumn + pinTo));
    QCOMPARE(search->pinned(row), pinTo);
    QVERIFY(model->index(row, SensitivityModel::FirstCandidateColumn + pinTo).data(SensitivityModel::PinnedRole).toBool());
    std::vector<int> pins(t->layers.size(), -1);
    pins[size_t(row)] = pinTo;
    expectChoice({bonsai::BudgetKind::BitsPerWeight, 12.0}, pins);
    if (QTest::currentTestFailed())
        return;
    QVERIFY(doc->undoStack()->undoText().startsWith(QStringLiteral("Pin ")));
    doc->undoStack()->undo();
    QCOMPARE(doc->configs(), before);
    QCOMPARE(search->pinned(row), -1);
    QCOMPARE(search->chosen(row), chosenBefore);
    doc->undoStack()->redo();
    QCOMPARE(search->pinned(row), pinTo);
    QCOMPARE(doc->config(t->layerIndex[size_t(row)]), configOf(candidates[size_t(pinTo)]));
    panel->activateCell(model->index(row, SensitivityModel::FirstCandidateColumn + pinTo)); // again: unpins
    QCOMPARE(search->pinned(row), -1);
    QCOMPARE(doc->configs(), before);

    // The explanation of the selected layer is the line under the map.
    panel->view()->setCurrentIndex(model->index(row, SensitivityModel::ChoiceColumn));
    QVERIFY(panel->detailText().startsWith(QString::fromStdString(t->layers[size_t(row)]) + QStringLiteral(": ")));

    // A second run reads every cell from the cache.
    panel->measure();
    QTRY_COMPARE_WITH_TIMEOUT(measured.size(), 2, 60000);
    QVERIFY2(panel->message().contains(QStringLiteral("16 from the cache")), qPrintable(panel->message()));
}

// The accuracy-drop bound: the document gets the configuration with the fewest bytes whose
// summed drop (each layer's measured accuracy drop, a gain counted as none, as the solver
// does) stays within the bound, checked against every combination of the 4 x 4 cells.
void TstGuiSearch::maxDropIsTheSmallestThatHolds()
{
    const QString data = fashionMnist();
    if (data.isEmpty())
        QSKIP("Fashion-MNIST is not installed");
    MainWindow w;
    SearchPanel* panel = measuredDemo(w, data);
    QVERIFY(panel);
    const bonsai::SensitivityTable& t = *panel->search()->table();
    const size_t L = t.layers.size();
    QCOMPARE(L, size_t(4));
    auto drop = [&](size_t l, size_t c) { return std::max(0.0, -t.cells[l][c].metricDelta); };
    auto bytesOf = [&](size_t l, size_t c) { return double(t.cells[l][c].bytes); };

    panel->setBudgetKind(bonsai::BudgetKind::MaxDrop);
    const auto [lo, hi] = panel->search()->budgetRange(bonsai::BudgetKind::MaxDrop);
    QVERIFY(hi > lo);
    for (double f : {0.0, 0.05, 0.2, 0.5, 1.0}) {
        const double bound = lo + f * (hi - lo);
        panel->setBudgetValue(bound);
        QCOMPARE(panel->budgetKind(), bonsai::BudgetKind::MaxDrop);
        const double bestBytes =
            testutil::bruteForce(t, testutil::singles(L), drop, bytesOf, bound + 1e-12).value; // every combination
        QVERIFY(std::isfinite(bestBytes)); // the range's low end is every layer's least drop
        // The document's configuration, cell by cell.
        double dropSum = 0, bytes = 0;
        for (size_t l = 0; l < L; ++l) {
            const int c = panel->search()->chosen(int(l));
            QVERIFY2(c >= 0, qPrintable(QString::fromStdString(t.layers[l])));
            dropSum += drop(l, size_t(c));
            bytes += bytesOf(l, size_t(c));
        }
        QVERIFY2(dropSum <= bound + 1e-12, qPrintable(QStringLiteral("drop %1 > bound %2").arg(dropSum).arg(bound)));
        QCOMPARE(bytes, bestBytes);
        QVERIFY(panel->search()->solution().predictedDelta <= bound + 1e-12);
    }
    // The spin box shows the bound in accuracy points.
    QVERIFY(panel->findChild<QDoubleSpinBox*>(QStringLiteral("searchBudgetValue"))->suffix().contains(QStringLiteral("points")));
}

// "min accuracy drop" under a bits-per-weight budget: the configuration has the least summed
// accuracy drop of every combination that fits (4x4 brute force), and ΔKL again the least ΔKL.
void TstGuiSearch::metricObjectiveIsTheLeastDropThatFits()
{
    const QString data = fashionMnist();
    if (data.isEmpty())
        QSKIP("Fashion-MNIST is not installed");
    MainWindow w;
    SearchPanel* panel = measuredDemo(w, data);
    QVERIFY(panel);
    const bonsai::SensitivityTable& t = *panel->search()->table();
    const size_t L = t.layers.size();
    double params = 0;
    for (uint64_t p : t.params)
        params += double(p);
    auto drop = [&](size_t l, size_t c) { return -t.cells[l][c].metricDelta; }; // every cell measured
    auto kl = [&](size_t l, size_t c) { return t.predictedKl(l, c); };
    auto bytesOf = [&](size_t l, size_t c) { return double(t.cells[l][c].bytes); };
    auto chosenSum = [&](const std::function<double(size_t, size_t)>& f) {
        double sum = 0;
        for (size_t l = 0; l < L; ++l)
            sum += f(l, size_t(panel->search()->chosen(int(l))));
        return sum;
    };
    panel->setBudgetKind(bonsai::BudgetKind::BitsPerWeight);
    const auto [lo, hi] = panel->search()->budgetRange(bonsai::BudgetKind::BitsPerWeight);
    int differ = 0; // budgets where the ΔKL solution gives up accuracy the metric one keeps
    for (double f : {0.05, 0.1, 0.2, 0.3, 0.45, 0.6}) {
        const double bpw = lo + f * (hi - lo);
        const double capacity = bpw * params / 8;
        panel->setObjective(bonsai::SearchObjective::Metric);
        panel->setBudgetValue(bpw);
        QCOMPARE(panel->search()->budget().objective, bonsai::SearchObjective::Metric);
        const double bestDrop = testutil::bruteForce(t, testutil::singles(L), bytesOf, drop, capacity).value;
        QVERIFY(chosenSum(bytesOf) <= capacity * (1 + 1e-12));
        QVERIFY2(std::abs(chosenSum(drop) - bestDrop) <= 1e-12,
                 qPrintable(QStringLiteral("drop %1, best %2 at %3 bits/weight").arg(chosenSum(drop)).arg(bestDrop).arg(bpw)));
        panel->setObjective(bonsai::SearchObjective::Kl); // re-solves at the same budget
        const double bestKl = testutil::bruteForce(t, testutil::singles(L), bytesOf, kl, capacity).value;
        QVERIFY2(std::abs(chosenSum(kl) - bestKl) <= 1e-12 * std::max(1.0, bestKl),
                 qPrintable(QStringLiteral("ΔKL %1, best %2").arg(chosenSum(kl)).arg(bestKl)));
        differ += chosenSum(drop) > bestDrop + 1e-9;
    }
    QVERIFY(differ > 0); // else this test could not tell the objectives apart
}

// A language model's q/k/v and gate/up of one block get one candidate while tied (the
// default); untying is one undo step, and undo ties them again.
void TstGuiSearch::tiesGiveOneChoicePerGroup()
{
    MainWindow w;
    w.setErrorDialogsEnabled(false);
    w.resize(1400, 900);
    w.show();
    QSignalSpy opened(&w, &MainWindow::modelOpened);
    w.openPath(QStringLiteral(BONSAI_TEST_DATA "/tiny-llama"));
    QVERIFY(QTest::qWaitForWindowExposed(&w) && QTest::qWaitFor([&] { return opened.size() == 1; }, 60000));
    w.showSearchDock();
    SearchPanel* panel = w.searchPanel();
    panel->setDataSource([] {
        return SearchPanel::DataChoice{QStringLiteral(BONSAI_TEST_DATA "/tiny-llama/calib.txt"), QStringLiteral("Perplexity")};
    });
    QVERIFY(measureWith(panel, someCandidates({"fp16", "int8", "int4 g32", "int2 g32"}), 2));
    bonsai::ui::BudgetSearch* search = panel->search();
    const bonsai::SensitivityTable& t = *search->table();
    QCOMPARE(panel->checkedTies(), (std::vector<std::string>{"qkv", "gate_up"}));

    // Groups by the layer names: block number and q/k/v or gate/up.
    const QRegularExpression re(QStringLiteral(R"(layers\.(\d+)\..*(q_proj|k_proj|v_proj|gate_proj|up_proj))"));
    std::map<QString, std::vector<int>> groups;
    for (size_t r = 0; r < t.layers.size(); ++r) {
        const auto m = re.match(QString::fromStdString(t.layers[r]));
        if (m.hasMatch())
            groups[m.captured(1) + (m.captured(2).startsWith(QLatin1String("gate")) || m.captured(2).startsWith(QLatin1String("up"))
                                        ? QStringLiteral(" gate_up")
                                        : QStringLiteral(" qkv"))]
                .push_back(int(r));
    }
    QCOMPARE(groups.size(), size_t(8)); // 4 blocks x (q/k/v, gate/up)
    auto groupsAgree = [&] {
        for (const auto& [key, rows] : groups)
            for (int r : rows)
                if (search->chosen(r) < 0 || search->chosen(r) != search->chosen(rows.front()))
                    return false;
        return true;
    };
    panel->setBudgetKind(bonsai::BudgetKind::BitsPerWeight);
    int split = 0; // budgets at which the untied solution splits a group
    for (double bpw : {3.0, 4.5, 6.0, 9.0}) {
        panel->setBudgetValue(bpw);
        QVERIFY2(groupsAgree(), qPrintable(QStringLiteral("at %1 bits/weight").arg(bpw)));
        QVERIFY(search->solution().bitsPerWeight <= bpw + 1e-9);
        const auto free = bonsai::solveSearch(t, {bonsai::BudgetKind::BitsPerWeight, bpw}); // untied
        bool splits = false;
        for (const auto& [key, rows] : groups)
            for (int r : rows)
                splits |= free.choices[size_t(r)].candidate != free.choices[size_t(rows.front())].candidate;
        split += splits;
    }
    QVERIFY(split > 0); // the ties made a difference somewhere

    // Untie: one undo step; the document gets the untied solution; undo ties again.
    const std::vector<bonsai::LayerConfig> tied = w.document()->configs();
    panel->setTies({});
    QVERIFY(panel->checkedTies().empty());
    QVERIFY(search->ties().empty());
    const auto untied = bonsai::solveSearch(t, search->budget());
    for (size_t r = 0; r < t.layers.size(); ++r)
        QCOMPARE(search->chosen(int(r)), untied.choices[r].candidate);
    QVERIFY(w.document()->undoStack()->undoText().startsWith(QStringLiteral("Untie")));
    w.document()->undoStack()->undo();
    QCOMPARE(panel->checkedTies(), (std::vector<std::string>{"qkv", "gate_up"}));
    QCOMPARE(w.document()->configs(), tied);
    QVERIFY(groupsAgree());
}

// The latency budget: Measure times every cell too; the document gets the configuration with
// the least predicted KL whose summed measured latencies fit, checked against every
// combination of the 4 x 4 cells.
void TstGuiSearch::latencyBudgetHolds()
{
    const QString data = fashionMnist();
    if (data.isEmpty())
        QSKIP("Fashion-MNIST is not installed");
    MainWindow w;
    SearchPanel* panel = measuredDemo(w, data);
    QVERIFY(panel);
    const bonsai::SensitivityTable& t = *panel->search()->table();
    for (const auto& row : t.cells)
        for (const auto& cell : row)
            QVERIFY(std::isfinite(cell.latencyMs) && cell.latencyMs > 0);
    panel->setBudgetKind(bonsai::BudgetKind::LatencyMs);
    const auto [lo, hi] = panel->search()->budgetRange(bonsai::BudgetKind::LatencyMs);
    QVERIFY(hi > lo && lo > 0);
    auto latency = [&](size_t l, size_t c) { return t.cells[l][c].latencyMs; };
    auto kl = [&](size_t l, size_t c) { return t.predictedKl(l, c); };
    for (double f : {0.0, 0.3, 0.7, 1.0}) {
        const double budget = lo + f * (hi - lo);
        panel->setBudgetValue(budget);
        const testutil::Brute best = testutil::bruteForce(t, testutil::singles(t.layers.size()), latency, kl, budget);
        double sum = 0, klSum = 0;
        for (size_t l = 0; l < t.layers.size(); ++l) {
            const int c = panel->search()->chosen(int(l));
            QVERIFY(c >= 0);
            sum += latency(l, size_t(c));
            klSum += kl(l, size_t(c));
        }
        QVERIFY2(sum <= budget * (1 + 1e-12), qPrintable(QStringLiteral("%1 > %2 ms").arg(sum).arg(budget)));
        QVERIFY2(std::abs(klSum - best.value) <= 1e-12 + 1e-9 * best.value,
                 qPrintable(QStringLiteral("%1 vs %2").arg(klSum).arg(best.value)));
    }
    QVERIFY(panel->solutionText().contains(QStringLiteral(" ms")));
}

void TstGuiSearch::cancelStops()
{
    const QString data = fashionMnist();
    if (data.isEmpty())
        QSKIP("Fashion-MNIST is not installed");
    QTemporaryDir cache; // nothing measured yet
    MainWindow w;
    QVERIFY(openDemo(w, data));
    w.showSearchDock();
    SearchPanel* panel = w.searchPanel();
    panel->setCacheDir(cache.path());
    panel->setSamples(2000); // every default candidate on 2,000 images: long enough to cancel
    QSignalSpy measured(panel, &SearchPanel::measured);
    QSignalSpy cancelled(panel, &SearchPanel::measureCancelled);
    QSignalSpy running(panel, &SearchPanel::runningChanged);
    panel->measure();
    QVERIFY(panel->isBusy());
    QTRY_VERIFY_WITH_TIMEOUT(panel->search()->table() != nullptr, 60000); // the map started to fill
    panel->cancel();
    QTRY_COMPARE_WITH_TIMEOUT(cancelled.size(), 1, 30000);
    QVERIFY(!panel->isBusy());
    panel->runner()->runner()->waitForIdle(); // the worker is free again
    QTest::qWait(200);
    QCOMPARE(measured.size(), 0);
    QVERIFY(!running.isEmpty() && !running.last().at(0).toBool());
    QVERIFY2(panel->message().startsWith(QStringLiteral("Cancelled")), qPrintable(panel->message()));
    const auto* t = panel->search()->table();
    QVERIFY(t->measuredCells() < t->applicableCells());
}

// The dock opens below the central area of a 1366 × 768 window (a laptop screen): the
// histogram (with the compressed overlay and its legend) and the channel ranges keep every
// text whole, the layer details scrolling rather than squeezing them ("..." tick labels).
void TstGuiSearch::laptopScreenKeepsChartsWhole()
{
    MainWindow w;
    w.setErrorDialogsEnabled(false);
    w.resize(1366, 768);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QSignalSpy opened(&w, &MainWindow::modelOpened);
    QSignalSpy stats(&w, &MainWindow::statsShown);
    QSignalSpy preview(&w, &MainWindow::previewShown);
    w.openPath(QStringLiteral(BONSAI_DEMO_MODEL));
    QVERIFY(QTest::qWaitFor([&] { return opened.size() == 1; }, 60000));
    QVERIFY(QTest::qWaitFor([&] { return !stats.isEmpty(); }, 60000));
    preview.clear();
    w.applyPreset(bonsai::Preset::Int4Group128);
    QVERIFY(QTest::qWaitFor([&] {
        return !preview.isEmpty() && !w.previewRunner()->isBusy() && w.estimator()->isComplete() &&
               !w.estimator()->isBusy();
    }, 120000));
    w.showSearchDock();
    QTest::qWait(200); // layouts and chart geometry settle
    QCOMPARE(w.dockWidgetArea(w.searchDock()), Qt::BottomDockWidgetArea);
    QVERIFY(w.searchDock()->isVisible());
    // Its panel whole: the settings, the budget row and three rows of the map.
    QVERIFY2(w.searchPanel()->height() >= w.searchPanel()->compactHeight(),
             qPrintable(QStringLiteral("%1 < %2").arg(w.searchPanel()->height()).arg(w.searchPanel()->compactHeight())));
    QVERIFY(w.details()->histogram()->hasOverlay());
    QStringList problems;
    for (QChartView* v : {w.details()->histogram()->chartView(), w.details()->channelRanges()->chartView()}) {
        QVERIFY(v->chart() && !v->chart()->series().isEmpty());
        for (QGraphicsItem* item : v->scene()->items()) {
            auto* text = dynamic_cast<QGraphicsTextItem*>(item);
            if (text && text->isVisible() &&
                (text->toPlainText().contains(QChar(0x2026)) || text->toPlainText().contains(QStringLiteral("..."))))
                problems << v->objectName() + QStringLiteral(": \"") + text->toPlainText() + QLatin1Char('"');
        }
    }
    // The histogram's plot is more than a sliver.
    const QRectF plot = w.details()->histogram()->chartView()->chart()->plotArea();
    if (plot.height() < 60)
        problems << QStringLiteral("histogram plot %1 px high").arg(plot.height(), 0, 'f', 0);
    if (!problems.isEmpty())
        QFAIL(qPrintable(problems.join(QStringLiteral("\n  "))));
}

QTEST_MAIN(TstGuiSearch)
#include "tst_gui_search.moc"
