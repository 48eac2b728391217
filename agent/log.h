/* log: the agent's own log. One line per message on stderr:
 *   2026-12-03T19:07:44.123Z warning [stream ivr-handler] message
 * `who` names the stream, sink or module. Never pass a token or secret. */
#ifndef SINCH_LOG_H
#define SINCH_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERROR };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "debug", "info", "warning" (or "warn"), "error"; -1 if unknown. */
int log_level_parse(const char *s);
void log_msg(enum log_level level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(who, ...) log_msg(LOG_DEBUG, who, __VA_ARGS__)
#define log_info(who, ...) log_msg(LOG_INFO, who, __VA_ARGS__)
#define log_warn(who, ...) log_msg(LOG_WARNING, who, __VA_ARGS__)
#define log_error(who, ...) log_msg(LOG_ERROR, who, __VA_ARGS__)

#endif
