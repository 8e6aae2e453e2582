// SPDX-License-Identifier: GPL-2.0-only
/*
 * Power-cut simulation of the store (docs/store-format.md §5). A store_io
 * table records every write, truncate, fsync and name change the store
 * makes while a workload appends and commits (and writes checkpoints and
 * trims, adds a boot, reopens). Then, for every cut point (after each
 * recorded call), the directory is rebuilt as a disk could hold it after
 * losing power there:
 *
 *  - a file's content: everything up to its last completed fsync; later
 *    writes and truncates partially: each 512-byte sector taken from the
 *    synced state, from any later state, or zeroed, and the size anywhere
 *    between (variants: all applied, none applied, random mixes);
 *  - writes before an fsync that FAILED stay uncertain forever, even after
 *    a later fsync succeeds (Linux drops those pages: "fsyncgate");
 *  - names (create, rename, mkdir, symlink, unlink): those followed by an
 *    fsync of their directory are there, of the others an in-order prefix.
 *
 * Then the rebuilt store is opened as reader and writer and checked: every
 * record acknowledged durable before the cut is there exactly once, in
 * order, byte-identical; nothing beyond what was appended; no half record;
 * the writer opens (torn tail cut to the last commit) without reporting
 * corruption and appends on; the replay of what is there equals the
 * replay of the originals' first N. And a byte flipped in a committed
 * group that a later committed group follows is reported (-EBADMSG naming
 * the file and offset), never cut silently.
 */
#include <libgen.h>

#include "store_test_util.h"

#define SEG (4u << 10)
#define SECTOR 512

enum op_type {
	OP_WRITE = 1, OP_TRUNC, OP_SYNC, OP_FAILSYNC, OP_DIRSYNC,
	OP_CREATE, OP_RENAME, OP_MKDIR, OP_SYMLINK, OP_UNLINK, OP_RMDIR,
	OP_MARK,
};

struct op {
	enum op_type type;
	int id;			/* model file */
	off_t off;		/* write offset, truncate length */
	size_t len;
	uint8_t *data;
	bool limbo;		/* a write before a failed fsync */
	char *path, *path2;	/* relative to the store root */
	struct st_acks acks;	/* OP_MARK: what the writer was told so far */
};

static struct {
	struct op *ops;
	size_t n, cap;
	char root[PATH_MAX];
	size_t rootlen;
	struct { dev_t dev; ino_t ino; int id; } inodes[4096];
	unsigned ninodes;
	int nids;
	struct st_acks acks;
	/* faults to inject while recording (0: none) */
	unsigned long fail_sync_at, fail_write_at;
	unsigned long syncs, writes;
	unsigned failed_syncs, failed_writes;
	char bypass[256];	/* a call the model could not place */
} rec;

static struct op *new_op(enum op_type t)
{
	struct op *o;

	if (rec.n == rec.cap) {
		rec.cap = rec.cap ? rec.cap * 2 : 1024;
		rec.ops = realloc(rec.ops, rec.cap * sizeof(*rec.ops));
		assert_non_null(rec.ops);
	}
	o = &rec.ops[rec.n++];
	memset(o, 0, sizeof(*o));
	o->type = t;
	o->id = -1;
	return o;
}

static void mark(void)
{
	new_op(OP_MARK)->acks = rec.acks;
}

/* Path of an fd or of dirfd/name, relative to the root ("" = root). NULL: outside. */
static char *rel_path(int dirfd, const char *name)
{
	char p[PATH_MAX], l[64], *out;
	ssize_t n;

	if (name && name[0] == '/') {
		snprintf(p, sizeof(p), "%s", name);
	} else {
		if (dirfd == AT_FDCWD) {
			if (!getcwd(p, sizeof(p)))
				return NULL;
		} else {
			snprintf(l, sizeof(l), "/proc/self/fd/%d", dirfd);
			n = readlink(l, p, sizeof(p) - 1);
			if (n < 0)
				return NULL;
			p[n] = 0;
		}
		if (name && name[0]) {
			size_t k = strlen(p);

			snprintf(p + k, sizeof(p) - k, "/%s", name);
		}
	}
	if (strncmp(p, rec.root, rec.rootlen) || (p[rec.rootlen] && p[rec.rootlen] != '/'))
		return NULL;
	out = strdup(p[rec.rootlen] ? p + rec.rootlen + 1 : "");
	assert_non_null(out);
	return out;
}

static int id_of(dev_t dev, ino_t ino)
{
	for (unsigned i = 0; i < rec.ninodes; i++)
		if (rec.inodes[i].dev == dev && rec.inodes[i].ino == ino)
			return rec.inodes[i].id;
	return -1;
}

static int bind_inode(dev_t dev, ino_t ino)
{
	for (unsigned i = 0; i < rec.ninodes; i++)
		if (rec.inodes[i].dev == dev && rec.inodes[i].ino == ino) {
			rec.inodes[i].id = rec.nids++;	/* inode number reused */
			return rec.inodes[i].id;
		}
	assert_true(rec.ninodes < 4096);
	rec.inodes[rec.ninodes].dev = dev;
	rec.inodes[rec.ninodes].ino = ino;
	rec.inodes[rec.ninodes].id = rec.nids++;
	return rec.inodes[rec.ninodes++].id;
}

static int fd_id(int fd)
{
	struct stat sb;
	int id;

	if (fstat(fd, &sb))
		return -1;
	id = id_of(sb.st_dev, sb.st_ino);
	if (id < 0 && !rec.bypass[0]) {
		char *p = rel_path(fd, NULL);

		snprintf(rec.bypass, sizeof(rec.bypass),
			 "write to %s, a file not opened through store_io", p ? p : "?");
		free(p);
	}
	return id;
}

static int r_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	struct stat sb;
	bool existed = !fstatat(dirfd, path, &sb, 0);
	int fd = openat(dirfd, path, flags, mode);
	char *rp;

	if (fd < 0 || fstat(fd, &sb) || !S_ISREG(sb.st_mode))
		return fd;
	rp = rel_path(dirfd, path);
	if (!rp)
		return fd;
	if (!existed) {
		struct op *o = new_op(OP_CREATE);

		o->id = bind_inode(sb.st_dev, sb.st_ino);
		o->path = rp;
	} else {
		int id = id_of(sb.st_dev, sb.st_ino);

		free(rp);
		if (id < 0)
			return fd;	/* a file from before recording: not ours */
		if (flags & O_TRUNC) {
			struct op *o = new_op(OP_TRUNC);

			o->id = id;
			o->off = 0;
		}
	}
	return fd;
}

/* Faults are injected into the active segment only (a .log, not .tmp). */
static bool is_segment(int fd)
{
	char *p = rel_path(fd, NULL);
	size_t l = p ? strlen(p) : 0;
	bool r = p && strstr(p, "/seg-") && l > 4 && !strcmp(p + l - 4, ".log");

	free(p);
	return r;
}

