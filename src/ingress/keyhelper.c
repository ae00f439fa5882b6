/* The key helper: the one part of ptenant-ingress that can still read the
 * certificates' private keys after the ingress dropped to --user, so
 * SIGHUP can load renewed ones (nginx's master/worker split, cut down to
 * a file reader).
 *
 * Forked before the drop, it keeps uid 0 but no capability besides
 * CAP_DAC_READ_SEARCH, no_new_privs, and nothing but its end of a
 * socketpair. It reads the files named in the configuration at startup
 * and nothing else: a request is one byte, a domain's index; the answer
 * is {status, which file, cert length, key length} and the two files. A
 * subverted ingress can make it read those files again, which the
 * ingress had anyway. It ends with the ingress (parent-death signal, and
 * EOF on its socket). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/securebits.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "keyhelper.h"
#include "tls.h"

#define HELPER_TIMEOUT_MS 5000

struct answer {
	int32_t status;     /* 0, or a negative errno */
	uint32_t which;     /* the file status is about: 0 cert, 1 key */
	uint32_t cert_len, key_len;
};

static int read_file(const char *path, char **ret, uint32_t *len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	/* A FIFO or a device there would hang or flood the helper. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > TLS_PEM_MAX) {
		int e = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;

		close(fd);
		return e;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*ret = buf;
	*len = (uint32_t)got;
	return 0;
}

static int send_all(int fd, const void *p, size_t n)
{
	for (size_t off = 0; off < n;) {
		ssize_t w = send(fd, (const char *)p + off, n - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

static void answer(int fd, const struct pt_ingress_domain *d)
{
	struct answer a = { 0 };
	char *cert = NULL, *key = NULL;

	a.status = read_file(d->cert, &cert, &a.cert_len);
	if (!a.status) {
		a.which = 1;
		a.status = read_file(d->key, &key, &a.key_len);
	}
	if (a.status)
		a.cert_len = a.key_len = 0;
	if (send_all(fd, &a, sizeof(a)) == 0 && !a.status && send_all(fd, cert, a.cert_len) == 0)
		send_all(fd, key, a.key_len);
	if (key)
		OPENSSL_cleanse(key, a.key_len);
	free(cert);
	free(key);
}

/* Root, minus every capability but reading files regardless of their
 * mode; no way to gain more, not even by exec (root's exec rule would
 * give back the bounding set: it is cut, and root's special case off). */
static int confine(void)
{
	cap_t caps = cap_init();
	cap_value_t keep = CAP_DAC_READ_SEARCH;
	int r = -1;

	if (geteuid() == 0) {
		for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
			if (cap != CAP_DAC_READ_SEARCH && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
			    errno != EINVAL)
				goto out;
		if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
			  SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED, 0, 0, 0) < 0)
			goto out;
	}
	if (caps && cap_set_flag(caps, CAP_PERMITTED, 1, &keep, CAP_SET) == 0 &&
	    cap_set_flag(caps, CAP_EFFECTIVE, 1, &keep, CAP_SET) == 0 &&
	    (geteuid() != 0 || cap_set_proc(caps) == 0) &&
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
		r = 0;
out:
	cap_free(caps);
	return r;
}

static void serve(int fd, const struct pt_ingress_conf *conf)
{
	unsigned char i;

	prctl(PR_SET_NAME, "ingress-keys", 0, 0, 0);
	if (confine() < 0) {
		fprintf(stderr, "ptenant-ingress: key helper: drop capabilities: %s\n", strerror(errno));
		_exit(1);
	}
	for (;;) {
		ssize_t n = recv(fd, &i, 1, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0);
		if (i < conf->n_domains && conf->domains[i].cert[0])
			answer(fd, &conf->domains[i]);
		else
			_exit(1); /* not a question the ingress asks */
	}
}

int keyhelper_start(const struct pt_ingress_conf *conf, pid_t *pid)
{
	int sv[2];
	pid_t parent = getpid(), p;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	p = fork();
	if (p < 0) {
		int e = -errno;

		close(sv[0]);
		close(sv[1]);
		return e;
	}
	if (p == 0) {
		close(sv[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (getppid() != parent)
			_exit(0);
		signal(SIGHUP, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_DFL);
		/* Nothing of the ingress's but stderr and its socket. */
		close_range(3, (unsigned)sv[1] - 1, 0);
		close_range((unsigned)sv[1] + 1, ~0U, 0);
		serve(sv[1], conf);
	}
	close(sv[1]);
	*pid = p;
	return sv[0];
}

static int recv_all(int fd, void *p, size_t n)
{
	for (size_t off = 0; off < n;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, HELPER_TIMEOUT_MS) <= 0)
			return -ETIMEDOUT;
		r = recv(fd, (char *)p + off, n - off, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EPIPE;
		off += (size_t)r;
	}
	return 0;
}

int keyhelper_fetch(int fd, const struct pt_ingress_domain *d, size_t i, struct pem_pair *ret,
		    char *why, size_t n)
{
	unsigned char q = (unsigned char)i;
	struct answer a;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = send_all(fd, &q, 1) < 0 ? -EPIPE : recv_all(fd, &a, sizeof(a));
	if (r < 0) {
		snprintf(why, n, "the key helper does not answer (%s)", strerror(-r));
		return -1;
	}
	if (a.status) {
		snprintf(why, n, "read %s: %s", a.which ? d->key : d->cert,
			 a.status == -EINVAL ? "not a regular file" :
			 a.status == -EFBIG ? "larger than 1 MiB" : strerror(-a.status));
		return -1;
	}
	if (a.cert_len > TLS_PEM_MAX || a.key_len > TLS_PEM_MAX) {
		snprintf(why, n, "the key helper's answer is malformed");
		return -1;
	}
	ret->cert = malloc(a.cert_len + 1);
	ret->key = malloc(a.key_len + 1);
	if (!ret->cert || !ret->key || recv_all(fd, ret->cert, a.cert_len) < 0 ||
	    recv_all(fd, ret->key, a.key_len) < 0) {
		pem_pair_free(ret);
		snprintf(why, n, "the key helper's answer is cut short");
		return -1;
	}
	ret->cert_len = a.cert_len;
	ret->key_len = a.key_len;
	return 0;
}

void pem_pair_free(struct pem_pair *p)
{
	if (p->key)
		OPENSSL_cleanse(p->key, p->key_len);
	free(p->cert);
	free(p->key);
	memset(p, 0, sizeof(*p));
}
