/* SPDX-License-Identifier: GPL-2.0-only */
/* Inside the drain: what drain.c gives the modes (drain_n.c, drain_ad.c, drain_mirror.c). */
#ifndef IMASTORED_DRAIN_INT_H
#define IMASTORED_DRAIN_INT_H

#include "drain.h"
#include "klist.h"

/* The fds of one writer window: the list, and the staged file where there is one. */
struct window {
	int list_fd;
	int staged_fd;
	struct klist kl;	/* staged batch (nb records), then the current list */
	size_t nb;
};

void window_init(struct drain *d, struct window *w);
void window_close(struct window *w);
/* Open a list for the window (EBUSY retried, then the holders logged). */
int window_open(const char *path, int flags, int *fd, struct errmsg *em);
/* (Re)read the window's list: the staged batch first, then the current list. */
int window_read(struct drain *d, struct window *w, off_t from, struct errmsg *em);
/* Read, place, store; what the cycle then deletes is up to the mode. */
int read_place_store(struct drain *d, struct window *w, struct drain_stats *st,
		     bool *placed, struct errmsg *em);
void window_stats(const struct drain *d, const struct window *w, uint64_t t0,
		  struct drain_stats *st);
/* Record i of the window is the stored record s, byte for byte. */
bool same(const struct klist *kl, size_t i, const struct ima_record *s);
/* trimming.md §6: log it once, keep storing, never delete again. */
void foreign(struct drain *d, const char *why);
/* Strong enough evidence for this window to delete (§3.2.6). */
bool may_delete(const struct drain *d);
/*
 * Delete the `count` oldest records (§4.6-7, §5.4-5): a checkpoint of
 * those leaving and the `intended` entry, then cmd(fd, count) (the
 * kernel's "N\n" or "D\n"), then, if the kernel did it, the head moves
 * and `done`; *out = count. What cmd returned is *refused (0: deleted);
 * the caller says what a refusal means.
 */
int drain_delete(struct drain *d, int (*cmd)(int fd, uint64_t n), int fd,
		 uint64_t count, uint64_t *out, int *refused, struct errmsg *em);

/*
 * One writer window (trimming.md §4): the list, and the staged file where
 * the kernel has one, opened with `flags`; `before` (NULL: none) once they
 * are open, then read, placed, stored; then, if placed, a staged batch is
 * freed (D) or else `then` runs while the list is still open.
 */
typedef int window_fn(struct drain *d, const struct drain_policy *p,
		      struct window *w, struct drain_stats *st, struct errmsg *em);
int list_window(struct drain *d, const struct drain_policy *p, int flags,
		struct drain_stats *st, window_fn *before, window_fn *then,
		struct errmsg *em);
/* §5: the window's staged batch is stored: checkpoint, intended, "D\n", done. */
int drain_free_batch(struct drain *d, struct window *w, struct drain_stats *st,
		     struct errmsg *em);

/* the modes */
int drain_n(struct drain *d, const struct drain_policy *p,
	    struct drain_stats *st, struct errmsg *em);
int drain_ad(struct drain *d, const struct drain_policy *p,
	     struct drain_stats *st, struct errmsg *em);
int drain_mirror(struct drain *d, const struct drain_policy *p,
		 struct drain_stats *st, struct errmsg *em);
/* mirror: the stored record the last window ended on must still be there */
int mirror_check(struct drain *d, struct window *w, struct errmsg *em);

#endif