static ssize_t r_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	ssize_t n;
	struct op *o;
	int id = fd_id(fd);

	if (rec.fail_write_at && is_segment(fd))
		rec.writes++;
	if (rec.fail_write_at && rec.writes == rec.fail_write_at && !rec.failed_writes) {
		/* half of it lands, then the disk is full */
		size_t half = len / 2;

		rec.failed_writes++;
		if (half) {
			n = pwrite(fd, buf, half, off);
			if (n > 0 && id >= 0) {
				o = new_op(OP_WRITE);
				o->id = id;
				o->off = off;
				o->len = (size_t)n;
				o->data = malloc((size_t)n);
				memcpy(o->data, buf, (size_t)n);
			}
			return n;
		}
		errno = ENOSPC;
		return -1;
	}
	if (rec.fail_write_at && rec.writes == rec.fail_write_at + 1 && rec.failed_writes == 1) {
		rec.failed_writes++;
		errno = ENOSPC;	/* the retry of the rest */
		return -1;
	}
	n = pwrite(fd, buf, len, off);
	if (n <= 0 || id < 0)
		return n;
	o = new_op(OP_WRITE);
	o->id = id;
	o->off = off;
	o->len = (size_t)n;
	o->data = malloc((size_t)n);
	assert_non_null(o->data);
	memcpy(o->data, buf, (size_t)n);
	return n;
}

static int r_sync(int fd)
{
	struct stat sb;
	struct op *o;

	if (fstat(fd, &sb))
		return -1;
	if (S_ISDIR(sb.st_mode)) {
		char *p = rel_path(fd, NULL);

		if (p) {
			o = new_op(OP_DIRSYNC);
			o->path = p;
		}
		return 0;
	}
	if (rec.fail_sync_at && is_segment(fd))
		rec.syncs++;
	if (rec.fail_sync_at && rec.syncs == rec.fail_sync_at && !rec.failed_syncs) {
		int id = fd_id(fd);

		/* EIO: the pages written since the last good fsync are in limbo */
		for (size_t i = rec.n; i-- > 0;) {
			if (rec.ops[i].id != id)
				continue;
			if (rec.ops[i].type == OP_SYNC)
				break;
			if (rec.ops[i].type == OP_WRITE)
				rec.ops[i].limbo = true;
		}
		o = new_op(OP_FAILSYNC);
		o->id = id;
		rec.failed_syncs++;
		errno = EIO;
		return -1;
	}
	o = new_op(OP_SYNC);
	o->id = fd_id(fd);
	return 0;
}

static int r_ftruncate(int fd, off_t len)
{
	int r = ftruncate(fd, len), id;
	struct op *o;

	if (r)
		return r;
	id = fd_id(fd);
	if (id >= 0) {
		o = new_op(OP_TRUNC);
		o->id = id;
		o->off = len;
	}
	return 0;
}

static int r_renameat(int od, const char *op, int nd, const char *np)
{
	char *a = rel_path(od, op), *b = rel_path(nd, np);
	int r = renameat(od, op, nd, np);

	if (!r && a && b) {
		struct op *o = new_op(OP_RENAME);

		o->path = a;
		o->path2 = b;
		return 0;
	}
	free(a);
	free(b);
	return r;
}

static int r_mkdirat(int dirfd, const char *path, mode_t mode)
{
	int r = mkdirat(dirfd, path, mode);
	char *p;

	if (r)
		return r;
	p = rel_path(dirfd, path);
	if (p && p[0])
		new_op(OP_MKDIR)->path = p;
	else
		free(p);
	return 0;
}

static int r_symlinkat(const char *target, int dirfd, const char *path)
{
	int r = symlinkat(target, dirfd, path);
	char *p;

	if (r)
		return r;
	p = rel_path(dirfd, path);
	if (p) {
		struct op *o = new_op(OP_SYMLINK);

		o->path = p;
		o->path2 = strdup(target);
	}
	return 0;
}

static int r_unlinkat(int dirfd, const char *path, int flags)
{
	char *p = rel_path(dirfd, path);
	int r = unlinkat(dirfd, path, flags);

	if (!r && p) {
		new_op(flags & AT_REMOVEDIR ? OP_RMDIR : OP_UNLINK)->path = p;
		return 0;
	}
	free(p);
	return r;
}

static const struct store_io rec_io = {
	.openat = r_openat, .pwrite = r_pwrite, .fdatasync = r_sync,
	.fsync = r_sync, .ftruncate = r_ftruncate, .renameat = r_renameat,
	.mkdirat = r_mkdirat, .symlinkat = r_symlinkat, .unlinkat = r_unlinkat,
	.failpoint = NULL,
};

static void rec_reset(void)
{
	for (size_t i = 0; i < rec.n; i++) {
		free(rec.ops[i].data);
		free(rec.ops[i].path);
		free(rec.ops[i].path2);
	}
	free(rec.ops);
	memset(&rec, 0, sizeof(rec));
}

/* ---- the workload, recorded ---- */

static void commit_or_retry(struct chain *c, uint64_t from, uint64_t to)
{
	struct errmsg em = { "" };
	uint64_t durable = chain_durable(c);
	int err;

	rec.acks.pending = to > rec.acks.pending ? to : rec.acks.pending;
	mark();
	err = st_append_range(c, from, to, &em);
	if (!err)
		err = chain_commit(c, &em);
	if (err) {
		/* an injected fault: nothing new durable, then the same records again */
		assert_int_equal(chain_durable(c), durable);
		assert_int_equal(chain_count(c), durable);
		err = st_append_range(c, durable, to, &em);
		if (!err)
			err = chain_commit(c, &em);
		if (err)
			fail_msg("commit after an injected fault: %d %s", err, em.text);
	}
	rec.acks.acked = chain_durable(c);
	mark();
}

static void workload(const char *dir, unsigned ngroups)
{
	struct errmsg em = { "" };
	struct store *s;
	struct chain *c;
	uint64_t n = 0;
	int err;

	err = st_open_writer(dir, SEG, true, &s, &c, &em);
	if (err)
		fail_msg("create: %d %s", err, em.text);
	rec.acks.created = 1;
	mark();
	for (unsigned g = 0; g < ngroups; g++) {
		uint64_t k = st_logrange(1, 24);

		commit_or_retry(c, n, n + k);
		n += k;
		if (g % 9 == 4) {
			struct replay_state st;

			assert_int_equal(st_replay_to(n, &st, &em), 0);
			err = chain_checkpoint_write(c, &st, &em);
			if (err)
				fail_msg("checkpoint: %d %s", err, em.text);
			rec.acks.ckpt_acked = n + 1;
			mark();
		}
		if (g % 11 == 6) {
			for (int ts = TRIM_INTENDED; ts <= TRIM_DONE; ts++) {
				err = chain_trim_write(c, ST_CHAIN, n - 1, ts, &em);
				if (err)
					fail_msg("trim: %d %s", err, em.text);
				rec.acks.trim_acked = (n - 1) * 4 + (uint64_t)ts;
				mark();
			}
		}
		if (g == ngroups / 2) {
			err = chain_add_boot(c, ST_BOOT2, n, &em);
			if (err)
				fail_msg("add_boot: %d %s", err, em.text);
			rec.acks.boot_acked = 1;
			mark();
			/* and the writer restarts */
			st_close(s, c);
			err = st_open_writer(dir, SEG, false, &s, &c, &em);
			if (err)
				fail_msg("reopen: %d %s", err, em.text);
		}
	}
	st_close(s, c);
}

/* ---- rebuilding a directory at a cut ---- */

struct node {
	char *path;
	int kind;	/* 'f', 'd', 'l' */
	int id;
	char *target;
};

struct ns {
	struct node *v;
	size_t n, cap;
};

static struct node *ns_find(struct ns *ns, const char *path)
{
	for (size_t i = 0; i < ns->n; i++)
		if (!strcmp(ns->v[i].path, path))
			return &ns->v[i];
	return NULL;
}

static void ns_del(struct ns *ns, const char *path)
{
	struct node *nd = ns_find(ns, path);

	if (nd)
		*nd = ns->v[--ns->n];
}

