// SPDX-License-Identifier: MIT
/*
 * vmdk_fuse3: the FUSE export of one disk, on libfuse 3's low-level API, as a Node-API addon.
 *
 * Why our own binding: with @cocalc/fuse-native (libfuse 2, high-level API) every 128 KiB read
 * is one synchronous round trip into JavaScript, which caps a sequential copy below libvmdk's
 * vmdkmount even when JavaScript answers instantly. Here the kernel may send reads of up to
 * 1 MiB (FUSE_MAX_PAGES), several at a time (FUSE_ASYNC_READ); the loop thread never waits for
 * JavaScript: it queues each request and goes back to the kernel, and JavaScript replies
 * whenever its read is done.
 *
 * The export is flat and static: a root folder (inode 1) holding files 2..n+1 with fixed names
 * and sizes. Lookup, getattr, readdir, statfs, flush and fsync are answered here; open, read,
 * write and release go to JavaScript as events.
 *
 * Threads: the FUSE loop runs on its own thread and only calls fuse_reply_* for requests it
 * answers itself. Every request forwarded to JavaScript is answered on the main thread. The
 * session (and its /dev/fuse descriptor) is destroyed on the main thread, after the loop thread
 * has ended and every queued event has been drained, so no reply can race the close.
 */
#define FUSE_USE_VERSION 31
#ifdef __APPLE__
/* macFUSE's libfuse 3 swaps in Darwin types (struct fuse_darwin_attr …) unless told not to. */
#define FUSE_DARWIN_ENABLE_EXTENSIONS 0
#endif
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <node_api.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* The kernel caches names and attributes this long: the export never changes while mounted. */
#define ATTR_TIMEOUT_S 3600.0
/* Block size reported by stat and statfs. */
#define BLOCK_BYTES 4096
/* Async requests the kernel may keep in flight (its default is 12). */
#define MAX_BACKGROUND 64
/* Slots of the pending-request table are numbered below this; ids carry a generation above. */
#define SLOT_LIMIT (1u << 20)

enum event_kind { EV_OPEN = 1, EV_READ = 2, EV_WRITE = 3, EV_RELEASE = 4 };

/* One request handed to JavaScript (allocated on the loop thread, freed on the main thread). */
typedef struct event {
	enum event_kind kind;
	fuse_req_t req; /* NULL when nothing is to be answered (open, release) */
	uint32_t file;
	uint64_t fh;
	uint64_t offset;
	size_t size;
	int flags;
	char *data; /* write payload, owned by the event until handed to a Buffer */
} event;

typedef struct export_file {
	char *name;
	uint64_t size;
} export_file;

/* A pending request: slot `i` of the table, with the generation its id was issued under. */
typedef struct pending_slot {
	fuse_req_t req;
	uint32_t generation;
} pending_slot;

typedef struct session {
	struct fuse_session *se;
	pthread_t thread;
	napi_threadsafe_function tsfn;
	napi_deferred closed_deferred;
	export_file *files;
	uint32_t file_count;
	int read_write;
	/* allow_other is on: files and folder are owner-only (default_permissions enforces it). */
	int owner_only;
	uid_t uid;
	gid_t gid;
	struct timespec mtime;
	uint64_t next_fh; /* loop thread only */
	int loop_result;
	int closed; /* main thread: the FUSE session is gone */
	/* Pending requests: main thread only. */
	pending_slot *slots;
	uint32_t slot_capacity;
	uint32_t *free_slots;
	uint32_t free_count;
	uint32_t in_use;
	/* Holds the session's external while the loop runs (deleted when the loop is gone). */
	napi_ref keep;
} session;

/* ---- helpers ---------------------------------------------------------------------------- */

static const export_file *file_of(const session *s, fuse_ino_t ino) {
	if (ino < 2 || ino - 2 >= s->file_count) return NULL;
	return &s->files[ino - 2];
}

