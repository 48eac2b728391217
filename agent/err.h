/* err: the agent's error numbers. Every fallible function returns 0 or one of
 * these negative values; lg_strerror() names them. No other meaning hides in
 * a -1. */
#ifndef SINCH_ERR_H
#define SINCH_ERR_H

enum lg_err {
	LG_OK = 0,
	LG_ENOMEM = -1,      /* allocation failed */
	LG_EINVAL = -2,      /* invalid argument or value */
	LG_ETOOBIG = -3,     /* a bounded buffer or limit would be exceeded */
	LG_EIO = -4,         /* a system call failed (errno logged by the caller) */
	LG_EPARSE = -5,      /* malformed input */
	LG_EAGAIN = -6,      /* try again later (transient) */
	LG_ECLOSED = -7,     /* the object is closing or closed */
	LG_ENOENT = -8,      /* not found */
	LG_EBUSY = -9,       /* held by someone else (e.g. a locked state dir) */
	LG_ETIMEDOUT = -10,  /* a deadline passed */
	LG_EAUTH = -11,      /* authentication failed (401) */
	LG_EFORBIDDEN = -12, /* not allowed (403) */
	LG_EPROTO = -13,     /* the peer broke the protocol */
	LG_EREJECTED = -14,  /* permanently rejected: one record can never be delivered */
	LG_ECONFIG = -15,    /* configuration error (already reported file:line) */
};

const char *lg_strerror(int err);

#endif