static void ns_add(struct ns *ns, const char *path, int kind, int id, char *target)
{
	ns_del(ns, path);
	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? ns->cap * 2 : 64;
		ns->v = realloc(ns->v, ns->cap * sizeof(*ns->v));
	}
	ns->v[ns->n++] = (struct node){ (char *)path, kind, id, target };
}

static void parent_of(const char *path, char *out, size_t len)
{
	const char *sl = strrchr(path, '/');

	snprintf(out, len, "%.*s", sl ? (int)(sl - path) : 0, path);
}

static bool is_ns_op(enum op_type t)
{
	return t == OP_CREATE || t == OP_RENAME || t == OP_MKDIR ||
	       t == OP_SYMLINK || t == OP_UNLINK || t == OP_RMDIR;
}

enum variant { V_ALL, V_NONE, V_RANDOM };

/* Names at cut `cut` (ops [0, cut)). */
static void build_ns(size_t cut, enum variant v, struct ns *ns)
{
	bool *durable = calloc(cut + 1, 1);
	char synced[64][256], par[256];
	unsigned nsynced = 0;
	size_t nondurable = 0, keep, seen = 0;

	/* walking back: a name op is durable if its directory is fsynced later */
	for (size_t i = cut; i-- > 0;) {
		struct op *o = &rec.ops[i];

		if (o->type == OP_DIRSYNC) {
			unsigned k;

			for (k = 0; k < nsynced && strcmp(synced[k], o->path); k++)
				;
			if (k == nsynced) {
				assert_true(nsynced < 64);
				snprintf(synced[nsynced++], 256, "%s", o->path);
			}
		}
		if (!is_ns_op(o->type))
			continue;
		parent_of(o->path, par, sizeof(par));
		for (unsigned k = 0; k < nsynced; k++)
			if (!strcmp(synced[k], par)) {
				durable[i] = true;
				break;
			}
		if (durable[i] && o->type == OP_RENAME) {
			parent_of(o->path2, par, sizeof(par));
			durable[i] = false;
			for (unsigned k = 0; k < nsynced; k++)
				if (!strcmp(synced[k], par))
					durable[i] = true;
		}
		if (!durable[i])
			nondurable++;
	}
	keep = v == V_ALL ? nondurable : v == V_NONE ? 0 : st_range(0, nondurable);
	for (size_t i = 0; i < cut; i++) {
		struct op *o = &rec.ops[i];
		struct node *nd;

		if (!is_ns_op(o->type))
			continue;
		if (!durable[i] && seen++ >= keep)
			continue;
		switch (o->type) {
		case OP_CREATE:
			ns_add(ns, o->path, 'f', o->id, NULL);
			break;
		case OP_MKDIR:
			if (!ns_find(ns, o->path))
				ns_add(ns, o->path, 'd', -1, NULL);
			break;
		case OP_SYMLINK:
			ns_add(ns, o->path, 'l', -1, o->path2);
			break;
		case OP_RENAME:
			nd = ns_find(ns, o->path);
			if (nd) {
				struct node keepn = *nd;

				ns_del(ns, o->path);
				ns_add(ns, o->path2, keepn.kind, keepn.id, keepn.target);
			}
			break;
		case OP_UNLINK:
		case OP_RMDIR:
			ns_del(ns, o->path);
			break;
		default:
			break;
		}
	}
	free(durable);
}

struct content {
	uint8_t *b;
	size_t size, cap;
};

static void c_apply(struct content *c, const struct op *o)
{
	if (o->type == OP_WRITE) {
		size_t end = (size_t)o->off + o->len;

		if (end > c->cap) {
			c->cap = end * 2;
			c->b = realloc(c->b, c->cap);
		}
		if ((size_t)o->off > c->size)
			memset(c->b + c->size, 0, (size_t)o->off - c->size);
		memcpy(c->b + o->off, o->data, o->len);
		if (end > c->size)
			c->size = end;
	} else if (o->type == OP_TRUNC) {
		size_t l = (size_t)o->off;

		if (l > c->cap) {
			c->cap = l * 2;
			c->b = realloc(c->b, c->cap);
		}
		if (l > c->size)
			memset(c->b + c->size, 0, l - c->size);
		c->size = l;
	}
}

static uint8_t c_byte(const struct content *c, size_t i)
{
	return i < c->size ? c->b[i] : 0;
}

/* Apply a write whose pages may never reach the disk: a random half of its sectors. */
static void c_apply_limbo(struct content *c, const struct op *o, enum variant v)
{
	struct content old = { 0 };

	old.b = malloc(c->size + 1);
	if (c->size)
		memcpy(old.b, c->b, c->size);
	old.size = old.cap = c->size;
	c_apply(c, o);
	for (size_t s = (size_t)o->off / SECTOR * SECTOR; s < (size_t)o->off + o->len; s += SECTOR) {
		bool lost = v == V_NONE || (v == V_RANDOM && st_range(0, 1));

		if (lost)
			for (size_t i = s; i < s + SECTOR && i < c->size; i++)
				c->b[i] = c_byte(&old, i);
	}
	free(old.b);
}

/* File `id` as the disk holds it at cut `cut`. */
static void build_content(int id, size_t cut, enum variant v, struct content *out)
{
	struct content base = { 0 }, *vers = NULL;
	size_t last_sync = SIZE_MAX, nv = 0, minsz, maxsz, size;

	for (size_t i = 0; i < cut; i++)
		if (rec.ops[i].id == id && rec.ops[i].type == OP_SYNC)
			last_sync = i;
	for (size_t i = 0; last_sync != SIZE_MAX && i <= last_sync; i++) {
		const struct op *o = &rec.ops[i];

		if (o->id != id)
			continue;
		if (o->type == OP_WRITE && o->limbo)
			c_apply_limbo(&base, o, v);
		else
			c_apply(&base, o);
	}
	/* versions after the last fsync */
	vers = calloc(cut + 2, sizeof(*vers));
	vers[nv++] = base;
	for (size_t i = last_sync == SIZE_MAX ? 0 : last_sync + 1; i < cut; i++) {
		const struct op *o = &rec.ops[i];
		struct content nx;

		if (o->id != id || (o->type != OP_WRITE && o->type != OP_TRUNC))
			continue;
		nx.size = vers[nv - 1].size;
		nx.cap = nx.size + 1;
		nx.b = malloc(nx.cap);
		if (nx.size)
			memcpy(nx.b, vers[nv - 1].b, nx.size);
		c_apply(&nx, o);
		vers[nv++] = nx;
	}
	minsz = maxsz = vers[0].size;
	for (size_t k = 1; k < nv; k++) {
		if (vers[k].size < minsz)
			minsz = vers[k].size;
		if (vers[k].size > maxsz)
			maxsz = vers[k].size;
	}
	if (v == V_ALL || nv == 1)
		size = vers[nv - 1].size;
	else if (v == V_NONE)
		size = vers[0].size;
	else {
		unsigned r = (unsigned)st_range(0, 9);

		size = r < 3 ? vers[nv - 1].size : r < 5 ? vers[0].size : st_range(minsz, maxsz);
	}
	out->size = size;
	out->cap = size + 1;
	out->b = calloc(1, out->cap);
	for (size_t s = 0; s < size; s += SECTOR) {
		size_t k;
		bool touched = false;

		/* only sectors a later write or truncate touched can differ */
		for (size_t j = 1; j < nv && !touched; j++)
			for (size_t i = s; i < s + SECTOR; i++)
				if (c_byte(&vers[j], i) != c_byte(&vers[0], i) ||
				    (i < vers[j].size) != (i < vers[0].size)) {
					touched = true;
					break;
				}
		if (!touched)
			k = 0;
		else if (v == V_ALL || nv == 1)
			k = nv - 1;
		else if (v == V_NONE)
			k = 0;
		else {
			unsigned r = (unsigned)st_range(0, 9);

			k = r < 4 ? nv - 1 : r < 7 ? 0 : r < 8 ? SIZE_MAX : st_range(0, nv - 1);
		}
		/*
		 * "zeroed": newly allocated space that was never written reads as
		 * zeros; bytes the synced state had stay (a sector holds its old
		 * or its new content, never zeros where data was durable).
		 */
		for (size_t i = s; i < s + SECTOR && i < size; i++)
			out->b[i] = k != SIZE_MAX ? c_byte(&vers[k], i) :
				    i < vers[0].size ? vers[0].b[i] : 0;
	}
	for (size_t k = 0; k < nv; k++)
		free(vers[k].b);
	free(vers);
}

