/* ptenant-ingress's configuration file: `key = value` lines and `#`
 * comments; keys before the first section are the command line's long
 * options ('_' for '-'), each `[DOMAIN]` section one domain the ingress
 * serves, with its certificate for HTTPS. Pure: no I/O. See
 * ptenant-ingress(8), CONFIGURATION. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define PT_INGRESS_DOMAINS_MAX 32
#define PT_INGRESS_DOMAIN_MAX 253
#define PT_INGRESS_PATH_MAX 1024
#define PT_INGRESS_HSTS_MAX 63072000 /* two years, in seconds */

struct pt_ingress_domain {
	char name[PT_INGRESS_DOMAIN_MAX + 1]; /* lower case, no trailing dot */
	char cert[PT_INGRESS_PATH_MAX];       /* "" : HTTP only */
	char key[PT_INGRESS_PATH_MAX];
	bool redirect;                        /* http = redirect: 308 to https */
	uint32_t hsts;                        /* seconds; 0: no header */
	unsigned line;                        /* of its section, for messages */
};

struct pt_ingress_conf {
	struct pt_ingress_domain domains[PT_INGRESS_DOMAINS_MAX];
	size_t n_domains;
};

/* Called for each key before the first section; its errors are reported
 * with the line. */
typedef int (*pt_ingress_global_fn)(void *ctx, const char *key, const char *value, pt_err *err);

/* Parses text, appending its domains to *c. Errors name origin, the line
 * and what is wrong: unknown or repeated keys, a section named twice, a
 * bad domain name, a key without a certificate, a redirect or HSTS
 * without a certificate. */
int pt_ingress_conf_parse(struct pt_ingress_conf *c, const char *text, size_t len,
			  const char *origin, pt_ingress_global_fn global, void *ctx, pt_err *err);

/* Adds a domain without a certificate (the command line's --domain);
 * -EEXIST when it is there already. */
int pt_ingress_conf_add(struct pt_ingress_conf *c, const char *name, pt_err *err);

/* A domain name as the ingress compares it: lower case, no trailing dot,
 * labels of letters, digits and '-'. -EINVAL when it is not one. */
int pt_ingress_domain_normalise(const char *name, char *out, size_t n);

/* The domain of host (a TLS SNI name: <slug>.<domain> or <domain>
 * itself, any case): its index, or -1. */
int pt_ingress_domain_of(const struct pt_ingress_conf *c, const char *host);
