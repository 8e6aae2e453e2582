/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A throw-away swtpm (TPM 2.0, fresh state, Startup(CLEAR) done) on free
 * localhost TCP ports, for unit tests. swtpm runs as our child with
 * PR_SET_PDEATHSIG rather than as a --daemon, so that it dies with the test
 * even when the test crashes or is killed.
 *
 * Header-only because the Makefile builds each test from one .c file.
 */
#ifndef IMASTORE_SWTPM_HELPER_H
#define IMASTORE_SWTPM_HELPER_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct swtpm {
	pid_t pid;
	int port;		/* server; control is port + 1 */
	char dir[64];		/* --tpmstate and swtpm's log */
	char tcti[96];		/* "swtpm:host=127.0.0.1,port=N" */
};

static inline int swtpm_tcp_socket(int port, int do_connect)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1, ret;

	if (fd < 0)
		return -1;
	/* As swtpm does: a port in TIME_WAIT is free for a server. */
	if (!do_connect)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ret = do_connect ? connect(fd, (struct sockaddr *)&a, sizeof(a))
			 : bind(fd, (struct sockaddr *)&a, sizeof(a));
	if (ret) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A loopback port nobody listens on, and (if pair) the one after it. Below
 * the kernel's ephemeral range: the swtpm TCTI opens a TCP connection per
 * command, so a busy test host has thousands of ephemeral ports in
 * TIME_WAIT, which a server cannot bind even with SO_REUSEADDR.
 */
static inline int swtpm_free_port(int pair)
{
	unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	int fd, fd2, port;

	for (int i = 0; i < 500; i++) {
		port = 20000 + (int)(rand_r(&seed) % 12000);
		fd = swtpm_tcp_socket(port, 0);
		if (fd < 0)
			continue;
		fd2 = pair ? swtpm_tcp_socket(port + 1, 0) : -2;
		close(fd);
		if (fd2 >= 0)
			close(fd2);
		if (fd2 != -1)
			return port;
	}
	return -1;
}

static inline int swtpm_in_path(void)
{
	char buf[4096];
	const char *path = getenv("PATH");
	char *save = NULL, *dir;

	if (!path)
		path = "/usr/bin:/bin";
	snprintf(buf, sizeof(buf), "%s", path);
	for (dir = strtok_r(buf, ":", &save); dir;
	     dir = strtok_r(NULL, ":", &save)) {
		char file[4200];

		snprintf(file, sizeof(file), "%s/swtpm", dir);
		if (!access(file, X_OK))
			return 1;
	}
	return 0;
}

static inline void swtpm_exec(const struct swtpm *t, pid_t parent)
{
	char state[96], server[96], ctrl[96], log[96];
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	snprintf(log, sizeof(log), "%s/swtpm.log", t->dir);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	snprintf(state, sizeof(state), "dir=%s", t->dir);
	snprintf(server, sizeof(server), "type=tcp,port=%d,bindaddr=127.0.0.1",
		 t->port);
	snprintf(ctrl, sizeof(ctrl), "type=tcp,port=%d,bindaddr=127.0.0.1",
		 t->port + 1);
	execlp("swtpm", "swtpm", "socket", "--tpm2", "--tpmstate", state,
	       "--server", server, "--ctrl", ctrl,
	       "--flags", "not-need-init,startup-clear", (char *)NULL);
	_exit(127);
}

static inline void swtpm_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* 0 once both ports accept, -1 if swtpm exited or took more than 10 s. */
static inline int swtpm_wait_ready(struct swtpm *t)
{
	int status, fd, fd2;

	for (int i = 0; i < 1000; i++) {
		if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
			t->pid = 0;
			return -1;
		}
		fd = swtpm_tcp_socket(t->port, 1);
		fd2 = fd < 0 ? -1 : swtpm_tcp_socket(t->port + 1, 1);
		if (fd >= 0)
			close(fd);
		if (fd2 >= 0) {
			close(fd2);
			return 0;
		}
		swtpm_sleep_ms(10);
	}
	return -1;
}

