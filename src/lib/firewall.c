#include "firewall.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipam.h"

/* Interface names of tenants' host sides; nft matches the wildcard. */
#define TENANT_IFS "\"" PT_VETH_PREFIX "*\""

static void elem_ip(FILE *f, const struct pt_fw_tenant *t)
{
	char a[PT_IPV4_STR];

	pt_ipv4_format(t->addr, a);
	fprintf(f, "\"%s\" . %s", t->veth, a);
}

static void elem_mac(FILE *f, const struct pt_fw_tenant *t)
{
	char m[18];

	pt_mac_format(t->mac, m);
	fprintf(f, "\"%s\" . %s", t->veth, m);
}

static void render_set(FILE *f, const char *name, const char *type,
		       const struct pt_fw_tenant *t, size_t n,
		       void (*elem)(FILE *, const struct pt_fw_tenant *))
{
	fprintf(f, "  set %s {\n    type %s\n", name, type);
	if (n) {
		fputs("    elements = { ", f);
		for (size_t i = 0; i < n; i++) {
			if (i)
				fputs(", ", f);
			elem(f, &t[i]);
		}
		fputs(" }\n", f);
	}
	fputs("  }\n", f);
}

static void render_allow(FILE *f, const struct pt_netconf *nc)
{
	fputs("  set host_allow {\n    type inet_proto . inet_service\n", f);
	if (nc->n_allow) {
		fputs("    elements = { ", f);
		for (size_t i = 0; i < nc->n_allow; i++)
			fprintf(f, "%s%s . %u", i ? ", " : "",
				nc->allow[i].proto == IPPROTO_TCP ? "tcp" : "udp",
				nc->allow[i].port);
		fputs(" }\n", f);
	}
	fputs("  }\n", f);
}

/* Before conntrack (priority raw): a spoofed packet never even creates a
 * conntrack entry. IPv6 is not offered to tenants, so none may come in. */
static void render_prerouting(FILE *f)
{
	fputs("  chain prerouting {\n"
	      "    type filter hook prerouting priority raw; policy accept;\n"
	      "    iifname " TENANT_IFS " iifname . ether saddr != @tenant_mac counter drop comment \"MAC spoofing\"\n"
	      "    iifname " TENANT_IFS " meta nfproto != ipv4 counter drop comment \"IPv4 only\"\n"
	      "    iifname " TENANT_IFS " iifname . ip saddr != @tenant_ip counter drop comment \"source address spoofing\"\n"
	      "  }\n", f);
}

static void render_input(FILE *f)
{
	fputs("  chain input {\n"
	      "    type filter hook input priority filter; policy accept;\n"
	      "    iifname " TENANT_IFS " ct state established,related accept comment \"replies to the host\"\n"
	      "    iifname " TENANT_IFS " meta l4proto . th dport @host_allow accept\n"
	      "    iifname " TENANT_IFS " counter drop comment \"host services\"\n"
	      "  }\n", f);
}

static void render_forward(FILE *f, const struct pt_netconf *nc)
{
	fputs("  chain forward {\n"
	      "    type filter hook forward priority filter; policy accept;\n"
	      "    iifname " TENANT_IFS " oifname " TENANT_IFS " counter drop comment \"tenant to tenant\"\n"
	      "    oifname " TENANT_IFS " ct state established,related accept\n"
	      "    oifname " TENANT_IFS " counter drop comment \"nothing routed into a tenant\"\n", f);
	if (nc->masquerade)
		fputs("    iifname " TENANT_IFS " accept comment \"outbound, masqueraded\"\n", f);
	else
		fputs("    iifname " TENANT_IFS " counter drop comment \"masquerade off\"\n", f);
	fputs("  }\n", f);
	if (nc->masquerade) {
		char net[PT_IPV4_STR];

		pt_ipv4_format(nc->subnet, net);
		fprintf(f, "  chain postrouting {\n"
			"    type nat hook postrouting priority srcnat; policy accept;\n"
			"    ip saddr %s/%u oifname != " TENANT_IFS " masquerade\n"
			"  }\n", net, nc->prefix);
	}
}

int pt_fw_render(const struct pt_netconf *nc, const struct pt_fw_tenant *t,
		 size_t n, char **ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return -ENOMEM;
	/* "add" then "delete": deleting a table that does not exist fails,
	 * and this way the whole text works on a fresh and on an old host. */
	fputs("add table inet " PT_FW_TABLE "\ndelete table inet " PT_FW_TABLE "\n"
	      "add table arp " PT_FW_TABLE "\ndelete table arp " PT_FW_TABLE "\n", f);
	fputs("table inet " PT_FW_TABLE " {\n", f);
	render_set(f, "tenant_ip", "ifname . ipv4_addr", t, n, elem_ip);
	render_set(f, "tenant_mac", "ifname . ether_addr", t, n, elem_mac);
	render_allow(f, nc);
	render_prerouting(f);
	render_input(f);
	render_forward(f, nc);
	fputs("}\n", f);
	/* The tenant has a permanent neighbour for its gateway and the host
	 * one for the tenant: no ARP is needed, so none is accepted, and no
	 * tenant can poison the host's neighbour table or probe another. */
	fputs("table arp " PT_FW_TABLE " {\n"
	      "  chain input {\n"
	      "    type filter hook input priority filter; policy accept;\n"
	      "    iifname " TENANT_IFS " counter drop\n"
	      "  }\n"
	      "}\n", f);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	return 0;
}

