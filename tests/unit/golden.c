/*
 * golden - golden-file test helper (see golden.h). Test-only; reads files
 * of the source tree.
 */
#include "golden.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
unescape(const char *s, size_t len, struct strbuf *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] != '\\' || i + 1 >= len) {
			strbuf_append_char(out, s[i]);
			continue;
		}
		switch (s[i + 1]) {
		case '0':
			strbuf_append_char(out, '\0');
			i++;
			break;
		case 'r':
			strbuf_append_char(out, '\r');
			i++;
			break;
		case 'n':
			strbuf_append_char(out, '\n');
			i++;
			break;
		case 't':
			strbuf_append_char(out, '\t');
			i++;
			break;
		case '\\':
			strbuf_append_char(out, '\\');
			i++;
			break;
		case 'x':
			if (i + 3 < len && hexval(s[i + 2]) >= 0 &&
			    hexval(s[i + 3]) >= 0) {
				strbuf_append_char(
				    out, (char)(hexval(s[i + 2]) * 16 +
						hexval(s[i + 3])));
				i += 3;
			} else {
				strbuf_append_char(out, '\\');
			}
			break;
		case '{': {
			char *end;
			unsigned long n = strtoul(s + i + 2, &end, 10), k;

			if (*end == '*' && end[1] != '\0' && end[2] == '}') {
				for (k = 0; k < n; k++)
					strbuf_append_char(out, end[1]);
				i = (size_t)(end + 2 - s);
			} else {
				strbuf_append_char(out, '\\');
			}
			break;
		}
		default:
			strbuf_append_char(out, '\\');
		}
	}
}

void
golden_quote(struct strbuf *out, const char *s, size_t len)
{
	size_t i;

	strbuf_append_char(out, '"');
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 32 && c < 127 && c != '"' && c != '\\')
			strbuf_append_char(out, (char)c);
		else
			strbuf_printf(out, "\\x%02X", c);
	}
	strbuf_append_char(out, '"');
}

static char *
read_file(const char *name)
{
	const char *dir = getenv("DOVETAIL_SOURCE_DIR");
	char path[4096];
	FILE *f;
	char *data;
	long size;

	snprintf(path, sizeof(path), "%s/tests/unit/%s",
		 dir != NULL ? dir : ".", name);
	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "cannot open %s\n", path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	data = calloc(1, (size_t)size + 1);
	if (data == NULL || fread(data, 1, (size_t)size, f) != (size_t)size) {
		fclose(f);
		free(data);
		return NULL;
	}
	fclose(f);
	return data;
}

int
golden_run(const char *in_name, const char *ref_name, golden_case_fn *fn)
{
	char *in = read_file(in_name), *ref = read_file(ref_name);
	const char *write_path = getenv("DOVETAIL_GOLDEN_WRITE");
	FILE *wf = NULL;
	char flags[256] = "";
	char *line, *next, *refline, *refnext;
	struct strbuf input, out;
	int mismatches = 0, lineno = 0, cases = 0;

	if (in == NULL || ref == NULL) {
		free(in);
		free(ref);
		return -1;
	}
	if (write_path != NULL)
		wf = fopen(write_path, "w");
	strbuf_init(&input, STRBUF_UNLIMITED);
	strbuf_init(&out, STRBUF_UNLIMITED);
	refline = ref;
	for (line = in; line != NULL && *line != '\0'; line = next) {
		size_t len;

		next = strchr(line, '\n');
		len = next != NULL ? (size_t)(next - line) : strlen(line);
		if (next != NULL)
			next++;
		lineno++;
		if (len == 0)
			continue;
		if (line[0] == '#') {
			if (len > 7 && strncmp(line, "#flags:", 7) == 0) {
				size_t fl = len - 7 < sizeof(flags)
						? len - 7
						: sizeof(flags) - 1;
				memcpy(flags, line + 7, fl);
				flags[fl] = '\0';
			}
			continue;
		}
		cases++;
		strbuf_reset(&input);
		strbuf_reset(&out);
		unescape(line, len, &input);
		fn(input.data != NULL ? input.data : "", input.len, flags,
		   &out);
		if (wf != NULL)
			fprintf(wf, "%s\n", strbuf_cstr(&out));
		if (refline == NULL || *refline == '\0') {
			fprintf(stderr, "%s:%d: no reference line for: %s\n",
				in_name, lineno, strbuf_cstr(&out));
			mismatches++;
			continue;
		}
		refnext = strchr(refline, '\n');
		if (refnext != NULL)
			*refnext++ = '\0';
		if (strcmp(refline, strbuf_cstr(&out)) != 0) {
			fprintf(stderr,
				"%s:%d: %.*s\n  expected: %s\n  got:      %s\n",
				in_name, lineno, (int)(len > 200 ? 200 : len),
				line, refline, strbuf_cstr(&out));
			mismatches++;
		}
		refline = refnext;
	}
	if (refline != NULL && *refline != '\0') {
		fprintf(stderr, "%s: extra reference lines\n", ref_name);
		mismatches++;
	}
	fprintf(stderr, "%s: %d cases, %d mismatches\n", in_name, cases,
		mismatches);
	if (wf != NULL)
		fclose(wf);
	strbuf_release(&input);
	strbuf_release(&out);
	free(in);
	free(ref);
	return mismatches;
}
