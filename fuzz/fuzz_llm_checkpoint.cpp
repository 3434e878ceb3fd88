// A language model from a Hugging Face checkpoint folder: config.json, model.safetensors and
// optionally tokenizer.json, separated by kPartSeparator in the input. Reads the LLM config,
// binds the LanguageModel to the tensors and runs a few tokens through a small one.
#include "bonsai/llm.h"
#include "bonsai/readers.h"
#include "fuzz_input.h"
#include "fuzz_llm_run.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    bonsai::fuzz::noteInput(data, size);
    const auto parts = bonsai::fuzz::splitParts(data, size);
    bonsai::fuzz::clearWorkDir();
    bonsai::fuzz::writeInput("config.json", parts[0]);
    const std::string weights = bonsai::fuzz::writeInput("model.safetensors", parts.size() > 1 ? parts[1] : "");
    if (parts.size() > 2)
        bonsai::fuzz::writeInput("tokenizer.json", parts[2]);
    bonsai::fuzz::expectOnlyBonsaiErrors([&] {
        auto model = bonsai::readSafetensors(weights);
        bonsai::fuzz::expectOnlyBonsaiErrors([&] { (void)bonsai::LlmConfig::fromModel(*model).describe(); });
        bonsai::fuzz::exerciseLanguageModel(*model);
    });
    return 0;
}
