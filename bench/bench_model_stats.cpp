// Benchmark: open a 7B-scale FP16 safetensors checkpoint and stream per-layer statistics.
//
// Writes a Llama-7B-shaped checkpoint (about 13.5 GB of FP16 weights drawn from a Gaussian)
// unless --model names an existing one, then prints:
//   - time and peak RSS to open it and list its layers (in a fresh child process);
//   - statistics throughput (min/max/mean/std/kurtosis and a 256-bin histogram of every
//     tensor) on 1 and 2 threads, beside this machine's memory read bandwidth.
// Usage: bench_model_stats [--dir DIR] [--layers N] [--model PATH] [--keep]
#include "bench_util.h"

#include "bonsai/half.h"
#include "bonsai/model.h"
#include "bonsai/stats.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace {

struct Spec {
    std::string name;
    std::vector<int64_t> shape;
};

std::vector<Spec> llamaLayout(int layers)
{
    const int64_t d = 4096, ff = 11008, vocab = 32000;
    std::vector<Spec> s = {{"model.embed_tokens.weight", {vocab, d}}};
    for (int l = 0; l < layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        for (const char* n : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj"})
            s.push_back({p + n + ".weight", {d, d}});
        s.push_back({p + "mlp.gate_proj.weight", {ff, d}});
        s.push_back({p + "mlp.up_proj.weight", {ff, d}});
        s.push_back({p + "mlp.down_proj.weight", {d, ff}});
        s.push_back({p + "input_layernorm.weight", {d}});
        s.push_back({p + "post_attention_layernorm.weight", {d}});
    }
    s.push_back({"model.norm.weight", {d}});
    s.push_back({"lm_head.weight", {vocab, d}});
    return s;
}

void writeCheckpoint(const std::string& path, int layers)
{
    const auto specs = llamaLayout(layers);
    std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
    uint64_t off = 0;
    for (const auto& s : specs) {
        uint64_t n = 1;
        for (auto d : s.shape)
            n *= static_cast<uint64_t>(d);
        header += ",\"" + s.name + "\":{\"dtype\":\"F16\",\"shape\":[";
        for (size_t i = 0; i < s.shape.size(); ++i)
            header += (i ? "," : "") + std::to_string(s.shape[i]);
        header += "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + 2 * n) + "]}";
        off += 2 * n;
    }
    header += "}";
    header.append((8 - header.size() % 8) % 8, ' ');
    std::ofstream f(path, std::ios::binary);
    const uint64_t hl = header.size();
    f.write(reinterpret_cast<const char*>(&hl), 8);
    f.write(header.data(), static_cast<std::streamsize>(header.size()));
    // A pool of Gaussian FP16 values (std 0.02, a few outliers) written at varying offsets.
    const size_t pool = size_t(1) << 26;
    std::vector<uint16_t> v(pool + 4096);
    std::mt19937 rng(1);
    std::normal_distribution<float> g(0.0f, 0.02f);
    for (size_t i = 0; i < v.size(); ++i)
        v[i] = bonsai::floatToFp16(i % 100003 == 0 ? 0.5f : g(rng));
    uint64_t left = off, k = 0;
    const double t0 = bench::now();
    while (left) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(left / 2, pool));
        f.write(reinterpret_cast<const char*>(v.data() + (k++ * 977) % 4096), static_cast<std::streamsize>(2 * n));
        left -= 2 * n;
    }
    f.close();
    std::printf("wrote %s: %.2f GB in %.1f s\n", path.c_str(), (off + 8 + hl) / 1e9, bench::now() - t0);
}

} // namespace

static int run(int argc, char** argv)
{
    std::string dir = std::filesystem::temp_directory_path().string(), model;
    int layers = 32;
    bool keep = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--dir" && i + 1 < argc) dir = argv[++i];
        else if (a == "--layers" && i + 1 < argc) layers = std::atoi(argv[++i]);
        else if (a == "--model" && i + 1 < argc) model = argv[++i];
        else if (a == "--keep") keep = true;
        else { std::fprintf(stderr, "usage: %s [--dir DIR] [--layers N] [--model PATH] [--keep]\n", argv[0]); return 2; }
    }
    const bool generated = model.empty();
    if (generated) {
        model = dir + "/bonsai-bench-7b.safetensors";
        if (!std::filesystem::is_directory(dir))
            throw std::runtime_error(dir + ": not a directory");
        if (!std::filesystem::exists(model))
            writeCheckpoint(model, layers);
    }

    // 1. Open and list layers in a fresh child, so its peak RSS is the opening's alone.
    int pipefd[2];
    if (pipe(pipefd) != 0)
        return 1;
    const pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        const double t0 = bench::now();
        auto m = bonsai::Model::open(model);
        uint64_t listed = 0;
        for (const auto& l : m->layers)
            listed += m->tensors[static_cast<size_t>(l.weight)].numel;
        const double dt = bench::now() - t0;
        char msg[256];
        const int len = std::snprintf(msg, sizeof msg, "%zu %zu %.4f %llu", m->layers.size(), m->tensors.size(), dt,
                                      static_cast<unsigned long long>(listed));
        (void)!write(pipefd[1], msg, static_cast<size_t>(len));
        _exit(0);
    }
    close(pipefd[1]);
    char buf[256] = {};
    (void)!read(pipefd[0], buf, sizeof buf - 1);
    int status = 0;
    rusage ru{};
    wait4(pid, &status, 0, &ru);
    size_t nl = 0, nt = 0;
    double openS = 0;
    unsigned long long params = 0;
    std::sscanf(buf, "%zu %zu %lf %llu", &nl, &nt, &openS, &params);
    std::printf("\n[open] %s\n  %zu tensors, %zu layers, %.2f B layer parameters\n", model.c_str(), nt, nl, params / 1e9);
    std::printf("  open + list layers: %.3f s (target < 1 s), peak RSS %.1f MB (target < 200 MB)\n", openS,
                ru.ru_maxrss / 1024.0);

    // 2. Statistics over every tensor.
    auto m = bonsai::Model::open(model);
    const double bw1 = bench::readBandwidth(1), bw2 = bench::readBandwidth(2);
    std::printf("\n[memory] read bandwidth: %.1f GB/s (1 thread), %.1f GB/s (2 threads)\n", bw1, bw2);
    for (int threads : {2, 1, 2}) {
        omp_set_num_threads(threads);
        const double t0 = bench::now();
        uint64_t bytes = 0, outliers = 0;
        for (size_t t = 0; t < m->tensors.size(); ++t) {
            auto s = bonsai::computeStats(*m, static_cast<int>(t), {256, -1});
            bytes += m->tensors[t].nbytes;
            outliers += s.outliers;
        }
        const double dt = bench::now() - t0;
        std::printf("[stats] %d thread(s): %.2f GB in %.2f s = %.1f GB/s (target >= 8 GB/s on 2 threads; %.0f%% of "
                    "read bandwidth); %llu outliers\n",
                    threads, bytes / 1e9, dt, bytes / 1e9 / dt, 100.0 * bytes / 1e9 / dt / (threads == 1 ? bw1 : bw2),
                    static_cast<unsigned long long>(outliers));
    }
    std::printf("[rss] peak RSS of this process: %.0f MB\n", bench::peakRssMB());
    if (generated && !keep)
        std::filesystem::remove(model);
    return 0;
}

int main(int argc, char** argv)
{
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_model_stats: %s\n", e.what());
        return 1;
    }
}
