// Pre-tokenizer of byte-level BPE: the regex split that runs before merges, hand-written for
// the two pattern families in use (GPT-2's, and Llama 3's / Qwen2's), since std::regex has no
// Unicode classes.
//
// The matchers follow the regex semantics exactly (alternatives tried left to right, greedy
// quantifiers with the backtracking that matters). Unicode classes are approximated: \s is the
// Unicode White_Space set, \p{N} is the decimal digits of the common scripts plus the
// super/subscript, fraction, roman-numeral and circled-number blocks, and \p{L} is every other
// code point >= 0x80 except known punctuation, symbol, mark and emoji ranges (see isLetter).
// Text in Latin, Greek, Cyrillic, CJK, Arabic and so on therefore splits as with the real
// regex; rare symbols outside the listed ranges would be taken as letters.
#include "tokenizer/tokenizer_impl.h"

#include "bonsai/error.h"

namespace bonsai::detail {

namespace {

constexpr const char* kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

bool isSpace(char32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

bool isNumber(char32_t c)
{
    if (c < 0x80)
        return c >= '0' && c <= '9';
    if (c == 0xB2 || c == 0xB3 || c == 0xB9 || (c >= 0xBC && c <= 0xBE))
        return true;
    // Decimal digit blocks: Arabic-Indic, Extended Arabic-Indic, NKo, and the Indic scripts
    // (each has its digits at xx66..xx6F or xxE6..xxEF).
    if ((c >= 0x660 && c <= 0x669) || (c >= 0x6F0 && c <= 0x6F9) || (c >= 0x7C0 && c <= 0x7C9))
        return true;
    if (c >= 0x966 && c <= 0xDEF) {
        const char32_t low = c & 0x7F;
        return low >= 0x66 && low <= 0x6F;
    }
    return (c >= 0xE50 && c <= 0xE59) || (c >= 0xED0 && c <= 0xED9) ||
           (c >= 0xF20 && c <= 0xF33) || (c >= 0x1040 && c <= 0x1049) ||
           (c >= 0x17E0 && c <= 0x17E9) || (c >= 0x1810 && c <= 0x1819) || c == 0x2070 ||
           (c >= 0x2074 && c <= 0x2079) || (c >= 0x2080 && c <= 0x2089) ||
           (c >= 0x2150 && c <= 0x2189) || (c >= 0x2460 && c <= 0x249B) ||
           (c >= 0x24EA && c <= 0x24FF) || (c >= 0x2776 && c <= 0x2793) || c == 0x3007 ||
           (c >= 0x3021 && c <= 0x3029) || (c >= 0x3038 && c <= 0x303A) ||
           (c >= 0x3192 && c <= 0x3195) || (c >= 0x3220 && c <= 0x3229) ||
           (c >= 0x3248 && c <= 0x324F) || (c >= 0x3251 && c <= 0x325F) ||
           (c >= 0x3280 && c <= 0x3289) || (c >= 0x32B1 && c <= 0x32BF) ||
           (c >= 0xFF10 && c <= 0xFF19) || (c >= 0x1D7CE && c <= 0x1D7FF);
}

// Approximate \p{L}: ASCII letters, and non-ASCII code points outside the punctuation,
// symbol, combining-mark, private-use and emoji ranges listed here.
bool isLetter(char32_t c)
{
    if (c < 0x80)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (isSpace(c) || isNumber(c))
        return false;
    if (c <= 0xBF) // Latin-1 punctuation and symbols, except the three letters among them
        return c == 0xAA || c == 0xB5 || c == 0xBA;
    if (c == 0xD7 || c == 0xF7)
        return false;
    if ((c >= 0x300 && c <= 0x36F) ||   // combining diacritical marks
        c == 0x37E || c == 0x387 ||     // Greek question mark, ano teleia
        (c >= 0x55A && c <= 0x55F) || c == 0x589 || (c >= 0x591 && c <= 0x5C7) ||
        (c >= 0x600 && c <= 0x61F) || (c >= 0x64B && c <= 0x65F) || c == 0x66A ||
        c == 0x66B || c == 0x66C || c == 0x66D || c == 0x6D4 ||
        (c >= 0x900 && c <= 0x903) || (c >= 0x93A && c <= 0x94F) || c == 0x964 || c == 0x965 ||
        c == 0xE3F || (c >= 0xE31 && c <= 0xE3A && c != 0xE32 && c != 0xE33) ||
        (c >= 0xE47 && c <= 0xE4F) ||
        (c >= 0x2000 && c <= 0x206F) ||   // general punctuation, format characters
        (c >= 0x20A0 && c <= 0x20FF) ||   // currency symbols, combining marks for symbols
        (c >= 0x2100 && c <= 0x214F && c != 0x2102 && c != 0x2107 && !(c >= 0x210A && c <= 0x2113) &&
         c != 0x2115 && !(c >= 0x2119 && c <= 0x211D) && c != 0x2124 && c != 0x2126 &&
         c != 0x2128 && !(c >= 0x212A && c <= 0x212D) && !(c >= 0x212F && c <= 0x2139)) ||
        (c >= 0x2190 && c <= 0x2BFF) ||   // arrows, math, technical, box drawing, dingbats
        (c >= 0x2E00 && c <= 0x2E7F) ||   // supplemental punctuation
        (c >= 0x3000 && c <= 0x3004) || (c >= 0x3008 && c <= 0x3020) || c == 0x3030 ||
        c == 0x303D || (c >= 0x3099 && c <= 0x309C) || c == 0x30A0 || c == 0x30FB ||
        (c >= 0xD800 && c <= 0xF8FF) ||   // surrogates, private use
        (c >= 0xFE00 && c <= 0xFE0F) ||   // variation selectors
        (c >= 0xFE10 && c <= 0xFE6F) ||   // vertical forms, CJK compatibility, small forms
        (c >= 0xFF01 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) ||
        (c >= 0xFF3B && c <= 0xFF40) || (c >= 0xFF5B && c <= 0xFF65) ||
        (c >= 0xFFE0 && c <= 0xFFFF) ||
        (c >= 0x1D100 && c <= 0x1D24F) || // musical symbols
        (c >= 0x1F000 && c <= 0x1FBFF) || // emoji, pictographs, regional indicators
        (c >= 0xE0000 && c <= 0xE007F) || // tags
        (c >= 0xE0100 && c <= 0xE01EF) || c >= 0xF0000)
        return false;
    return true;
}

// Decodes UTF-8 into code points and the byte offset of each (plus the end offset). Invalid
// bytes become one code point each (U+FFFD class "other"), so every byte belongs to a piece.
void decodeUtf8(std::string_view s, std::vector<char32_t>& cps, std::vector<size_t>& offs)
{
    cps.clear();
    offs.clear();
    cps.reserve(s.size());
    offs.reserve(s.size() + 1);
    size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        size_t len = 1;
        char32_t cp = 0xFFFD;
        if (b < 0x80) {
            cp = b;
        } else if ((b >> 5) == 0x6) {
            len = 2;
            cp = b & 0x1F;
        } else if ((b >> 4) == 0xE) {
            len = 3;
            cp = b & 0x0F;
        } else if ((b >> 3) == 0x1E) {
            len = 4;
            cp = b & 0x07;
        } else {
            len = 0;
        }
        bool ok = len > 0 && i + len <= s.size();
        for (size_t k = 1; ok && k < len; ++k) {
            const auto cb = static_cast<unsigned char>(s[i + k]);
            if ((cb >> 6) != 0x2)
                ok = false;
            else
                cp = (cp << 6) | (cb & 0x3F);
        }
        if (!ok) {
            cp = 0xFFFD;
            len = 1;
        }
        offs.push_back(i);
        cps.push_back(cp);
        i += len;
    }
    offs.push_back(s.size());
}

bool isOther(char32_t c) { return !isSpace(c) && !isLetter(c) && !isNumber(c); }
bool isCrLf(char32_t c) { return c == '\r' || c == '\n'; }
char32_t lower(char32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// Length (in code points) of a contraction 's 't 're 've 'm 'll 'd at i, or 0.
size_t contraction(const std::vector<char32_t>& c, size_t i, bool ignoreCase)
{
    const size_t n = c.size();
    if (c[i] != '\'' || i + 1 >= n)
        return 0;
    auto at = [&](size_t k) { return ignoreCase ? lower(c[k]) : c[k]; };
    const char32_t a = at(i + 1);
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if (i + 2 < n) {
        const char32_t b = at(i + 2);
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
            return 3;
    }
    return 0;
}

template <typename Pred>
size_t runOf(const std::vector<char32_t>& c, size_t i, Pred pred)
{
    size_t j = i;
    while (j < c.size() && pred(c[j]))
        ++j;
    return j - i;
}

// \s+(?!\S) then \s+: the whitespace run, minus its last character when a non-space follows
// (so that character's space can lead the next word), but never empty.
size_t trailingSpace(const std::vector<char32_t>& c, size_t i)
{
    const size_t n = runOf(c, i, isSpace);
    if (n == 0)
        return 0;
    if (i + n == c.size() || n == 1)
        return n;
    return n - 1;
}

size_t matchGpt2(const std::vector<char32_t>& c, size_t i)
{
    const size_t n = c.size();
    if (size_t m = contraction(c, i, false))
        return m;
    const size_t sp = (c[i] == ' ' && i + 1 < n) ? 1 : 0;
    for (auto cls : {isLetter, isNumber, isOther}) {
        if (sp && cls(c[i + 1]))
            return 1 + runOf(c, i + 1, cls);
        if (cls(c[i]))
            return runOf(c, i, cls);
    }
    return trailingSpace(c, i);
}

size_t matchLlama3(const std::vector<char32_t>& c, size_t i, size_t maxDigits)
{
    const size_t n = c.size();
    if (size_t m = contraction(c, i, true))
        return m;
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (i + 1 < n && !isCrLf(c[i]) && !isLetter(c[i]) && !isNumber(c[i]) && isLetter(c[i + 1]))
        return 1 + runOf(c, i + 1, isLetter);
    if (isLetter(c[i]))
        return runOf(c, i, isLetter);
    // \p{N}{1,maxDigits}
    if (isNumber(c[i])) {
        const size_t m = runOf(c, i, isNumber);
        return m < maxDigits ? m : maxDigits;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    const size_t sp = (c[i] == ' ' && i + 1 < n && isOther(c[i + 1])) ? 1 : 0;
    if (isOther(c[i + sp])) {
        size_t m = sp + runOf(c, i + sp, isOther);
        return m + runOf(c, i + m, isCrLf);
    }
    // \s*[\r\n]+ : up to and including the run's last CR/LF
    const size_t ws = runOf(c, i, isSpace);
    for (size_t k = ws; k > 0; --k)
        if (isCrLf(c[i + k - 1]))
            return k;
    return trailingSpace(c, i);
}

} // namespace

PreTokPattern preTokPatternByName(std::string_view name, bool* ok)
{
    *ok = true;
    if (name == "gpt2")
        return PreTokPattern::Gpt2;
    if (name == "llama3")
        return PreTokPattern::Llama3;
    if (name == "qwen2")
        return PreTokPattern::Qwen2;
    if (name == "none")
        return PreTokPattern::None;
    *ok = false;
    return PreTokPattern::None;
}

PreTokPattern preTokPatternByRegex(std::string_view regexIn, bool* ok)
{
    // Some converters spell Llama 3's case-insensitive contractions as character classes.
    constexpr std::string_view kClassForm = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
    std::string regex(regexIn);
    if (regex.compare(0, kClassForm.size(), kClassForm) == 0)
        regex = "(?i:'s|'t|'re|'ve|'m|'ll|'d)" + regex.substr(kClassForm.size());
    *ok = true;
    if (regex == kGpt2Regex)
        return PreTokPattern::Gpt2;
    if (regex == kLlama3Regex)
        return PreTokPattern::Llama3;
    if (regex == kQwen2Regex)
        return PreTokPattern::Qwen2;
    *ok = false;
    return PreTokPattern::None;
}

std::vector<std::pair<size_t, size_t>> preTokenize(std::string_view text, PreTokPattern pattern)
{
    std::vector<std::pair<size_t, size_t>> out;
    if (text.empty())
        return out;
    if (pattern == PreTokPattern::None) {
        out.emplace_back(0, text.size());
        return out;
    }
    std::vector<char32_t> cps;
    std::vector<size_t> offs;
    decodeUtf8(text, cps, offs);
    size_t i = 0;
    while (i < cps.size()) {
        size_t m = 0;
        switch (pattern) {
        case PreTokPattern::Gpt2: m = matchGpt2(cps, i); break;
        case PreTokPattern::Llama3: m = matchLlama3(cps, i, 3); break;
        case PreTokPattern::Qwen2: m = matchLlama3(cps, i, 1); break;
        case PreTokPattern::None: break;
        }
        if (m == 0) // cannot happen (every code point is in some class); stay safe
            m = 1;
        out.emplace_back(offs[i], offs[i + m] - offs[i]);
        i += m;
    }
    return out;
}

} // namespace bonsai::detail

namespace bonsai {

std::vector<std::string> byteLevelPreTokenize(std::string_view text, std::string_view pattern)
{
    bool ok = false;
    const auto p = detail::preTokPatternByName(pattern, &ok);
    if (!ok)
        throw Error("unknown pre-tokenizer pattern \"" + std::string(pattern) + "\"");
    std::vector<std::string> out;
    for (const auto& [off, len] : detail::preTokenize(text, p))
        out.emplace_back(text.substr(off, len));
    return out;
}

} // namespace bonsai
