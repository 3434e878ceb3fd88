#pragma once
// The sensitivity map of the budget search as a table: one row per searched layer, a Layer
// and a Choice column, then one column per candidate. A candidate cell shows the layer's
// bytes with that candidate; its colour (HeatRole) is the quality change ΔKL on a log scale
// over the table (measured KL, else the predicted one from the estimate, marked by
// MeasuredRole); cells a layer cannot store are not applicable (the reason is the tooltip).
// The chosen cell (the configuration the layer has in the document) and pins come from a
// BudgetSearch. Raw numbers under SortRole (KL, bytes; the layer's model order). Qt Core only.
#include <QAbstractTableModel>

namespace bonsai::ui {

class BudgetSearch;

class SensitivityModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Columns { LayerColumn, ChoiceColumn, FirstCandidateColumn };
    enum Roles {
        SortRole = Qt::UserRole, // raw value: row (Layer), chosen bytes (Choice), KL (cells; +inf: n/a)
        KlRole,          // the cell's ΔKL in nats: measured, else predicted; NaN when not applicable
        HeatRole,        // ΔKL on the table's log scale in [0, 1]; -1 when not applicable
        MeasuredRole,    // bool: the KL is measured (else estimated)
        ApplicableRole,  // bool
        BytesRole,       // qulonglong: the layer's weight bytes with the candidate
        ChosenRole,      // bool: the document's configuration of the layer is this candidate's
        PinnedRole,      // bool: the layer is pinned to this candidate
        MetricDeltaRole, // the metric's change (accuracy fraction or perplexity), NaN: not measured
        LatencyRole,     // the cell's measured latency in ms, NaN: not measured
        ExplanationRole, // the layer's explanation (any column)
        CandidateRole,   // the candidate index (-1: Layer and Choice columns)
        ModelLayerRole,  // the layer's index in Model::layers
    };

    explicit SensitivityModel(BudgetSearch* search, QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

    BudgetSearch* search() const { return m_search; }
    // The log scale's ends (nats) over the applicable cells; {0, 0} without a table.
    double klMin() const { return m_klMin; }
    double klMax() const { return m_klMax; }
    static int candidateOf(int column) { return column - FirstCandidateColumn; }

signals:
    void scaleChanged(double klMin, double klMax);

private:
    void onTableChanged(bool shapeChanged);
    void updateScale();
    void refreshAll(const QList<int>& roles = {});
    QString cellToolTip(int row, int candidate) const;

    BudgetSearch* m_search;
    int m_rows = 0, m_candidates = 0;
    double m_klMin = 0, m_klMax = 0;
};

} // namespace bonsai::ui
