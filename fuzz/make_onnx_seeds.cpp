// Writes the ONNX templates (onnx_templates.h) as seed files: make_onnx_seeds <folder>
// writes <folder>/<template>.onnx for each, plus ext_data.onnx whose weight is external data
// in ext.bin (the file the harnesses write beside the model) and qdq.onnx (a DequantizeLinear
// weight with an INT4 variant), so the raw-bytes harnesses start from models that parse.
#include "onnx_templates.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace {

void save(const std::filesystem::path& p, const onnx::ModelProto& m)
{
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    m.SerializeToOstream(&out);
    std::printf("%s\n", p.c_str());
}

} // namespace

int main(int argc, char** argv)
{
    using namespace bonsai::fuzz;
    using namespace bonsai::fuzz::tmpl;
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_onnx_seeds <folder>\n");
        return 2;
    }
    const std::filesystem::path dir(argv[1]);
    std::filesystem::create_directories(dir);
    for (const auto& t : onnxTemplates())
        save(dir / (t.name + ".onnx"), t.model);
    {
        onnx::GraphProto* g = nullptr;
        onnx::ModelProto m = model(&g);
        input(g, "x", {1, 8});
        auto* w = g->add_initializer();
        w->set_name("w");
        w->set_data_type(onnx::TensorProto::FLOAT);
        w->add_dims(8);
        w->add_dims(4);
        w->set_data_location(onnx::TensorProto::EXTERNAL);
        const char* kv[][2] = {{"location", "ext.bin"}, {"offset", "256"}, {"length", "128"}};
        for (const auto& e : kv) {
            auto* p = w->add_external_data();
            p->set_key(e[0]);
            p->set_value(e[1]);
        }
        node(g, "MatMul", {"x", "w"}, "y");
        g->add_output()->set_name("y");
        save(dir / "ext_data.onnx", m);
    }
    {
        onnx::GraphProto* g = nullptr;
        onnx::ModelProto m = model(&g, 21);
        input(g, "x", {1, 4});
        auto* q = g->add_initializer();
        q->set_name("wq");
        q->set_data_type(onnx::TensorProto::INT8);
        q->add_dims(4);
        q->add_dims(3);
        q->set_raw_data(std::string("\x01\x02\xfe\x04\x05\x06\x07\xf8\x09\x0a\x0b\x0c", 12));
        auto* q4 = g->add_initializer();
        q4->set_name("wq4");
        q4->set_data_type(22); // INT4, two per byte
        q4->add_dims(3);
        q4->add_dims(2);
        q4->set_raw_data(std::string("\x21\xf3\x7e", 3));
        auto* s = g->add_initializer();
        s->set_name("s");
        s->set_data_type(onnx::TensorProto::FLOAT);
        s->add_dims(3);
        s->add_float_data(0.5f);
        s->add_float_data(0.25f);
        s->add_float_data(2.0f);
        auto* z = g->add_initializer();
        z->set_name("z");
        z->set_data_type(onnx::TensorProto::INT8);
        z->add_dims(3);
        z->set_raw_data(std::string("\x00\x01\xff", 3));
        auto* s4 = g->add_initializer();
        s4->set_name("s4");
        s4->set_data_type(onnx::TensorProto::FLOAT);
        s4->add_float_data(0.5f);
        auto* dq = node(g, "DequantizeLinear", {"wq", "s", "z"}, "w");
        i(dq, "axis", 1);
        node(g, "DequantizeLinear", {"wq4", "s4"}, "w4");
        node(g, "MatMul", {"x", "w"}, "h");
        node(g, "MatMul", {"h", "w4"}, "y");
        g->add_output()->set_name("y");
        save(dir / "qdq.onnx", m);
    }
    return 0;
}