static int cmp_len(const void *a, const void *b)
{
	const struct node *x = a, *y = b;

	return (int)strlen(x->path) - (int)strlen(y->path);
}

/*
 * Each rebuilt store draws from its own generator, derived from the seed,
 * the recording, the cut and the variant, and each file in it from one
 * derived from that and the file. How much the model draws for a file
 * depends on its content (its sizes, which sectors a later write changed):
 * the lock file holds the writer's pid, as many bytes as the pid has
 * digits. Drawn from one shared stream, that shifted every later file's,
 * store's and test's draws (the next recording's group sizes too), so a
 * failure came back from its seed only while the pids kept their length.
 * Now one file's content changes no other draw: a failure repeats from
 * its seed, whatever the pid and the clock (commit frames hold the time).
 */
static unsigned n_recordings;	/* recordings so far in this process */

static uint64_t rng_derive(uint64_t base, uint64_t what)
{
	return st_mix(base ^ st_mix(what));
}

static void materialize(size_t cut, enum variant v, const char *out, uint64_t base)
{
	struct ns ns = { 0 };
	char p[PATH_MAX];

	build_ns(cut, v, &ns);
	if (ns.n)
		qsort(ns.v, ns.n, sizeof(*ns.v), cmp_len);
	for (size_t i = 0; i < ns.n; i++) {
		struct node *nd = &ns.v[i];
		char par[PATH_MAX];
		struct stat sb;

		st_fmt(p, sizeof(p), "%s/%s", out, nd->path);
		/* an entry whose directory did not survive is gone with it */
		parent_of(p, par, sizeof(par));
		if (stat(par, &sb))
			continue;
		if (nd->kind == 'd') {
			mkdir(p, 0700);
		} else if (nd->kind == 'l') {
			if (symlink(nd->target, p))
				abort();
		} else {
			struct content c = { 0 };
			int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

			if (fd < 0)
				abort();
			st_rng = rng_derive(base, (uint64_t)nd->id + 1);
			build_content(nd->id, cut, v, &c);
			if (c.size && pwrite(fd, c.b, c.size, 0) != (ssize_t)c.size)
				abort();
			close(fd);
			free(c.b);
		}
	}
	free(ns.v);
}

/* ---- checks ---- */

static struct st_acks acks_at(size_t cut)
{
	struct st_acks a = { 0 };

	for (size_t i = 0; i < cut; i++)
		if (rec.ops[i].type == OP_MARK)
			a = rec.ops[i].acks;
	return a;
}

static bool msg_names(const char *msg, const char *file, const uint64_t *offs, unsigned n)
{
	char num[32];

	if (!strstr(msg, file))
		return false;
	for (unsigned i = 0; i < n; i++) {
		snprintf(num, sizeof(num), "%" PRIu64, offs[i]);
		if (strstr(msg, num))
			return true;
		snprintf(num, sizeof(num), "%" PRIx64, offs[i]);
		if (strstr(msg, num))
			return true;
	}
	return false;
}

/*
 * Read the chain from 0 as a reader: it must stop with -EBADMSG naming
 * `file` and one of `offs` (at open or while reading), after only good
 * records; never end quietly. 0 if so.
 */
static int expect_corrupt_reader(const char *dir, const char *file, const uint64_t *offs,
				 unsigned noffs, char *why, size_t wl)
{
	struct errmsg em = { "" };
	struct store *s;
	struct chain *c;
	struct chain_iter *it = NULL;
	struct ima_record r;
	uint64_t n = 0;
	int err, ret = -1;

	err = store_open(&s, dir, 0, &em);
	if (err)
		return st_why(why, wl, "reader store_open: %d %s", err, em.text);
	err = store_chain_open(s, ST_CHAIN, &c, &em);
	if (err) {
		store_close(s);
		if (err != -EBADMSG)
			return st_why(why, wl, "reader chain_open: %d %s (want -EBADMSG)", err, em.text);
		if (!msg_names(em.text, file, offs, noffs))
			return st_why(why, wl, "chain_open's message does not name %s and offset %"
				      PRIu64 ": %s", file, offs[0], em.text);
		return 0;
	}
	err = chain_iter_open(c, 0, &it, &em);
	while (!err && (err = chain_iter_next(it, &r, &em)) == 1) {
		const uint8_t *raw;
		size_t len;

		st_rec(n, &raw, &len);
		if (r.raw_len != len || memcmp(r.raw, raw, len)) {
			st_why(why, wl, "record %" PRIu64 " differs before the corruption", n);
			goto out;
		}
		n++;
		err = 0;
	}
	if (err == 0) {
		st_why(why, wl, "a damaged committed group in %s (offset %" PRIu64 ") went unreported: "
		       "the reader ended quietly after %" PRIu64 " records", file, offs[0], n);
		goto out;
	}
	if (err != -EBADMSG) {
		st_why(why, wl, "reading: %d %s (want -EBADMSG)", err, em.text);
		goto out;
	}
	if (!msg_names(em.text, file, offs, noffs)) {
		st_why(why, wl, "message does not name %s and offset %" PRIu64 ": %s", file,
		       offs[0], em.text);
		goto out;
	}
	ret = 0;
out:
	chain_iter_free(it);
	chain_close(c);
	store_close(s);
	return ret;
}

/* The writer must refuse (open, append or commit), and leave the file alone. */
static int expect_corrupt_writer(const char *dir, const char *segpath, char *why, size_t wl)
{
	struct errmsg em = { "" };
	struct store *s;
	struct chain *c;
	uint8_t *before, *after;
	size_t nb = st_read_file(segpath, &before), na;
	int err, ret = 0;

	err = st_open_writer(dir, SEG, false, &s, &c, &em);
	if (!err) {
		uint64_t n = chain_count(c);

		err = st_append_range(c, n, n + 1, &em);
		if (!err)
			err = chain_commit(c, &em);
		if (!err)
			ret = st_why(why, wl, "the writer appended after a damaged committed group");
		st_close(s, c);
	}
	na = st_read_file(segpath, &after);
	if (!ret && (na != nb || memcmp(before, after, na)))
		ret = st_why(why, wl, "the writer changed %s (%zu -> %zu bytes) around a damaged "
			     "committed group: %d %s", segpath, nb, na, err, em.text);
	free(before);
	free(after);
	return ret;
}

