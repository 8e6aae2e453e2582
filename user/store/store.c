// SPDX-License-Identifier: GPL-2.0-only
/*
 * The store directory: permissions, the writer lock, chains and boots
 * (docs/store-format.md §2, §9).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"
#include "store_io.h"

int store_check_perms(struct store *s, int fd, const char *what,
		      struct errmsg *em)
{
	struct stat st;

	if (fstat(fd, &st))
		return errmsg_set(em, -errno, "%s: %s", what, strerror(errno));
	if (s->flags & STORE_INSECURE)
		return 0;
	if (st.st_uid != geteuid() || (st.st_mode & 077))
		return errmsg_set(em, -EPERM,
				  "%s: owned by uid %u with mode %04o; the store must be owned by uid %u and not group/other accessible (chmod go= it, or pass --insecure)",
				  what, (unsigned)st.st_uid,
				  (unsigned)(st.st_mode & 07777),
				  (unsigned)geteuid());
	return 0;
}

int store_fsync_dir(int dirfd, struct errmsg *em, const char *what)
{
	if (store_io->fsync(dirfd))
		return errmsg_set(em, -errno, "fsync of %s: %s", what,
				  strerror(errno));
	return 0;
}

int store_open_dir(struct store *s, int dirfd, const char *name, bool create,
		   int *out, struct errmsg *em)
{
	int fd, ret;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		if (store_io->mkdirat(dirfd, name, 0700) && errno != EEXIST)
			return errmsg_set(em, -errno, "%s/%s: %s", s->dir, name,
					  strerror(errno));
		ret = store_fsync_dir(dirfd, em, s->dir);
		if (ret)
			return ret;
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0)
		return errmsg_set(em, -errno, "%s/%s: %s", s->dir, name,
				  strerror(errno));
	ret = store_check_perms(s, fd, name, em);
	if (ret) {
		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}

void seg_name(char *out, size_t len, uint64_t first, const char *ext)
{
	snprintf(out, len, "seg-%016llx.%s", (unsigned long long)first, ext);
}

static int take_lock(struct store *s, struct errmsg *em)
{
	char pid[32] = "";
	int fd, n;

	fd = store_io->openat(s->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return errmsg_set(em, -errno, "%s/lock: %s", s->dir, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int err = errno;

		n = (int)pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(fd);
		if (err == EWOULDBLOCK)
			return errmsg_set(em, -EBUSY,
					  "%s is locked by another writer%s%s%s",
					  s->dir, pid[0] ? " (pid " : "", pid,
					  pid[0] ? ")" : "");
		return errmsg_set(em, -err, "%s/lock: %s", s->dir, strerror(err));
	}
	s->lockfd = fd;
	store_lock_note_pid(s);
	return 0;
}

void store_lock_note_pid(struct store *s)
{
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

	if (s->lockfd < 0 || store_io->ftruncate(s->lockfd, 0) ||
	    io_write_all(s->lockfd, pid, (size_t)n, 0)) {
		/* only informative: the flock is what counts */
	}
}

int store_open(struct store **out, const char *dir, unsigned flags,
	       struct errmsg *em)
{
	struct store *s;
	int ret, fd;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->lockfd = -1;
	s->dirfd = -1;
	s->flags = flags;
	s->seg_size = STORE_SEGMENT_SIZE;
	s->dir = strdup(dir);
	if (!s->dir) {
		ret = -ENOMEM;
		goto err;
	}
	if ((flags & STORE_CREATE) && store_io->mkdirat(AT_FDCWD, dir, 0700) &&
	    errno != EEXIST) {
		ret = errmsg_set(em, -errno, "%s: %s", dir, strerror(errno));
		goto err;
	}
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		ret = errmsg_set(em, -errno, "store %s: %s", dir, strerror(errno));
		goto err;
	}
	ret = store_check_perms(s, s->dirfd, dir, em);
	if (ret)
		goto err;
	if (flags & STORE_WRITE) {
		ret = take_lock(s, em);
		if (ret)
			goto err;
		/* make sure the fixed folders exist */
		ret = store_open_dir(s, s->dirfd, "chains", true, &fd, em);
		if (ret)
			goto err;
		close(fd);
		ret = store_open_dir(s, s->dirfd, "boots", true, &fd, em);
		if (ret)
			goto err;
		close(fd);
	}
	*out = s;
	return 0;
