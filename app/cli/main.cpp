// bonsai-cli: headless access to the core (placeholder until the commands land).
#include <cstdio>
int main() { std::fprintf(stderr, "bonsai-cli: no commands yet\n"); return 2; }
