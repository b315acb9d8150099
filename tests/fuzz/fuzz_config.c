/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the Yamaha configuration parser (src/config): the input
 * is a configuration file.  Parse, verify, print; the printed text must
 * parse without errors, and print the same text again (cfg_print's
 * contract: "normalized configuration text that parses back to the same c").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "fuzz.h"

/* Print c into a malloc'd buffer; *ret_len its length. */
static char *print(const struct cfg *c, size_t *ret_len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, ret_len);

	fuzz_check(f);
	cfg_print(c, f);
	fuzz_check(fclose(f) == 0);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_diags d1 = { 0 }, d2 = { 0 };
	struct cfg *c1, *c2;
	char *p1, *p2, line[1024];
	size_t l1, l2;
	int r;

	if (size > CFG_FILE_MAX)
		return 0;
	c1 = cfg_new();
	fuzz_check(c1);
	r = cfg_parse_buffer(c1, "fuzz.conf", (const char *)data, size, &d1);
	fuzz_check(r == 0 || r == -EINVAL);
	fuzz_check((r == 0) == (d1.n_errors == 0));
	(void)cfg_verify(c1, "fuzz.conf", &d1);
	for (size_t i = 0; i < d1.n && i < CFG_DIAGS_MAX; i++)
		cfg_diag_format(&d1.v[i], line, sizeof(line));
	p1 = print(c1, &l1);

	c2 = cfg_new();
	fuzz_check(c2);
	r = cfg_parse_buffer(c2, "printed.conf", p1, l1, &d2);
	if (r != 0) {
		for (size_t i = 0; i < d2.n; i++) {
			cfg_diag_format(&d2.v[i], line, sizeof(line));
			fprintf(stderr, "%s\n", line);
		}
	}
	fuzz_check(r == 0);
	(void)cfg_verify(c2, "printed.conf", &d2);
	p2 = print(c2, &l2);
	if (l1 != l2 || memcmp(p1, p2, l1) != 0)
		fprintf(stderr, "--- first print\n%s--- second print\n%s", p1, p2);
	fuzz_check(l1 == l2 && memcmp(p1, p2, l1) == 0);

	free(p1);
	free(p2);
	cfg_free(c1);
	cfg_free(c2);
	cfg_diags_free(&d1);
	cfg_diags_free(&d2);
	return 0;
}
