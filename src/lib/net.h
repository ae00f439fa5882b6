/* Network setup from inside a tenant's network namespace. */
#pragma once

#include "error.h"

/* Brings up "lo" in the calling process's network namespace. */
int pt_net_loopback_up(pt_err *err);
