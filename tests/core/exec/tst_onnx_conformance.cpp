// ONNX backend conformance: runs every node test case of Debian's libonnx-testdata through
// Model + OnnxExecutor. Cases with ops the engine does not run, or with inputs/outputs other
// than float/int64/bool tensors, are skipped (and counted per op); every other case must
// match the reference outputs (rtol 1e-3, atol 1e-5 for float; exact for int64 and bool).
// The cases that pass are pinned per suite in tests/data/onnx-conformance/<suite>.txt: a
// listed case that fails or is now skipped (a reader or operator regression) fails the test,
// and so does a passing case missing from the list (add it when an operator is added).
#include "testutil.h"

#include "bonsai/error.h"
#include "bonsai/model.h"
#include "bonsai/onnx_exec.h"
#include "formats/onnx_model.h"

#include <onnx/onnx-ml.pb.h>

#include <QtTest>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

using namespace bonsai;
namespace fs = std::filesystem;

namespace {

const char* kNodeDir = "/usr/share/libonnx-testdata/data/node";

bool readTensorFile(const fs::path& p, onnx::TensorProto& t)
{
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return t.ParseFromString(ss.str());
}

template <class T, class Field>
std::vector<T> elementsOf(const onnx::TensorProto& t, const Field& typed, size_t n)
{
    std::vector<T> v;
    if (t.has_raw_data()) {
        using Raw = std::conditional_t<std::is_same_v<T, uint8_t>, uint8_t, T>;
        const std::string& raw = t.raw_data();
        if (raw.size() != n * sizeof(Raw))
            throw Error("raw_data size mismatch");
        v.resize(n);
        if (!raw.empty())
            std::memcpy(v.data(), raw.data(), raw.size());
    } else {
        v.assign(typed.begin(), typed.end());
    }
    if (v.size() != n)
        throw Error("element count mismatch");
    return v;
}

// A TensorProto (float, int64 or bool) as a Value; nullopt for other types.
std::optional<Value> toValue(const onnx::TensorProto& t)
{
    std::vector<int64_t> shape(t.dims().begin(), t.dims().end());
    size_t n = 1;
    for (auto d : shape)
        n *= static_cast<size_t>(d);
    switch (t.data_type()) {
    case onnx::TensorProto::FLOAT: return Value::floats(shape, elementsOf<float>(t, t.float_data(), n));
    case onnx::TensorProto::INT64: return Value::ints(shape, elementsOf<int64_t>(t, t.int64_data(), n));
    case onnx::TensorProto::BOOL: {
        std::vector<uint8_t> b;
        if (t.has_raw_data())
            b = elementsOf<uint8_t>(t, t.int32_data(), n);
        else
            for (auto v : t.int32_data())
                b.push_back(v != 0);
        for (auto& x : b)
            x = x != 0;
        if (b.size() != n)
            throw Error("element count mismatch");
        return Value::bools(shape, b);
    }
    default: return std::nullopt;
    }
}

bool plainTensor(const onnx::ValueInfoProto& vi)
{
    if (!vi.type().has_tensor_type())
        return false;
    const int t = vi.type().tensor_type().elem_type();
    return t == onnx::TensorProto::FLOAT || t == onnx::TensorProto::INT64 || t == onnx::TensorProto::BOOL;
}

// Empty when equal, else a description of the first difference.
std::string compare(const Value& got, const Value& want, float rtol = 1e-3f, float atol = 1e-5f)
{
    if (got.type != want.type)
        return "type " + std::string(valueTypeName(got.type)) + " != " + std::string(valueTypeName(want.type));
    if (got.shape != want.shape)
        return "shape " + shapeString(got.shape) + " != " + shapeString(want.shape);
    for (size_t k = 0; k < want.numel(); ++k) {
        bool ok;
        std::string a, b;
        switch (want.type) {
        case Value::Type::Float: {
            const float g = got.f[k], w = want.f[k];
            ok = (std::isnan(g) && std::isnan(w)) || g == w ||
                 std::fabs(g - w) <= atol + rtol * std::fabs(w);
            a = std::to_string(g);
            b = std::to_string(w);
            break;
        }
        case Value::Type::Int64:
            ok = got.i[k] == want.i[k];
            a = std::to_string(got.i[k]);
            b = std::to_string(want.i[k]);
            break;
        default:
            ok = got.b[k] == want.b[k];
            a = std::to_string(got.b[k]);
            b = std::to_string(want.b[k]);
            break;
        }
        if (!ok)
            return "element " + std::to_string(k) + ": " + a + " != " + b;
    }
    return {};
}

// The pinned passing cases of a suite: one case name per line, '#' starts a comment line.
std::set<std::string> pinnedCases(const std::string& suite)
{
    std::set<std::string> names;
    std::istringstream in(testutil::readFile(testutil::dataPath("onnx-conformance/" + suite + ".txt")));
    for (std::string line; std::getline(in, line);)
        if (!line.empty() && line[0] != '#')
            names.insert(line);
    return names;
}

} // namespace