static void flip(const char *path, size_t off)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	uint8_t b;

	if (fd < 0 || pread(fd, &b, 1, (off_t)off) != 1)
		abort();
	b ^= (uint8_t)st_range(1, 255);
	if (pwrite(fd, &b, 1, (off_t)off) != 1)
		abort();
	close(fd);
}

/* Offset of the frame holding byte `off` of a parsed segment. */
static size_t frame_at(const struct st_seg *sg, size_t off)
{
	size_t pos = sg->hdr_end;
	struct frame f;

	while (pos < sg->good_end) {
		long n = frame_check(sg->buf + pos, sg->size - pos, &f);

		if (n <= 0 || pos + (size_t)n > off)
			return pos;
		pos += (size_t)n;
	}
	return pos;
}

static unsigned corruptions, sealed_corruptions;

/* After recovery: damage a committed group that another follows; must be reported. */
static int damage_last_segment(const char *dir, char *why, size_t wl)
{
	char names[512][64], p[PATH_MAX];
	int ns = st_segments(dir, names, 512);
	static struct st_seg sg;
	uint64_t offs[3];
	size_t g, off;
	int r;

	if (!ns)
		return 0;
	st_seg_path(p, sizeof(p), dir, names[ns - 1]);
	st_seg_parse(p, &sg);
	if (sg.ncommits < 2) {
		st_seg_free(&sg);
		return 0;
	}
	g = st_range(0, sg.ncommits - 2);
	off = st_range(sg.group_start[g], sg.commit_end[g] - 1);
	offs[0] = frame_at(&sg, off);
	offs[1] = sg.group_start[g];
	offs[2] = off;
	st_seg_free(&sg);
	flip(p, off);
	corruptions++;
	r = expect_corrupt_reader(dir, names[ns - 1], offs, 3, why, wl);
	if (!r)
		r = expect_corrupt_writer(dir, p, why, wl);
	if (r) {
		size_t l = strlen(why);

		snprintf(why + l, wl - l, " [byte %zu flipped in group %zu of %s]", off, g,
			 names[ns - 1]);
	}
	return r;
}

/* Damage a sealed segment: readers must report it, fsck too. */
static int damage_sealed_segment(const char *dir, char *why, size_t wl)
{
	char names[512][64], p[PATH_MAX];
	int ns = st_segments(dir, names, 512), k;
	static struct st_seg sg;
	struct fsck_report rep = { 0 };
	struct errmsg em = { "" };
	struct store *s;
	struct chain *c;
	uint64_t offs[2];
	size_t off;
	int r;

	if (ns < 2)
		return 0;
	k = (int)st_range(0, (uint64_t)ns - 2);
	st_seg_path(p, sizeof(p), dir, names[k]);
	st_seg_parse(p, &sg);
	if (sg.ncommits < 1 || sg.good_end <= sg.hdr_end) {
		st_seg_free(&sg);
		return 0;
	}
	off = st_range(sg.hdr_end, sg.good_end - 1);
	offs[0] = frame_at(&sg, off);
	offs[1] = off;
	st_seg_free(&sg);
	flip(p, off);
	sealed_corruptions++;
	r = expect_corrupt_reader(dir, names[k], offs, 2, why, wl);
	if (r)
		return r;
	r = store_open(&s, dir, 0, &em);
	if (!r)
		r = store_chain_open(s, ST_CHAIN, &c, &em);
	if (r)
		return st_why(why, wl, "open for fsck: %d %s", r, em.text);
	chain_fsck(c, &rep, NULL, NULL);
	chain_close(c);
	store_close(s);
	if (!rep.errors)
		return st_why(why, wl, "fsck found no error in %s with byte %zu flipped", names[k], off);
	return 0;
}

static unsigned long n_checks, n_cuts;

static unsigned long n_bad;

/* Rebuild the store at `cut` (variant v, the k-th of this cut) and check it. */
static void check_cut(size_t cut, enum variant v, unsigned k, const char *what)
{
	char dir[PATH_MAX], why[1024] = "";
	struct st_acks a = acks_at(cut);
	uint64_t n, saved = st_rng;
	uint64_t base = rng_derive(rng_derive(st_seed, n_recordings), (uint64_t)cut << 8 | k);
	int r;

	st_tmpdir(dir, sizeof(dir), "cut");
	st_rng = base;
	materialize(cut, v, dir, base);
	st_rng = rng_derive(base, 0);	/* the checks' own draws */
	r = st_check_recovered(dir, &a, 0, SEG, &n, cut % 3 == 0, why, sizeof(why));
	if (!r && cut % 2 == 0)
		r = damage_last_segment(dir, why, sizeof(why));
	else if (!r && cut % 5 == 1)
		r = damage_sealed_segment(dir, why, sizeof(why));
	n_checks++;
	if (r) {
		const struct op *o = cut ? &rec.ops[cut - 1] : NULL;

		/* go on: the report lists each kind of failure once, its store kept */
		n_bad++;
		if (st_new_failure(why)) {
			print_error("%s: cut after call %zu/%zu (%d %s), %s variant (%u), acked %" PRIu64
				    ", pending %" PRIu64 ": %s (rebuilt store kept in %s%s)\n", what,
				    cut, rec.n, o ? (int)o->type : 0, o && o->path ? o->path : "",
				    v == V_ALL ? "all" : v == V_NONE ? "none" : "random", k, a.acked,
				    a.pending, why, dir, st_tmpfs_dir[0] ?
				    ", a private tmpfs: STORE_TEST_TMP=/tmp keeps it" : "");
			st_rng = saved;
			return;
		}
	}
	st_rm_rf(dir);
	st_rng = saved;
}

static void dump_ops(void)
{
	static const char *names[] = { "?", "write", "trunc", "fsync", "FAILED-fsync",
		"dirsync", "create", "rename", "mkdir", "symlink", "unlink", "rmdir", "mark" };

	for (size_t i = 0; i < rec.n; i++) {
		const struct op *o = &rec.ops[i];

		if (o->type == OP_MARK) {
			fprintf(stderr, "%4zu mark acked %" PRIu64 " pending %" PRIu64 "\n", i + 1,
				o->acks.acked, o->acks.pending);
			continue;
		}
		fprintf(stderr, "%4zu %s id %d off %lld len %zu %s %s%s\n", i + 1, names[o->type],
			o->id, (long long)o->off, o->len, o->path ? o->path : "",
			o->path2 ? o->path2 : "", o->limbo ? " (limbo)" : "");
	}
}

/* Run the workload with the recording table (and the faults asked for). */
static void record(const char *dir, unsigned ngroups, unsigned long fail_sync_at,
		   unsigned long fail_write_at)
{
	rec_reset();
	n_recordings++;
	/* the workload's group sizes: from the seed and this recording only */
	st_rng = rng_derive(st_seed, ~(uint64_t)n_recordings);
	snprintf(rec.root, sizeof(rec.root), "%s", dir);
	rec.rootlen = strlen(dir);
	rec.fail_sync_at = fail_sync_at;
	rec.fail_write_at = fail_write_at;
	store_io = &rec_io;
	workload(dir, ngroups);
	store_io = st_io_fast();
	if (rec.bypass[0])
		fail_msg("the store bypassed store_io: %s", rec.bypass);
	if (getenv("STORE_TEST_TRACE"))
		dump_ops();
}

