#pragma once
// Inspector group "Preview": the selected layer compressed with its configuration — bytes,
// bits per weight and the four error metrics — with a hint while it is computing.
#include <QGroupBox>

class QFormLayout;
class QLabel;

namespace bonsai::ui {

class HelpPane;
struct PreviewResult;

class PreviewForm : public QGroupBox {
    Q_OBJECT
public:
    explicit PreviewForm(HelpPane* help, QWidget* parent = nullptr);
    void setBusy(bool busy);
    void setResult(const PreviewResult& r);
    void clear(const QString& message);
    QString valueText(const QString& key) const; // "size", "bits", "error", "sqnr", "cosine", "max"

private:
    QLabel* m_busy;
    QLabel *m_orig, *m_size, *m_bits, *m_rel, *m_sqnr, *m_cosine, *m_max, *m_notes;
};

} // namespace bonsai::ui