err:
	store_close(s);
	return ret;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->lockfd >= 0)
		close(s->lockfd);	/* releases the flock */
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->dir);
	free(s);
}

void store_set_segment_size(struct store *s, uint64_t bytes)
{
	s->seg_size = bytes ? bytes : STORE_SEGMENT_SIZE;
}

const char *store_dir(const struct store *s)
{
	return s->dir;
}

int store_current_boot(char *out, size_t len, struct errmsg *em)
{
	const char *path = getenv("IMASTORE_BOOT_ID_FILE");
	FILE *f;

	/* the variable lets tests pretend to be another boot */
	if (!path)
		path = "/proc/sys/kernel/random/boot_id";
	f = fopen(path, "re");
	if (!f)
		return errmsg_set(em, -errno, "%s: %s", path, strerror(errno));
	if (!fgets(out, (int)len, f)) {
		fclose(f);
		return errmsg_set(em, -EIO, "%s: empty", path);
	}
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

static bool id_ok(const char *id)
{
	size_t n = strlen(id);

	if (!n || n >= STORE_ID_MAX || id[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z') ||
		      (id[i] >= 'A' && id[i] <= 'Z') || id[i] == '-' || id[i] == '_'))
			return false;
	return true;
}

static int link_boot(struct store *s, const char *boot, const char *chain,
		     struct errmsg *em)
{
	char target[STORE_ID_MAX + 16];
	int bfd, ret;

	ret = store_open_dir(s, s->dirfd, "boots", true, &bfd, em);
	if (ret)
		return ret;
	snprintf(target, sizeof(target), "../chains/%s", chain);
	if (store_io->symlinkat(target, bfd, boot) && errno != EEXIST)
		ret = errmsg_set(em, -errno, "boots/%s: %s", boot, strerror(errno));
	if (!ret)
		ret = store_fsync_dir(bfd, em, "boots");
	close(bfd);
	return ret;
}

int chain_refresh(struct chain *c, struct errmsg *em)
{
	return c->segfd >= 0 ? 0 : chain_load_segments(c, em);
}

struct store *chain_store(const struct chain *c)
{
	return c->s;
}

/* A new link beside the old one, renamed over it, the directory fsync'ed. */
int store_relink_boot(struct chain *c, const char *boot_id, struct errmsg *em)
{
	char target[STORE_ID_MAX + 16], tmp[STORE_ID_MAX + 8];
	int bfd, ret;

	if (!id_ok(boot_id))
		return errmsg_set(em, -EINVAL, "bad boot id '%s'", boot_id);
	ret = store_open_dir(c->s, c->s->dirfd, "boots", true, &bfd, em);
	if (ret)
		return ret;
	snprintf(target, sizeof(target), "../chains/%s", c->meta.chain);
	snprintf(tmp, sizeof(tmp), ".%s.tmp", boot_id);
	unlinkat(bfd, tmp, 0);
	if (store_io->symlinkat(target, bfd, tmp) || renameat(bfd, tmp, bfd, boot_id))
		ret = errmsg_set(em, -errno, "boots/%s: %s", boot_id, strerror(errno));
	if (!ret)
		ret = store_fsync_dir(bfd, em, "boots");
	close(bfd);
	return ret;
}

/*
 * The end of an open or create: the segments loaded and, for the writer,
 * the tail recovered; then the chain is *out's. On error (`ret` too) it is
 * closed.
 */
static int chain_ready(struct chain *c, int ret, struct chain **out,
		       struct errmsg *em)
{
	if (!ret)
		ret = chain_load_segments(c, em);
	if (!ret && c->s->lockfd >= 0)
		ret = chain_writer_start(c, em);
	if (ret) {
		chain_close(c);
		return ret;
	}
	*out = c;
	return 0;
}

static struct chain *chain_alloc(struct store *s)
{
	struct chain *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->s = s;
	c->dirfd = -1;
	c->segfd = -1;
	c->idxfd = -1;
	c->log_end[0] = c->log_end[1] = -1;
	c->logfd[0] = c->logfd[1] = -1;
	return c;
}

/*
 * chains/CHAIN exists. With a meta it is a chain (-EEXIST); without, a
 * create that did not finish (meta is written last): empty it, the create
 * starts over in it.
 */
static int unfinished_create(int cfd, const char *chain, struct errmsg *em)
{
	struct dirent *de;
	DIR *d;
	int dfd;

	dfd = openat(cfd, chain, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errmsg_set(em, -errno, "chains/%s: %s", chain, strerror(errno));
	if (!faccessat(dfd, "meta", F_OK, AT_SYMLINK_NOFOLLOW) || errno != ENOENT) {
		close(dfd);
		return errmsg_set(em, -EEXIST, "chain %s exists", chain);
	}
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return errmsg_set(em, -errno, "chains/%s: %s", chain, strerror(errno));
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (store_io->unlinkat(dirfd(d), de->d_name, 0) && errno != ENOENT) {
			int err = errno;

			closedir(d);
			return errmsg_set(em, -err, "chains/%s/%s: %s", chain, de->d_name,
					  strerror(err));
		}
	}
	closedir(d);
	return 0;
}

int store_chain_create(struct store *s, const struct chain_meta *meta,
		       struct chain **out, struct errmsg *em)
{
	struct chain *c;
	int cfd, ret;

	if (s->lockfd < 0)
		return errmsg_set(em, -EBADF, "store opened read-only");
	if (!id_ok(meta->chain) || !meta->nboots || !id_ok(meta->boots[0].id) ||
	    !meta->bank)
		return errmsg_set(em, -EINVAL, "bad chain or boot id '%s'", meta->chain);
	c = chain_alloc(s);
	if (!c)
		return -ENOMEM;
	c->meta = *meta;
	if (!c->meta.created)
		c->meta.created = (uint64_t)time(NULL);
	ret = store_open_dir(s, s->dirfd, "chains", true, &cfd, em);
	if (ret)
		return chain_ready(c, ret, out, em);
	if (store_io->mkdirat(cfd, meta->chain, 0700)) {
		ret = errno == EEXIST ? unfinished_create(cfd, meta->chain, em) :
		      errmsg_set(em, -errno, "chains/%s: %s", meta->chain, strerror(errno));
		if (ret) {
			close(cfd);
			return chain_ready(c, ret, out, em);
		}
	}
	ret = store_fsync_dir(cfd, em, "chains");
	if (!ret)
		ret = store_open_dir(s, cfd, meta->chain, false, &c->dirfd, em);
	close(cfd);
	if (!ret)
		ret = chain_new_segment(c, 0, em);
	/* meta last: a chain directory without meta is an unfinished create */
	if (!ret)
		ret = meta_write(c->dirfd, &c->meta, em);
	if (!ret)
		ret = link_boot(s, meta->boots[0].id, meta->chain, em);
	return chain_ready(c, ret, out, em);
}

/* A boot id resolves through boots/, else it is a chain id. */
static int resolve(struct store *s, const char *id, char *chain, struct errmsg *em)
{
	char boot[STORE_ID_MAX], link[STORE_ID_MAX + 32], path[STORE_ID_MAX + 8];
	const char *slash;
	ssize_t n;
	int ret;

	if (!strcmp(id, "current")) {
		ret = store_current_boot(boot, sizeof(boot), em);
		if (ret)
			return ret;
		id = boot;
	}
	if (!id_ok(id))
		return errmsg_set(em, -EINVAL, "bad boot or chain id '%s'", id);
	snprintf(path, sizeof(path), "boots/%s", id);
	n = readlinkat(s->dirfd, path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = '\0';
		slash = strrchr(link, '/');
		snprintf(chain, STORE_ID_MAX, "%.63s", slash ? slash + 1 : link);
		return 0;
	}
	snprintf(chain, STORE_ID_MAX, "%s", id);
	return 0;
}

int store_chain_open(struct store *s, const char *id, struct chain **out,
		     struct errmsg *em)
{
	char chain[STORE_ID_MAX];
	int ret;

	ret = resolve(s, id, chain, em);
	return ret ? ret : store_chain_open_name(s, chain, out, em);
}

int store_chain_open_name(struct store *s, const char *chain, struct chain **out,
			  struct errmsg *em)
{
	const char *id = chain;
	struct chain *c;
	int cfd, ret;

	if (!id_ok(chain))
		return errmsg_set(em, -EINVAL, "bad chain id '%s'", chain);
	c = chain_alloc(s);
	if (!c)
		return -ENOMEM;
	ret = store_open_dir(s, s->dirfd, "chains", false, &cfd, em);
	if (ret)
		return chain_ready(c, ret, out, em);
	ret = openat(cfd, chain, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ret < 0) {
		ret = errno == ENOENT ?
		      errmsg_set(em, -ENOENT, "no chain for '%s' in %s", id, s->dir) :
		      errmsg_set(em, -errno, "chains/%s: %s", chain, strerror(errno));
		close(cfd);
		return chain_ready(c, ret, out, em);
	}
	close(cfd);
	c->dirfd = ret;
	ret = store_check_perms(s, c->dirfd, chain, em);
	if (!ret)
		ret = meta_read(c->dirfd, &c->meta, em);
	if (ret)
		errmsg_prefix(em, "chain %s", chain);
	return chain_ready(c, ret, out, em);
}

int chain_add_boot(struct chain *c, const char *boot_id, uint64_t first_index,
		   struct errmsg *em)
{
	struct chain_meta *m = &c->meta;
	int ret;

	if (!id_ok(boot_id))
		return errmsg_set(em, -EINVAL, "bad boot id '%s'", boot_id);
	/* in meta already: a crash may have come before its link (meta goes first) */
	for (unsigned i = 0; i < m->nboots; i++)
		if (!strcmp(m->boots[i].id, boot_id))
			return link_boot(c->s, boot_id, m->chain, em);
	if (m->nboots == STORE_BOOTS_MAX)
		return errmsg_set(em, -ENOSPC, "chain %s has %d boots already",
				  m->chain, STORE_BOOTS_MAX);
	strcpy(m->boots[m->nboots].id, boot_id);
	m->boots[m->nboots].first_index = first_index;
	m->nboots++;
	ret = meta_write(c->dirfd, m, em);
	if (!ret)
		ret = link_boot(c->s, boot_id, m->chain, em);
	if (ret)
		m->nboots--;
	return ret;
}

const struct chain_meta *chain_meta(const struct chain *c)
{
	return &c->meta;
}

const struct hash_alg *chain_list_bank(const struct chain *c)
{
	return chain_meta_bank(&c->meta, c->meta.bank);
}

int store_chain_list(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n,
		     struct errmsg *em)
{
	char (*v)[STORE_ID_MAX] = NULL;
	uint64_t *created = NULL;
	size_t cnt = 0;
	struct dirent *de;
	DIR *d;
	int cfd, ret;

	ret = store_open_dir(s, s->dirfd, "chains", false, &cfd, em);
	if (ret == -ENOENT) {
		*ids = NULL;
		*n = 0;
		return 0;
	}
	if (ret)
		return ret;
	d = fdopendir(cfd);
	if (!d) {
		close(cfd);
		return -errno;
	}
	while ((de = readdir(d))) {
		struct chain_meta m;
		void *nv, *nc;
		int fd;

		if (!id_ok(de->d_name))
			continue;
		fd = openat(cfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ret = meta_read(fd, &m, NULL);
		close(fd);
		if (ret)
			continue;	/* an unfinished create */
		nv = realloc(v, (cnt + 1) * sizeof(*v));
		nc = realloc(created, (cnt + 1) * sizeof(*created));
		if (!nv || !nc) {
			free(nv ? nv : v);
			free(nc ? nc : created);
			closedir(d);
			return -ENOMEM;
		}
		v = nv;
		created = nc;
		/* insertion sort, newest first */
		size_t at = cnt;

		while (at > 0 && created[at - 1] < m.created) {
			memcpy(v[at], v[at - 1], STORE_ID_MAX);
			created[at] = created[at - 1];
			at--;
		}
		snprintf(v[at], STORE_ID_MAX, "%.63s", de->d_name);
		created[at] = m.created;
		cnt++;
	}
	closedir(d);
	free(created);
	*ids = v;
	*n = cnt;
	return 0;
}

int store_status_write(struct chain *c, const char *text, struct errmsg *em)
{
	int fd, ret;

	fd = store_io->openat(c->s->dirfd, "imastored.status.tmp",
			      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return errmsg_set(em, -errno, "imastored.status: %s", strerror(errno));
	ret = io_write_all(fd, text, strlen(text), 0);
	close(fd);
	if (!ret && store_io->renameat(c->s->dirfd, "imastored.status.tmp",
				       c->s->dirfd, "imastored.status"))
		ret = -errno;
	return ret ? errmsg_set(em, ret, "imastored.status: %s", strerror(-ret)) : 0;
}

int store_status_read(struct store *s, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = openat(s->dirfd, "imastored.status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}
