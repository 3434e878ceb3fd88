// Decode and prefill speed of a ~500M-parameter Llama-shaped checkpoint on Bonsai's packed
// kernels (LlmDecoder) beside llama.cpp's on the same GGUF files, in one process.
//
//   bench_decode [DIR] [--threads T] [--prompt N] [--tokens N] [--repeats N] [--no-llama]
//
// DIR (default: a temporary folder, removed afterwards) receives the generated checkpoint
// (hidden 1536, 20 blocks, 12 heads / 4 KV, MLP 4096, vocab 1024: the test tokenizer's, so
// that llama.cpp loads the exports; random FP16 weights) and its GGUF exports at Q8_0 and Q4_K
// by Bonsai's exporter. For each GGUF, Bonsai and llama.cpp (node-llama-cpp 3.21.1's CPU
// libraries called directly, llama_direct.h; same thread count) take turns, one repeat each:
// a prefill of a prompt of random ids from an empty cache (tokens/s of the whole batch), then
// greedy KV-cached decode steps of one token (tokens/s per step); medians over the repeats
// after a warm-up. Also Bonsai's FP32 decode of the checkpoint (weights widened to FP32 once).
// The other processes' CPU share during each measurement is printed (from /proc/stat), so a
// noisy run shows. Targets: Bonsai >= llama.cpp for prefill and decode; Q4_K decode >= 2.5x FP32.
#include "bench_util.h"
#include "llama_checkpoint.h"
#include "llama_direct.h"

#include "bonsai/export.h"
#include "bonsai/kernels.h"
#include "bonsai/llm.h"
#include "bonsai/llm_decode.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"

#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

struct Times {
    std::vector<double> prefill, step; // seconds per prefill, per decode step
};

double median(std::vector<double> v)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<int32_t> promptIds(int64_t prompt, int32_t vocab)
{
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> uid(3, vocab - 1);
    std::vector<int32_t> ids(static_cast<size_t>(prompt));
    for (auto& id : ids)
        id = uid(rng);
    return ids;
}

// One repeat: prefill from an empty cache, then `tokens` greedy steps; feed(ids) returns the
// next token. Records the times unless warming up.
void oneRepeat(const std::function<void()>& clear, const std::function<int32_t(std::vector<int32_t>)>& feed,
               const std::vector<int32_t>& ids, int64_t tokens, bool record, Times& t)
{
    clear();
    double t0 = bench::now();
    int32_t next = feed(ids);
    if (record)
        t.prefill.push_back(bench::now() - t0);
    for (int64_t k = 0; k < tokens && next >= 0; ++k) {
        t0 = bench::now();
        next = feed({next});
        if (record)
            t.step.push_back(bench::now() - t0);
    }
}

struct Engine {
    std::string name;
    std::function<void()> clear;
    std::function<int32_t(std::vector<int32_t>)> feed;
    Times times;
    bench::CpuShare others;
};

struct Bonsai {
    std::unique_ptr<bonsai::Model> model;
    std::unique_ptr<bonsai::LanguageModel> lm;
    std::unique_ptr<bonsai::LlmDecoder> dec;
    Bonsai(const std::string& path, int64_t ctx)
    {
        model = bonsai::Model::open(path);
        lm = std::make_unique<bonsai::LanguageModel>(*model);
        bonsai::DecodeOptions o;
        o.maxContext = ctx;
        dec = std::make_unique<bonsai::LlmDecoder>(*lm, std::vector<bonsai::LayerConfig>{}, o);
    }
    Engine engine()
    {
        Engine e;
        e.name = "bonsai";
        e.clear = [this] { dec->reset(); };
        e.feed = [this](std::vector<int32_t> ids) {
            const std::vector<float> l = dec->forward(ids);
            return int32_t(std::max_element(l.begin(), l.end()) - l.begin());
        };
        return e;
    }
};

// Runs the engines in turn, one repeat each, `repeats` times after a warm-up round.
void interleave(std::vector<Engine*> engines, const std::vector<int32_t>& ids, int64_t tokens, int repeats)
{
    for (int r = -1; r < repeats; ++r)
        for (Engine* e : engines) {
            e->others.start();
            oneRepeat(e->clear, e->feed, ids, tokens, r >= 0, e->times);
            e->others.stop();
        }
}

void report(const Engine& e, int64_t prompt)
{
    std::printf("  %-9s prefill %7.1f tokens/s, decode %7.2f tokens/s   (other processes: %.0f%% of the CPUs)\n",
                e.name.c_str(), double(prompt) / median(e.times.prefill), 1.0 / median(e.times.step),
                100.0 * e.others.share());
    std::fflush(stdout);
}

