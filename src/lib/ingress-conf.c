/* ptenant-ingress's configuration file; see ingress-conf.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ingress-conf.h"

int pt_ingress_domain_normalise(const char *name, char *out, size_t n)
{
	size_t len = strlen(name), label = 0;

	if (len == 0 || len > PT_INGRESS_DOMAIN_MAX || len >= n)
		return -EINVAL;
	for (size_t i = 0; i <= len; i++) {
		char ch = name[i];

		if (ch == '.' || ch == '\0') {
			/* Empty labels (leading, trailing or double dots) and
			 * labels that start or end with '-' are not names. */
			if (label == 0 || label > 63 || out[i - 1] == '-' || out[i - label] == '-')
				return -EINVAL;
			label = 0;
		} else if (ch == '-' || (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
			   (ch >= 'A' && ch <= 'Z')) {
			label++;
		} else {
			return -EINVAL;
		}
		out[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch | 0x20 : ch);
	}
	return 0;
}

int pt_ingress_domain_of(const struct pt_ingress_conf *c, const char *host)
{
	size_t len = strlen(host);

	/* A domain's own name first: "bots.example.com" is that domain, not
	 * tenant "bots" of example.com. */
	for (size_t i = 0; i < c->n_domains; i++)
		if (strcasecmp(host, c->domains[i].name) == 0)
			return (int)i;
	for (size_t i = 0; i < c->n_domains; i++) {
		const char *d = c->domains[i].name;
		size_t dlen = strlen(d);

		if (len > dlen + 1 && host[len - dlen - 1] == '.' &&
		    strcasecmp(host + len - dlen, d) == 0 &&
		    !memchr(host, '.', len - dlen - 1))
			return (int)i;
	}
	return -1;
}

static struct pt_ingress_domain *find(struct pt_ingress_conf *c, const char *name)
{
	for (size_t i = 0; i < c->n_domains; i++)
		if (strcmp(c->domains[i].name, name) == 0)
			return &c->domains[i];
	return NULL;
}

static int add(struct pt_ingress_conf *c, const char *name, unsigned line,
	       struct pt_ingress_domain **ret, pt_err *err)
{
	char norm[PT_INGRESS_DOMAIN_MAX + 1];
	struct pt_ingress_domain *d;

	if (pt_ingress_domain_normalise(name, norm, sizeof(norm)) < 0)
		return pt_err_field(err, -EINVAL, "", "domain %s: not a domain name (letters, digits, "
				  "'-' and dots; no trailing dot)", name);
	if (find(c, norm))
		return pt_err_field(err, -EEXIST, "", "domain %s: given twice", norm);
	if (c->n_domains == PT_INGRESS_DOMAINS_MAX)
		return pt_err_field(err, -E2BIG, "", "domain %s: more than %d domains", norm,
				  PT_INGRESS_DOMAINS_MAX);
	d = &c->domains[c->n_domains++];
	memset(d, 0, sizeof(*d));
	memcpy(d->name, norm, strlen(norm) + 1);
	d->line = line;
	if (ret)
		*ret = d;
	return 0;
}

int pt_ingress_conf_add(struct pt_ingress_conf *c, const char *name, pt_err *err)
{
	return add(c, name, 0, NULL, err);
}

/* The keys of a section, each set once. */
enum { K_CERT = 1, K_KEY = 2, K_HTTP = 4, K_HSTS = 8 };

