/* ptenant-ingress's TLS contexts; see tls.h. */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tls.h"

static const unsigned char ALPN_HTTP11[] = "http/1.1";
/* The same on every context: a session from one is good on the others. */
static const unsigned char SESSION_CONTEXT[] = "ptenant-ingress";

const char *tls_error(char *buf, size_t n)
{
	unsigned long e = ERR_get_error();

	if (!e)
		snprintf(buf, n, "no detail from OpenSSL");
	else
		ERR_error_string_n(e, buf, n);
	ERR_clear_error();
	return buf;
}

/* An SNI name in a log line: printable, cut. */
static void printable(const char *s, char *out, size_t n)
{
	size_t i = 0;

	for (; s[i] && i + 1 < n && i < 64; i++)
		out[i] = s[i] > ' ' && s[i] < 0x7f ? s[i] : '?';
	out[i] = '\0';
}

/* HTTP/1.1 is what the ingress speaks: a client that offers only h2 gets
 * no ALPN answer, and may go on with HTTP/1.1 or give up. */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	for (unsigned int i = 0; i < inlen;) {
		unsigned int len = in[i];

		if (i + 1 + len > inlen)
			break;
		if (len == sizeof(ALPN_HTTP11) - 1 && !memcmp(in + i + 1, ALPN_HTTP11, len)) {
			*out = in + i + 1;
			*outlen = (unsigned char)len;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + len;
	}
	return SSL_TLSEXT_ERR_NOACK;
}

/* The hello's SNI picks the domain's context; a name under no domain of
 * ours (or one without a certificate) is refused with the
 * unrecognized_name alert. No SNI: the default domain answers. */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
	struct tls_state *t = arg;
	struct tls_peer *peer = SSL_get_app_data(ssl);
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	int d = name ? pt_ingress_domain_of(t->conf, name) : t->default_domain;
	char shown[80];

	if (d < 0 || !t->ctx[d]) {
		if (peer) {
			printable(name ? name : "", shown, sizeof(shown));
			snprintf(peer->refused, sizeof(peer->refused), "no certificate for SNI name %s",
				 shown);
		}
		*alert = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	if (SSL_set_SSL_CTX(ssl, t->ctx[d]) != t->ctx[d]) {
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	if (peer)
		peer->domain = name ? d : -1;
	return SSL_TLSEXT_ERR_OK;
}

/* What every context shares: versions, suites, ALPN, buffers. An SSL
 * keeps its versions and suites from the base context; the domain's is
 * asked for ALPN after the switch: so all of them carry everything. */
static int configure(struct tls_state *t, SSL_CTX *ctx, char *why, size_t n)
{
	char err[256];

	if (!SSL_CTX_set_min_proto_version(ctx, t->min_version) ||
	    !SSL_CTX_set_cipher_list(ctx, t->ciphers) ||
	    !SSL_CTX_set_session_id_context(ctx, SESSION_CONTEXT, sizeof(SESSION_CONTEXT) - 1)) {
		snprintf(why, n, "TLS settings (tls_ciphers %s): %s", t->ciphers,
			 tls_error(err, sizeof(err)));
		return -1;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
				 SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Idle connections give their buffers back (10,000 open ones would
	 * hold 34 KiB each); writes go out a record at a time from a buffer
	 * the relay compacts between retries. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
	return 0;
}

int tls_init(struct tls_state *t, const struct pt_ingress_conf *conf, const char *min_version,
	     const char *ciphers, char *why, size_t n)
{
	memset(t, 0, sizeof(*t));
	t->conf = conf;
	t->default_domain = -1;
	if (!min_version || !strcmp(min_version, "1.2")) {
		t->min_version = TLS1_2_VERSION;
	} else if (!strcmp(min_version, "1.3")) {
		t->min_version = TLS1_3_VERSION;
	} else {
		snprintf(why, n, "tls_min_version %s: want 1.2 or 1.3", min_version);
		return -1;
	}
	if (snprintf(t->ciphers, sizeof(t->ciphers), "%s", ciphers ? ciphers : TLS_DEFAULT_CIPHERS) >=
	    (int)sizeof(t->ciphers)) {
		snprintf(why, n, "tls_ciphers: longer than %zu bytes", sizeof(t->ciphers) - 1);
		return -1;
	}
	for (size_t i = 0; i < conf->n_domains; i++)
		if (conf->domains[i].hsts)
			snprintf(t->hsts[i], sizeof(t->hsts[i]), "max-age=%u",
				 (unsigned)conf->domains[i].hsts);
	t->base = SSL_CTX_new(TLS_server_method());
	if (!t->base) {
		snprintf(why, n, "OpenSSL context: out of memory");
		return -1;
	}
	if (configure(t, t->base, why, n) < 0)
		return -1;
	SSL_CTX_set_tlsext_servername_callback(t->base, on_servername);
	SSL_CTX_set_tlsext_servername_arg(t->base, t);
	return 0;
}

void tls_free(struct tls_state *t)
{
	for (size_t i = 0; i < PT_INGRESS_DOMAINS_MAX; i++) {
		SSL_CTX_free(t->ctx[i]);
		t->ctx[i] = NULL;
	}
	SSL_CTX_free(t->base);
	t->base = NULL;
}

/* PEM from memory never asks for a passphrase: an encrypted key is an
 * error, not a prompt on the ingress's terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* The leaf, then its chain, onto ctx. */
static int use_chain(SSL_CTX *ctx, const char *pem, size_t len, X509 **leaf, char *why, size_t n)
{
	char err[256];
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *x;
	int count = 0;

	if (!bio) {
		snprintf(why, n, "certificate: out of memory");
		return -1;
	}
	*leaf = PEM_read_bio_X509_AUX(bio, NULL, no_passphrase, NULL);
	if (!*leaf || SSL_CTX_use_certificate(ctx, *leaf) != 1) {
		snprintf(why, n, "certificate: not a PEM certificate (%s)", tls_error(err, sizeof(err)));
		BIO_free(bio);
		return -1;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL))) {
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			snprintf(why, n, "certificate chain: %s", tls_error(err, sizeof(err)));
			BIO_free(bio);
			return -1;
		}
		count++;
	}
	ERR_clear_error(); /* the end of the file reads as "no start line" */
	BIO_free(bio);
	(void)count;
	return 0;
}