// Where Bonsai's time goes (its own timers, per part, all blocks): one prefill, then the
// mean of `steps` decode steps.
void printParts(const char* what, const bonsai::DecodeTimes& t, double per)
{
    std::printf("  bonsai %s by part:", what);
    for (int i = 0; i < bonsai::DecodeTimes::kParts; ++i)
        std::printf(" %s %.2f ms%s", bonsai::DecodeTimes::partName(i), 1e3 * t.seconds[size_t(i)] / per,
                    i + 1 < bonsai::DecodeTimes::kParts ? "," : "\n");
}

void parts(bonsai::LlmDecoder& dec, const std::vector<int32_t>& ids, int64_t steps)
{
    dec.reset();
    dec.resetTimes();
    const std::vector<float> l = dec.forward(ids);
    printParts("prefill", dec.times(), 1.0);
    int32_t next = int32_t(std::max_element(l.begin(), l.end()) - l.begin());
    dec.resetTimes();
    for (int64_t k = 0; k < steps; ++k) {
        const std::vector<float> s = dec.forward({next});
        next = int32_t(std::max_element(s.begin(), s.end()) - s.begin());
    }
    printParts("decode step", dec.times(), double(std::max<int64_t>(steps, 1)));
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

    std::unique_ptr<bench::llama::Api> api;
    if (llama) {
        api = std::make_unique<bench::llama::Api>(fs::path(BONSAI_SOURCE_DIR) / "tests/interop/node_modules" /
                                                  "@node-llama-cpp/linux-x64/bins/linux-x64");
        if (!api->ok()) {
            std::printf("llama.cpp: %s; measuring Bonsai alone\n", api->error.c_str());
            api.reset();
        }
    }

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
                "written in %.1f s; kernels %s, %d threads, prompt %lld, %lld decode steps, %d repeats (medians), "
                "load average %s\n",
                double(params) / 1e6, (long long)s.hidden, (long long)s.layers, (long long)s.heads,
                (long long)s.kvHeads, (long long)s.inter, (long long)s.vocab, bench::now() - tg,
                std::string(bonsai::kernelIsaName(bonsai::kernelIsa())).c_str(), threads, (long long)prompt,
                (long long)tokens, repeats, bench::loadAverage().c_str());

    const std::vector<int32_t> ids = promptIds(prompt, int32_t(s.vocab));
    const int64_t ctx = prompt + tokens + 1;
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

        Bonsai b(out, ctx);
        std::printf("  bonsai weights: %s, %.0f MiB resident\n", b.dec->weightSummary().c_str(),
                    double(b.dec->weightBytes()) / 1048576.0);
        Engine be = b.engine();
        std::vector<Engine*> engines{&be};
        std::unique_ptr<bench::llama::Runner> lr;
        Engine le;
        if (api) {
            lr = std::make_unique<bench::llama::Runner>(*api, out, threads, ctx + 8);
            if (lr->ok()) {
                le.name = "llama.cpp";
                le.clear = [&lr] { lr->clear(); };
                le.feed = [&lr, &s](std::vector<int32_t> v) { return lr->feed(std::move(v), int32_t(s.vocab)); };
                engines.push_back(&le);
            } else {
                std::printf("  llama.cpp did not load %s\n", out.c_str());
            }
        }
        // The FP32 checkpoint beside Q4_K (Q4_K decode / FP32 decode).
        std::unique_ptr<Bonsai> f;
        Engine fe;
        if (std::string(type) == "q4_k") {
            f = std::make_unique<Bonsai>(ckpt, ctx);
            fe = f->engine();
            fe.name = "bonsai-f32";
            engines.push_back(&fe);
        }
        interleave(engines, ids, tokens, repeats);
        for (const Engine* e : engines)
            report(*e, prompt);
        parts(*b.dec, ids, tokens);
        if (engines.size() > 1 && engines[1] == &le)
            std::printf("  %s Bonsai / llama.cpp: prefill %.2fx, decode %.2fx (target >= 1)\n", type,
                        median(le.times.prefill) / median(be.times.prefill), median(le.times.step) / median(be.times.step));
        if (f)
            std::printf("  Q4_K decode / FP32 decode (Bonsai): %.2fx (target >= 2.5x)\n",
                        median(fe.times.step) / median(be.times.step));
    }
    std::printf("load average %s, peak RSS %.0f MiB\n", bench::loadAverage().c_str(), bench::peakRssMB());
    if (temporary)
        fs::remove_all(dir);
    return 0;
}
