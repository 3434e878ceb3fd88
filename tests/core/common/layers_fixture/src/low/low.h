#pragma once
#include "high/high_impl.h" // wrong way: low includes high