static int section_key(struct pt_ingress_domain *d, unsigned *seen, const char *key,
		       const char *value, pt_err *err)
{
	static const struct {
		const char *name;
		unsigned bit;
	} keys[] = { { "cert", K_CERT }, { "key", K_KEY }, { "http", K_HTTP }, { "hsts", K_HSTS } };
	unsigned bit = 0;
	char *end;
	long v;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(key, keys[i].name) == 0)
			bit = keys[i].bit;
	if (!bit)
		return pt_err_field(err, -EINVAL, "", "unknown key %s in [%s] (cert, key, http, hsts)",
				  key, d->name);
	if (*seen & bit)
		return pt_err_field(err, -EEXIST, "", "%s given twice in [%s]", key, d->name);
	*seen |= bit;
	switch (bit) {
	case K_CERT:
	case K_KEY:
		if (value[0] != '/' || strlen(value) >= PT_INGRESS_PATH_MAX)
			return pt_err_field(err, -EINVAL, "", "%s %s: want an absolute path shorter than "
					  "%d bytes", key, value, PT_INGRESS_PATH_MAX);
		strcpy(bit == K_CERT ? d->cert : d->key, value);
		return 0;
	case K_HTTP:
		if (strcmp(value, "redirect") && strcmp(value, "serve"))
			return pt_err_field(err, -EINVAL, "", "http %s: want serve or redirect", value);
		d->redirect = strcmp(value, "redirect") == 0;
		return 0;
	default:
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || *end || end == value || v < 0 || v > PT_INGRESS_HSTS_MAX)
			return pt_err_field(err, -EINVAL, "", "hsts %s: want seconds from 0 (off) to %d",
					  value, PT_INGRESS_HSTS_MAX);
		d->hsts = (uint32_t)v;
		return 0;
	}
}

/* A finished section: a certificate needs its key and the other way
 * round; redirecting or HSTS needs HTTPS. */
static int section_done(const struct pt_ingress_domain *d, pt_err *err)
{
	if (!d)
		return 0;
	if (!d->cert[0] != !d->key[0])
		return pt_err_field(err, -EINVAL, "", "[%s] (line %u): cert and key go together",
				  d->name, d->line);
	if ((d->redirect || d->hsts) && !d->cert[0])
		return pt_err_field(err, -EINVAL, "", "[%s] (line %u): %s needs a certificate (cert, key)",
				  d->name, d->line, d->redirect ? "http = redirect" : "hsts");
	return 0;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* One line, comments gone, split; *section set by a section line. */
static int parse_line(struct pt_ingress_conf *c, char *line, unsigned no,
		      struct pt_ingress_domain **section, unsigned *seen,
		      pt_ingress_global_fn global, void *ctx, pt_err *err)
{
	char *eq, *key, *value, *hash = strchr(line, '#');
	size_t len;
	int r;

	if (hash)
		*hash = '\0';
	line = trim(line);
	if (!line[0])
		return 0;
	len = strlen(line);
	if (line[0] == '[') {
		if (line[len - 1] != ']')
			return pt_err_field(err, -EINVAL, "", "a section line is [DOMAIN]");
		line[len - 1] = '\0';
		r = section_done(*section, err);
		if (r < 0)
			return r;
		*seen = 0;
		return add(c, trim(line + 1), no, section, err);
	}
	eq = strchr(line, '=');
	if (!eq)
		return pt_err_field(err, -EINVAL, "", "want key = value");
	*eq = '\0';
	key = trim(line);
	value = trim(eq + 1);
	if (!key[0] || !value[0])
		return pt_err_field(err, -EINVAL, "", "want key = value");
	if (*section)
		return section_key(*section, seen, key, value, err);
	if (!global)
		return pt_err_field(err, -EINVAL, "", "unknown key %s", key);
	return global(ctx, key, value, err);
}

int pt_ingress_conf_parse(struct pt_ingress_conf *c, const char *text, size_t len,
			  const char *origin, pt_ingress_global_fn global, void *ctx, pt_err *err)
{
	struct pt_ingress_domain *section = NULL;
	unsigned no = 0, seen = 0;
	char line[PT_INGRESS_PATH_MAX + 128];
	size_t at = 0;
	int r;

	if (memchr(text, '\0', len))
		return pt_err_field(err, -EINVAL, "", "%s: a NUL byte: not a text file", origin);
	while (at < len) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - text - at) : len - at;

		no++;
		if (n >= sizeof(line))
			return pt_err_field(err, -EINVAL, "", "%s:%u: line longer than %zu bytes", origin,
					  no, sizeof(line) - 1);
		memcpy(line, text + at, n);
		line[n] = '\0';
		at += n + 1;
		r = parse_line(c, line, no, &section, &seen, global, ctx, err);
		if (r < 0) {
			pt_err_prefix(err, "%s:%u", origin, no);
			return r;
		}
	}
	r = section_done(section, err);
	if (r < 0)
		pt_err_prefix(err, "%s", origin);
	return r;
}
