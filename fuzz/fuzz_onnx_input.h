#pragma once
// What the ONNX harnesses share: the fuzz bytes as model.onnx beside a fixed external data
// file (ext.bin, so the seeds can reference it and the fuzzer can vary location, offset and
// length), the check that a refusal names the model file, and a bounded run of the executor.
#include "bonsai/onnx_exec.h"
#include "bonsai/readers.h"
#include "fuzz_input.h"

#include <cstring>
#include <memory>
#include <vector>

namespace bonsai::fuzz {

inline constexpr const char* kExternalFile = "ext.bin";
inline constexpr size_t kExternalBytes = 4096;

// Writes the external data file once (bytes i -> i * 37, every float pattern appears).
inline void writeExternalData()
{
    static const bool done = [] {
        std::vector<uint8_t> bytes(kExternalBytes);
        for (size_t i = 0; i < bytes.size(); ++i)
            bytes[i] = static_cast<uint8_t>(i * 37u);
        writeInput(kExternalFile, bytes.data(), bytes.size());
        return true;
    }();
    (void)done;
}

// Aborts when an accepted refusal does not start with the file's path: every error about a
// model must say which file it is about.
inline void expectNamesFile(const bonsai::Error& e, const std::string& path)
{
    if (std::string(e.what()).rfind(path, 0) != 0) {
        std::fprintf(stderr, "error does not name the file: %s\n", e.what());
        std::abort();
    }
}

// Reads the bytes as model.onnx; nullptr when the reader refused them (naming the file).
inline std::unique_ptr<Model> readFuzzedOnnx(const uint8_t* data, size_t size)
{
    writeExternalData();
    noteInput(data, size); // names from the model (an op type, a node) may be quoted in refusals
    const std::string path = writeInput("model.onnx", data, size);
    std::unique_ptr<Model> model;
    expectOnlyBonsaiErrors([&] {
        try {
            model = readOnnx(path);
        } catch (const bonsai::Error& e) {
            expectNamesFile(e, path);
            throw;
        }
    });
    return model;
}

// Element count of each graph input the harness feeds: unknown dims become 1, and a
// graph asking for more than this is not run (the input is the harness's, not the file's).
inline constexpr int64_t kMaxInputElements = 1 << 14;

// Plans the model's graph and runs it once on small deterministic inputs. Planning and
// running errors must name the model file.
inline void planAndRun(const Model& model)
{
    expectOnlyBonsaiErrors([&] {
        try {
            OnnxExecutor ex(model);
            std::vector<Value> inputs;
            for (size_t k = 0; k < ex.inputNames().size(); ++k) {
                std::vector<int64_t> shape = ex.inputShape(k);
                if (shape.size() > 8)
                    return;
                int64_t n = 1;
                for (auto& d : shape) {
                    if (d < 0)
                        d = 1; // symbolic
                    if (d > kMaxInputElements)
                        return;
                    n *= d;
                    if (n > kMaxInputElements)
                        return;
                }
                Value v;
                v.type = ex.inputType(k);
                v.shape = shape;
                const auto count = static_cast<size_t>(n);
                switch (v.type) {
                case Value::Type::Float:
                    for (size_t i = 0; i < count; ++i)
                        v.f.push_back(0.25f * static_cast<float>(i % 17) - 1.0f);
                    break;
                case Value::Type::Int64:
                    for (size_t i = 0; i < count; ++i)
                        v.i.push_back(static_cast<int64_t>(i % 5));
                    break;
                case Value::Type::Bool:
                    for (size_t i = 0; i < count; ++i)
                        v.b.push_back(static_cast<uint8_t>(i % 2));
                    break;
                }
                inputs.push_back(std::move(v));
            }
            ex.run(inputs);
        } catch (const ExecInternalError& e) {
            std::fprintf(stderr, "a kernel let a raw exception through: %s\n", e.what());
            std::abort();
        } catch (const bonsai::Error& e) {
            expectNamesFile(e, model.path);
            throw;
        }
    });
}

} // namespace bonsai::fuzz
