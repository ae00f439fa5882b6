/* usage [SLUG] [--month YYYY-MM | --from YYYY-MM-DD --to YYYY-MM-DD] [--csv]:
 * the ledger, per tenant and in total, in hours and active runtime-months
 * (active hours / hours of the range). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MS_PER_HOUR 3600000.0
#define BYTE_MS_PER_GIB_HOUR (1073741824.0 * 3600000.0)

struct row {
	const char *slug;
	double active, frozen, asleep, stopped, crashloop;  /* hours */
	double cpu, mem;                                    /* CPU hours, GiB-hours */
	double peak;                                        /* bytes */
	long long restarts, incidents;
	bool metered;
	double net_in, net_out;                             /* bytes */
	bool net_metered;
	long long requests;
	bool requests_metered;
};

static double num(json_t *o, const char *key)
{
	return (double)json_integer_value(json_object_get(o, key));
}

static void row_of(json_t *t, struct row *r)
{
	const char *key;
	json_t *v;

	memset(r, 0, sizeof(*r));
	r->slug = json_string_value(json_object_get(t, "slug"));
	r->active = num(t, "active_ms") / MS_PER_HOUR;
	r->frozen = num(t, "frozen_ms") / MS_PER_HOUR;
	r->asleep = num(t, "asleep_ms") / MS_PER_HOUR;
	r->stopped = num(t, "stopped_ms") / MS_PER_HOUR;
	r->crashloop = num(t, "crashloop_ms") / MS_PER_HOUR;
	r->metered = json_is_true(json_object_get(t, "metered"));
	r->cpu = num(t, "cpu_us") / 1e6 / 3600.0;
	r->mem = num(t, "mem_byte_ms") / BYTE_MS_PER_GIB_HOUR;
	r->peak = num(t, "mem_peak");
	r->restarts = (long long)num(t, "restarts");
	r->net_metered = json_is_true(json_object_get(t, "net_metered"));
	r->net_in = num(t, "net_in");
	r->net_out = num(t, "net_out");
	r->requests = (long long)num(t, "requests");
	r->requests_metered = json_is_true(json_object_get(t, "requests_metered"));
	json_object_foreach(json_object_get(t, "incidents"), key, v)
		r->incidents += json_integer_value(v);
}

static void add_row(struct row *sum, const struct row *r)
{
	sum->active += r->active;
	sum->frozen += r->frozen;
	sum->asleep += r->asleep;
	sum->stopped += r->stopped;
	sum->crashloop += r->crashloop;
	sum->cpu += r->cpu;
	sum->mem += r->mem;
	if (r->peak > sum->peak)
		sum->peak = r->peak;
	sum->restarts += r->restarts;
	sum->incidents += r->incidents;
	sum->metered |= r->metered;
	sum->net_in += r->net_in;
	sum->net_out += r->net_out;
	sum->net_metered |= r->net_metered;
	sum->requests += r->requests;
	sum->requests_metered |= r->requests_metered;
}

static void print_csv(const struct row *r, double hours)
{
	printf("%s,%.4f,%.4f,%.4f,%.4f,%.4f,", r->slug, r->active, r->frozen, r->asleep,
	       r->stopped, r->crashloop);
	if (r->metered)
		printf("%.6f,%.6f,%.0f,", r->cpu, r->mem, r->peak);
	else
		printf(",,,");
	printf("%lld,%lld,", r->restarts, r->incidents);
	if (r->net_metered)
		printf("%.0f,%.0f,", r->net_in, r->net_out);
	else
		printf(",,");
	if (r->requests_metered)
		printf("%lld,", r->requests);
	else
		printf(",");
	printf("%.6f\n", r->active / hours);
}

