/* The key helper process (keyhelper.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ingress-conf.h"

struct pem_pair {
	char *cert, *key;
	size_t cert_len, key_len;
};

/* Forks the helper for conf's domains (call before dropping privileges).
 * Returns the ingress's end of the socket, or a negative errno. */
int keyhelper_start(const struct pt_ingress_conf *conf, pid_t *pid);
/* Domain i's files (d is conf->domains[i]), as the helper read them now.
 * 0, or -1 with why naming the file and what is wrong. */
int keyhelper_fetch(int fd, const struct pt_ingress_domain *d, size_t i, struct pem_pair *ret,
		    char *why, size_t n);
/* Frees p, the key's bytes wiped first. */
void pem_pair_free(struct pem_pair *p);