/* Every cut point: all pending applied, none, and `randoms` random mixes. */
static void check_all_cuts(const char *what, unsigned randoms)
{
	unsigned long checks0 = n_checks;

	n_bad = 0;
	for (size_t cut = 0; cut <= rec.n; cut++) {
		if (cut && rec.ops[cut - 1].type == OP_MARK)
			continue;	/* same disk as the cut before */
		/*
		 * valgrind, ASan, STORE_TEST_SCALE < 1: a random sample of the
		 * cuts, each store the same as a full run's (its seed repeats it)
		 */
		if (st_scale() < 1 &&
		    (double)(rng_derive(rng_derive(st_seed, n_recordings), cut) % 1000) >=
		    st_scale() * 1000)
			continue;
		n_cuts++;
		check_cut(cut, V_ALL, 0, what);
		check_cut(cut, V_NONE, 1, what);
		for (unsigned k = 0; k < randoms; k++)
			check_cut(cut, V_RANDOM, 2 + k, what);
	}
	if (n_bad) {
		st_print_kinds();
		fail_msg("%s: %lu of %lu rebuilt stores are wrong (STORE_TEST_SEED=%" PRIu64
			 " repeats it at scale %.2f%s)", what, n_bad, n_checks - checks0, st_seed,
			 st_scale(), RUNNING_ON_VALGRIND ? " under valgrind" : ST_ASAN ? " with ASan" : "");
	}
}

static void test_powercut(void **state)
{
	char dir[PATH_MAX];
	struct timespec t0, t1;
	unsigned randoms = st_scale() < 0.5 ? 1 : 3;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	st_tmpdir(dir, sizeof(dir), "rec");
	record(dir, st_scale() > 1 ? (unsigned)(40 * st_scale()) : 40, 0, 0);
	fprintf(stderr, "recorded %zu calls\n", rec.n);
	check_all_cuts("power cut", randoms);
	st_rm_rf(dir);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "%lu cut points, %lu rebuilt stores checked, %u committed groups and "
		"%u sealed segments damaged and reported\n", n_cuts, n_checks, corruptions,
		sealed_corruptions);
}

/* A failed fsync (EIO) mid-way: the writer must write the group again. */
static void test_powercut_after_failed_fsync(void **state)
{
	char dir[PATH_MAX];

	(void)state;
	st_tmpdir(dir, sizeof(dir), "rec");
	record(dir, 16, 9, 0);
	assert_int_equal(rec.failed_syncs, 1);
	fprintf(stderr, "recorded %zu calls, the 9th segment fsync failed\n", rec.n);
	check_all_cuts("power cut after a failed fsync", st_scale() < 0.5 ? 1 : 4);
	st_rm_rf(dir);
}

/* A write that ends in ENOSPC half-way: the writer must cut it back. */
static void test_powercut_after_failed_write(void **state)
{
	char dir[PATH_MAX];

	(void)state;
	st_tmpdir(dir, sizeof(dir), "rec");
	record(dir, 16, 0, 14);
	assert_int_equal(rec.failed_writes, 2);
	fprintf(stderr, "recorded %zu calls, the 14th segment write failed half-way\n", rec.n);
	check_all_cuts("power cut after a failed write", st_scale() < 0.5 ? 1 : 4);
	st_rm_rf(dir);
}

/*
 * An ima-buf record's buffer is whatever the kernel measured (a key, a
 * critical-data blob): any bytes, a valid commit frame among them. Such a
 * record in the torn last group is still a torn tail, not "a later commit":
 * after a power cut the writer must cut it and append on.
 */
static size_t mk_buf_record(uint8_t *out, const uint8_t *buf, size_t buflen)
{
	struct hash_ctx *h;
	uint8_t data[1024];
	size_t dl = 0, pos = 0;
	static const char name[] = "ima-buf", path[] = "fake-key";

	assert_int_equal(hash_ctx_new(st_bank(), &h), 0);
	ima_put_u32(data, 40, true);
	memcpy(data + 4, "sha256:", 8);
	memset(data + 12, 0x42, 32);
	dl = 44;
	ima_put_u32(data + dl, sizeof(path), true);
	memcpy(data + dl + 4, path, sizeof(path));
	dl += 4 + sizeof(path);
	ima_put_u32(data + dl, (uint32_t)buflen, true);
	memcpy(data + dl + 4, buf, buflen);
	dl += 4 + buflen;
	ima_put_u32(out, 10, true);
	hash_ctx_digest(h, data, dl, out + 4);
	pos = 36;
	ima_put_u32(out + pos, 7, true);
	memcpy(out + pos + 4, name, 7);
	pos += 11;
	ima_put_u32(out + pos, (uint32_t)dl, true);
	memcpy(out + pos + 4, data, dl);
	hash_ctx_free(h);
	return pos + 4 + dl;
}

static void test_torn_tail_with_commit_frame_in_a_record(void **state)
{
	char dir[PATH_MAX], names[64][64], p[PATH_MAX], why[1024];
	struct errmsg em = { "" };
	struct store *s;
	struct chain *c;
	struct ima_record r;
	uint8_t fake[FRAME_HDR + COMMIT_PAYLOAD], recb[512], frame[FRAME_HDR + 640];
	size_t rl;
	struct stat sb;
	uint64_t got;
	int fd, ns, err;

	(void)state;
	st_tmpdir(dir, sizeof(dir), "torn");
	assert_int_equal(st_open_writer(dir, 0, true, &s, &c, &em), 0);
	assert_int_equal(st_append_range(c, 0, 10, &em), 0);
	assert_int_equal(chain_commit(c, &em), 0);
	st_close(s, c);
	/* a valid commit frame naming a group start that is not the durable end */
	memset(fake + FRAME_HDR, 0, COMMIT_PAYLOAD);
	put_le64(fake + FRAME_HDR + 8, 4096);
	frame_header(fake, FRAME_COMMIT, 77, fake + FRAME_HDR, COMMIT_PAYLOAD);
	rl = mk_buf_record(recb, fake, sizeof(fake));
	assert_int_equal(ima_record_parse(recb, rl, 32, LIST_ENDIAN_LITTLE, 10, 0, &r, &em),
			 (long)rl);
	/*
	 * The torn group: its record frame made it to disk, the sectors after
	 * it (the next record, the commit) were never written: zeros.
	 */
	memset(frame, 0, sizeof(frame));
	frame_header(frame, FRAME_RECORD, 10, recb, (uint32_t)rl);
	memcpy(frame + FRAME_HDR, recb, rl);
	rl += 100;
	ns = st_segments(dir, names, 64);
	assert_true(ns > 0);
	st_seg_path(p, sizeof(p), dir, names[ns - 1]);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0 && !fstat(fd, &sb));
	assert_int_equal(pwrite(fd, frame, FRAME_HDR + rl, sb.st_size), (ssize_t)(FRAME_HDR + rl));
	close(fd);

	if (st_check(dir, 0, 10, 10, &got, why, sizeof(why)))
		fail_msg("reader, torn tail holding a record with a commit frame in it: %s", why);
	err = st_open_writer(dir, 0, false, &s, &c, &em);
	if (err)
		fail_msg("writer, torn tail holding a record with a commit frame in it: %d %s",
			 err, em.text);
	/* and the same record can be stored for real */
	rl -= 100;
	err = chain_append(c, &r, &em);
	if (!err)
		err = chain_commit(c, &em);
	assert_int_equal(err, 0);
	assert_int_equal(chain_durable(c), 11);
	st_close(s, c);
	st_rm_rf(dir);
}

/*
 * A commit that fails right after a segment roll (ENOSPC on the new
 * segment's first group; a power cut before that group's fsync leaves the
 * same) leaves a sealed segment and a last segment holding only its header:
 * the durable records end exactly where the sealed segment does. A reader
 * that returns them all must still read that segment's sealing commit frame,
 * as it does on the way to a next record: a damaged one, a missing one, or
 * a record after it is reported (-EBADMSG, file and offset), never an end.
 */