static void print_table_row(const struct row *r, double hours)
{
	char cpu[16] = "-", mem[16] = "-", in[16] = "-", out[16] = "-", req[24] = "-";

	if (r->metered) {
		snprintf(cpu, sizeof(cpu), "%.3f", r->cpu);
		snprintf(mem, sizeof(mem), "%.3f", r->mem);
	}
	if (r->net_metered) {
		snprintf(in, sizeof(in), "%.1f", r->net_in / 1048576.0);
		snprintf(out, sizeof(out), "%.1f", r->net_out / 1048576.0);
	}
	if (r->requests_metered)
		snprintf(req, sizeof(req), "%lld", r->requests);
	printf("%-20s %9.2f %9.2f %9.2f %9.2f %8s %10s %9s %9s %9s %8lld %9lld %9.4f\n", r->slug,
	       r->active, r->frozen, r->asleep, r->crashloop, cpu, mem, in, out, req, r->restarts,
	       r->incidents, r->active / hours);
}

static int show(struct cli *cli, json_t *resp, bool csv)
{
	json_t *tenants = json_object_get(resp, "tenants"), *t;
	double hours = num(resp, "hours");
	struct row sum = { .slug = "TOTAL" }, r;
	size_t i;

	if (cli->json) {
		cli_print_json(resp);
		return EXIT_OK;
	}
	if (csv)
		printf("slug,active_hours,frozen_hours,asleep_hours,stopped_hours,crashloop_hours,"
		       "cpu_hours,memory_gib_hours,memory_peak_bytes,restarts,incidents,"
		       "net_in_bytes,net_out_bytes,requests,active_runtime_months\n");
	else
		printf("usage from %s to %s (UTC, %.0f hours)\n%-20s %9s %9s %9s %9s %8s %10s %9s "
		       "%9s %9s %8s %9s %9s\n", json_string_value(json_object_get(resp, "from")),
		       json_string_value(json_object_get(resp, "to")), hours, "SLUG", "ACTIVE-H",
		       "FROZEN-H", "ASLEEP-H", "CRASH-H", "CPU-H", "MEM-GIB-H", "IN-MiB", "OUT-MiB",
		       "REQUESTS", "RESTARTS", "INCIDENTS", "RT-MONTHS");
	json_array_foreach(tenants, i, t) {
		row_of(t, &r);
		add_row(&sum, &r);
		if (csv)
			print_csv(&r, hours);
		else
			print_table_row(&r, hours);
	}
	if (csv)
		print_csv(&sum, hours);
	else
		print_table_row(&sum, hours);
	if (json_integer_value(json_object_get(resp, "skipped_lines")) > 0) {
		char *first = json_dumps(json_array_get(json_object_get(resp, "skipped"), 0),
					 JSON_COMPACT);

		fprintf(stderr, "ptenant: %lld damaged line(s) of the ledger were skipped, e.g. %s\n",
			(long long)json_integer_value(json_object_get(resp, "skipped_lines")),
			first ? first : "?");
		free(first);
	}
	return EXIT_OK;
}

int cmd_usage(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "month", required_argument, NULL, 'm' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "csv", no_argument, NULL, 'c' },
		{ 0 },
	};
	json_t *req = json_pack("{s:s}", "op", "usage"), *resp;
	bool csv = false;
	int c, r = 0;

	opterr = 0;
	optind = 1;
	while (r == 0 && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': json_object_set_new(req, "month", json_string(optarg)); break;
		case 'f': json_object_set_new(req, "from", json_string(optarg)); break;
		case 't': json_object_set_new(req, "to", json_string(optarg)); break;
		case 'c': csv = true; break;
		default:
			r = cli_usage_error("usage: unknown option or missing value in '%s'",
					    argv[optind - 1]);
		}
	}
	if (r == 0 && optind < argc)
		json_object_set_new(req, "slug", json_string(argv[optind++]));
	if (r == 0 && optind < argc)
		r = cli_usage_error("usage: unexpected argument '%s'", argv[optind]);
	if (r == 0 && csv && cli->json)
		r = cli_usage_error("usage: --csv or --json, not both");
	if (r) {
		json_decref(req);
		return r;
	}
	resp = cli_call(cli, req);
	if (!resp)
		return EXIT_FAILED;
	r = show(cli, resp, csv);
	json_decref(resp);
	return r;
}
