// bonsai-cli ppl: perplexity of a (compressed) language model on a text file.
#include "commands.h"

#include "bonsai/compress.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "bonsai/recipe.h"
#include "bonsai/tokenizer.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>

namespace cli {

int cmdPpl(const Args& in)
{
    Args args = in;
    const char* usage =
        "bonsai-cli ppl MODEL --text FILE [--recipe R.json | --preset KEY] [--ctx N] [--chunks N] [--calib FILE] "
        "[--no-base] [--json]";
    const bool asJson = takeFlag(args, "--json");
    const bool noBase = takeFlag(args, "--no-base");
    std::string textPath, ctx = "128", chunks = "0", calibPath, batch = "2048";
    takeOption(args, "--text", textPath);
    const ConfigSource source = takeConfigSource(args);
    takeOption(args, "--ctx", ctx);
    takeOption(args, "--chunks", chunks);
    takeOption(args, "--calib", calibPath);
    takeOption(args, "--batch", batch);
    if (source.listPresets)
        return printPresets();
    expectPositional(args, 1, usage);
    if (textPath.empty())
        throw UsageError(std::string("--text FILE is required\nusage: ") + usage);
    bonsai::PerplexityOptions opt;
    opt.ctx = static_cast<int>(wholeNumber("--ctx", ctx, 1, 1 << 20));
    opt.maxChunks = wholeNumber("--chunks", chunks, 0, 1ll << 40);
    opt.batchTokens = wholeNumber("--batch", batch, 1, 1 << 24);
    opt.compareToBase = !noBase;

    // Everything is checked before any work starts.
    auto model = bonsai::Model::open(args[0]);
    const auto configs = resolveConfigs(source, *model, "ppl");
    const std::string text = bonsai::readTextFile(textPath);
    const std::string calibText = calibPath.empty() ? std::string() : bonsai::readTextFile(calibPath);
    bonsai::LanguageModel lm(*model);
    const auto tokens = lm.tokenizer().encode(text);
    if (!calibText.empty())
        opt.calibrationTokens = lm.tokenizer().encode(calibText);

    const auto t0 = std::chrono::steady_clock::now();
    double lastPrint = -1;
    const auto r = lm.perplexity(tokens, configs, opt, [&](const bonsai::PerplexityProgress& p) {
        if (asJson)
            return true;
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (s - lastPrint >= 1.0 || p.fraction >= 1.0) {
            lastPrint = s;
            const double eta = p.fraction > 0.01 ? s / p.fraction - s : 0;
            std::fprintf(stderr, "\r%5.1f%%  %-44s ppl %.4f  eta %.0f s   ", 100 * p.fraction,
                         p.stage.substr(0, 44).c_str(), p.perplexity, eta);
        }
        return true;
    });
    if (!asJson)
        std::fputc('\n', stderr);
    if (asJson) {
        nlohmann::ordered_json j;
        j["perplexity"] = r.perplexity;
        j["tokens"] = r.tokens;
        j["kl"] = r.kl;
        j["agreement"] = r.agreement;
        j["seconds"] = r.seconds;
        j["original_bytes"] = r.originalBytes;
        j["compressed_bytes"] = r.compressedBytes;
        j["base_perplexity"] = r.basePerplexity;
        j["chunks"] = r.chunks;
        j["ctx"] = opt.ctx;
        j["notes"] = r.notes;
        std::puts(j.dump(2).c_str());
        return 0;
    }
    std::printf("model:           %s (%s)\n", model->path.c_str(), lm.config().describe().c_str());
    std::printf("tokenizer:       %s, %s\n", lm.tokenizer().kind().c_str(), lm.tokenizer().source().c_str());
    std::printf("text:            %s: %llu tokens in %lld chunks of %d (each run as BOS + chunk)\n",
                textPath.c_str(), static_cast<unsigned long long>(r.tokens), static_cast<long long>(r.chunks), opt.ctx);
    std::printf("perplexity:      %.4f\n", r.perplexity);
    if (r.kl > 0 || r.agreement < 1) {
        std::printf("uncompressed:    %.4f\n", r.basePerplexity);
        std::printf("KL divergence:   %.6f nats/token (vs uncompressed)\n", r.kl);
        std::printf("top-1 agreement: %.2f%%\n", 100 * r.agreement);
    }
    std::printf("size:            %.2f MB -> %.2f MB (%.2fx)\n", double(r.originalBytes) / 1e6,
                double(r.compressedBytes) / 1e6, double(r.originalBytes) / double(r.compressedBytes));
    std::printf("time:            %.2f s (%.0f tokens/s)\n", r.seconds, double(r.tokens) / r.seconds);
    for (const auto& n : r.notes)
        std::printf("note:            %s\n", n.c_str());
    return 0;
}

} // namespace cli