static void fill_stat(const session *s, fuse_ino_t ino, struct stat *st) {
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	st->st_uid = s->uid;
	st->st_gid = s->gid;
#ifdef __APPLE__
	st->st_atimespec = s->mtime;
	st->st_mtimespec = s->mtime;
	st->st_ctimespec = s->mtime;
#else
	st->st_atim = s->mtime;
	st->st_mtim = s->mtime;
	st->st_ctim = s->mtime;
#endif
	st->st_blksize = BLOCK_BYTES;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | (s->owner_only ? 0500 : 0555);
		st->st_nlink = 2;
		return;
	}
	const export_file *f = file_of(s, ino);
	st->st_mode = S_IFREG | (s->owner_only ? (s->read_write ? 0600 : 0400) : (s->read_write ? 0644 : 0444));
	st->st_nlink = 1;
	st->st_size = (off_t)f->size;
	st->st_blocks = (blkcnt_t)((f->size + 511) / 512);
}

static void post(session *s, event *ev) {
	if (napi_call_threadsafe_function(s->tsfn, ev, napi_tsfn_nonblocking) != napi_ok) {
		/* Only when the function is closing: nobody will answer, so answer now. */
		if (ev->req != NULL) fuse_reply_err(ev->req, EIO);
		free(ev->data);
		free(ev);
	}
}

static event *new_event(enum event_kind kind, fuse_req_t req, fuse_ino_t ino) {
	event *ev = calloc(1, sizeof *ev);
	if (ev == NULL) return NULL;
	ev->kind = kind;
	ev->req = req;
	ev->file = (uint32_t)(ino - 2);
	return ev;
}

/* ---- low-level operations (loop thread) ------------------------------------------------- */

