// SentencePiece tokenizer.model (the ModelProto: pieces, trainer and normalizer specs); the
// tokenizer then encodes and decodes a short text.
#include "bonsai/tokenizer.h"
#include "fuzz_input.h"
#include "fuzz_llm_run.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    bonsai::fuzz::noteInput(data, size);
    const std::string path = bonsai::fuzz::writeInput("tokenizer.model", data, size);
    bonsai::fuzz::expectOnlyBonsaiErrors([&] {
        bonsai::fuzz::exerciseTokenizer([&] { return bonsai::Tokenizer::fromSentencePiece(path); });
    });
    return 0;
}
