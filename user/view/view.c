// SPDX-License-Identifier: GPL-2.0-only
/*
 * The view's FUSE file system (view.h, docs/view.md): the file names and
 * attributes of securityfs's IMA directory, the bytes from view_list.c.
 * One thread serves it (view_run), so the list state needs no locks.
 */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "view.h"
#include "view_list.h"

enum node_kind { N_DIR, N_LIST, N_COUNT, N_VIOLATIONS, N_LINK };

struct node {
	char name[64];
	enum node_kind kind;
	ino_t ino;
	struct vl_file *file;		/* N_LIST */
	char target[64];		/* N_LINK */
};

#define NODES_MAX (4 + 2 * (PCR_MAX_BANKS + 1))

struct view {
	struct view_opts o;
	struct store *s;
	struct vlist *vl;
	struct fuse *fuse;
	int stop_fd;			/* eventfd: view_stop() */
	bool mounted;
	char mountpoint[PATH_MAX];
	char chain[STORE_ID_MAX];
	struct timespec born;		/* every file's times */
	struct node nodes[NODES_MAX];
	unsigned nnodes;
	struct view_counts counts;
	char last_err[sizeof(((struct errmsg *)0)->text)];	/* the last damage noted (noted once) */
	struct vfh *open;		/* open files: freed at close if never released */
};

/* What an open file is: a list cursor, or a small text made at open. */
struct vfh {
	struct node *node;
	struct vl_cursor *cur;
	char text[32];
	size_t tlen;
	bool have_text;
	struct vfh *prev, *next;	/* view.open */
};

__attribute__((format(printf, 3, 4)))
static void note(struct view *v, int prio, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	if (!v->o.note)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->o.note(v->o.note_arg, prio, msg);
}

const char *view_dev_fuse(void)
{
	const char *d = getenv("IMASTORE_DEV_FUSE");

	return d && *d ? d : "/dev/fuse";
}

/* ---- the tree ---- */

static void add_node(struct view *v, const char *name, enum node_kind k,
		     struct vl_file *f, const char *target)
{
	struct node *n = &v->nodes[v->nnodes];

	snprintf(n->name, sizeof(n->name), "%s", name);
	n->kind = k;
	n->ino = v->nnodes + 1;		/* the root is 1; fixed for the mount */
	n->file = f;
	if (target)
		snprintf(n->target, sizeof(n->target), "%s", target);
	v->nnodes++;
}

static void build_tree(struct view *v)
{
	char name[64];

	add_node(v, "", N_DIR, NULL, NULL);
	for (unsigned i = 0; i < vlist_nbanks(v->vl); i++) {
		const char *b = vlist_bank(v->vl, i)->name;

		snprintf(name, sizeof(name), "binary_runtime_measurements_%s", b);
		add_node(v, name, N_LIST, vlist_file(v->vl, i, false), NULL);
		snprintf(name, sizeof(name), "ascii_runtime_measurements_%s", b);
		add_node(v, name, N_LIST, vlist_file(v->vl, i, true), NULL);
	}
	add_node(v, "binary_runtime_measurements", N_LINK, NULL,
		 "binary_runtime_measurements_sha1");
	add_node(v, "ascii_runtime_measurements", N_LINK, NULL,
		 "ascii_runtime_measurements_sha1");
	add_node(v, "runtime_measurements_count", N_COUNT, NULL, NULL);
	add_node(v, "violations", N_VIOLATIONS, NULL, NULL);
}

static struct view *this_view(void)
{
	return fuse_get_context()->private_data;
}

static struct node *lookup(struct view *v, const char *path)
{
	if (path[0] != '/')
		return NULL;
	for (unsigned i = 0; i < v->nnodes; i++)
		if (!strcmp(path + 1, v->nodes[i].name))
			return &v->nodes[i];
	return NULL;
}

/* ---- operations ---- */

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->use_ino = 1;		/* our inode numbers, stable for the mount */
	cfg->direct_io = 1;		/* st_size 0, reads go to us */
	cfg->attr_timeout = 0;
	cfg->entry_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->kernel_cache = 0;
	return this_view();
}

static void fill_stat(struct view *v, const struct node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_uid = 0;
	st->st_gid = 0;
	st->st_atim = st->st_mtim = st->st_ctim = v->born;
	st->st_blksize = 4096;
	switch (n->kind) {
	case N_DIR:
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		break;
	case N_LINK:
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = 1;
		st->st_size = (off_t)strlen(n->target);
		break;
	default:
		st->st_mode = S_IFREG | 0440;
		st->st_nlink = 1;
		break;
	}
}

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct view *v = this_view();
	struct node *n = fi ? ((struct vfh *)(uintptr_t)fi->fh)->node : lookup(v, path);

	if (!n)
		return -ENOENT;
	fill_stat(v, n, st);
	return 0;
}

