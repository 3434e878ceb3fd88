#pragma once
#include "bonsai/api.h"
