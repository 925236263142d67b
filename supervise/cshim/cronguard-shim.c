// cronguard-shim: the process between cronguard and its job, in C.
//
// It speaks the shim protocol of package supervise (see "Shim protocol" in
// supervise/supervise.go) and does what the Go shim (RunShim, cronguard
// re-exec'd) does; cronguard uses this one when it finds it and falls back
// to the Go shim otherwise. Why a second implementation: every cron run
// starts a shim, and a second Go runtime start-up costs about 4 ms of CPU
// and 5 ms of wall time per run, the largest item between cronguard and the
// floor of issue 16 (BENCHMARKS.md). This program, static, starts in a
// fraction of a millisecond. The supervise tests run against both shims.
//
// Design, compared with the Go shim:
//   - Single-threaded. Every signal is blocked from the first instruction
//     and read from a signalfd: a signal aimed at the job's group (SIGTERM
//     from cronguard or an operator) never kills the shim, the parent-death
//     signal is never lost, and SIGPIPE on a closed stderr is an EPIPE. The
//     job gets the original signal mask back before exec; dispositions are
//     never changed, so an inherited SIG_IGN (nohup) reaches the job and
//     every other signal has its default there.
//   - Limits (nice, I/O priority, cgroups, rlimits) are applied in the
//     forked child before exec, so the shim keeps its own: what the Go shim
//     needs a second exec (its "exec stage") for.
//   - Kill passes walk /proc between reaps, never during one, so a pid read
//     there cannot be freed and reused by an unrelated process before the
//     signal is sent (the Go shim holds a mutex for the same reason).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SHIM_ARG "__cronguard_shim"
#define EXIT_SHIM_FAILURE 125
#define EXIT_NOT_EXECUTABLE 126
#define EXIT_NOT_FOUND 127

// The parent-death signal cronguard arms for the shim: caught (here: read
// from the signalfd) so that the shim can still kill the job's tree; acted
// on only if getppid() changed, since a job may send it to its group.
#define PARENT_DEATH_SIGNAL SIGUSR2

// The pause between two SIGKILL passes over the job's tree while the shim
// waits for it to disappear. Each pass walks /proc; a process forked after
// a walk is caught by the next one. Shorter burns CPU on a busy box; longer
// lets a forking tree live longer. Same as the Go shim's shimKillRound.
#define KILL_ROUND_NS (20 * 1000000LL)

// DefaultLeftoverGrace of package supervise, used when --grace is absent.
#define DEFAULT_GRACE_NS (2 * 1000000000LL)

#define GOMAXPROCS_VAR "GOMAXPROCS="
#define JOB_PROCS_VAR "CRONGUARD_JOB_GOMAXPROCS="

extern char **environ;

struct rlim {
	int resource;
	unsigned long long cur, max;
};

struct config {
	pid_t ppid;
	int status_fd;
	int go_fd;
	long long grace_ns;
	const char *path;
	char **argv;
	int has_nice, nice;
	int ioprio;
	struct rlim *rlimits;
	int n_rlimits;
	const char **cgroups;
	int n_cgroups, n_cgroup_homes;
};

static pid_t self;
static struct config cfg;
static sigset_t orig_mask;

// ---- output -------------------------------------------------------------

// say writes the NULL-ended strings on stderr, which is the job's and
// cron's, in one write. A closed stderr is an EPIPE (SIGPIPE is blocked).
static void say(const char *first, ...)
{
	char buf[1024];
	size_t n = 0;
	va_list ap;
	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *)) {
		size_t l = strlen(s);
		if (l > sizeof buf - n)
			l = sizeof buf - n;
		memcpy(buf + n, s, l);
		n += l;
	}
	va_end(ap);
	ssize_t w;
	do
		w = write(2, buf, n);
	while (w < 0 && errno == EINTR);
}

