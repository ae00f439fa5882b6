/* Why the kernel refused a tenant's namespaces, in words.
 *
 * clone3 of a tenant fails with EPERM or ENOSPC for reasons of the host,
 * not of the tenant: a daemon in a chroot, user namespaces switched off
 * by a sysctl, a namespace limit reached, a policy of an outer container.
 * The errno alone names none of them. The facts are read from /proc
 * apart from the wording, so the wording is a pure function a unit test
 * can drive with any combination. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The namespace types a tenant gets, in /proc/sys/user/max_<name>_namespaces. */
enum pt_ns_type {
	PT_NS_USER = 0,
	PT_NS_MNT,
	PT_NS_PID,
	PT_NS_UTS,
	PT_NS_IPC,
	PT_NS_NET,
	PT_NS_CGROUP,
	PT_NS_TYPES,
};

/* -1 everywhere means "could not tell". */
struct pt_ns_facts {
	long max[PT_NS_TYPES];     /* /proc/sys/user/max_<type>_namespaces */
	int unprivileged_clone;    /* kernel.unprivileged_userns_clone (Debian, Ubuntu) */
	int chroot;                /* 1: / is not the root of our mount namespace */
	int init_userns;           /* 1: we run in the host's user namespace */
};

const char *pt_ns_type_name(enum pt_ns_type t);

/* Reads the facts through procfd (a directory fd on /proc; -1 leaves
 * everything unknown). Never fails: what cannot be read stays -1. */
void pt_ns_facts_read(int procfd, struct pt_ns_facts *ret);

/* The likely cause of clone3 failing with code (a negative errno) into
 * buf. false, buf untouched, for an errno it has nothing to say about
 * (only -EPERM, -ENOSPC and -EUSERS have hints). */
bool pt_ns_refusal_hint(int code, const struct pt_ns_facts *f, char *buf, size_t n);
