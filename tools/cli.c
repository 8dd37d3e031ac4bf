// SPDX-License-Identifier: MIT
/*
 * cli.c - the pieces every tmem subcommand shares.
 *
 * Messages: a user who mistyped wants one line that names the flag and
 * says what is wrong, then where to read more; so every command line error
 * goes through cli_usage_error() ("tmem: <cmd>: ..." and "Try 'tmem <cmd>
 * --help'.", exit status 2), and every failure at run time through
 * cli_error() (exit status 1, chosen by the caller).  getopt's own
 * messages are switched off (opterr = 0) because they name neither the
 * command nor the help text.
 *
 * Tunables: the library's table (tmem_option_info()) is the single source
 * of names, bounds, defaults and help.  The flags are made from its rows at
 * run time (pool_max -> --pool-max), values go through tmem_params_set()
 * so the library checks them, and the bounds printed in an error come from
 * the same row.  A tunable added to the table thus appears in every
 * command's flags and help without touching the CLI.  The rows beyond
 * CLI_TUNABLES_MAX are not offered as flags (the table has far fewer).
 *
 * Timing uses CLOCK_MONOTONIC; benchmarks report medians because the
 * machines they run on are shared and noisy.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

const char *cli_cmd = "tmem";

/* "--" + the longest tunable name we expect, with room to spare. */
#define FLAG_NAME_MAX 48

static char flag_names[CLI_TUNABLES_MAX][FLAG_NAME_MAX];

static void verror(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s%s: ", strcmp(cli_cmd, "tmem") ? "tmem " : "",
		cli_cmd);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(fmt, ap);
	va_end(ap);
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try 'tmem %s --help'.\n", cli_cmd);
	return CLI_EXIT_USAGE;
}

static const char *long_name(const struct option *opts, int val)
{
	for (; opts && opts->name; opts++)
		if (opts->val == val)
			return opts->name;
	return NULL;
}

int cli_getopt_error(int c, char *const argv[], const struct option *opts)
{
	const char *name = long_name(opts, optopt);
	const char *arg = optind > 0 ? argv[optind - 1] : "";

	if (c == ':') {
		if (name)
			return cli_usage_error("--%s needs a value", name);
		return cli_usage_error("-%c needs a value", optopt);
	}
	/* A known long flag reported as '?' was given a value it takes not. */
	if (name && arg && !strncmp(arg, "--", 2))
		return cli_usage_error("--%s takes no value", name);
	if (optopt > 0 && optopt < 128)
		return cli_usage_error("unknown flag '-%c'", optopt);
	return cli_usage_error("unknown flag '%s'", arg);
}

/* ------------------------------------------------------------------ */
/* Tunables                                                            */
/* ------------------------------------------------------------------ */

static const char *flag_name(unsigned row)
{
	const struct tmem_option_info *o = tmem_option_info(row);
	char *f = flag_names[row];
	size_t i;

	if (!f[0]) {
		for (i = 0; o->name[i] && i < FLAG_NAME_MAX - 1; i++)
			f[i] = o->name[i] == '_' ? '-' : o->name[i];
		f[i] = '\0';
	}
	return f;
}

/* A bound for messages: sizes with the largest exact suffix. */
static const char *fmt_bound(const struct tmem_option_info *o, int64_t v,
			     char *buf, size_t len)
{
	static const char suffix[] = "KMGT";
	int i;

	if (o->type == TMEM_OPT_SIZE && v > 0) {
		for (i = 3; i >= 0; i--) {
			int64_t unit = (int64_t)1 << (10 * (i + 1));

			if (v % unit == 0) {
				snprintf(buf, len, "%lld%c",
					 (long long)(v / unit), suffix[i]);
				return buf;
			}
		}
	}
	snprintf(buf, len, "%lld", (long long)v);
	return buf;
}

/* The name of choice @idx of an enum row ("zstd"), into @buf. */
static const char *choice_name(const struct tmem_option_info *o, int64_t idx,
			       char *buf, size_t len)
{
	const char *p = o->choices ? o->choices : "";
	size_t n;

	for (; idx > 0 && p; idx--) {
		p = strchr(p, '|');
		if (p)
			p++;
	}
	if (!p)
		p = "?";
	n = strcspn(p, "|");
	snprintf(buf, len, "%.*s", (int)n, p);
	return buf;
}

/* Explain why @value was refused for row @o; @label is "--x" or "TMEM_X". */
static void explain(const struct tmem_option_info *o, const char *label,
		    const char *value, int err)
{
	char lo[32], hi[32];

	if (err == -ERANGE) {
		cli_error("%s: %s is out of range %s..%s", label, value,
			  fmt_bound(o, o->min, lo, sizeof(lo)),
			  fmt_bound(o, o->max, hi, sizeof(hi)));
		return;
	}
	switch (o->type) {
	case TMEM_OPT_SIZE:
		cli_error(
			"%s: '%s' is not a size (bytes, or with a K, M, G or T suffix)",
			label, value);
		break;
	case TMEM_OPT_ENUM:
		cli_error("%s: '%s' is not one of %s", label, value,
			  o->choices ? o->choices : "(none)");
		break;
	default:
		cli_error("%s: '%s' is not a number", label, value);
		break;
	}
}

