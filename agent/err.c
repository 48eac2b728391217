#include "err.h"

const char *lg_strerror(int err)
{
	switch ((enum lg_err)err) {
	case LG_OK:
		return "success";
	case LG_ENOMEM:
		return "out of memory";
	case LG_EINVAL:
		return "invalid value";
	case LG_ETOOBIG:
		return "limit exceeded";
	case LG_EIO:
		return "I/O error";
	case LG_EPARSE:
		return "malformed input";
	case LG_EAGAIN:
		return "temporarily unavailable";
	case LG_ECLOSED:
		return "closed";
	case LG_ENOENT:
		return "not found";
	case LG_EBUSY:
		return "in use";
	case LG_ETIMEDOUT:
		return "timed out";
	case LG_EAUTH:
		return "authentication failed";
	case LG_EFORBIDDEN:
		return "forbidden";
	case LG_EPROTO:
		return "protocol error";
	case LG_EREJECTED:
		return "rejected permanently";
	case LG_ECONFIG:
		return "configuration error";
	}
	return "unknown error";
}
