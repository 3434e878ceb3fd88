#pragma once
// The summary statistics of one tensor as a two-column form.
#include "statsresult.h"

#include <QWidget>

class QFormLayout;
class QLabel;

namespace bonsai::ui {

class StatsForm : public QWidget {
    Q_OBJECT
public:
    explicit StatsForm(QWidget* parent = nullptr);
    void setStats(const StatsResult& result);
    void clear();
    QString valueText(const QString& fieldName) const; // for tests: text of the named field

private:
    QLabel* addRow(const QString& name, const QString& label, const QString& tip);

    QFormLayout* m_form;
    QList<QLabel*> m_values;
};

} // namespace bonsai::ui