class TestOnnxConformance : public QObject {
    Q_OBJECT

private slots:
    // ONNX's operator conformance cases (rtol 1e-3, atol 1e-5, as the backend tests use).
    void nodeCases() { runSuite(kNodeDir, 1e-3f, 1e-5f); }
    // Models exported by PyTorch with PyTorch's own outputs: logits within 1e-4 relative.
    void pytorchConvertedCases() { runSuite("/usr/share/libonnx-testdata/data/pytorch-converted", 1e-4f, 1e-6f); }
    void pytorchOperatorCases() { runSuite("/usr/share/libonnx-testdata/data/pytorch-operator", 1e-4f, 1e-6f); }
    void simpleModelCases() { runSuite("/usr/share/libonnx-testdata/data/simple", 1e-3f, 1e-5f); }

private:
    void runSuite(const char* root, float rtol, float atol)
    {
        if (!fs::is_directory(root))
            QSKIP("libonnx-testdata is not installed");
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<fs::path> cases;
        for (const auto& e : fs::directory_iterator(root))
            if (e.is_directory() && fs::exists(e.path() / "model.onnx"))
                cases.push_back(e.path());
        std::sort(cases.begin(), cases.end());
        int passed = 0, skippedOp = 0, skippedType = 0;
        std::map<std::string, int> skippedPerOp;
        std::map<std::string, std::string> notPassed; // case -> why
        std::set<std::string> passedNames;
        std::vector<std::string> failures;
        for (const auto& dir : cases) {
            const std::string name = dir.filename().string();
            std::unique_ptr<Model> model;
            try {
                model = Model::open((dir / "model.onnx").string());
            } catch (const Error& e) {
                ++skippedType; // e.g. string tensors only
                notPassed[name] = std::string("skipped: the model does not open: ") + e.what();
                continue;
            }
            const auto& g = onnxProto(*model)->graph();
            bool plain = true;
            for (const auto& vi : g.input())
                plain = plain && plainTensor(vi);
            for (const auto& vi : g.output())
                plain = plain && plainTensor(vi);
            const auto ops = OnnxExecutor::unsupportedOps(*model);
            if (!ops.empty()) {
                ++skippedOp;
                std::string list;
                for (const auto& op : ops) {
                    ++skippedPerOp[op];
                    list += " " + op;
                }
                notPassed[name] = "skipped: unsupported op" + list;
                continue;
            }
            if (!plain) {
                ++skippedType;
                notPassed[name] = "skipped: an input or output is not a float, int64 or bool tensor";
                continue;
            }
            std::string failure;
            try {
                OnnxExecutor ex(*model);
                std::vector<fs::path> sets;
                for (const auto& e : fs::directory_iterator(dir))
                    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0)
                        sets.push_back(e.path());
                std::sort(sets.begin(), sets.end());
                for (const auto& set : sets) {
                    OnnxExecutor::Store store;
                    for (size_t k = 0;; ++k) {
                        const auto p = set / ("input_" + std::to_string(k) + ".pb");
                        if (!fs::exists(p))
                            break;
                        onnx::TensorProto t;
                        if (!readTensorFile(p, t))
                            throw Error("cannot parse " + p.string());
                        auto v = toValue(t);
                        if (!v)
                            throw Error("input " + std::to_string(k) + " has an unexpected type");
                        const std::string inName = !t.name().empty() ? t.name()
                                                   : k < ex.inputNames().size() ? ex.inputNames()[k] : "";
                        store[inName] = std::move(*v);
                    }
                    ex.run(store);
                    for (size_t k = 0; k < ex.outputNames().size(); ++k) {
                        const auto p = set / ("output_" + std::to_string(k) + ".pb");
                        onnx::TensorProto t;
                        if (!readTensorFile(p, t))
                            throw Error("cannot parse " + p.string());
                        const auto want = toValue(t);
                        const Value* got = ex.find(store, ex.outputNames()[k]);
                        if (!got)
                            throw Error("output '" + ex.outputNames()[k] + "' not produced");
                        const auto diff = compare(*got, *want, rtol, atol);
                        if (!diff.empty())
                            throw Error(set.filename().string() + " output " + std::to_string(k) + ": " + diff);
                    }
                }
            } catch (const std::exception& e) {
                failure = e.what();
            }
            if (failure.empty()) {
                ++passed;
                passedNames.insert(name);
            } else {
                failures.push_back(name + ": " + failure);
                notPassed[name] = "failed: " + failure;
            }
        }
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::string perOp;
        for (const auto& [op, n] : skippedPerOp)
            perOp += (perOp.empty() ? "" : ", ") + op + " " + std::to_string(n);
        qInfo("conformance %s: %d passed, %d skipped (unsupported op or dtype) of %d cases "
              "(%d for ops, %d for dtypes; %d failed) in %.1f s",
              fs::path(root).filename().c_str(), passed, skippedOp + skippedType, static_cast<int>(cases.size()), skippedOp,
              skippedType, static_cast<int>(failures.size()), secs);
        qInfo("skipped for op: %s", perOp.c_str());
        std::string all;
        for (const auto& f : failures)
            all += f + "\n";
        QVERIFY2(failures.empty(), all.c_str());

        const std::string suite = fs::path(root).filename().string();
        const std::set<std::string> pinned = pinnedCases(suite);
        // One line per case (a QVERIFY2 message is cut at a few hundred characters).
        int lost = 0, added = 0;
        for (const auto& name : pinned)
            if (!passedNames.count(name)) {
                ++lost;
                qWarning("pinned case no longer passes: %s: %s", name.c_str(),
                         notPassed.count(name) ? notPassed[name].c_str() : "no such case");
            }
        for (const auto& name : passedNames)
            if (!pinned.count(name)) {
                ++added;
                qWarning("passing case missing from tests/data/onnx-conformance/%s.txt: %s", suite.c_str(), name.c_str());
            }
        QVERIFY2(lost == 0, qPrintable(QStringLiteral("%1 pinned cases of %2 no longer pass (listed above)")
                                           .arg(lost).arg(QString::fromStdString(suite))));
        QVERIFY2(added == 0, qPrintable(QStringLiteral("%1 passing cases of %2 are not in its list (listed above)")
                                            .arg(added).arg(QString::fromStdString(suite))));
        QCOMPARE(passed, int(pinned.size()));
    }
};

QTEST_GUILESS_MAIN(TestOnnxConformance)
#include "tst_onnx_conformance.moc"
