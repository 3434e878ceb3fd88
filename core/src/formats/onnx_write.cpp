// Writing an ONNX model with replaced weights (see onnx_write.h).
#include "bonsai/onnx_write.h"

#include "common/atomic_file.h"
#include "bonsai/error.h"
#include "formats/onnx_model.h"

#include <onnx/onnx-ml.pb.h>

#include <climits>
#include <set>

namespace bonsai {
namespace {

void setFloats(onnx::TensorProto& t, const std::vector<float>& v, const std::string& name)
{
    if (t.data_type() != onnx::TensorProto::FLOAT)
        throw Error("cannot write '" + name + "': only FLOAT tensors can be replaced (element type " +
                    std::to_string(t.data_type()) + ")");
    uint64_t n = 1;
    for (auto d : t.dims())
        n *= static_cast<uint64_t>(d);
    if (n != v.size())
        throw Error("cannot write '" + name + "': it has " + std::to_string(n) + " elements, " +
                    std::to_string(v.size()) + " given");
    t.clear_float_data();
    t.clear_external_data();
    t.clear_data_location();
    t.set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
}

} // namespace

void inlineExternalData(const Model& model, onnx::GraphProto& graph)
{
    for (auto& t : *graph.mutable_initializer()) {
        if (t.data_location() != onnx::TensorProto::EXTERNAL)
            continue;
        const int k = model.findTensor(t.name());
        if (k < 0)
            throw Error("cannot inline the external tensor '" + t.name() + "'");
        const TensorInfo& ti = model.tensors[static_cast<size_t>(k)];
        t.clear_external_data();
        t.clear_data_location();
        t.set_raw_data(std::string(reinterpret_cast<const char*>(ti.data), ti.nbytes));
    }
}

std::string onnxBytesWithWeights(const Model& model, const std::map<std::string, std::vector<float>>& values)
{
    const onnx::ModelProto* src = onnxProto(model);
    if (!src)
        throw Error("writing ONNX needs a model read from an ONNX file");
    onnx::ModelProto out = *src;
    auto* g = out.mutable_graph();
    std::set<std::string> done;
    for (auto& t : *g->mutable_initializer())
        if (auto it = values.find(t.name()); it != values.end()) {
            setFloats(t, it->second, t.name());
            done.insert(t.name());
        }
    inlineExternalData(model, *g);
    for (auto& n : *g->mutable_node()) {
        if (n.op_type() != "Constant" || n.output_size() != 1 || !values.count(n.output(0)))
            continue;
        for (auto& a : *n.mutable_attribute())
            if (a.name() == "value" && a.has_t()) {
                setFloats(*a.mutable_t(), values.at(n.output(0)), n.output(0));
                done.insert(n.output(0));
            }
    }
    std::string missing;
    for (const auto& [name, v] : values)
        if (!done.count(name))
            missing += (missing.empty() ? "'" : ", '") + name + "'";
    if (!missing.empty())
        throw Error("cannot write weights that are no float initializer or Constant of the graph: " + missing);
    if (out.ByteSizeLong() > static_cast<size_t>(INT_MAX))
        throw Error("the model is larger than the 2 GB protobuf limit");
    std::string bytes;
    if (!out.SerializeToString(&bytes))
        throw Error("the ONNX model does not serialize");
    return bytes;
}

void writeOnnxWithWeights(const Model& model, const std::map<std::string, std::vector<float>>& values,
                          const std::string& path)
{
    writeFileAtomically(path, onnxBytesWithWeights(model, values));
}

} // namespace bonsai
