/* libFuzzer target: ptenant-ingress's configuration file. Any bytes must
 * parse or be refused with a message; what parsed must be sane: valid,
 * distinct domain names, absolute paths, certificate and key together,
 * redirect and HSTS only with a certificate. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingress-conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int any_global(void *ctx, const char *key, const char *value, pt_err *err)
{
	(void)ctx;
	(void)err;
	if (!key[0] || !value[0] || strchr(key, '=') || strchr(key, '#') || strchr(value, '#'))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pt_ingress_conf conf;
	pt_err err = { 0 };
	char norm[PT_INGRESS_DOMAIN_MAX + 1];

	memset(&conf, 0, sizeof(conf));
	if (pt_ingress_conf_parse(&conf, (const char *)data, size, "fuzz", any_global, NULL, &err) < 0) {
		if (!err.msg[0])
			abort();
		return 0;
	}
	for (size_t i = 0; i < conf.n_domains; i++) {
		const struct pt_ingress_domain *d = &conf.domains[i];

		if (pt_ingress_domain_normalise(d->name, norm, sizeof(norm)) < 0 || strcmp(norm, d->name))
			abort();
		if (!d->cert[0] != !d->key[0] || (d->cert[0] && (d->cert[0] != '/' || d->key[0] != '/')))
			abort();
		if ((d->redirect || d->hsts) && !d->cert[0])
			abort();
		if (pt_ingress_domain_of(&conf, d->name) != (int)i)
			abort();
		for (size_t j = 0; j < i; j++)
			if (!strcmp(conf.domains[j].name, d->name))
				abort();
	}
	return 0;
}