static int use_key(SSL_CTX *ctx, const char *pem, size_t len, char *why, size_t n)
{
	char err[256];
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	int ok = 0;

	if (!key)
		snprintf(why, n, "key: not an unencrypted PEM private key (%s)",
			 tls_error(err, sizeof(err)));
	else if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		snprintf(why, n, "the key does not match the certificate (%s)",
			 tls_error(err, sizeof(err)));
	else
		ok = 1;
	EVP_PKEY_free(key);
	BIO_free(bio);
	return ok ? 0 : -1;
}

static void asn1_time_text(const ASN1_TIME *at, char *out, size_t n)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(at, &tm) != 1 || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, n, "?");
}

/* Valid now, and for a tenant's name under domain: what a client checks. */
static int check_leaf(X509 *leaf, const char *domain, char *why, size_t n)
{
	char when[32], probe[PT_INGRESS_DOMAIN_MAX + 16];

	if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0) {
		asn1_time_text(X509_get0_notAfter(leaf), when, sizeof(when));
		snprintf(why, n, "the certificate expired at %s", when);
		return -1;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(leaf)) >= 0) {
		asn1_time_text(X509_get0_notBefore(leaf), when, sizeof(when));
		snprintf(why, n, "the certificate is not valid before %s", when);
		return -1;
	}
	/* Any slug will do: a wildcard *.<domain> covers them all. */
	snprintf(probe, sizeof(probe), "tenant.%s", domain);
	if (X509_check_host(leaf, probe, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) != 1) {
		snprintf(why, n, "the certificate does not cover *.%s (a tenant's name)", domain);
		return -1;
	}
	return 0;
}

SSL_CTX *tls_context(struct tls_state *t, const char *domain, const char *cert,
		     size_t cert_len, const char *key, size_t key_len, char *why, size_t n)
{
	SSL_CTX *ctx;
	X509 *leaf = NULL;

	if (cert_len > TLS_PEM_MAX || key_len > TLS_PEM_MAX) {
		snprintf(why, n, "certificate or key larger than %d bytes", TLS_PEM_MAX);
		return NULL;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		snprintf(why, n, "OpenSSL context: out of memory");
		return NULL;
	}
	if (configure(t, ctx, why, n) < 0 || use_chain(ctx, cert, cert_len, &leaf, why, n) < 0 ||
	    use_key(ctx, key, key_len, why, n) < 0 || check_leaf(leaf, domain, why, n) < 0) {
		X509_free(leaf);
		SSL_CTX_free(ctx);
		return NULL;
	}
	X509_free(leaf);
	return ctx;
}

void tls_install(struct tls_state *t, size_t i, SSL_CTX *ctx)
{
	X509 *leaf = SSL_CTX_get0_certificate(ctx);

	/* Connections that picked the old one hold a reference of their own. */
	SSL_CTX_free(t->ctx[i]);
	t->ctx[i] = ctx;
	if (leaf)
		asn1_time_text(X509_get0_notAfter(leaf), t->not_after[i], sizeof(t->not_after[i]));
	if (t->default_domain < 0 || (size_t)t->default_domain > i)
		t->default_domain = (int)i;
}

SSL *tls_new(struct tls_state *t, int fd, struct tls_peer *peer)
{
	SSL *ssl = SSL_new(t->base);

	if (!ssl)
		return NULL;
	if (fd >= 0 && SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	peer->domain = -1;
	peer->refused[0] = '\0';
	SSL_set_app_data(ssl, peer);
	SSL_set_accept_state(ssl);
	return ssl;
}
