/* SPDX-License-Identifier: MIT */
/*
 * Corpus recording for fuzz_fsm (see fuzz_fsm.c for the input format).
 */
#ifndef L2TP_FUZZ_FSM_H
#define L2TP_FUZZ_FSM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef void (*fuzz_dgram_fn)(const uint8_t *buf, size_t len, void *arg);

/*
 * Run a real exchange between T and a peer tunnel P for `rounds` steps
 * (selector bits 0-2 as in the input format; bit 3: P sends a StopCCN half
 * way) and write it to out as a fuzz_fsm input; every datagram either side
 * sends is also passed to on_dgram (may be NULL).  0 or -EIO.
 */
int fuzz_fsm_record(uint8_t sel, unsigned rounds, FILE *out, fuzz_dgram_fn on_dgram, void *arg);

#endif
