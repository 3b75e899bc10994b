/* Alert sinks: webhook and exec hook in a worker thread (see sink.h). */
#include "sink.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct item {
	struct item *next;
	char json[];
};

struct sink {
	char *url, *exec;
	int64_t retries, backoff_ms, timeout_ms, queue_max;
	pthread_t thread;
	bool started, stop, busy;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct item *head, *tail;
	int64_t len;
	struct sink_stats st;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t discard(char *p, size_t sz, size_t n, void *arg)
{
	return sz * n;
}

/* 0 on a 2xx answer. */
static int post_once(struct sink *k, const char *json, long *status)
{
	struct curl_slist *hdr = NULL;
	CURL *c = curl_easy_init();
	CURLcode rc;

	*status = 0;
	if (!c)
		return -ENOMEM;
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, k->url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)k->timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "truemeter-collector");
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	else
		log_warn("alert webhook %s: %s", k->url, curl_easy_strerror(rc));
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return rc == CURLE_OK && *status >= 200 && *status < 300 ? 0 : -EIO;
}

/* Sleeps ms unless stopped; true if stopped. */
static bool nap(struct sink *k, int64_t ms)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&k->mu);
	while (!k->stop && pthread_cond_timedwait(&k->cv, &k->mu, &ts) == 0)
		;
	stop = k->stop;
	pthread_mutex_unlock(&k->mu);
	return stop;
}

static void deliver_webhook(struct sink *k, const char *json)
{
	int64_t delay = k->backoff_ms;
	long status = 0;

	for (int64_t attempt = 0; attempt <= k->retries; attempt++) {
		if (post_once(k, json, &status) == 0) {
			__atomic_add_fetch(&k->st.webhook_ok, 1, __ATOMIC_RELAXED);
			return;
		}
		if (status)
			log_warn("alert webhook %s: HTTP %ld (attempt %lld)", k->url, status,
				 (long long)attempt + 1);
		if (attempt == k->retries || nap(k, delay))
			break;
		delay *= 2;
	}
	__atomic_add_fetch(&k->st.webhook_failed, 1, __ATOMIC_RELAXED);
	log_warn("alert webhook %s: giving up on an alert", k->url);
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;   /* the hook closed stdin early: its business */
		buf += n;
		len -= (size_t)n;
	}
}

