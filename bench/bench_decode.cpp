// Decode and prefill speed of a ~500M-parameter Llama-shaped checkpoint on Bonsai's packed
// kernels (LlmDecoder) beside llama.cpp's on the same GGUF files, in one run.
//
//   bench_decode [DIR] [--threads T] [--prompt N] [--tokens N] [--repeats N] [--no-llama]
//
// DIR (default: a temporary folder, removed afterwards) receives the generated checkpoint
// (hidden 1536, 20 blocks, 12 heads / 4 KV, MLP 4096, vocab 1024: the test tokenizer's, so
// that llama.cpp loads the exports; random FP16 weights) and its GGUF exports at Q8_0 and Q4_K
// by Bonsai's exporter. For each GGUF: Bonsai's prefill of a prompt of random ids (tokens/s,
// median over the repeats) and greedy KV-cached decode (tokens/s from the median step), then
// llama.cpp's on the same file through node-llama-cpp (bench/llama_speed.mjs, same thread
// count). Also Bonsai's FP32 decode of the checkpoint (weights widened to FP32 once). Targets:
// Bonsai >= llama.cpp for prefill and decode; Q4_K decode >= 2.5x FP32 decode.
#include "bench_util.h"
#include "llama_checkpoint.h"

#include "bonsai/export.h"
#include "bonsai/kernels.h"
#include "bonsai/llm.h"
#include "bonsai/llm_decode.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

struct Speed {
    double prefill = 0, decode = 0; // tokens/s
    uint64_t weightBytes = 0;
};

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

Speed bonsaiSpeed(const std::string& path, int64_t prompt, int64_t tokens, int repeats)
{
    auto model = bonsai::Model::open(path);
    bonsai::LanguageModel lm(*model);
    bonsai::DecodeOptions o;
    o.maxContext = prompt + tokens + 1;
    bonsai::LlmDecoder dec(lm, {}, o);
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> uid(3, int32_t(lm.config().vocab - 1));
    std::vector<int32_t> ids(static_cast<size_t>(prompt));
    for (auto& id : ids)
        id = uid(rng);
    std::vector<double> pre, step;
    for (int r = -1; r < repeats; ++r) { // -1 warms up
        dec.reset();
        double t0 = bench::now();
        std::vector<float> logits = dec.forward(ids);
        if (r >= 0)
            pre.push_back(bench::now() - t0);
        for (int64_t t = 0; t < tokens; ++t) {
            const int32_t next = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
            t0 = bench::now();
            logits = dec.forward({next});
            if (r >= 0)
                step.push_back(bench::now() - t0);
        }
    }
    Speed s;
    s.prefill = double(prompt) / median(pre);
    s.decode = 1.0 / median(step);
    s.weightBytes = dec.weightBytes();
    std::printf("  bonsai    %-5s weights %s, %.0f MiB: prefill %.1f tokens/s, decode %.2f tokens/s\n",
                fs::path(path).extension() == ".gguf" ? "" : "FP32", dec.weightSummary().c_str(),
                double(s.weightBytes) / 1048576.0, s.prefill, s.decode);
    std::fflush(stdout);
    return s;
}

Speed llamaSpeed(const std::string& gguf, int64_t prompt, int64_t tokens, int repeats, int threads)
{
    // node resolves node-llama-cpp from the script's folder upwards: the script runs from a
    // copy beside the GGUF (the benchmark's folder), with a link to tests/interop's packages.
    const std::string src = BONSAI_SOURCE_DIR;
    const fs::path work = fs::path(gguf).parent_path();
    if (!fs::exists(work / "node_modules"))
        fs::create_directory_symlink(fs::path(src) / "tests" / "interop" / "node_modules", work / "node_modules");
    fs::copy_file(fs::path(src) / "bench" / "llama_speed.mjs", work / "llama_speed.mjs",
                  fs::copy_options::overwrite_existing);
    const std::string cmd = "node '" + (work / "llama_speed.mjs").string() + "' '" + gguf + "' --prompt " +
                            std::to_string(prompt) + " --tokens " + std::to_string(tokens) + " --repeats " +
                            std::to_string(repeats) + " --threads " + std::to_string(threads);
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    while (p && fgets(buf, sizeof buf, p))
        out += buf;
    const int rc = p ? pclose(p) : -1;
    Speed s;
    try {
        const auto j = nlohmann::json::parse(out);
        s.prefill = j.at("prefill_tokens_per_second").get<double>();
        s.decode = j.at("decode_tokens_per_second").get<double>();
    } catch (const std::exception&) {
        std::printf("  llama.cpp: no result (exit %d): %s\n", rc, out.c_str());
        return s;
    }
    std::printf("  llama.cpp                                  : prefill %.1f tokens/s, decode %.2f tokens/s\n",
                s.prefill, s.decode);
    std::fflush(stdout);
    return s;
}

} // namespace

