// A language model from a GGUF file: the tokenizer built from tokenizer.ggml.* (encode and
// decode of a short text), the configuration from the architecture's keys, and the
// LanguageModel bound to the tensors, run on a few tokens when the model is small.
#include "bonsai/llm.h"
#include "bonsai/readers.h"
#include "bonsai/tokenizer.h"
#include "fuzz_input.h"
#include "fuzz_llm_run.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    bonsai::fuzz::noteInput(data, size);
    const std::string path = bonsai::fuzz::writeInput("model.gguf", data, size);
    bonsai::fuzz::expectOnlyBonsaiErrors([&] {
        auto model = bonsai::readGguf(path);
        bonsai::fuzz::exerciseTokenizer([&] { return bonsai::Tokenizer::fromGguf(*model); });
        bonsai::fuzz::exerciseLanguageModel(*model);
    });
    return 0;
}
