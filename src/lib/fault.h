/* Fault injection, for tests only: a build with -Dfault_injection=true
 * reads PTENANT_FAULT and makes one named step of the daemon (or of a
 * tenant's setup, before its exec) fail with an errno, kill the process
 * there, or hang there. A production build has no hook at all: PT_FAULT
 * is the constant 0 and PTENANT_FAULT is ignored.
 *
 *   PTENANT_FAULT=POINT:ACTION[@N]
 *     POINT   a name printed by `ptenantd --fault-points`, or a step of the
 *             spawn trace (`ptenantd --trace-spawn`: d-..., p..., c...)
 *     ACTION  an errno name (EIO, ENOSPC, ...) or number: the step fails
 *             with it (explicit points only: a trace step cannot fail);
 *             kill: the process dies there, no cleanup (the daemon by
 *             SIGKILL; a tenant's child, as its pid namespace's init, by
 *             _exit(137)); hang: it stops there for good
 *     @N      the Nth time the point is reached (default 1); it fires once
 *
 * Why two kinds of point: the trace's steps are where a start spends its
 * time, and every one of them is a place a crash can happen, so each is
 * a kill/hang point with no code of its own; an errno needs a caller that
 * handles it, so those points are placed by hand (PT_FAULT) where the
 * real failure would come back, and the binary lists them. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "config-build.h"
#include "error.h"

struct pt_fault_point {
	const char *name;
};

#if PT_FAULT_INJECTION
/* 0, or a negative errno when the test asked this point to fail. */
#define PT_FAULT(name_)                                                        \
	__extension__({                                                        \
		static const struct pt_fault_point pt_fault_point_                 \
			__attribute__((used, section("pt_fault_points"))) = { name_ }; \
		pt_fault_hit(pt_fault_point_.name);                            \
	})
#else
#define PT_FAULT(name_) 0
#endif

/* PT_FAULT that fills err ("NAME: injected fault: <strerror>"). */
#define PT_FAULT_ERR(name_, err_)                                              \
	__extension__({                                                        \
		int pt_fault_r_ = PT_FAULT(name_);                             \
		pt_fault_r_ < 0 ? pt_err_set(err_, pt_fault_r_, "%s: injected fault", name_) : 0; \
	})

/* Reads PTENANT_FAULT (once, at start). Unset: no fault. A malformed value
 * is an error naming what is wrong; so is any value in a build without
 * the hook, so that a test never believes it injected a fault it did
 * not. */
int pt_fault_setup(const char *spec, pt_err *err);

/* The point named `name` was reached: 0, or -errno to fail with; kill and
 * hang do not return. */
int pt_fault_hit(const char *name);

/* A step of the spawn trace was reached (pt_trace_mark calls this, traced
 * or not, once a fault is armed): kill and hang fire here; an errno
 * action is not for steps. */
void pt_fault_step(const char *name);

/* Whether a fault is armed (pt_trace_mark formats step names only then). */
bool pt_fault_armed(void);

/* The fd a firing is announced on (a copy of stderr), or -1: a process
 * that closes the daemon's fds keeps this one, or the tests would not
 * see its faults fire. */
int pt_fault_announce_fd(void);

/* Prints every explicit point of the binary, sorted, one per line. */
void pt_fault_list(FILE *out);
