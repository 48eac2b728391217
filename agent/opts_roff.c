/* opts_roff: an option table as man(7) text, for sinch-logd.conf(5), so that
 * the manual lists exactly what the code parses (the README's reference
 * comes from the same tables). */
#include <stdio.h>
#include <string.h>

#include "conf.h"

/* Text safe in roff: backslashes escaped, hyphens as \- (so that option
 * names and values copy as typed), no line starting with a control
 * character, and long URLs breakable. */
static void put_text(FILE *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i]; i++) {
		char c = s[i];
		if (c == '\\')
			fputs("\\e", out);
		else if (c == '-')
			fputs("\\-", out);
		else if ((c == '.' || c == '\'') && i == 0)
			fprintf(out, "\\&%c", c);
		else if (c == '/' || (c == ',' && i + 1 < n && s[i + 1] != ' '))
			fprintf(out, "%c\\:", c); /* URLs and lists may break there */
		else
			fputc(c, out);
	}
}

static void put(FILE *out, const char *s)
{
	put_text(out, s, strlen(s));
}

void opts_print_roff(const struct opt_def *table, FILE *out)
{
	for (const struct opt_def *o = table; o->name; o++) {
		fputs(".TP\n\\fB", out);
		put(out, o->name);
		fputs(o->type == OPT_KV ? "*\\fR" : "\\fR", out);
		if ((o->flags & OPT_SECRET) && o->type != OPT_KV) {
			fputs(" or \\fB", out);
			put(out, o->name);
			fputs("_file\\fR (secret)", out);
		} else if (o->flags & OPT_SECRET) {
			fputs(" (secret)", out);
		}
		fputs(" \\(em ", out);
		if (o->type == OPT_ENUM) {
			fputs("one of ", out);
			for (const char *c = o->choices; c;) {
				size_t n = strcspn(c, "|");
				fputs(c == o->choices ? "\\fB" : ", \\fB", out);
				put_text(out, c, n);
				fputs("\\fR", out);
				c = c[n] ? c + n + 1 : NULL;
			}
		} else {
			fputs(opts_type_name(o->type), out);
		}
		if (o->flags & OPT_REQUIRED) {
			fputs(", required", out);
		} else if (o->def && *o->def) {
			fputs(", default \\fB", out);
			put(out, o->def);
			fputs("\\fR", out);
		}
		fputs("\n", out);
		put(out, o->desc);
		fputs("\n", out);
	}
}