static void op_init(void *userdata, struct fuse_conn_info *conn) {
	(void)userdata;
	conn->max_background = MAX_BACKGROUND;
	conn->congestion_threshold = MAX_BACKGROUND * 3 / 4;
	if (conn->capable & FUSE_CAP_ASYNC_READ) conn->want |= FUSE_CAP_ASYNC_READ;
	/* No locks, no ioctls: the defaults of the kernel are right for a static export. */
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
	session *s = fuse_req_userdata(req);
	if (parent != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	for (uint32_t i = 0; i < s->file_count; i++) {
		if (strcmp(s->files[i].name, name) != 0) continue;
		struct fuse_entry_param e;
		memset(&e, 0, sizeof e);
		e.ino = i + 2;
		e.attr_timeout = ATTR_TIMEOUT_S;
		e.entry_timeout = ATTR_TIMEOUT_S;
		fill_stat(s, e.ino, &e.attr);
		fuse_reply_entry(req, &e);
		return;
	}
	fuse_reply_err(req, ENOENT);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
	(void)fi;
	session *s = fuse_req_userdata(req);
	if (ino != FUSE_ROOT_ID && file_of(s, ino) == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct stat st;
	fill_stat(s, ino, &st);
	fuse_reply_attr(req, &st, ATTR_TIMEOUT_S);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
	(void)fi;
	session *s = fuse_req_userdata(req);
	const export_file *f = file_of(s, ino);
	if (f == NULL) {
		fuse_reply_err(req, ino == FUSE_ROOT_ID ? EPERM : ENOENT);
		return;
	}
	if (!s->read_write) {
		fuse_reply_err(req, EROFS);
		return;
	}
	/* A disk's size is fixed; truncating to its own size (O_TRUNC-free tools do it) is fine. */
	if ((to_set & FUSE_SET_ATTR_SIZE) && (uint64_t)attr->st_size != f->size) {
		fuse_reply_err(req, EPERM);
		return;
	}
	struct stat st;
	fill_stat(s, ino, &st);
	fuse_reply_attr(req, &st, ATTR_TIMEOUT_S);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
	(void)fi;
	session *s = fuse_req_userdata(req);
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	char *buf = malloc(size);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	size_t used = 0;
	/* Entry k (0 ".", 1 "..", 2.. the files) is followed by offset k + 1. */
	for (off_t k = off; k < (off_t)s->file_count + 2; k++) {
		struct stat st;
		memset(&st, 0, sizeof st);
		const char *name;
		if (k < 2) {
			name = k == 0 ? "." : "..";
			st.st_ino = FUSE_ROOT_ID;
			st.st_mode = S_IFDIR;
		} else {
			name = s->files[k - 2].name;
			st.st_ino = (ino_t)k;
			st.st_mode = S_IFREG;
		}
		size_t need = fuse_add_direntry(req, buf + used, size - used, name, &st, k + 1);
		if (need > size - used) break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
	session *s = fuse_req_userdata(req);
	if (ino == FUSE_ROOT_ID) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (file_of(s, ino) == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY && !s->read_write) {
		fuse_reply_err(req, EROFS);
		return;
	}
	event *ev = new_event(EV_OPEN, NULL, ino);
	if (ev == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = ++s->next_fh;
	/* Pages stay cached across opens only when the bytes cannot change under them. */
	fi->keep_cache = !s->read_write;
	ev->fh = fi->fh;
	ev->flags = fi->flags;
	/* Queued before the reply: JavaScript sees the open before any read on this handle. */
	post(s, ev);
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
	session *s = fuse_req_userdata(req);
	const export_file *f = file_of(s, ino);
	if (f == NULL) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (off < 0 || (uint64_t)off >= f->size || size == 0) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	uint64_t left = f->size - (uint64_t)off;
	event *ev = new_event(EV_READ, req, ino);
	if (ev == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ev->fh = fi->fh;
	ev->offset = (uint64_t)off;
	ev->size = size < left ? size : (size_t)left;
	post(s, ev);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi) {
	session *s = fuse_req_userdata(req);
	const export_file *f = file_of(s, ino);
	if (f == NULL) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (!s->read_write) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (off < 0 || (uint64_t)off >= f->size) {
		fuse_reply_err(req, ENOSPC);
		return;
	}
	uint64_t left = f->size - (uint64_t)off;
	size_t n = size < left ? size : (size_t)left;
	event *ev = new_event(EV_WRITE, req, ino);
	char *copy = malloc(n > 0 ? n : 1);
	if (ev == NULL || copy == NULL) {
		free(ev);
		free(copy);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* libfuse reuses its buffer once this returns; JavaScript answers later. */
	memcpy(copy, buf, n);
	ev->fh = fi->fh;
	ev->offset = (uint64_t)off;
	ev->size = n;
	ev->data = copy;
	post(s, ev);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
	session *s = fuse_req_userdata(req);
	event *ev = new_event(EV_RELEASE, NULL, ino);
	if (ev != NULL) {
		ev->fh = fi->fh;
		post(s, ev);
	}
	fuse_reply_err(req, 0);
}

static void op_ok(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
	(void)datasync;
	op_ok(req, ino, fi);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino) {
	(void)ino;
	session *s = fuse_req_userdata(req);
	struct statvfs st;
	memset(&st, 0, sizeof st);
	uint64_t total = 0;
	for (uint32_t i = 0; i < s->file_count; i++) total += s->files[i].size;
	st.f_bsize = BLOCK_BYTES;
	st.f_frsize = BLOCK_BYTES;
	st.f_blocks = (fsblkcnt_t)((total + BLOCK_BYTES - 1) / BLOCK_BYTES);
	st.f_files = s->file_count + 1;
	st.f_namemax = 255;
	st.f_flag = s->read_write ? 0 : ST_RDONLY;
	fuse_reply_statfs(req, &st);
}

static const struct fuse_lowlevel_ops OPS = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readdir = op_readdir,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.release = op_release,
	.flush = op_ok,
	.fsync = op_fsync,
	.statfs = op_statfs,
};

static void *loop_main(void *arg) {
	session *s = arg;
	/* Signals belong to Node's main thread. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	s->loop_result = fuse_session_loop(s->se);
	/* The last thing this thread does: the main thread drains the queue, then finalizes. */
	napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
	return NULL;
}

/* ---- pending-request table (main thread) ------------------------------------------------ */

static int pending_add(session *s, fuse_req_t req, double *id_out) {
	if (s->free_count == 0) {
		if (s->slot_capacity >= SLOT_LIMIT) return -1;
		uint32_t grown = s->slot_capacity == 0 ? 64 : s->slot_capacity * 2;
		if (grown > SLOT_LIMIT) grown = SLOT_LIMIT;
		pending_slot *slots = realloc(s->slots, grown * sizeof *slots);
		if (slots == NULL) return -1;
		s->slots = slots;
		uint32_t *free_slots = realloc(s->free_slots, grown * sizeof *free_slots);
		if (free_slots == NULL) return -1;
		s->free_slots = free_slots;
		for (uint32_t i = grown; i > s->slot_capacity; i--) {
			s->slots[i - 1].req = NULL;
			s->slots[i - 1].generation = 0;
			s->free_slots[s->free_count++] = i - 1;
		}
		s->slot_capacity = grown;
	}
	uint32_t slot = s->free_slots[--s->free_count];
	s->slots[slot].req = req;
	s->slots[slot].generation++;
	s->in_use++;
	*id_out = (double)s->slots[slot].generation * SLOT_LIMIT + slot;
	return 0;
}

/* Takes the request behind `id` out of the table; NULL when it is unknown or already answered. */
static fuse_req_t pending_take(session *s, double id) {
	if (!(id >= 0) || id > 9007199254740991.0) return NULL;
	uint64_t n = (uint64_t)id;
	uint32_t slot = (uint32_t)(n % SLOT_LIMIT);
	uint64_t generation = n / SLOT_LIMIT;
	if (slot >= s->slot_capacity) return NULL;
	pending_slot *p = &s->slots[slot];
	if (p->req == NULL || p->generation != generation) return NULL;
	fuse_req_t req = p->req;
	p->req = NULL;
	s->free_slots[s->free_count++] = slot;
	s->in_use--;
	return req;
}

/* ---- JavaScript side -------------------------------------------------------------------- */

#define CHECK(env, call)                                                                          \
	do {                                                                                      \
		if ((call) != napi_ok) {                                                          \
			const napi_extended_error_info *info_;                                    \
			napi_get_last_error_info((env), &info_);                                  \
			bool pending_;                                                            \
			napi_is_exception_pending((env), &pending_);                              \
			if (!pending_)                                                            \
				napi_throw_error((env), NULL,                                     \
						 info_ && info_->error_message ? info_->error_message \
									       : "napi call failed"); \
			return NULL;                                                              \
		}                                                                                 \
	} while (0)

static void free_payload(napi_env env, void *data, void *hint) {
	(void)env;
	(void)hint;
	free(data);
}

static void call_js(napi_env env, napi_value handler, void *context, void *data) {
	session *s = context;
	event *ev = data;
	if (env == NULL || handler == NULL) {
		/* Torn down with events still queued: answer what needs an answer. */
		if (ev->req != NULL) fuse_reply_err(ev->req, EIO);
		free(ev->data);
		free(ev);
		return;
	}
	double id = -1;
	if (ev->req != NULL && pending_add(s, ev->req, &id) != 0) {
		fuse_reply_err(ev->req, ENOMEM);
		free(ev->data);
		free(ev);
		return;
	}
	napi_value argv[6];
	napi_create_uint32(env, ev->kind, &argv[0]);
	napi_create_double(env, id, &argv[1]);
	napi_create_uint32(env, ev->file, &argv[2]);
	napi_create_double(env, (double)ev->fh, &argv[3]);
	napi_create_double(env, (double)ev->offset, &argv[4]);
	if (ev->kind == EV_WRITE) {
		void *payload = ev->data;
		ev->data = NULL;
		/* The Buffer owns the payload from here (freed by the finalizer below). */
		if (napi_create_external_buffer(env, ev->size, payload, free_payload, NULL, &argv[5]) != napi_ok) {
			napi_value copy;
			void *dest;
			napi_create_buffer_copy(env, ev->size, payload, &dest, &copy);
			free(payload);
			argv[5] = copy;
		}
	} else if (ev->kind == EV_OPEN) {
		napi_create_int32(env, ev->flags, &argv[5]);
	} else {
		napi_create_double(env, (double)ev->size, &argv[5]);
	}
	free(ev);
	napi_value global;
	napi_get_global(env, &global);
	napi_call_function(env, global, handler, 6, argv, NULL);
	/* An exception thrown by the handler surfaces as an uncaught exception in Node. */
}

static void finalize_tsfn(napi_env env, void *finalize_data, void *hint) {
	(void)hint;
	session *s = finalize_data;
	pthread_join(s->thread, NULL);
	/* Anything JavaScript has not answered gets EIO; the connection is gone anyway. */
	for (uint32_t i = 0; i < s->slot_capacity; i++) {
		if (s->slots[i].req != NULL) {
			fuse_reply_err(s->slots[i].req, EIO);
			s->slots[i].req = NULL;
		}
	}
	s->in_use = 0;
	fuse_session_unmount(s->se);
	fuse_session_destroy(s->se);
	s->se = NULL;
	s->closed = 1;
	napi_handle_scope scope;
	napi_open_handle_scope(env, &scope);
	napi_value result;
	napi_create_int32(env, s->loop_result, &result);
	napi_resolve_deferred(env, s->closed_deferred, result);
	napi_close_handle_scope(env, scope);
	napi_delete_reference(env, s->keep);
}

static void free_session(napi_env env, void *data, void *hint) {
	(void)env;
	(void)hint;
	session *s = data;
	/* Only reached once nothing refers to the session any more; a live loop keeps it referenced
	 * through the thread-safe function, so `se` is already gone here unless mount failed. */
	for (uint32_t i = 0; i < s->file_count; i++) free(s->files[i].name);
	free(s->files);
	free(s->slots);
	free(s->free_slots);
	free(s);
}

static session *session_arg(napi_env env, napi_value value) {
	void *data = NULL;
	if (napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
		napi_throw_type_error(env, NULL, "expected a FUSE session");
		return NULL;
	}
	return data;
}

static char *string_arg(napi_env env, napi_value value) {
	size_t len = 0;
	if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok) return NULL;
	char *out = malloc(len + 1);
	if (out == NULL) return NULL;
	napi_get_value_string_utf8(env, value, out, len + 1, &len);
	return out;
}

static napi_value named(napi_env env, napi_value obj, const char *name) {
	napi_value v = NULL;
	napi_get_named_property(env, obj, name, &v);
	return v;
}

/* Mount options are comma-separated: refuse values that would smuggle in another option. */
static int option_value_ok(const char *v) {
	return v[0] != '\0' && strpbrk(v, ",\\\n") == NULL && strlen(v) < 256;
}

/*
 * mount(mountpoint, { fsName, readWrite, allowOther, allowRoot, uid, gid, mtimeMs, files: [{ name, size }] },
 *       handler(kind, id, file, fh, offset, sizeOrFlagsOrData)) → { session, closed: Promise<number> }
 */
static napi_value js_mount(napi_env env, napi_callback_info info) {
	size_t argc = 3;
	napi_value argv[3];
	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 3) {
		napi_throw_type_error(env, NULL, "mount(mountpoint, options, handler)");
		return NULL;
	}
	char *mountpoint = string_arg(env, argv[0]);
	if (mountpoint == NULL) {
		napi_throw_type_error(env, NULL, "mountpoint must be a string");
		return NULL;
	}
	session *s = calloc(1, sizeof *s);
	if (s == NULL) {
		free(mountpoint);
		napi_throw_error(env, NULL, "out of memory");
		return NULL;
	}
	napi_value opts = argv[1];
	bool flag = false;
	napi_get_value_bool(env, named(env, opts, "readWrite"), &flag);
	s->read_write = flag;
	bool allow_other = false;
	napi_get_value_bool(env, named(env, opts, "allowOther"), &allow_other);
	s->owner_only = allow_other;
	bool allow_root = false;
	napi_get_value_bool(env, named(env, opts, "allowRoot"), &allow_root);
	uint32_t u = 0;
	napi_get_value_uint32(env, named(env, opts, "uid"), &u);
	s->uid = u;
	u = 0;
	napi_get_value_uint32(env, named(env, opts, "gid"), &u);
	s->gid = u;
	double mtime_ms = 0;
	napi_get_value_double(env, named(env, opts, "mtimeMs"), &mtime_ms);
	s->mtime.tv_sec = (time_t)(mtime_ms / 1000);
	s->mtime.tv_nsec = (long)((mtime_ms - (double)s->mtime.tv_sec * 1000) * 1e6);
	char *fsname = string_arg(env, named(env, opts, "fsName"));

	napi_value files = named(env, opts, "files");
	uint32_t count = 0;
	napi_get_array_length(env, files, &count);
	s->files = calloc(count > 0 ? count : 1, sizeof *s->files);
	int bad = s->files == NULL || count == 0 || fsname == NULL || !option_value_ok(fsname);
	for (uint32_t i = 0; !bad && i < count; i++) {
		napi_value f;
		napi_get_element(env, files, i, &f);
		char *name = string_arg(env, named(env, f, "name"));
		double size = -1;
		napi_get_value_double(env, named(env, f, "size"), &size);
		if (name == NULL || name[0] == '\0' || strchr(name, '/') != NULL || !(size >= 0) ||
		    size > 9007199254740991.0) {
			free(name);
			bad = 1;
			break;
		}
		s->files[i].name = name;
		s->files[i].size = (uint64_t)size;
		s->file_count = i + 1;
	}
	napi_value session_value;
	CHECK(env, napi_create_external(env, s, free_session, NULL, &session_value));
	if (bad) {
		free(mountpoint);
		free(fsname);
		napi_throw_type_error(env, NULL, "bad export options (files, fsName)");
		return NULL;
	}

	char options[640];
	const char *access = allow_other ? ",allow_other" : allow_root ? ",allow_root" : "";
#ifdef __APPLE__
	/* macFUSE's mount helper knows no `subtype`; `nobrowse` keeps the export out of Finder. */
	snprintf(options, sizeof options, "%s,fsname=%s%s,default_permissions,nobrowse", s->read_write ? "rw" : "ro",
		 fsname, access);
#else
	snprintf(options, sizeof options, "%s,fsname=%s,subtype=vmdk-mounter%s,default_permissions",
		 s->read_write ? "rw" : "ro", fsname, access);
#endif
	free(fsname);
	char *args_v[] = {"vmdk-mounter", "-o", options, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, args_v);
	s->se = fuse_session_new(&args, &OPS, sizeof OPS, s);
	if (s->se == NULL) {
		free(mountpoint);
		napi_throw_error(env, "EFUSE", "fuse_session_new failed (bad mount options?)");
		return NULL;
	}
	if (fuse_session_mount(s->se, mountpoint) != 0) {
		fuse_session_destroy(s->se);
		s->se = NULL;
		napi_value err, msg, code;
		char text[600];
		snprintf(text, sizeof text, "cannot mount FUSE at %s (is /dev/fuse usable and fusermount3 installed?)",
			 mountpoint);
		free(mountpoint);
		napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
		napi_create_string_utf8(env, "EFUSEMOUNT", NAPI_AUTO_LENGTH, &code);
		napi_create_error(env, code, msg, &err);
		napi_throw(env, err);
		return NULL;
	}
	free(mountpoint);

	napi_value promise, name;
	CHECK(env, napi_create_promise(env, &s->closed_deferred, &promise));
	CHECK(env, napi_create_string_utf8(env, "vmdk-fuse3", NAPI_AUTO_LENGTH, &name));
	if (napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, s, finalize_tsfn, s, call_js, &s->tsfn) !=
		    napi_ok ||
	    pthread_create(&s->thread, NULL, loop_main, s) != 0) {
		fuse_session_unmount(s->se);
		fuse_session_destroy(s->se);
		s->se = NULL;
		napi_throw_error(env, NULL, "cannot start the FUSE loop");
		return NULL;
	}
	/* The struct must outlive the loop thread: the reference is dropped in finalize_tsfn. */
	napi_create_reference(env, session_value, 1, &s->keep);

	napi_value result;
	CHECK(env, napi_create_object(env, &result));
	CHECK(env, napi_set_named_property(env, result, "session", session_value));
	CHECK(env, napi_set_named_property(env, result, "closed", promise));
	return result;
}

static napi_value reply_common(napi_env env, napi_callback_info info, int kind) {
	size_t argc = 4;
	napi_value argv[4];
	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 3) {
		napi_throw_type_error(env, NULL, "reply(session, id, …)");
		return NULL;
	}
	session *s = session_arg(env, argv[0]);
	if (s == NULL) return NULL;
	double id = -1;
	CHECK(env, napi_get_value_double(env, argv[1], &id));
	napi_value answered;
	if (s->closed) {
		napi_get_boolean(env, false, &answered);
		return answered;
	}
	fuse_req_t req = pending_take(s, id);
	if (req == NULL) {
		napi_throw_error(env, NULL, "unknown or already answered FUSE request");
		return NULL;
	}
	if (kind == 0) { /* replyError(session, id, errno) */
		int32_t code = EIO;
		napi_get_value_int32(env, argv[2], &code);
		fuse_reply_err(req, code > 0 ? code : EIO);
	} else if (kind == 1) { /* replyData(session, id, buffer, length) */
		void *data = NULL;
		size_t length = 0;
		uint32_t n = 0;
		bool ok = napi_get_buffer_info(env, argv[2], &data, &length) == napi_ok;
		if (!ok) {
			napi_typedarray_type type;
			napi_value ab;
			size_t offset;
			ok = napi_get_typedarray_info(env, argv[2], &type, &length, &data, &ab, &offset) == napi_ok &&
			     type == napi_uint8_array;
		}
		if (ok && argc > 3) ok = napi_get_value_uint32(env, argv[3], &n) == napi_ok && n <= length;
		if (!ok) {
			fuse_reply_err(req, EIO);
			napi_throw_type_error(env, NULL, "replyData(session, id, Uint8Array, length ≤ its size)");
			return NULL;
		}
		fuse_reply_buf(req, data, n);
	} else { /* replyWrite(session, id, count) */
		uint32_t n = 0;
		napi_get_value_uint32(env, argv[2], &n);
		fuse_reply_write(req, n);
	}
	napi_get_boolean(env, true, &answered);
	return answered;
}

static napi_value js_reply_error(napi_env env, napi_callback_info info) { return reply_common(env, info, 0); }
static napi_value js_reply_data(napi_env env, napi_callback_info info) { return reply_common(env, info, 1); }
static napi_value js_reply_write(napi_env env, napi_callback_info info) { return reply_common(env, info, 2); }

/* pending(session) → requests JavaScript still has to answer (for tests and leak checks). */
static napi_value js_pending(napi_env env, napi_callback_info info) {
	size_t argc = 1;
	napi_value argv[1];
	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	session *s = argc > 0 ? session_arg(env, argv[0]) : NULL;
	if (s == NULL) return NULL;
	napi_value out;
	napi_create_uint32(env, s->in_use, &out);
	return out;
}

/*
 * trimMemory() → true when memory was returned. The daemon calls it when its last disk is
 * unmounted: glibc keeps freed heap pages (read buffers of every thread's arena) until asked.
 */
static napi_value js_trim_memory(napi_env env, napi_callback_info info) {
	(void)info;
	napi_value out;
#ifdef __GLIBC__
	napi_get_boolean(env, malloc_trim(0) != 0, &out);
#else
	napi_get_boolean(env, false, &out);
#endif
	return out;
}

static napi_value init(napi_env env, napi_value exports) {
	napi_property_descriptor props[] = {
		{"mount", NULL, js_mount, NULL, NULL, NULL, napi_enumerable, NULL},
		{"replyError", NULL, js_reply_error, NULL, NULL, NULL, napi_enumerable, NULL},
		{"replyData", NULL, js_reply_data, NULL, NULL, NULL, napi_enumerable, NULL},
		{"replyWrite", NULL, js_reply_write, NULL, NULL, NULL, napi_enumerable, NULL},
		{"pending", NULL, js_pending, NULL, NULL, NULL, napi_enumerable, NULL},
		{"trimMemory", NULL, js_trim_memory, NULL, NULL, NULL, napi_enumerable, NULL},
	};
	napi_value kinds;
	napi_create_object(env, &kinds);
	const char *names[] = {"open", "read", "write", "release"};
	for (int i = 0; i < 4; i++) {
		napi_value v;
		napi_create_uint32(env, (uint32_t)(i + 1), &v);
		napi_set_named_property(env, kinds, names[i], v);
	}
	napi_set_named_property(env, exports, "EVENT", kinds);
	napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
