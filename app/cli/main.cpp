// bonsai-cli: the headless tool on top of bonsai_core.
#include "commands.h"

#include "bonsai/error.h"
#include "bonsai/fault.h"

#include <csignal>
#include <cstdio>
#include <cstring>

#include <malloc.h>

namespace {

const char* kUsage =
    "usage: bonsai-cli COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  info MODEL [--json]                 list every tensor, its layer role and totals\n"
    "  tensor MODEL NAME --npy OUT.npy     write one tensor as float32 NumPy array\n"
    "  stats MODEL [NAME] [--json]         weight statistics of one tensor or all layers\n"
    "  compress MODEL (--recipe R.json | --preset KEY) [--json]\n"
    "                                      apply a recipe or preset: per-layer size and\n"
    "                                      error, totals (--preset help lists the presets)\n"
    "  eval MODEL [--dataset PATH] [--recipe R.json | --preset KEY] [--limit N] [--deploy] [--json]\n"
    "                                      accuracy of an ONNX classifier (default data:\n"
    "                                      the Fashion-MNIST test set)\n"
    "  search MODEL (--budget-bpw B | --budget-bytes N | --max-kl X | --max-drop D) --out R.json\n"
    "         [--match REGEX] [--dataset D | --text F] [--calib F] [--candidates C.json] [--target FORMAT] [--json]\n"
    "                                      the per-layer precision, sparsity and rank that fit\n"
    "                                      a budget best (measured sensitivities, exact solver)\n"
    "  train --out OUT.onnx [--epochs N] [--seed S] [--batch B] [--lr X] [--json]\n"
    "                                      train the demo CNN on Fashion-MNIST, write ONNX\n"
    "  recover MODEL --recipe R.json --method finetune|qat|distill|lottery --out OUT.onnx [--json]\n"
    "                                      train a compressed model back (accuracy before/after)\n"
    "  ppl MODEL --text FILE [--recipe R.json | --preset KEY] [--ctx N] [--chunks N] [--calib FILE] [--json]\n"
    "                                      perplexity of a language model (Llama, Mistral,\n"
    "                                      Qwen2; safetensors folder or GGUF), KL and top-1\n"
    "                                      agreement against the uncompressed model\n"
    "  speed MODEL [--recipe R.json | --preset KEY] [--batch N] [--threads T] [--prompt N]\n"
    "        [--tokens N] [--repeats N] [--deploy] [--json]\n"
    "                                      inference speed on packed low-bit kernels: prefill\n"
    "                                      and KV-cached decode tokens/s (language models) or\n"
    "                                      latency and throughput (ONNX; --deploy: INT8 layers\n"
    "                                      in INT8), per part, memory\n"
    "  export MODEL (--recipe R.json | --preset KEY) --format gguf|tensor-types|onnx|safetensors|\n"
    "         safetensors-packed|llm-compressor\n"
    "         --out PATH [--check] [--accept-mapping] [--force] [--text FILE] [--json]\n"
    "                                      write the compressed model for llama.cpp (GGUF, or\n"
    "                                      llama-quantize's --tensor-type-file of its types)\n"
    "                                      or ONNX Runtime (QDQ/FP16 weights of a classifier)\n"
    "                                      or transformers (--dtype f32|f16|bf16 folder), or\n"
    "                                      vLLM/transformers (compressed-tensors pack-quantized\n"
    "                                      folder), or an llm-compressor recipe (YAML),\n"
    "                                      after a per-tensor check of what the format stores\n"
    "                                      and the quality predicted for the weights written:\n"
    "                                      --text FILE [--ctx N] [--chunks N] the perplexity,\n"
    "                                      --dataset PATH [--limit N] the accuracy (ONNX)\n"
    "  verify RECORD MODEL [--calibration PATH] [--json]\n"
    "                                      is MODEL the one an export or recipe records?\n"
    "                                      (name, size and SHA-256 of each file; and of the\n"
    "                                      calibration data, at PATH or where recorded)\n"
    "\n"
    "MODEL is a .safetensors, .onnx or .gguf file, a directory of safetensors shards,\n"
    "or a *.safetensors.index.json file.\n";

} // namespace

int main(int argc, char** argv)
{
    // Layers are compressed into large temporary buffers again and again: keep freed blocks
    // for reuse instead of returning (and re-faulting) them each time.
    // A file size limit (ulimit -f) makes write() fail with EFBIG, reported with the file's name
    // and its temporary removed, instead of killing the process mid-write.
    std::signal(SIGXFSZ, SIG_IGN);
    mallopt(M_MMAP_MAX, 0); // all from the heap, so freed blocks are reused
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!std::strcmp(argv[1], "--version")) {
        std::puts("bonsai-cli 0.1.0");
        return 0;
    }
    const std::string cmd = argv[1];
    cli::Args args(argv + 2, argv + argc);
    try {
        if (cmd == "info")
            return cli::cmdInfo(args);
        if (cmd == "tensor")
            return cli::cmdTensor(args);
        if (cmd == "stats")
            return cli::cmdStats(args);
        if (cmd == "compress")
            return cli::cmdCompress(args);
        if (cmd == "eval")
            return cli::cmdEval(args);
        if (cmd == "train")
            return cli::cmdTrain(args);
        if (cmd == "recover")
            return cli::cmdRecover(args);
        if (cmd == "ppl")
            return cli::cmdPpl(args);
        if (cmd == "export")
            return cli::cmdExport(args);
        if (cmd == "verify")
            return cli::cmdVerify(args);
        if (cmd == "search")
            return cli::cmdSearch(args);
        if (cmd == "speed")
            return cli::cmdSpeed(args);
        std::fprintf(stderr, "bonsai-cli: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
        return 2;
    } catch (const cli::UsageError& e) {
        std::fprintf(stderr, "bonsai-cli %s: %s\n", cmd.c_str(), e.what());
        return 2;
    } catch (const bonsai::Error& e) {
        std::fprintf(stderr, "bonsai-cli %s: %s\n", cmd.c_str(), e.what());
        return 1;
    } catch (const std::exception& e) {
        // No raw exception text: the fault in words, naming the file the command works on.
        const std::string subject = !args.empty() && args[0].rfind("--", 0) != 0 ? args[0] : std::string();
        std::fprintf(stderr, "bonsai-cli %s: %s\n", cmd.c_str(), bonsai::userMessage(e, subject).c_str());
        return 1;
    }
}