static void deliver_exec(struct sink *k, const char *json)
{
	int in[2], status = 0;
	int64_t waited = 0;
	pid_t pid, r;

	if (pipe2(in, O_CLOEXEC)) {
		log_warn("alert exec: pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		log_warn("alert exec: fork: %s", strerror(errno));
		close(in[0]);
		close(in[1]);
		return;
	}
	if (pid == 0) {
		dup2(in[0], 0);
		execl("/bin/sh", "sh", "-c", k->exec, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	write_all(in[1], json, strlen(json));
	write_all(in[1], "\n", 1);
	close(in[1]);
	while ((r = waitpid(pid, &status, WNOHANG)) == 0 && waited < k->timeout_ms) {
		usleep(10000);
		waited += 10;
	}
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		log_warn("alert exec '%s': killed after %lld ms", k->exec, (long long)k->timeout_ms);
		__atomic_add_fetch(&k->st.exec_failed, 1, __ATOMIC_RELAXED);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		log_info("alert exec '%s': exit status 0", k->exec);
		__atomic_add_fetch(&k->st.exec_ok, 1, __ATOMIC_RELAXED);
	} else {
		log_warn("alert exec '%s': %s %d", k->exec,
			 WIFEXITED(status) ? "exit status" : "killed by signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		__atomic_add_fetch(&k->st.exec_failed, 1, __ATOMIC_RELAXED);
	}
}

static void *worker(void *arg)
{
	struct sink *k = arg;
	sigset_t pipe_set;

	/* A hook that exits without reading stdin must not kill the collector. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);

	for (;;) {
		struct item *it;

		pthread_mutex_lock(&k->mu);
		while (!k->stop && !k->head)
			pthread_cond_wait(&k->cv, &k->mu);
		if (k->stop) {
			pthread_mutex_unlock(&k->mu);
			break;
		}
		it = k->head;
		k->head = it->next;
		if (!k->head)
			k->tail = NULL;
		k->len--;
		k->busy = true;
		pthread_mutex_unlock(&k->mu);
		if (k->url)
			deliver_webhook(k, it->json);
		if (k->exec)
			deliver_exec(k, it->json);
		free(it);
		pthread_mutex_lock(&k->mu);
		k->busy = false;
		pthread_cond_broadcast(&k->cv);
		pthread_mutex_unlock(&k->mu);
	}
	return NULL;
}

static char *dup_opt(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

int sink_open(const struct sink_conf *conf, struct sink **out)
{
	struct sink *k = calloc(1, sizeof(*k));
	int err;

	*out = NULL;
	if (!k)
		return -ENOMEM;
	pthread_once(&curl_once, curl_init_once);
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	k->url = dup_opt(conf->webhook_url);
	k->exec = dup_opt(conf->exec);
	k->retries = conf->retries >= 0 ? conf->retries : 5;
	k->backoff_ms = conf->backoff_ms > 0 ? conf->backoff_ms : 500;
	k->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : 10000;
	k->queue_max = conf->queue_max > 0 ? conf->queue_max : 1000;
	err = pthread_create(&k->thread, NULL, worker, k);
	if (err) {
		sink_close(k);
		return -err;
	}
	k->started = true;
	*out = k;
	return 0;
}

void sink_submit(struct sink *k, const char *json)
{
	size_t len = strlen(json);
	struct item *it;

	if (!k || (!k->url && !k->exec))
		return;
	pthread_mutex_lock(&k->mu);
	if (k->len >= k->queue_max) {
		k->st.dropped++;
		pthread_mutex_unlock(&k->mu);
		log_warn("alert sinks: queue full, alert dropped");
		return;
	}
	it = malloc(sizeof(*it) + len + 1);
	if (!it) {
		k->st.dropped++;
		pthread_mutex_unlock(&k->mu);
		return;
	}
	memcpy(it->json, json, len + 1);
	it->next = NULL;
	if (k->tail)
		k->tail->next = it;
	else
		k->head = it;
	k->tail = it;
	k->len++;
	k->st.queued++;
	pthread_cond_broadcast(&k->cv);
	pthread_mutex_unlock(&k->mu);
}

int sink_flush(struct sink *k, int64_t timeout_ms)
{
	int64_t waited = 0;
	bool idle;

	if (!k)
		return 0;
	for (;;) {
		pthread_mutex_lock(&k->mu);
		idle = !k->head && !k->busy;
		pthread_mutex_unlock(&k->mu);
		if (idle)
			return 0;
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		usleep(10000);
		waited += 10;
	}
}

void sink_stats_get(struct sink *k, struct sink_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!k)
		return;
	pthread_mutex_lock(&k->mu);
	*st = k->st;
	pthread_mutex_unlock(&k->mu);
	st->webhook_ok = __atomic_load_n(&k->st.webhook_ok, __ATOMIC_RELAXED);
	st->webhook_failed = __atomic_load_n(&k->st.webhook_failed, __ATOMIC_RELAXED);
	st->exec_ok = __atomic_load_n(&k->st.exec_ok, __ATOMIC_RELAXED);
	st->exec_failed = __atomic_load_n(&k->st.exec_failed, __ATOMIC_RELAXED);
}

void sink_close(struct sink *k)
{
	struct item *it;

	if (!k)
		return;
	if (k->started) {
		pthread_mutex_lock(&k->mu);
		k->stop = true;
		pthread_cond_broadcast(&k->cv);
		pthread_mutex_unlock(&k->mu);
		pthread_join(k->thread, NULL);
	}
	while ((it = k->head)) {
		k->head = it->next;
		free(it);
	}
	pthread_mutex_destroy(&k->mu);
	pthread_cond_destroy(&k->cv);
	free(k->url);
	free(k->exec);
	free(k);
}
