// Byte-level BPE (the Hugging Face tokenizers algorithm used by GPT-2, Llama 3 and Qwen2):
//
//  1. added tokens (special or not) are cut out of the raw text first, leftmost-longest;
//  2. each remaining segment is split by the pre-tokenizer regex (tokenizer_pretok.cpp);
//  3. each word's bytes are mapped to printable code points (GPT-2's bytes_to_unicode) and
//     merged pairwise, lowest merge rank first, until no ranked pair is left (with
//     ignore_merges, a word that is itself in the vocabulary is taken whole first);
//  4. decode maps code points back to bytes and skips special tokens.
//
// Words repeat a lot in natural text, so each encode() call caches the ids per distinct word:
// a megabyte of text merges only its few thousand distinct words.
#include "tokenizer/tokenizer_impl.h"

#include <algorithm>
#include <array>
#include <limits>
#include <unordered_map>

namespace bonsai::detail {

namespace {

void appendUtf8(std::string& out, char32_t cp)
{
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 bytes to
// U+0100.. in byte order (so the space 0x20 becomes U+0120 'Ġ' and '\n' U+010A 'Ċ').
std::array<char32_t, 256> bytesToUnicode()
{
    std::array<char32_t, 256> map{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
        const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        map[static_cast<size_t>(b)] = printable ? static_cast<char32_t>(b) : next++;
    }
    return map;
}

class BpeTokenizer final : public Tokenizer {
public:
    explicit BpeTokenizer(BpeSpec spec) : spec_(std::move(spec))
    {
        source_ = spec_.source;
        bos_ = spec_.bos;
        eos_ = spec_.eos;

        const auto b2u = bytesToUnicode();
        cpToByte_.fill(-1);
        for (int b = 0; b < 256; ++b) {
            cpToByte_[b2u[static_cast<size_t>(b)]] = b;
            appendUtf8(byteChar_[static_cast<size_t>(b)], b2u[static_cast<size_t>(b)]);
        }

        int32_t size = static_cast<int32_t>(spec_.vocab.size());
        for (const auto& a : spec_.added)
            size = std::max(size, a.id + 1);
        pieces_ = spec_.vocab;
        pieces_.resize(static_cast<size_t>(size));
        kind_.assign(static_cast<size_t>(size), Normal);
        for (size_t id = 0; id < spec_.vocab.size(); ++id)
            if (!spec_.vocab[id].empty())
                ids_.emplace(spec_.vocab[id], static_cast<int32_t>(id));
        for (const auto& a : spec_.added) {
            if (a.id < 0 || a.content.empty())
                continue;
            pieces_[static_cast<size_t>(a.id)] = a.content;
            kind_[static_cast<size_t>(a.id)] = a.special ? Special : AddedText;
            added_.push_back(a);
            firstByte_[static_cast<unsigned char>(a.content[0])] = true;
        }
        // Longest first, so that at one position the longest added token wins.
        std::stable_sort(added_.begin(), added_.end(), [](const auto& x, const auto& y) {
            return x.content.size() > y.content.size();
        });

        for (int b = 0; b < 256; ++b) {
            auto it = ids_.find(byteChar_[static_cast<size_t>(b)]);
            byteId_[static_cast<size_t>(b)] = it == ids_.end() ? -1 : it->second;
        }
        // Merges as (left id, right id) -> (rank, merged id). A merge whose parts or result
        // are not in the vocabulary can never apply and is dropped.
        merges_.reserve(spec_.merges.size());
        for (size_t r = 0; r < spec_.merges.size(); ++r) {
            const auto& [l, rt] = spec_.merges[r];
            auto a = ids_.find(l), b = ids_.find(rt), m = ids_.find(l + rt);
            if (a == ids_.end() || b == ids_.end() || m == ids_.end())
                continue;
            merges_.emplace(pairKey(a->second, b->second),
                            Merge{static_cast<int32_t>(r), m->second});
        }
        spec_.vocab.clear();
        spec_.merges.clear();
    }

    std::vector<int32_t> encode(std::string_view text) const override
    {
        std::vector<int32_t> out;
        out.reserve(text.size() / 3 + 4);
        std::unordered_map<std::string, std::vector<int32_t>> cache;
        size_t start = 0, i = 0;
        while (i < text.size()) {
            const Added* hit = nullptr;
            if (firstByte_[static_cast<unsigned char>(text[i])]) {
                for (const auto& a : added_)
                    if (text.compare(i, a.content.size(), a.content) == 0) {
                        hit = &a;
                        break;
                    }
            }
            if (!hit) {
                ++i;
                continue;
            }
            encodeSegment(text.substr(start, i - start), out, cache);
            out.push_back(hit->id);
            i += hit->content.size();
            start = i;
        }
        encodeSegment(text.substr(start), out, cache);
        return out;
    }

    std::string decode(const std::vector<int32_t>& ids) const override
    {
        std::string out;
        for (int32_t id : ids) {
            if (id < 0 || id >= vocabSize())
                continue;
            const auto k = kind_[static_cast<size_t>(id)];
            const std::string& p = pieces_[static_cast<size_t>(id)];
            if (k == Special)
                continue;
            if (k == AddedText) {
                out += p;
                continue;
            }
            // Code points of the byte map become their bytes; anything else (a vocabulary
            // entry not in byte-level form) is kept as UTF-8.
            size_t j = 0;
            while (j < p.size()) {
                const auto b = static_cast<unsigned char>(p[j]);
                size_t len = (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 1;
                len = std::min(len, p.size() - j);
                char32_t cp = len == 1 ? b : (b & (0x7F >> len)); // stray bytes stay as they are
                for (size_t k2 = 1; k2 < len; ++k2)
                    cp = (cp << 6) | (static_cast<unsigned char>(p[j + k2]) & 0x3F);
                if (cp < cpToByte_.size() && cpToByte_[cp] >= 0)
                    out += static_cast<char>(cpToByte_[cp]);
                else
                    out.append(p, j, len);
                j += len;
            }
        }
        return out;
    }

    std::string piece(int32_t id) const override
    {
        return id >= 0 && id < vocabSize() ? pieces_[static_cast<size_t>(id)] : std::string();
    }
    int32_t vocabSize() const override { return static_cast<int32_t>(pieces_.size()); }
    std::string kind() const override { return "bpe"; }

private:
    enum Kind : uint8_t { Normal, AddedText, Special };
    struct Merge {
        int32_t rank;
        int32_t id;
    };
    using Added = BpeSpec::Added;

    static uint64_t pairKey(int32_t a, int32_t b)
    {
        return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
    }

    void encodeSegment(std::string_view seg, std::vector<int32_t>& out,
                       std::unordered_map<std::string, std::vector<int32_t>>& cache) const
    {
        if (seg.empty())
            return;
        std::string prefixed;
        if (spec_.addPrefixSpace && seg.front() != ' ') {
            prefixed = " ";
            prefixed += seg;
            seg = prefixed;
        }
        for (const auto& [off, len] : preTokenize(seg, spec_.pattern)) {
            std::string word(seg.substr(off, len));
            auto it = cache.find(word);
            if (it == cache.end())
                it = cache.emplace(word, encodeWord(word)).first;
            out.insert(out.end(), it->second.begin(), it->second.end());
        }
    }

    std::vector<int32_t> encodeWord(std::string_view word) const
    {
        if (spec_.ignoreMerges) {
            std::string mapped;
            for (unsigned char b : word)
                mapped += byteChar_[b];
            auto it = ids_.find(mapped);
            if (it != ids_.end())
                return {it->second};
        }
        std::vector<int32_t> sym;
        sym.reserve(word.size());
        for (unsigned char b : word)
            sym.push_back(byteId_[b]);
        // Repeatedly merge every occurrence (left to right) of the lowest-ranked pair; this
        // is the reference algorithm and, with words of a few symbols, also the fastest.
        std::vector<int32_t> next;
        while (sym.size() > 1) {
            int32_t bestRank = std::numeric_limits<int32_t>::max();
            uint64_t bestKey = 0;
            int32_t bestId = -1;
            for (size_t k = 0; k + 1 < sym.size(); ++k) {
                if (sym[k] < 0 || sym[k + 1] < 0)
                    continue;
                auto it = merges_.find(pairKey(sym[k], sym[k + 1]));
                if (it != merges_.end() && it->second.rank < bestRank) {
                    bestRank = it->second.rank;
                    bestKey = it->first;
                    bestId = it->second.id;
                }
            }
            if (bestId < 0)
                break;
            next.clear();
            for (size_t k = 0; k < sym.size(); ++k) {
                if (k + 1 < sym.size() && sym[k] >= 0 && sym[k + 1] >= 0 &&
                    pairKey(sym[k], sym[k + 1]) == bestKey) {
                    next.push_back(bestId);
                    ++k;
                } else {
                    next.push_back(sym[k]);
                }
            }
            sym.swap(next);
        }
        // Bytes missing from the vocabulary (only in incomplete vocabularies) become the
        // unknown token, or are dropped when there is none.
        std::vector<int32_t> ids;
        ids.reserve(sym.size());
        for (int32_t s : sym)
            if (s >= 0)
                ids.push_back(s);
            else if (spec_.unk >= 0)
                ids.push_back(spec_.unk);
        return ids;
    }

    BpeSpec spec_;
    std::vector<std::string> pieces_;
    std::vector<Kind> kind_;
    std::unordered_map<std::string, int32_t> ids_;
    std::unordered_map<uint64_t, Merge> merges_;
    std::vector<Added> added_;
    std::array<bool, 256> firstByte_{};
    std::array<std::string, 256> byteChar_;
    std::array<int32_t, 256> byteId_{};
    std::array<int, 324> cpToByte_{};
};

} // namespace

std::unique_ptr<Tokenizer> makeBpeTokenizer(BpeSpec spec)
{
    return std::make_unique<BpeTokenizer>(std::move(spec));
}

} // namespace bonsai::detail
