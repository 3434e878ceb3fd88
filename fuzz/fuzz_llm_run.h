#pragma once
// What the language-model harnesses do with what they read: a tokenizer encodes and decodes a
// short text (its own ids must decode), and a LanguageModel is bound to the model and, when
// the model is small, runs a forward pass over a few tokens.
#include "bonsai/error.h"
#include "bonsai/llm.h"
#include "bonsai/model.h"
#include "bonsai/tokenizer.h"
#include "fuzz_input.h"

#include <memory>

namespace bonsai::fuzz {

inline void useTokenizer(const Tokenizer& tok)
{
    const auto ids = tok.encode("Hello world, 123 <s> caf\xc3\xa9\n\t  x");
    (void)tok.decode(ids);
    (void)tok.decode({-1, 0, tok.vocabSize() - 1, tok.vocabSize(), 1 << 30});
    for (int32_t id : ids)
        (void)tok.piece(id);
    (void)tok.piece(-1);
    (void)tok.piece(tok.vocabSize());
}

// Builds a tokenizer with `make` (a bonsai::Error is an accepted refusal) and uses it.
template <class Make>
void exerciseTokenizer(Make&& make)
{
    std::unique_ptr<Tokenizer> tok;
    expectOnlyBonsaiErrors([&] { tok = make(); });
    if (tok)
        useTokenizer(*tok);
}

inline void exerciseLanguageModel(const Model& model)
{
    expectOnlyBonsaiErrors([&] {
        LanguageModel lm(model);
        useTokenizer(lm.tokenizer());
        const LlmConfig& c = lm.config();
        // A forward pass only for models of a few thousand weights (fuzzing speed).
        if (model.totalBytes() <= (1u << 18) && c.layers <= 4) {
            const int32_t v = static_cast<int32_t>(c.vocab);
            (void)lm.logits({0, v - 1, v / 2});
        }
    });
}

} // namespace bonsai::fuzz
