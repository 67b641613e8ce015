// simulator stub: everything lives in sim_cuda.h
#pragma once
#include "../sim_cuda.h"