static bool enospc_at_group_start;

static ssize_t pwrite_enospc(int fd, const void *buf, size_t len, off_t off)
{
	if (enospc_at_group_start && off == FRAME_HDR + SEGMENT_PAYLOAD) {
		errno = ENOSPC;
		return -1;
	}
	return pwrite(fd, buf, len, off);
}

static void put_file(const char *path, const uint8_t *b, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, b, len, 0), (ssize_t)len);
	close(fd);
}

/* Reading from `from` (the last record): one record, then -EBADMSG. */
static int expect_corrupt_from(const char *dir, uint64_t from, char *why, size_t wl)
{
	struct errmsg em = { "" };
	struct store *s = NULL;
	struct chain *c = NULL;
	struct chain_iter *it = NULL;
	struct ima_record r;
	int err, ret = -1;

	if (store_open(&s, dir, 0, &em) || store_chain_open(s, ST_CHAIN, &c, &em))
		fail_msg("open: %s", em.text);
	err = chain_iter_open(c, from, &it, &em);
	if (!err)
		err = chain_iter_next(it, &r, &em);
	if (err != 1 || r.index != from)
		st_why(why, wl, "reading from %" PRIu64 ": %d %s", from, err, em.text);
	else if ((err = chain_iter_next(it, &r, &em)) != -EBADMSG)
		st_why(why, wl, "reading from %" PRIu64 ": %d after one record (want -EBADMSG) %s",
		       from, err, err < 0 ? em.text : "");
	else
		ret = 0;
	chain_iter_free(it);
	chain_close(c);
	store_close(s);
	return ret;
}

static void test_sealed_segment_end(void **state)
{
	char dir[PATH_MAX], names[8][64], p[PATH_MAX], p1[PATH_MAX], why[1024];
	struct errmsg em = { "" };
	struct store_io io = *st_io_fast();
	struct fsck_report rep;
	struct store *s;
	struct chain *c;
	struct stat sb;
	uint8_t *orig, *b;
	const uint8_t *raw;
	uint64_t n = 0, got, offs[2];
	size_t len, rl, cend;
	int err;

	(void)state;
	st_tmpdir(dir, sizeof(dir), "sealed");
	assert_int_equal(st_open_writer(dir, SEG, true, &s, &c, &em), 0);
	st_seg_path(p, sizeof(p), dir, "seg-0000000000000000.log");
	while (!stat(p, &sb) && sb.st_size < (off_t)SEG) {
		assert_int_equal(st_append_range(c, n, n + 3, &em), 0);
		assert_int_equal(chain_commit(c, &em), 0);
		n += 3;
	}
	/* the next commit starts a segment, and its group finds the disk full */
	io.pwrite = pwrite_enospc;
	store_io = &io;
	enospc_at_group_start = true;
	assert_int_equal(st_append_range(c, n, n + 3, &em), 0);
	err = chain_commit(c, &em);
	enospc_at_group_start = false;
	store_io = st_io_fast();
	assert_int_equal(err, -ENOSPC);
	assert_int_equal(chain_durable(c), n);
	st_close(s, c);
	assert_int_equal(st_segments(dir, names, 8), 2);
	st_seg_path(p1, sizeof(p1), dir, names[1]);
	assert_int_equal(stat(p1, &sb), 0);
	assert_int_equal(sb.st_size, FRAME_HDR + SEGMENT_PAYLOAD);
	if (st_check(dir, 0, n, n, &got, why, sizeof(why)))
		fail_msg("undamaged: %s", why);

	len = st_read_file(p, &orig);
	cend = len - FRAME_HDR - COMMIT_PAYLOAD;	/* the sealing commit frame */
	assert_int_equal(get_le32(orig + cend), FRAME_COMMIT);
	for (size_t k = 0; k < FRAME_HDR + COMMIT_PAYLOAD; k++) {
		offs[0] = cend;
		offs[1] = cend + k;
		flip(p, cend + k);
		if (expect_corrupt_reader(dir, names[0], offs, 2, why, sizeof(why)) ||
		    expect_corrupt_from(dir, n - 1, why, sizeof(why)))
			fail_msg("byte %zu of the sealing commit frame of %s flipped: %s", k,
				 names[0], why);
		if (store_open(&s, dir, 0, &em) || store_chain_open(s, ST_CHAIN, &c, &em))
			fail_msg("open for fsck: %s", em.text);
		chain_fsck(c, &rep, NULL, NULL);
		st_close(s, c);
		if (!rep.errors)
			fail_msg("fsck found no error with byte %zu of the sealing commit flipped", k);
		put_file(p, orig, len);
	}

	/* the sealing commit frame made another kind (the magic is not under the CRC) */
	for (uint32_t m = 0, mg[] = { FRAME_SEGMENT, FRAME_RECORD, FRAME_CHECKPOINT, FRAME_TRIM };
	     m < 4; m++) {
		b = malloc(len);
		assert_non_null(b);
		memcpy(b, orig, len);
		put_le32(b + cend, mg[m]);
		put_file(p, b, len);
		free(b);
		offs[0] = cend;
		if (expect_corrupt_reader(dir, names[0], offs, 1, why, sizeof(why)) ||
		    expect_corrupt_from(dir, n - 1, why, sizeof(why)))
			fail_msg("sealing commit frame made %.4s: %s", (const char *)&mg[m], why);
		put_file(p, orig, len);
	}

	/* no sealing commit: the records end the file */
	assert_int_equal(truncate(p, (off_t)cend), 0);
	offs[0] = cend;
	if (expect_corrupt_reader(dir, names[0], offs, 1, why, sizeof(why)) ||
	    expect_corrupt_from(dir, n - 1, why, sizeof(why)))
		fail_msg("sealing commit frame missing: %s", why);
	put_file(p, orig, len);

	/* a record after it: the one the next segment starts with */
	st_rec(n, &raw, &rl);
	b = malloc(len + FRAME_HDR + rl);
	assert_non_null(b);
	memcpy(b, orig, len);
	frame_header(b + len, FRAME_RECORD, n, raw, (uint32_t)rl);
	memcpy(b + len + FRAME_HDR, raw, rl);
	put_file(p, b, len + FRAME_HDR + rl);
	free(b);
	offs[0] = len;
	if (expect_corrupt_reader(dir, names[0], offs, 1, why, sizeof(why)))
		fail_msg("a record after the sealing commit frame: %s", why);
	put_file(p, orig, len);
	free(orig);

	/* undamaged again: the writer goes on in the new segment */
	assert_int_equal(st_open_writer(dir, SEG, false, &s, &c, &em), 0);
	assert_int_equal(st_append_range(c, n, n + 3, &em), 0);
	assert_int_equal(chain_commit(c, &em), 0);
	st_close(s, c);
	if (st_check(dir, 0, n + 3, n + 3, &got, why, sizeof(why)))
		fail_msg("after appending on: %s", why);
	st_rm_rf(dir);
}

/*
 * A frame's magic is not under its CRC (§3): one changed byte turns a
 * commit frame into a valid record frame ("IMAC" -> "IMAR", the index is
 * the next record's), a record into a commit, either into another kind. In
 * a committed group that another committed group follows, every such change
 * must be reported (reader: -EBADMSG naming the file and an offset of the
 * damaged group; writer: refuses, file untouched), never cut as a torn tail.
 * The commit turned record made the first problem the next group's first
 * frame, and that group was not taken as "a later group": silently cut.
 */
