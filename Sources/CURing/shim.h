#pragma once
#include <liburing.h>
