#include "bonsai/dtype.h"
#include <QtTest>
class TstSmoke : public QObject { Q_OBJECT
private slots:
    void dtypeSizes() { QCOMPARE(*bonsai::storageBytes(bonsai::DType::Q4_K, 512), 288u); }
};
QTEST_APPLESS_MAIN(TstSmoke)
#include "tst_smoke.moc"