int main(int argc, char** argv)
{
    std::string dir;
    int threads = 2, repeats = 3;
    int64_t prompt = 128, tokens = 32;
    bool llama = true;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc)
            threads = std::stoi(argv[++i]);
        else if (a == "--prompt" && i + 1 < argc)
            prompt = std::stoll(argv[++i]);
        else if (a == "--tokens" && i + 1 < argc)
            tokens = std::stoll(argv[++i]);
        else if (a == "--repeats" && i + 1 < argc)
            repeats = std::stoi(argv[++i]);
        else if (a == "--no-llama")
            llama = false;
        else
            dir = a;
    }
    const bool temporary = dir.empty();
    if (temporary)
        dir = (fs::temp_directory_path() / ("bonsai-bench-decode-" + std::to_string(getpid()))).string();
    omp_set_num_threads(threads);

    bench::LlamaShape s;
    s.hidden = 1536;
    s.inter = 4096;
    s.layers = 20;
    s.heads = 12;
    s.kvHeads = 4;
    s.vocab = 1024;
    const std::string ckpt = dir + "/checkpoint";
    const double tg = bench::now();
    const uint64_t params = bench::writeLlamaCheckpoint(ckpt, s, BONSAI_SOURCE_DIR);
    std::printf("checkpoint: %.1fM parameters (hidden %lld, %lld blocks, %lld heads / %lld KV, MLP %lld, vocab %lld), "
                "written in %.1f s; kernels %s, %d threads, prompt %lld, %lld decode steps, %d repeats (medians)\n",
                double(params) / 1e6, (long long)s.hidden, (long long)s.layers, (long long)s.heads,
                (long long)s.kvHeads, (long long)s.inter, (long long)s.vocab, bench::now() - tg,
                std::string(bonsai::kernelIsaName(bonsai::kernelIsa())).c_str(), threads, (long long)prompt,
                (long long)tokens, repeats);

    std::vector<std::pair<std::string, Speed>> q4k;
    Speed fp32;
    {
        auto model = bonsai::Model::open(ckpt);
        for (const char* type : {"q8_0", "q4_k"}) {
            const bonsai::Recipe r =
                bonsai::Recipe::parse(std::string(R"({"bonsai_recipe":1,"defaults":{"precision":")") + type + "\"}}");
            std::vector<bonsai::LayerConfig> configs;
            for (const auto& l : model->layers)
                configs.push_back(r.resolve(l.name));
            const std::string out = dir + "/model-" + type + ".gguf";
            bonsai::ExportOptions eo;
            eo.overwrite = true;
            const double te = bench::now();
            bonsai::exportModel(*model, configs, bonsai::ExportFormat::Gguf, out, eo);
            std::printf("%s: exported in %.1f s, %.0f MiB\n", type, bench::now() - te,
                        double(fs::file_size(out)) / 1048576.0);
            std::fflush(stdout);
            const Speed b = bonsaiSpeed(out, prompt, tokens, repeats);
            Speed l;
            if (llama)
                l = llamaSpeed(out, prompt, tokens, repeats, threads);
            if (llama && l.decode > 0)
                std::printf("  %s: Bonsai / llama.cpp: prefill %.2fx, decode %.2fx (target >= 1)\n", type,
                            b.prefill / l.prefill, b.decode / l.decode);
            if (std::string(type) == "q4_k")
                q4k.push_back({type, b});
        }
    }
    std::printf("fp32:\n");
    fp32 = bonsaiSpeed(ckpt, prompt, tokens, repeats);
    if (!q4k.empty())
        std::printf("Q4_K decode / FP32 decode: %.2fx (target >= 2.5x)\n", q4k[0].second.decode / fp32.decode);
    std::printf("peak RSS %.0f MiB\n", bench::peakRssMB());
    if (temporary)
        fs::remove_all(dir);
    return 0;
}
