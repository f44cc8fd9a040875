#include "support.h"
Test(x, y) {}
