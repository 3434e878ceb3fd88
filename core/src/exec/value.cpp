// Value (the executor's tensors), their names and shapes as text, and numpy broadcasting.
#include "bonsai/onnx_exec.h"

#include "exec/onnx_exec_ops.h"

namespace bonsai {

using namespace exec;

// --- Value ---

size_t Value::numel() const
{
    return static_cast<size_t>(bonsai::numel(shape));
}

Value Value::floats(std::vector<int64_t> shape, std::vector<float> values)
{
    Value v;
    v.type = Type::Float;
    v.shape = std::move(shape);
    v.f = std::move(values);
    if (v.f.size() != v.numel())
        throw Error("Value::floats: " + std::to_string(v.f.size()) + " values for shape " +
                    shapeString(v.shape));
    return v;
}

Value Value::ints(std::vector<int64_t> shape, std::vector<int64_t> values)
{
    Value v;
    v.type = Type::Int64;
    v.shape = std::move(shape);
    v.i = std::move(values);
    if (v.i.size() != v.numel())
        throw Error("Value::ints: " + std::to_string(v.i.size()) + " values for shape " +
                    shapeString(v.shape));
    return v;
}

Value Value::bools(std::vector<int64_t> shape, std::vector<uint8_t> values)
{
    Value v;
    v.type = Type::Bool;
    v.shape = std::move(shape);
    v.b = std::move(values);
    if (v.b.size() != v.numel())
        throw Error("Value::bools: " + std::to_string(v.b.size()) + " values for shape " +
                    shapeString(v.shape));
    return v;
}

std::string_view valueTypeName(Value::Type t)
{
    switch (t) {
    case Value::Type::Float: return "float";
    case Value::Type::Int64: return "int64";
    default: return "bool";
    }
}

std::string shapeString(const std::vector<int64_t>& shape)
{
    std::string s = "[";
    for (size_t k = 0; k < shape.size(); ++k) {
        if (k)
            s += ", ";
        s += shape[k] < 0 ? "?" : std::to_string(shape[k]);
    }
    return s + "]";
}

namespace exec {

std::vector<int64_t> broadcastShapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b)
{
    const size_t r = std::max(a.size(), b.size());
    std::vector<int64_t> out(r);
    for (size_t k = 0; k < r; ++k) {
        const int64_t da = k < r - a.size() ? 1 : a[k - (r - a.size())];
        const int64_t db = k < r - b.size() ? 1 : b[k - (r - b.size())];
        if (da != db && da != 1 && db != 1)
            fail("shapes " + shapeString(a) + " and " + shapeString(b) + " do not broadcast");
        out[k] = da == 1 ? db : da;
    }
    return out;
}

std::vector<int64_t> broadcastStrides(const std::vector<int64_t>& in, const std::vector<int64_t>& out)
{
    std::vector<int64_t> st(out.size(), 0);
    int64_t s = 1;
    for (size_t k = in.size(); k-- > 0;) {
        const size_t o = k + (out.size() - in.size());
        st[o] = in[k] == 1 ? 0 : s;
        s *= in[k];
    }
    return st;
}

} // namespace exec

} // namespace bonsai
