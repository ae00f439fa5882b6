/* ptenant-ingress's TLS: one OpenSSL context per domain with its
 * certificate, picked by SNI, and a base context every connection starts
 * from (it keeps the session cache and ticket keys, so resumption works
 * across certificate reloads). Knows nothing of connections or epoll, so
 * the pre-handshake fuzzer links it as is. See ptenant-ingress(8), HTTPS. */
#pragma once

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http-response.h"
#include "ingress-conf.h"

#define TLS_PEM_MAX (1024 * 1024)  /* a certificate chain or key file */
/* TLS 1.2 suites when the operator names none: ECDHE with AEAD only
 * (Mozilla's "intermediate"). TLS 1.3's are OpenSSL's defaults. */
#define TLS_DEFAULT_CIPHERS                                                  \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"          \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"          \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct tls_state {
	const struct pt_ingress_conf *conf;
	SSL_CTX *base;
	SSL_CTX *ctx[PT_INGRESS_DOMAINS_MAX];    /* NULL: that domain has no certificate */
	char hsts[PT_INGRESS_DOMAINS_MAX][PT_HTTP_HSTS_MAX + 1]; /* "": none */
	char not_after[PT_INGRESS_DOMAINS_MAX][32]; /* of the certificate in use */
	int default_domain;                      /* answers a hello without SNI */
	int min_version;                         /* TLS1_2_VERSION or TLS1_3_VERSION */
	char ciphers[512];
};

/* Per connection, what the handshake found (SSL app data). */
struct tls_peer {
	int domain;                              /* by SNI; -1: none sent */
	char refused[96];                        /* why the hello was refused, "" */
};

/* Sets up the base context. min_version "1.2" or "1.3"; ciphers NULL for
 * the default. 0, or -1 with why. */
int tls_init(struct tls_state *t, const struct pt_ingress_conf *conf, const char *min_version,
	     const char *ciphers, char *why, size_t n);
void tls_free(struct tls_state *t);

/* A domain's context from PEM text (certificate, then its chain; key),
 * checked: the key matches, the certificate is valid now and covers
 * <slug>.<domain>. NULL with why when not. */
SSL_CTX *tls_context(struct tls_state *t, const char *domain, const char *cert,
		     size_t cert_len, const char *key, size_t key_len, char *why, size_t n);
/* Puts ctx in use for domain i: new handshakes get it, open connections
 * keep theirs. */
void tls_install(struct tls_state *t, size_t i, SSL_CTX *ctx);

/* A server-side SSL on fd (or without one: fd -1), its hello answered
 * from t; peer records what it found. NULL when out of memory. */
SSL *tls_new(struct tls_state *t, int fd, struct tls_peer *peer);

/* The first OpenSSL error on the queue, as text, and the queue cleared. */
const char *tls_error(char *buf, size_t n);