// errtext is strerror as Go's syscall.Errno prints it: the same table,
// lower-case first letter.
static const char *errtext(int err)
{
	static char buf[128];
	snprintf(buf, sizeof buf, "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z')
		buf[0] += 'a' - 'A';
	return buf;
}

static void report(const char *line)
{
	if (cfg.status_fd < 0)
		return;
	ssize_t w;
	do
		w = write(cfg.status_fd, line, strlen(line));
	while (w < 0 && errno == EINTR);
}

// report_usage writes the C line: the rusage of every process the shim has
// reaped, that is of the job without the shim's own overhead.
static void report_usage(void)
{
	struct rusage ru;
	char line[128];
	memset(&ru, 0, sizeof ru);
	getrusage(RUSAGE_CHILDREN, &ru);
	snprintf(line, sizeof line, "C %lld %lld %lld\n",
		 (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
		 (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec,
		 (long long)ru.ru_maxrss);
	report(line);
}

// parent_died: the job did not run because cronguard died before the go
// (see parentDied in the Go shim for when a user sees this).
static int parent_died(void)
{
	say("cronguard shim: cronguard exited before the job started\n", NULL);
	return EXIT_SHIM_FAILURE;
}

// ---- arguments ------------------------------------------------------------

static int parse_int(const char *s, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

static int parse_ull(const char *s, unsigned long long *out, char **end)
{
	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	*out = strtoull(s, end, 10);
	return errno ? -1 : 0;
}

// parse_duration reads a Go duration as time.Duration.String writes it
// ("2s", "1m30s", "1.5s", "100ms", "0s"), in nanoseconds.
static int parse_duration(const char *s, long long *ns)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = {
		{"ns", 1}, {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
		{"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9},
	};
	double total = 0;
	int neg = 0;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return 0;
	}
	if (!*s)
		return -1;
	while (*s) {
		char *end;
		if ((*s < '0' || *s > '9') && *s != '.')
			return -1;
		double v = strtod(s, &end);
		if (end == s)
			return -1;
		s = end;
		size_t best = 0;
		double scale = 0;
		for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
			size_t l = strlen(units[i].unit);
			// The longest unit that matches: "ms" before "m".
			if (l > best && strncmp(s, units[i].unit, l) == 0) {
				best = l;
				scale = units[i].ns;
			}
		}
		if (!best)
			return -1;
		s += best;
		total += v * scale;
	}
	*ns = (long long)(neg ? -total : total);
	return 0;
}

static int bad_args(const char *what, const char *value)
{
	say("cronguard shim: ", what, value ? " " : "", value ? value : "", "\n", NULL);
	return -1;
}

static int parse_args(int argc, char **argv)
{
	cfg.status_fd = -1;
	cfg.go_fd = -1;
	cfg.grace_ns = DEFAULT_GRACE_NS;
	if (argc < 2 || strcmp(argv[1], SHIM_ARG) != 0)
		return bad_args("not a shim invocation", NULL);
	cfg.rlimits = calloc((size_t)argc, sizeof *cfg.rlimits);
	cfg.cgroups = calloc((size_t)argc, sizeof *cfg.cgroups);
	if (!cfg.rlimits || !cfg.cgroups)
		return bad_args("out of memory", NULL);
	int i = 2;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (i + 1 >= argc)
			return bad_args(a, "needs a value");
		const char *v = argv[++i];
		long long n = 0;
		int bad = 0;
		if (strcmp(a, "--ppid") == 0) {
			bad = parse_int(v, &n) || n < 0;
			cfg.ppid = (pid_t)n;
		} else if (strcmp(a, "--status-fd") == 0) {
			bad = parse_int(v, &n) || n < 0;
			cfg.status_fd = (int)n;
		} else if (strcmp(a, "--go-fd") == 0) {
			bad = parse_int(v, &n) || n < 0;
			cfg.go_fd = (int)n;
		} else if (strcmp(a, "--grace") == 0) {
			bad = parse_duration(v, &cfg.grace_ns);
		} else if (strcmp(a, "--nice") == 0) {
			bad = parse_int(v, &n);
			cfg.has_nice = 1;
			cfg.nice = (int)n;
		} else if (strcmp(a, "--ioprio") == 0) {
			bad = parse_int(v, &n);
			cfg.ioprio = (int)n;
		} else if (strcmp(a, "--rlimit") == 0) {
			// RES:CUR:MAX, numbers.
			struct rlim *r = &cfg.rlimits[cfg.n_rlimits++];
			unsigned long long res;
			char *end;
			bad = parse_ull(v, &res, &end) || *end != ':' ||
			      parse_ull(end + 1, &r->cur, &end) || *end != ':' ||
			      parse_ull(end + 1, &r->max, &end) || *end;
			r->resource = (int)res;
		} else if (strcmp(a, "--cgroup") == 0) {
			cfg.cgroups[cfg.n_cgroups++] = v;
		} else if (strcmp(a, "--cgroup-home") == 0) {
			cfg.n_cgroup_homes++;
		} else {
			return bad_args("unknown shim flag", a);
		}
		if (bad)
			return bad_args(a, v);
	}
	if (cfg.n_cgroups != cfg.n_cgroup_homes)
		return bad_args("--cgroup and --cgroup-home come in pairs", NULL);
	if (i >= argc)
		return bad_args("missing -- PATH ARGV0 ARGS...", NULL);
	cfg.path = argv[i];
	static char *only_path[2];
	if (i + 1 < argc) {
		cfg.argv = argv + i + 1;
	} else {
		only_path[0] = argv[i];
		cfg.argv = only_path;
	}
	return 0;
}

// ---- the go pipe --------------------------------------------------------

enum verdict { GO_NONE, GO_START, GO_ABORTED };

// await_go reads the go pipe to EOF: "GO\0" and NUL-ended KEY=VALUE
// entries start the job, "ABORT\0" ends the shim quietly, anything else
// (EOF alone: cronguard died) never starts it.
static enum verdict await_go(int fd, char **extra, size_t *extra_len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		return GO_NONE;
	for (;;) {
		if (n == cap) {
			char *b = realloc(buf, cap *= 2);
			if (!b) {
				free(buf);
				return GO_NONE;
			}
			buf = b;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	static const char abort_msg[] = "ABORT", go_msg[] = "GO";
	if (n == sizeof abort_msg && memcmp(buf, abort_msg, sizeof abort_msg) == 0) {
		free(buf);
		return GO_ABORTED;
	}
	if (n < sizeof go_msg || memcmp(buf, go_msg, sizeof go_msg) != 0) {
		free(buf);
		return GO_NONE;
	}
	*extra = buf + sizeof go_msg;
	*extra_len = n - sizeof go_msg;
	return GO_START;
}

// job_env is the job's environment: the shim's, with GOMAXPROCS put back as
// the job had it (see jobProcsVar in package supervise: a Go shim runs
// with GOMAXPROCS=1, the job must not), plus the go message's entries.
static char **job_env(char *extra, size_t extra_len)
{
	size_t n = 0;
	for (char **e = environ; *e; e++)
		n++;
	for (size_t i = 0; i < extra_len; i++)
		if (extra[i] == '\0')
			n++;
	char **env = calloc(n + 2, sizeof *env);
	if (!env)
		return NULL;
	size_t k = 0;
	for (char **e = environ; *e; e++) {
		if (strncmp(*e, GOMAXPROCS_VAR, strlen(GOMAXPROCS_VAR)) == 0)
			continue;
		if (strncmp(*e, JOB_PROCS_VAR, strlen(JOB_PROCS_VAR)) == 0) {
			const char *v = *e + strlen(JOB_PROCS_VAR);
			char *kv = malloc(strlen(GOMAXPROCS_VAR) + strlen(v) + 1);
			if (!kv)
				return NULL;
			strcpy(kv, GOMAXPROCS_VAR);
			strcat(kv, v);
			env[k++] = kv;
			continue;
		}
		env[k++] = *e;
	}
	for (size_t i = 0; i < extra_len;) {
		size_t l = strnlen(extra + i, extra_len - i);
		if (l > 0 && i + l < extra_len)
			env[k++] = extra + i;
		i += l + 1;
	}
	env[k] = NULL;
	return env;
}

// ---- the job --------------------------------------------------------------

static const char *rlimit_name(int res)
{
	static const char *names[] = {"cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile",
				      "memlock", "as", "locks", "sigpending", "msgqueue", "nice", "rtprio", "rttime"};
	static char num[16];
	if (res >= 0 && res < (int)(sizeof names / sizeof names[0]))
		return names[res];
	snprintf(num, sizeof num, "%d", res);
	return num;
}

static const char *rlim_text(unsigned long long v, char *buf, size_t len)
{
	if (v == (unsigned long long)RLIM_INFINITY)
		return "unlimited";
	snprintf(buf, len, "%llu", v);
	return buf;
}

// apply_limits runs in the job's process before exec: the job takes the
// limits, the shim keeps its own (its file descriptors and address space
// for the kill passes; the OOM killer never picks it). Same order and
// messages as the Go shim's applyLimits. Returns 0, or -1 having said why.
static int apply_limits(void)
{
	char num[32], a[32], b[32];
	if (cfg.has_nice && setpriority(PRIO_PROCESS, 0, cfg.nice) != 0) {
		snprintf(num, sizeof num, "%d", cfg.nice);
		say("cronguard: --nice ", num, ": ", errtext(errno), "\n", NULL);
		return -1;
	}
	if (cfg.ioprio && syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, cfg.ioprio) != 0) {
		say("cronguard: --ionice: ioprio_set: ", errtext(errno), "\n", NULL);
		return -1;
	}
	snprintf(num, sizeof num, "%d", (int)getpid());
	for (int i = 0; i < cfg.n_cgroups; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/cgroup.procs", cfg.cgroups[i]);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		int err = fd < 0 ? errno : 0;
		if (fd >= 0) {
			if (write(fd, num, strlen(num)) < 0)
				err = errno;
			close(fd);
		}
		if (err) {
			say("cronguard: joining the run's cgroup: writing \"", num, "\" to ", path, ": ", errtext(err), "\n", NULL);
			return -1;
		}
	}
	for (int i = 0; i < cfg.n_rlimits; i++) {
		struct rlim *r = &cfg.rlimits[i];
		struct rlimit rl = {.rlim_cur = r->cur, .rlim_max = r->max};
		if (setrlimit(r->resource, &rl) != 0) {
			say("cronguard: --rlimit ", rlimit_name(r->resource), "=", rlim_text(r->cur, a, sizeof a), ":",
			    rlim_text(r->max, b, sizeof b), ": ", errtext(errno), "\n", NULL);
			return -1;
		}
	}
	return 0;
}

// exec_job is the forked child: it never returns. The job runs in the
// shim's process group (a signal to the group reaches it), with the
// original signal mask, a parent-death SIGKILL (if the shim itself is
// SIGKILLed; cronguard then sweeps the rest), its limits, and the shim's
// fds 0-2, working directory and environment.
static void exec_job(char **env)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != self)
		_exit(EXIT_SHIM_FAILURE); // the shim is gone already
	if (apply_limits() != 0)
		_exit(EXIT_SHIM_FAILURE);
	// The job's signal mask only for the exec: a failure message to a
	// closed stderr must stay an EPIPE, not a death by SIGPIPE that would
	// hide the 126/127.
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &orig_mask, NULL);
	execve(cfg.path, cfg.argv, env);
	int err = errno;
	sigprocmask(SIG_SETMASK, &all, NULL);
	say("cronguard: ", cfg.path, ": ", errtext(err), "\n", NULL);
	_exit(err == ENOENT ? EXIT_NOT_FOUND : EXIT_NOT_EXECUTABLE);
}