/* In a forked child: libnftables waits on its netlink socket with
 * select(), which aborts (FORTIFY) on an fd >= FD_SETSIZE, and a daemon
 * of 1,000 tenants holds thousands of fds. The child keeps only fd 3 (the
 * error pipe), so the socket gets a low number. Writes nft's error text
 * to fd 3; exit 0 on success. */
static __attribute__((noreturn)) void run_child(const char *text, int errfd)
{
	struct nft_ctx *ctx;
	const char *out;
	int r;

	if (dup2(errfd, 3) < 0 || close_range(4, ~0U, 0) < 0)
		_exit(2);
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx)
		_exit(2);
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	r = nft_run_cmd_from_buffer(ctx, text);
	out = nft_ctx_get_error_buffer(ctx);
	if (r != 0 && out)
		(void)!write(3, out, strlen(out));
	_exit(r != 0);
}

int pt_fw_run(const char *text, const char *what, pt_err *err)
{
	char buf[PT_ERR_MSG_MAX] = "";
	int p[2], status = 0;
	ssize_t n, len = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return pt_err_set(err, -errno, "nftables: %s: pipe", what);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return pt_err_set(err, -errno, "nftables: %s: fork", what);
	}
	if (pid == 0)
		run_child(text, p[1]);
	close(p[1]);
	while (len < (ssize_t)sizeof(buf) - 1 &&
	       ((n = read(p[0], buf + len, sizeof(buf) - 1 - (size_t)len)) > 0 ||
		(n < 0 && errno == EINTR)))
		len += n > 0 ? n : 0;
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	buf[len] = '\0';
	/* nft's first line names what it refused. */
	return pt_err_set(err, -EIO, "nftables: %s: %.*s", what, (int)strcspn(buf, "\n"),
			  buf[0] ? buf : "failed");
}

int pt_fw_sync(const struct pt_netconf *nc, const struct pt_fw_tenant *t,
	       size_t n, pt_err *err)
{
	char *text = NULL;
	int r = pt_fw_render(nc, t, n, &text);

	if (r < 0)
		return pt_err_set(err, r, "nftables: render table " PT_FW_TABLE);
	r = pt_fw_run(text, "create table inet/arp " PT_FW_TABLE, err);
	free(text);
	return r;
}

static int tenant_elements(const struct pt_fw_tenant *t, const char *verb,
			   const char *what, pt_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int r;

	if (!f)
		return pt_err_set(err, -ENOMEM, "nftables: %s", what);
	/* "add" is idempotent; "delete" of a missing element fails, so a
	 * removal adds first: the transaction then always succeeds. */
	for (int pass = 0; pass < 2; pass++) {
		const char *v = pass == 0 ? "add" : verb;

		if (pass == 1 && strcmp(verb, "add") == 0)
			break;
		fprintf(f, "%s element inet " PT_FW_TABLE " tenant_ip { ", v);
		elem_ip(f, t);
		fprintf(f, " }\n%s element inet " PT_FW_TABLE " tenant_mac { ", v);
		elem_mac(f, t);
		fputs(" }\n", f);
	}
	if (fclose(f) != 0) {
		free(buf);
		return pt_err_set(err, -ENOMEM, "nftables: %s", what);
	}
	r = pt_fw_run(buf, what, err);
	free(buf);
	return r;
}

int pt_fw_tenant_add(const struct pt_fw_tenant *t, pt_err *err)
{
	char what[96];

	snprintf(what, sizeof(what), "add elements of %s", t->veth);
	return tenant_elements(t, "add", what, err);
}

int pt_fw_tenant_remove(const struct pt_fw_tenant *t, pt_err *err)
{
	char what[96];

	snprintf(what, sizeof(what), "delete elements of %s", t->veth);
	return tenant_elements(t, "delete", what, err);
}

int pt_fw_remove(pt_err *err)
{
	return pt_fw_run("add table inet " PT_FW_TABLE "\ndelete table inet " PT_FW_TABLE "\n"
			 "add table arp " PT_FW_TABLE "\ndelete table arp " PT_FW_TABLE "\n",
			 "delete tables " PT_FW_TABLE, err);
}