static inline void swtpm_kill(struct swtpm *t)
{
	int status;

	if (t->pid <= 0)
		return;
	kill(t->pid, SIGTERM);
	for (int i = 0; i < 300; i++) {
		if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
			t->pid = 0;
			return;
		}
		swtpm_sleep_ms(10);
	}
	kill(t->pid, SIGKILL);
	waitpid(t->pid, &status, 0);
	t->pid = 0;
}

static inline void swtpm_rmdir(const char *dir)
{
	char file[512];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(file, sizeof(file), "%s/%s", dir, e->d_name);
		unlink(file);
	}
	closedir(d);
	rmdir(dir);
}

static inline void swtpm_print_log(const struct swtpm *t)
{
	char file[128], line[512];
	FILE *f;

	snprintf(file, sizeof(file), "%s/swtpm.log", t->dir);
	f = fopen(file, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "swtpm: %s", line);
	fclose(f);
}

static inline void swtpm_stop(struct swtpm *t)
{
	swtpm_kill(t);
	if (t->dir[0])
		swtpm_rmdir(t->dir);
	t->dir[0] = '\0';
}

/* swtpm_setup --pcr-banks: a state with only these banks allocated. */
static inline int swtpm_setup_banks(const struct swtpm *t, const char *banks)
{
	char log[96];
	int status, fd;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		snprintf(log, sizeof(log), "%s/swtpm.log", t->dir);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("swtpm_setup", "swtpm_setup", "--tpm2", "--tpm-state",
		       t->dir, "--pcr-banks", banks, "--overwrite",
		       (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		fprintf(stderr, "FATAL: swtpm_setup --pcr-banks %s failed%s\n",
			banks, WIFEXITED(status) && WEXITSTATUS(status) == 127 ?
			" (not installed? package swtpm-tools)" : "");
		return -1;
	}
	return 0;
}

/*
 * 0, or -1 after saying why on stderr. A missing swtpm is an error, not a
 * reason to skip: the TPM tests must not pass vacuously. `banks` NULL: a
 * fresh state, where swtpm allocates sha1, sha256, sha384 and sha512.
 */
static inline int swtpm_start_banks(struct swtpm *t, const char *banks)
{
	pid_t parent = getpid();

	memset(t, 0, sizeof(*t));
	if (!swtpm_in_path()) {
		fprintf(stderr, "FATAL: swtpm not found in PATH; install the swtpm and swtpm-tools packages (make deps)\n");
		return -1;
	}
	snprintf(t->dir, sizeof(t->dir), "/tmp/imastore-swtpm.XXXXXX");
	if (!mkdtemp(t->dir)) {
		fprintf(stderr, "FATAL: mkdtemp: %s\n", strerror(errno));
		t->dir[0] = '\0';
		return -1;
	}
	if (banks && swtpm_setup_banks(t, banks)) {
		swtpm_print_log(t);
		swtpm_stop(t);
		return -1;
	}
	/* Another process may take the port between our probe and swtpm's bind. */
	for (int tries = 0; tries < 10; tries++) {
		t->port = swtpm_free_port(1);
		if (t->port < 0)
			break;
		fflush(NULL);
		t->pid = fork();
		if (t->pid < 0)
			break;
		if (t->pid == 0)
			swtpm_exec(t, parent);
		if (!swtpm_wait_ready(t)) {
			snprintf(t->tcti, sizeof(t->tcti),
				 "swtpm:host=127.0.0.1,port=%d", t->port);
			return 0;
		}
		swtpm_kill(t);
	}
	fprintf(stderr, "FATAL: could not start swtpm\n");
	swtpm_print_log(t);
	swtpm_stop(t);
	return -1;
}

static inline int swtpm_start(struct swtpm *t)
{
	return swtpm_start_banks(t, NULL);
}

#endif