// ---- the job's tree -------------------------------------------------------

struct proc {
	pid_t pid, ppid, pgid;
	char state;
	char in_tree;
};

static int by_pid(const void *a, const void *b)
{
	pid_t x = ((const struct proc *)a)->pid, y = ((const struct proc *)b)->pid;
	return (x > y) - (x < y);
}

static int read_proc(pid_t pid, struct proc *p)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	// The command name may hold spaces and parentheses: count fields
	// from the last ')'. After it: state, ppid, pgrp.
	char *r = strrchr(buf, ')');
	int ppid, pgid;
	char state;
	if (!r || sscanf(r + 1, " %c %d %d", &state, &ppid, &pgid) != 3)
		return -1;
	p->pid = pid;
	p->ppid = ppid;
	p->pgid = pgid;
	p->state = state;
	p->in_tree = 0;
	return 0;
}

// signal_tree signals every process of the job: the members of our process
// group and every descendant of ours (through PPid chains, which catches
// those that called setsid), never the shim itself. For signals other than
// SIGKILL, one kill(2) to the group first (the shim has them blocked), and
// the walk only adds those outside it. Zombies are skipped.
static void signal_tree(int sig)
{
	pid_t skip_pgid = 0;
	if (sig != SIGKILL && kill(-self, sig) == 0)
		skip_pgid = self;

	DIR *d = opendir("/proc");
	if (!d)
		return;
	size_t n = 0, cap = 256;
	struct proc *ps = malloc(cap * sizeof *ps);
	struct dirent *de;
	while (ps && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (n == cap) {
			struct proc *q = realloc(ps, (cap *= 2) * sizeof *ps);
			if (!q)
				break;
			ps = q;
		}
		if (read_proc((pid_t)atoi(de->d_name), &ps[n]) == 0)
			n++;
	}
	closedir(d);
	if (!ps)
		return;
	qsort(ps, n, sizeof *ps, by_pid);
	for (size_t i = 0; i < n; i++)
		if (ps[i].pgid == self && ps[i].pid != self)
			ps[i].in_tree = 1;
	// Descendants of ours: a pass marks at least one more generation,
	// so this ends after the tree's depth (+1) passes.
	for (int changed = 1; changed;) {
		changed = 0;
		for (size_t i = 0; i < n; i++) {
			if (ps[i].pid == self || ps[i].in_tree == 2)
				continue;
			int parent_in = ps[i].ppid == self;
			if (!parent_in) {
				struct proc key = {.pid = ps[i].ppid};
				struct proc *pp = bsearch(&key, ps, n, sizeof *ps, by_pid);
				parent_in = pp && pp->in_tree == 2;
			}
			if (parent_in) {
				ps[i].in_tree = 2; // a descendant: its children are too
				changed = 1;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!ps[i].in_tree || ps[i].pid == self)
			continue;
		if (skip_pgid && ps[i].pgid == skip_pgid)
			continue;
		if (ps[i].state == 'Z')
			continue; // already dead; only its parent can free it
		kill(ps[i].pid, sig);
	}
	free(ps);
}

// ---- main loop ------------------------------------------------------------

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int parent_gone(void) { return cfg.ppid > 0 && getppid() != cfg.ppid; }

// die_of kills the shim with sig so that its parent sees the command's
// wait status; without a core dump (the command may have dumped core, the
// shim must not).
static int die_of(int sig)
{
	struct rlimit zero = {0, 0};
	setrlimit(RLIMIT_CORE, &zero);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	signal(sig, SIG_DFL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	kill(getpid(), sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL); // delivered here
	return 128 + sig;                      // only if it did not kill us
}

int main(int argc, char **argv)
{
	// First thing: block every signal (see the top of this file). Until
	// here, a parent-death signal kills the shim outright, silently, and
	// the job never starts.
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &orig_mask);
	// An ignored SIGCHLD would have the kernel reap the job behind our
	// back and its wait status lost. cronguard (Go) never passes one on;
	// the job gets the default either way, as from the Go shim.
	signal(SIGCHLD, SIG_DFL);
	self = getpid();

	if (parse_args(argc, argv) != 0)
		return EXIT_SHIM_FAILURE;
	if (parent_gone()) {
		// The parent died before the signals were blocked: its
		// parent-death signal may have been lost. Never start the job.
		// A prepared shim is usually here because cronguard skipped and
		// exited before the shim had started: the go pipe says so, and
		// a skip is silent.
		char *extra;
		size_t len;
		if (cfg.go_fd >= 0 && await_go(cfg.go_fd, &extra, &len) == GO_ABORTED)
			return 0;
		return parent_died();
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
		say("cronguard shim: PR_SET_CHILD_SUBREAPER: ", errtext(errno), "\n", NULL);
		return EXIT_SHIM_FAILURE;
	}
	if (cfg.status_fd >= 0)
		// The job must not inherit it: its write end would keep
		// cronguard's read from seeing EOF.
		fcntl(cfg.status_fd, F_SETFD, FD_CLOEXEC);
	prctl(PR_SET_NAME, "cronguard-shim", 0, 0, 0);
	int sfd = signalfd(-1, &all, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		say("cronguard shim: signalfd: ", errtext(errno), "\n", NULL);
		return EXIT_SHIM_FAILURE;
	}

	char *extra = NULL;
	size_t extra_len = 0;
	if (cfg.go_fd >= 0) {
		switch (await_go(cfg.go_fd, &extra, &extra_len)) {
		case GO_ABORTED:
			// The lock was busy, or cronguard refused to start the
			// job and says why itself: exit without a word.
			report_usage();
			return 0;
		case GO_NONE:
			report_usage();
			return parent_died();
		case GO_START:
			if (parent_gone()) {
				report_usage();
				return parent_died();
			}
		}
	}
	char **env = job_env(extra, extra_len);
	if (!env) {
		say("cronguard shim: out of memory\n", NULL);
		return EXIT_SHIM_FAILURE;
	}

	pid_t cmd = fork();
	if (cmd == 0)
		exec_job(env);
	if (cmd < 0) {
		int err = errno;
		char line[32];
		say("cronguard: ", cfg.path, ": ", errtext(err), "\n", NULL);
		snprintf(line, sizeof line, "S %d\n", EXIT_NOT_EXECUTABLE << 8);
		report(line);
		report_usage();
		return EXIT_NOT_EXECUTABLE;
	}

	// Reap until no child is left. Once the command has exited, what is
	// left of the job gets SIGTERM (and SIGCONT), and SIGKILL after the
	// grace; on cronguard's death, SIGKILL at once.
	int cmd_status = 0, cmd_done = 0, reported = 0, killing = 0, gone = 0;
	long long kill_at = -1, next_pass = 0;
	if (parent_gone()) {
		gone = 1;
		killing = 1;
	}
	for (;;) {
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
			if (si.ssi_signo == PARENT_DEATH_SIGNAL && !gone && parent_gone()) {
				gone = 1;
				killing = 1;
			}
		}
		int more = 0;
		for (;;) {
			int ws;
			pid_t w = waitpid(-1, &ws, WNOHANG);
			if (w > 0) {
				if (w == cmd) {
					cmd_status = ws;
					cmd_done = 1;
				}
				continue;
			}
			if (w < 0 && errno == EINTR)
				continue;
			more = w == 0; // 0: children remain, none exited; -1: ECHILD
			break;
		}
		if (cmd_done && !reported) {
			char line[32];
			reported = 1;
			snprintf(line, sizeof line, "S %u\n", (unsigned)cmd_status);
			report(line);
			if (more && !killing) {
				if (cfg.grace_ns <= 0 || gone) {
					killing = 1;
				} else {
					signal_tree(SIGTERM);
					signal_tree(SIGCONT);
					kill_at = now_ns() + cfg.grace_ns;
				}
			}
		}
		if (!more)
			break;
		long long now = now_ns();
		if (kill_at >= 0 && now >= kill_at) {
			killing = 1;
			kill_at = -1;
		}
		if (killing && now >= next_pass) {
			signal_tree(SIGKILL);
			next_pass = now + KILL_ROUND_NS;
		}
		long long wake = -1;
		if (killing)
			wake = next_pass;
		else if (kill_at >= 0)
			wake = kill_at;
		int timeout = -1;
		if (wake >= 0) {
			long long ms = (wake - now_ns() + 999999) / 1000000;
			timeout = ms < 0 ? 0 : ms > 1000000 ? 1000000 : (int)ms;
		}
		struct pollfd pfd = {.fd = sfd, .events = POLLIN};
		poll(&pfd, 1, timeout);
	}
	report_usage();
	if (gone)
		// Nobody else will remove the run's cgroup (the job is dead).
		for (int i = cfg.n_cgroups - 1; i >= 0; i--)
			rmdir(cfg.cgroups[i]);
	if (WIFEXITED(cmd_status))
		return WEXITSTATUS(cmd_status);
	if (WIFSIGNALED(cmd_status))
		return die_of(WTERMSIG(cmd_status));
	return EXIT_SHIM_FAILURE;
}