static int op_readlink(const char *path, char *buf, size_t len)
{
	struct node *n = lookup(this_view(), path);

	if (!n)
		return -ENOENT;
	if (n->kind != N_LINK)
		return -EINVAL;
	snprintf(buf, len, "%s", n->target);
	return 0;
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct view *v = this_view();
	struct stat st;

	(void)off;
	(void)fi;
	(void)flags;
	if (strcmp(path, "/"))
		return -ENOTDIR;
	fill_stat(v, &v->nodes[0], &st);
	fill(buf, ".", &st, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	for (unsigned i = 1; i < v->nnodes; i++) {
		fill_stat(v, &v->nodes[i], &st);
		fill(buf, v->nodes[i].name, &st, 0, 0);
	}
	return 0;
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	struct view *v = this_view();
	struct node *n = lookup(v, path);
	struct vfh *h;
	int ret;

	if (!n)
		return -ENOENT;
	if (n->kind == N_DIR)
		return -EISDIR;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->node = n;
	if (n->kind == N_LIST) {
		ret = vl_cursor_new(n->file, &h->cur);
		if (ret) {
			free(h);
			return ret;
		}
	}
	fi->direct_io = 1;
	fi->keep_cache = 0;
	fi->fh = (uint64_t)(uintptr_t)h;
	h->next = v->open;
	if (v->open)
		v->open->prev = h;
	v->open = h;
	v->counts.opens++;
	return 0;
}

static void vfh_free(struct view *v, struct vfh *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		v->open = h->next;
	if (h->next)
		h->next->prev = h->prev;
	vl_cursor_free(h->cur);
	free(h);
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	vfh_free(this_view(), (struct vfh *)(uintptr_t)fi->fh);
	return 0;
}

/* A list read failed: EIO for the reader, the location once in the log. */
static int read_failed(struct view *v, const struct node *n, int err,
		       const struct errmsg *em)
{
	v->counts.errors++;
	if (strcmp(v->last_err, errmsg_text(em))) {
		snprintf(v->last_err, sizeof(v->last_err), "%s", errmsg_text(em));
		note(v, 3, "view: %s: %s", n->name, errmsg_text(em));
	}
	return err == -ENOMEM ? -ENOMEM : -EIO;
}

/* runtime_measurements_count and violations: made fresh at offset 0. */
static int make_text(struct view *v, struct vfh *h, struct errmsg *em)
{
	uint64_t n;
	int ret = vlist_update(v->vl, em);

	if (ret)
		return ret;
	v->counts.updates++;
	if (h->node->kind == N_COUNT) {
		n = vlist_count(v->vl);
	} else {
		ret = vlist_violations(v->vl, &n, em);
		if (ret)
			return ret;
	}
	h->tlen = (size_t)snprintf(h->text, sizeof(h->text), "%llu\n", (unsigned long long)n);
	h->have_text = true;
	return 0;
}

static int op_read(const char *path, char *buf, size_t len, off_t off,
		   struct fuse_file_info *fi)
{
	struct view *v = this_view();
	struct vfh *h = (struct vfh *)(uintptr_t)fi->fh;
	struct errmsg em = { "" };
	ssize_t n;
	int ret;

	(void)path;
	v->counts.reads++;
	if (off < 0)
		return -EINVAL;
	if (h->node->kind == N_LIST) {
		n = vl_read(h->cur, buf, len, (uint64_t)off, &em);
		if (n < 0)
			return read_failed(v, h->node, (int)n, &em);
		v->counts.bytes += (uint64_t)n;
		return (int)n;
	}
	if (!off || !h->have_text) {
		ret = make_text(v, h, &em);
		if (ret)
			return read_failed(v, h->node, ret, &em);
	}
	if ((size_t)off >= h->tlen)
		return 0;
	n = (ssize_t)(h->tlen - (size_t)off) < (ssize_t)len ? (ssize_t)(h->tlen - (size_t)off) :
							     (ssize_t)len;
	memcpy(buf, h->text + off, (size_t)n);
	return (int)n;
}

static const struct fuse_operations ops = {
	.init = op_init,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.readdir = op_readdir,
	.open = op_open,
	.release = op_release,
	.read = op_read,
};

/* ---- mounting ---- */

/*
 * The mount point: a directory, not already a mount. A FUSE mount whose
 * server died answers ENOTCONN: detached and noted.
 */
static int prepare_mountpoint(struct view *v, struct errmsg *em)
{
	const char *mp = v->mountpoint;
	char parent[PATH_MAX], *slash;
	struct stat st, pst;

	if (stat(mp, &st) && errno == ENOTCONN) {
		if (umount2(mp, MNT_DETACH))
			return errmsg_set(em, -errno, "%s: a stale FUSE mount that cannot be unmounted: %s",
					  mp, strerror(errno));
		note(v, 4, "view: %s: detached a stale FUSE mount (its server had died)", mp);
	}
	if (stat(mp, &st) && errno == ENOENT && v->o.create_mountpoint) {
		snprintf(parent, sizeof(parent), "%s", mp);
		for (char *p = parent + 1; *p; p++)
			if (*p == '/') {
				*p = '\0';
				mkdir(parent, 0755);
				*p = '/';
			}
		mkdir(mp, 0755);
	}
	if (stat(mp, &st))
		return errmsg_set(em, -errno, "%s: %s", mp, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return errmsg_set(em, -ENOTDIR, "%s: not a directory", mp);
	snprintf(parent, sizeof(parent), "%s", mp);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	else
		snprintf(parent, sizeof(parent), "%s", slash ? "/" : ".");
	if (!stat(parent, &pst) && (pst.st_dev != st.st_dev || pst.st_ino == st.st_ino))
		return errmsg_set(em, -EBUSY, "%s: something is mounted there already", mp);
	return 0;
}

static int open_list(struct view *v, struct errmsg *em)
{
	struct vlist_opts lo = { .fresh = v->o.fresh, .fresh_arg = v->o.fresh_arg };
	struct chain *c = NULL;
	int ret;

	ret = store_open(&v->s, v->o.store_dir, v->o.store_flags, em);
	if (!ret)
		ret = store_chain_open(v->s, v->o.boot ? v->o.boot : "current", &c, em);
	if (ret)
		return ret;
	snprintf(v->chain, sizeof(v->chain), "%s", chain_meta(c)->chain);
	ret = vlist_open(&v->vl, c, &lo, em);
	if (ret)
		chain_close(c);
	return ret;
}

static int mount_fuse(struct view *v, struct errmsg *em)
{
	char *argv[] = { "imastore-view", "-o",
		"ro,allow_other,default_permissions,noatime,fsname=imastore,subtype=imastore",
		NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);

	v->fuse = fuse_new(&args, &ops, sizeof(ops), v);
	fuse_opt_free_args(&args);
	if (!v->fuse)
		return errmsg_set(em, -EINVAL, "%s: cannot start a FUSE session", v->mountpoint);
	if (fuse_mount(v->fuse, v->mountpoint))
		return errmsg_set(em, -EIO, "%s: mount failed (see the message above)", v->mountpoint);
	v->mounted = true;
	return 0;
}

int view_open(struct view **out, const struct view_opts *o, struct errmsg *em)
{
	struct view *v;
	int ret;

	if (access(view_dev_fuse(), R_OK | W_OK))
		return errmsg_set(em, -ENODEV, "%s: %s (no FUSE in this kernel or container)",
				  view_dev_fuse(), strerror(errno));
	if (!o->mountpoint || !*o->mountpoint)
		return errmsg_set(em, -EINVAL, "no mount point");
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->o = *o;
	v->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!realpath(o->mountpoint, v->mountpoint))
		snprintf(v->mountpoint, sizeof(v->mountpoint), "%s", o->mountpoint);
	clock_gettime(CLOCK_REALTIME, &v->born);
	ret = v->stop_fd < 0 ? -errno : 0;
	if (!ret)
		ret = open_list(v, em);
	if (!ret)
		ret = prepare_mountpoint(v, em);
	if (!ret && !realpath(o->mountpoint, v->mountpoint))
		ret = errmsg_set(em, -errno, "%s: %s", o->mountpoint, strerror(errno));
	if (!ret) {
		build_tree(v);
		ret = mount_fuse(v, em);
	}
	if (ret) {
		view_close(v);
		return ret;
	}
	*out = v;
	return 0;
}

int view_run(struct view *v)
{
	struct fuse_session *se = fuse_get_session(v->fuse);
	struct fuse_buf fb = { .mem = NULL };
	struct pollfd p[2];
	int ret = 0;

	p[0] = (struct pollfd){ .fd = fuse_session_fd(se), .events = POLLIN };
	p[1] = (struct pollfd){ .fd = v->stop_fd, .events = POLLIN };
	while (!fuse_session_exited(se)) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		if (p[1].revents)
			break;
		ret = fuse_session_receive_buf(se, &fb);
		if (ret == -EINTR || ret == -EAGAIN) {
			ret = 0;
			continue;
		}
		if (ret <= 0) {
			/* 0 or -ENODEV: unmounted from outside */
			ret = ret == -ENODEV ? 0 : ret;
			break;
		}
		fuse_session_process_buf(se, &fb);
		ret = 0;
	}
	free(fb.mem);
	return ret;
}

void view_stop(struct view *v)
{
	uint64_t one = 1;

	if (write(v->stop_fd, &one, sizeof(one)) < 0) {
		/* the counter is already set: view_run() stops all the same */
	}
}

void view_close(struct view *v)
{
	if (!v)
		return;
	if (v->mounted)
		fuse_unmount(v->fuse);
	if (v->fuse)
		fuse_destroy(v->fuse);
	/* files still open when the connection went: no release came */
	while (v->open)
		vfh_free(v, v->open);
	vlist_free(v->vl);
	store_close(v->s);
	if (v->stop_fd >= 0)
		close(v->stop_fd);
	free(v);
}

const char *view_chain(const struct view *v)
{
	return v->chain;
}

void view_counts(const struct view *v, struct view_counts *c)
{
	*c = v->counts;
}
