/* SPDX-License-Identifier: MIT */
/*
 * l2tpv3d: command line, configuration check, daemonising, then the
 * event loop in daemon.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config/config.h"
#include "daemon/daemon.h"
#include "daemon/log.h"

#define DEFAULT_CONFIG "/etc/l2tpv3d/l2tpv3d.conf"
#define DEFAULT_SOCKET "/run/l2tpv3d/control.sock"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: l2tpv3d [-c|--config FILE] [-f|--foreground] [-d|--debug] [-S|--socket PATH]\n"
		"       l2tpv3d -n [-v] [-c FILE]   check the configuration (-v: print it normalized)\n"
		"defaults: config %s, socket %s\n",
		DEFAULT_CONFIG, DEFAULT_SOCKET);
}

/* Print diagnostics: on stderr when checking or in the foreground, else to the log. */
static void report_diags(const struct cfg_diags *diags, bool to_stderr)
{
	char line[1024];

	for (size_t i = 0; i < diags->n; i++) {
		const struct cfg_diag *dg = &diags->v[i];

		cfg_diag_format(dg, line, sizeof(line));
		if (to_stderr)
			fprintf(stderr, "%s\n", line);
		else if (dg->level == CFG_DIAG_ERROR)
			log_warnx("%s", line);
		else
			log_notice("%s", line);
	}
}

/*
 * Every tunnel holds its TAP port's file descriptor: a hub of 1,000 peers
 * needs more than the usual soft limit of 1024.  Raise it to the hard
 * limit (no privilege needed); a TAP port that cannot be opened for want
 * of descriptors says so (tunnel.c).
 */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn("cannot raise the open files limit to %llu", (unsigned long long)rl.rlim_max);
	else
		log_info("open files limit raised to %llu (one per tunnel's TAP port)",
			 (unsigned long long)rl.rlim_cur);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "socket", required_argument, NULL, 'S' },
		{ "check", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon d;
	struct cfg_diags diags = { 0 };
	char *abs_config = NULL;
	bool check = false, verbose = false, debug = false;
	int c, r;

	memset(&d, 0, sizeof(d));
	d.config_path = DEFAULT_CONFIG;
	d.socket_path = DEFAULT_SOCKET;
	while ((c = getopt_long(argc, argv, "c:fdS:nvh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			d.config_path = optarg;
			break;
		case 'f':
			d.foreground = true;
			break;
		case 'd':
			d.foreground = true;
			debug = true;
			break;
		case 'S':
			d.socket_path = optarg;
			break;
		case 'n':
			check = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "l2tpv3d: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	r = cfg_load_file(d.config_path, &d.cfg, &diags);
	report_diags(&diags, true);
	cfg_diags_free(&diags);
	if (r < 0) {
		fprintf(stderr, "l2tpv3d: %s: configuration has errors; not starting\n", d.config_path);
		return 1;
	}
	if (check) {
		if (verbose)
			cfg_print(d.cfg, stdout);
		cfg_free(d.cfg);
		return 0;
	}
	if (geteuid() != 0)
		fprintf(stderr, "l2tpv3d: warning: not running as root; TAP, bridge and port 1701 need CAP_NET_ADMIN "
				"and CAP_NET_BIND_SERVICE\n");

	/* reload reads the file again after daemon() moved to /; symlinks
	 * stay unresolved, so a swapped link is followed */
	if (d.config_path[0] != '/') {
		char *cwd = getcwd(NULL, 0);

		if (cwd && asprintf(&abs_config, "%s/%s", cwd, d.config_path) > 0)
			d.config_path = abs_config;
		else
			abs_config = NULL;
		free(cwd);
	}

	log_init(d.foreground, debug);
	if (!d.foreground && daemon(0, 0) < 0)
		fatal("daemon");
	log_notice("l2tpv3d starting, configuration %s", d.config_path);
	raise_nofile();
	r = daemon_setup(&d);
	if (r == 0)
		r = daemon_run(&d);
	daemon_teardown(&d);
	cfg_free(d.cfg);
	free(abs_config);
	if (r < 0) {
		log_warnx("exiting on error: %s", strerror(-r));
		return 1;
	}
	log_notice("l2tpv3d stopped");
	return 0;
}