static void test_frame_magic_damage(void **state)
{
	static const uint32_t magics[] = { FRAME_SEGMENT, FRAME_RECORD, FRAME_COMMIT,
					   FRAME_CHECKPOINT, FRAME_TRIM };
	char dir[PATH_MAX], names[8][64], p[PATH_MAX], why[1024];
	struct errmsg em = { "" };
	static struct st_seg sg;
	struct store *s;
	struct chain *c;
	uint8_t *orig;
	size_t len, checked = 0;
	uint64_t n = 0;

	(void)state;
	st_tmpdir(dir, sizeof(dir), "magic");
	assert_int_equal(st_open_writer(dir, 0, true, &s, &c, &em), 0);
	for (unsigned g = 0; g < 4; g++) {
		assert_int_equal(st_append_range(c, n, n + 1 + g % 3, &em), 0);
		assert_int_equal(chain_commit(c, &em), 0);
		n += 1 + g % 3;
	}
	st_close(s, c);
	assert_int_equal(st_segments(dir, names, 8), 1);
	st_seg_path(p, sizeof(p), dir, names[0]);
	st_seg_parse(p, &sg);
	assert_int_equal(sg.ncommits, 4);
	len = st_read_file(p, &orig);
	assert_int_equal(len, sg.good_end);
	/* every frame of the groups another group follows */
	for (size_t g = 0; g + 1 < sg.ncommits; g++) {
		for (size_t pos = sg.group_start[g]; pos < sg.commit_end[g];) {
			uint32_t was = get_le32(orig + pos);
			size_t next = pos + FRAME_HDR + get_le32(orig + pos + FRAME_OFF_LEN);

			for (unsigned m = 0; m < sizeof(magics) / sizeof(magics[0]); m++) {
				uint64_t offs[3] = { pos, sg.group_start[g], next };
				uint8_t *b;

				if (magics[m] == was)
					continue;
				b = malloc(len);
				assert_non_null(b);
				memcpy(b, orig, len);
				put_le32(b + pos, magics[m]);
				put_file(p, b, len);
				free(b);
				if (expect_corrupt_reader(dir, names[0], offs, 3, why, sizeof(why)) ||
				    expect_corrupt_writer(dir, p, why, sizeof(why)))
					fail_msg("the %.4s frame at %zu of group %zu made %.4s: %s",
						 (const char *)&was, pos, g, (const char *)&magics[m], why);
				put_file(p, orig, len);
				checked++;
			}
			pos = next;
		}
	}
	assert_true(checked >= 4 * 8);
	free(orig);
	st_seg_free(&sg);
	if (st_check(dir, STORE_WRITE, n, n, &n, why, sizeof(why)))
		fail_msg("undamaged again: %s", why);
	st_rm_rf(dir);
}

/*
 * The index (seg-*.idx) is never fsync'ed: after a power cut it can hold
 * anything. Reading from any record must still find the right one (§6:
 * checked on use, rebuilt when wrong), and the writer must go on.
 */
static void test_index_is_derived(void **state)
{
	char dir[PATH_MAX], names[8][64], p[PATH_MAX], why[1024];
	struct errmsg em = { "" };
	struct store *s;
	struct chain *c;
	const uint64_t n = 5000;
	uint64_t got;
	uint8_t *seg;
	size_t seglen;
	int ns;

	(void)state;
	st_tmpdir(dir, sizeof(dir), "idx");
	assert_int_equal(st_open_writer(dir, 0, true, &s, &c, &em), 0);
	for (uint64_t i = 0; i < n; i += 500) {
		assert_int_equal(st_append_range(c, i, i + 500, &em), 0);
		assert_int_equal(chain_commit(c, &em), 0);
	}
	st_close(s, c);
	ns = st_segments(dir, names, 8);
	assert_int_equal(ns, 1);
	st_seg_path(p, sizeof(p), dir, names[0]);
	seglen = st_read_file(p, &seg);
	memcpy(p + strlen(p) - 3, "idx", 3);
	for (int damage = 0; damage < 6; damage++) {
		uint8_t *b;
		size_t len = st_read_file(p, &b);
		int fd;

		/* an index of 5000 records: entries for 0, 1024, 2048, 3072, 4096 */
		if (damage > 0)
			assert_true(len >= 40);
		switch (damage) {
		case 0:
			unlink(p);
			break;
		case 1:	/* cut short */
			assert_int_equal(truncate(p, 12), 0);
			break;
		case 2:	/* garbage */
			for (size_t i = 0; i < len; i++)
				b[i] = (uint8_t)st_rand();
			break;
		case 3:	/* every entry one frame off: a valid record, the wrong one */
			for (size_t i = 8; i + 8 <= len; i += 8) {
				uint64_t off = get_le64(b + i);

				if (off + FRAME_HDR <= seglen)
					put_le64(b + i, off + FRAME_HDR +
						 get_le32(seg + off + FRAME_OFF_LEN));
			}
			break;
		case 4:	/* zeros (a size change that reached the disk, data that did not) */
			memset(b, 0, len);
			break;
		case 5:	/* longer than the segment has records */
			b = realloc(b, len + 64);
			memset(b + len, 0x7f, 64);
			len += 64;
			break;
		}
		if (damage >= 2) {
			fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
			assert_true(fd >= 0);
			assert_int_equal(write(fd, b, len), (ssize_t)len);
			close(fd);
		}
		free(b);
		assert_int_equal(store_open(&s, dir, 0, &em), 0);
		assert_int_equal(store_chain_open(s, ST_CHAIN, &c, &em), 0);
		for (int k = 0; k < (RUNNING_ON_VALGRIND ? 12 : 40); k++) {
			uint64_t from = k < 8 ? (uint64_t)k * 1024 % n : st_range(0, n - 1);
			struct chain_iter *it;
			struct ima_record r;
			const uint8_t *raw;
			size_t rl;
			int err = chain_iter_open(c, from, &it, &em);

			if (!err)
				err = chain_iter_next(it, &r, &em);
			st_rec(from, &raw, &rl);
			if (err != 1 || r.index != from || r.raw_len != rl || memcmp(r.raw, raw, rl))
				fail_msg("index damage %d: reading from %" PRIu64 ": %d %s", damage,
					 from, err, err < 0 ? em.text : "wrong record");
			chain_iter_free(it);
		}
		st_close(s, c);
		st_skip_replay = true;
		if (st_check(dir, STORE_WRITE, n, n, &got, why, sizeof(why)))
			fail_msg("index damage %d: %s", damage, why);
		st_skip_replay = false;
	}
	free(seg);
	st_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_powercut, st_t0_tmpfs, st_t1),
		cmocka_unit_test_setup_teardown(test_powercut_after_failed_fsync, st_t0_tmpfs, st_t1),
		cmocka_unit_test_setup_teardown(test_powercut_after_failed_write, st_t0_tmpfs, st_t1),
		cmocka_unit_test_setup_teardown(test_torn_tail_with_commit_frame_in_a_record,
						st_t0_tmpfs, st_t1),
		cmocka_unit_test_setup_teardown(test_sealed_segment_end, st_t0_tmpfs, st_t1),
		cmocka_unit_test_setup_teardown(test_frame_magic_damage, st_t0_tmpfs, st_t1),
		cmocka_unit_test_setup_teardown(test_index_is_derived, st_t0_tmpfs, st_t1),
	};

	st_init("test_store_powercut");
	store_io = st_io_fast();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