int cli_tunables_init(struct cli_tunables *t)
{
	const struct tmem_option_info *o;
	unsigned i;

	memset(t, 0, sizeof(*t));
	if (!tmem_params_init(&t->params))
		return 0;
	/* Name the variable that was refused, with the same words as a flag. */
	for (i = 0; (o = tmem_option_info(i)); i++) {
		struct tmem_pool_params scratch = t->params;
		const char *v = o->env ? getenv(o->env) : NULL;
		int err;

		if (!v)
			continue;
		err = tmem_params_set(&scratch, o->name, v);
		if (err) {
			explain(o, o->env, v, err);
			fprintf(stderr, "Try 'tmem %s --help'.\n", cli_cmd);
			return CLI_EXIT_USAGE;
		}
	}
	return 0;
}

size_t cli_tunable_options(struct option *opts, size_t used, size_t cap)
{
	unsigned i;

	for (i = 0; i < CLI_TUNABLES_MAX && tmem_option_info(i); i++) {
		if (used + 1 >= cap)
			break;
		opts[used].name = flag_name(i);
		opts[used].has_arg = required_argument;
		opts[used].flag = NULL;
		opts[used].val = CLI_TUNABLE_BASE + (int)i;
		used++;
	}
	memset(&opts[used], 0, sizeof(opts[used]));
	return used;
}

int cli_tunable_handle(struct cli_tunables *t, int c, const char *value)
{
	const struct tmem_option_info *o;
	unsigned row;
	char label[FLAG_NAME_MAX + 2];
	int err;

	if (c < CLI_TUNABLE_BASE || c >= CLI_TUNABLE_BASE + CLI_TUNABLES_MAX)
		return 0;
	row = (unsigned)(c - CLI_TUNABLE_BASE);
	o = tmem_option_info(row);
	if (!o)
		return 0;
	err = tmem_params_set(&t->params, o->name, value);
	if (!err) {
		t->given |= 1u << row;
		return 1;
	}
	snprintf(label, sizeof(label), "--%s", flag_name(row));
	explain(o, label, value, err);
	fprintf(stderr, "Try 'tmem %s --help'.\n", cli_cmd);
	return CLI_EXIT_USAGE;
}

int cli_tunable_given(const struct cli_tunables *t, const char *name)
{
	const struct tmem_option_info *o;
	unsigned i;

	for (i = 0; i < CLI_TUNABLES_MAX && (o = tmem_option_info(i)); i++)
		if (!strcmp(o->name, name))
			return !!(t->given & (1u << i));
	return 0;
}

/* Two lines per flag: the flag and its help, then bounds, default, env. */
void cli_tunable_help(FILE *f)
{
	const struct tmem_option_info *o;
	unsigned i;

	for (i = 0; i < CLI_TUNABLES_MAX && (o = tmem_option_info(i)); i++) {
		char arg[1600], lo[32], hi[32],
			def[32]; /* flag names are short; the bound keeps gcc -O3 quiet */

		if (o->type == TMEM_OPT_ENUM) {
			snprintf(arg, sizeof(arg), "--%s %s", flag_name(i),
				 o->choices ? o->choices : "NAME");
			fprintf(f, "  %-30s %s\n  %-30s default %s; env %s\n",
				arg, o->help, "",
				choice_name(o, o->def, def, sizeof(def)),
				o->env);
			continue;
		}
		snprintf(arg, sizeof(arg), "--%s %s", flag_name(i),
			 o->type == TMEM_OPT_SIZE ? "SIZE" : "N");
		fprintf(f,
			"  %-30s %s\n  %-30s %s..%s%s%s, default %s; env %s\n",
			arg, o->help, "", fmt_bound(o, o->min, lo, sizeof(lo)),
			fmt_bound(o, o->max, hi, sizeof(hi)),
			o->unit && *o->unit ? " " : "", o->unit ? o->unit : "",
			fmt_bound(o, o->def, def, sizeof(def)), o->env);
	}
}

/* ------------------------------------------------------------------ */
/* Numbers, time, sizes                                                */
/* ------------------------------------------------------------------ */

int cli_parse_uint(const char *flag, const char *s, unsigned min, unsigned max,
		   unsigned *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return cli_usage_error("%s: '%s' is not a number", flag,
				       s ? s : "");
	v = strtoull(s, &end, 10);
	if (*end)
		return cli_usage_error("%s: '%s' is not a number", flag, s);
	if (errno == ERANGE || v < min || v > max)
		return cli_usage_error("%s: %s is out of range %u..%u", flag, s,
				       min, max);
	*out = (unsigned)v;
	return 0;
}

double cli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double cli_median(double *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	if (n % 2)
		return v[n / 2];
	return (v[n / 2 - 1] + v[n / 2]) / 2;
}

double cli_mbps(uint64_t bytes, double seconds)
{
	return seconds > 0 ? (double)bytes / seconds / 1e6 : 0;
}

const char *cli_human(uint64_t bytes, char *buf, size_t len)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int i = -1;

	while (v >= 1024 && i < 3) {
		v /= 1024;
		i++;
	}
	if (i < 0)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.1f %s", v, unit[i]);
	return buf;
}

int cli_progress_wanted(void)
{
	return isatty(STDERR_FILENO);
}

void cli_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}
