/* libFuzzer target: what reaches ptenant-ingress's HTTPS port before a
 * handshake is done: any bytes, answered by the ingress's own contexts
 * (src/ingress/tls.c: SNI to a domain's certificate, a name for no domain,
 * a domain without a certificate, ALPN). Nothing may crash, leak or hang,
 * and a handshake may only complete for a name the ingress serves. The
 * corpus holds real ClientHellos (openssl s_client, several options). */
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tls_state tls;
static struct pt_ingress_conf conf;

/* A self-signed *.demo.test certificate and its key, as PEM. */
static void make_pem(char **cert, size_t *cert_len, char **key, size_t *key_len)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name = X509_get_subject_name(x);
	X509_EXTENSION *san;
	BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
	char *p;

	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"*.demo.test", -1,
				   -1, 0);
	X509_set_issuer_name(x, name);
	X509_set_pubkey(x, pkey);
	san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "DNS:*.demo.test");
	X509_add_ext(x, san, -1);
	X509_EXTENSION_free(san);
	X509_sign(x, pkey, EVP_sha256());
	PEM_write_bio_X509(cb, x);
	PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL);
	*cert_len = (size_t)BIO_get_mem_data(cb, &p);
	*cert = memcpy(malloc(*cert_len), p, *cert_len);
	*key_len = (size_t)BIO_get_mem_data(kb, &p);
	*key = memcpy(malloc(*key_len), p, *key_len);
	BIO_free(cb);
	BIO_free(kb);
	X509_free(x);
	EVP_PKEY_free(pkey);
}

static void setup(void)
{
	char why[512], *cert, *key;
	size_t cert_len, key_len;
	SSL_CTX *ctx;

	/* demo.test has a certificate; bots.test is HTTP only. */
	pt_ingress_conf_add(&conf, "demo.test", NULL);
	pt_ingress_conf_add(&conf, "bots.test", NULL);
	if (tls_init(&tls, &conf, NULL, NULL, why, sizeof(why)) < 0)
		abort();
	make_pem(&cert, &cert_len, &key, &key_len);
	ctx = tls_context(&tls, "demo.test", cert, cert_len, key, key_len, why, sizeof(why));
	if (!ctx)
		abort();
	tls_install(&tls, 0, ctx);
	free(cert);
	free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct tls_peer peer;
	SSL *ssl;
	BIO *in, *out;
	int r;

	if (!ready) {
		setup();
		ready = 1;
	}
	ssl = tls_new(&tls, -1, &peer);
	in = BIO_new(BIO_s_mem());
	out = BIO_new(BIO_s_mem());
	if (!ssl || !in || !out)
		abort();
	BIO_write(in, data, (int)size);
	BIO_set_mem_eof_return(in, -1); /* no more bytes yet: WANT_READ, as a socket */
	SSL_set_bio(ssl, in, out);
	r = SSL_do_handshake(ssl);
	/* The client never sent a Finished: no handshake can be complete. */
	if (r == 1)
		abort();
	/* A hello that got as far as a certificate chose a domain we serve. */
	if (peer.domain >= 0 && (size_t)peer.domain >= conf.n_domains)
		abort();
	if (peer.domain == 1) /* bots.test has no certificate: refused */
		abort();
	ERR_clear_error();
	SSL_free(ssl);
	return 0;
}
