/* SPDX-License-Identifier: MIT */
/*
 * Text from outside (a peer's Host Name, Vendor Name or Result Code
 * message; a configuration line): what is well-formed UTF-8 and printable,
 * and making a peer's name so before it reaches a log line, the JSON status
 * (jansson refuses a string that is not UTF-8) or the metrics.  Header only
 * (no I/O, no allocation, no state), like addr.h.
 */
#ifndef L2TP_COMMON_TEXT_H
#define L2TP_COMMON_TEXT_H

#include <stddef.h>

/* Length of the well-formed UTF-8 character at s of 2 to 4 bytes (not a C1
 * control, an overlong form or a surrogate), or 0. */
static inline size_t utf8_seq_len(const unsigned char *s, size_t len)
{
	size_t n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (n == 2 && s[0] == 0xc2 && s[1] < 0xa0)
		return 0; /* C1 controls */
	if (n == 3 && s[0] == 0xe0 && s[1] < 0xa0)
		return 0; /* overlong */
	if (n == 3 && s[0] == 0xed && s[1] >= 0xa0)
		return 0; /* surrogates */
	if (n == 4 && s[0] == 0xf0 && s[1] < 0x90)
		return 0; /* overlong */
	if (n == 4 && s[0] == 0xf4 && s[1] >= 0x90)
		return 0; /* above U+10FFFF */
	return n;
}

/* In the first len bytes of s, every byte that is neither printable ASCII
 * nor part of a well-formed UTF-8 character (controls, DEL, stray or
 * truncated sequences, NUL) becomes '?'.  Returns how many were replaced. */
static inline size_t text_make_printable(char *s, size_t len)
{
	unsigned char *u = (unsigned char *)s;
	size_t i = 0, replaced = 0;

	while (i < len) {
		size_t n = 1;

		if (u[i] < 0x20 || u[i] >= 0x7f) {
			n = utf8_seq_len(u + i, len - i);
			if (n == 0) {
				u[i] = '?';
				replaced++;
				n = 1;
			}
		}
		i += n;
	}
	return replaced;
}

#endif
