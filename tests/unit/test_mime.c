/*
 * test_mime - golden tests of the message layer: every tests/unit/mime/
 * NAME.eml is parsed by mime_parse (whole, and fed in 1-, 3- and 61-byte
 * chunks, which must give the same tree) and its BODYSTRUCTURE, BODY,
 * ENVELOPE and RFC822.SIZE are compared with NAME.*.ref, produced by
 * Dovecot 2.3 (see mime/README). DOVETAIL_MIME_WRITE=dir also writes
 * what was produced into dir, to review a difference. Test-only; reads the
 * source tree.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mail/imap_bodystructure.h"
#include "mail/mime_parse.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#define MAX_CASES 256

static char *
read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *data;
	long size;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	data = xmalloc((size_t)size + 1);
	*len_r = fread(data, 1, (size_t)size, f);
	data[*len_r] = '\0';
	fclose(f);
	return data;
}

static const char *
corpus_dir(void)
{
	static char dir[4096];
	const char *src = getenv("DOVETAIL_SOURCE_DIR");

	snprintf(dir, sizeof(dir), "%s/tests/unit/mime",
		 src != NULL ? src : ".");
	return dir;
}

/* The same tree: same shape, flags, offsets and sizes. */
static bool
same_tree(const struct mime_part *a, const struct mime_part *b)
{
	for (; a != NULL && b != NULL; a = a->next, b = b->next) {
		if (a->flags != b->flags || a->depth != b->depth ||
		    a->header_offset != b->header_offset ||
		    a->body_offset != b->body_offset ||
		    memcmp(&a->header, &b->header, sizeof(a->header)) != 0 ||
		    memcmp(&a->body, &b->body, sizeof(a->body)) != 0 ||
		    !same_tree(a->children, b->children))
			return false;
	}
	return a == NULL && b == NULL;
}

static struct mime_part *
parse_chunked(const char *msg, size_t len, size_t chunk)
{
	struct mime_parser *p = mime_parser_new(NULL);
	size_t off;

	for (off = 0; off < len; off += chunk)
		mime_parser_feed(p, msg + off,
				 len - off < chunk ? len - off : chunk);
	return mime_parser_finish(&p);
}

/* Compares got with the .ref file (its final newline removed). */
static int
compare_ref(const char *base, const char *ext, const struct strbuf *got)
{
	char path[4200];
	char *ref;
	size_t ref_len;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/%s.%s.ref", corpus_dir(), base, ext);
	if ((ref = read_file(path, &ref_len)) == NULL) {
		print_error("%s: cannot read\n", path);
		return -1;
	}
	if (ref_len > 0 && ref[ref_len - 1] == '\n')
		ref_len--;
	if (getenv("DOVETAIL_MIME_WRITE") != NULL) {
		/* for review: the produced value, never into the corpus */
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s.%s.ref",
			 getenv("DOVETAIL_MIME_WRITE"), base, ext);
		if ((f = fopen(path, "wb")) != NULL) {
			fwrite(got->data, 1, got->len, f);
			fputc('\n', f);
			fclose(f);
		}
	}
	if (ref_len != got->len || memcmp(ref, got->data, ref_len) != 0) {
		print_error("%s.%s differs:\n  want: %.*s\n  got:  %s\n", base,
			    ext, (int)ref_len, ref, strbuf_cstr(got));
		ret = -1;
	}
	xfree(&ref);
	return ret;
}

static void
test_golden(void **state)
{
	const char *base = *state;
	char path[4200];
	size_t len, chunks[] = {1, 3, 61};
	char *msg;
	struct mime_part *root;
	struct strbuf out;
	unsigned int i;
	int failed = 0;

	snprintf(path, sizeof(path), "%s/%s.eml", corpus_dir(), base);
	msg = read_file(path, &len);
	assert_non_null(msg);
	root = mime_parse_message(msg, len, NULL);
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct mime_part *r2 = parse_chunked(msg, len, chunks[i]);

		if (!same_tree(root, r2)) {
			print_error("%s: tree differs when fed in %zu-byte "
				    "chunks\n",
				    base, chunks[i]);
			failed++;
		}
		mime_part_free(&r2);
	}
	strbuf_init(&out, 1 << 24);
	assert_int_equal(imap_bodystructure_write(&out, msg, len, root, true),
			 0);
	failed += compare_ref(base, "bodystructure", &out) < 0;
	strbuf_reset(&out);
	assert_int_equal(imap_bodystructure_write(&out, msg, len, root, false),
			 0);
	failed += compare_ref(base, "body", &out) < 0;
	strbuf_reset(&out);
	assert_int_equal(imap_envelope_write(&out, msg + root->header_offset,
					     (size_t)root->header.physical),
			 0);
	failed += compare_ref(base, "envelope", &out) < 0;
	strbuf_reset(&out);
	strbuf_printf(
	    &out, "%llu",
	    (unsigned long long)(root->header.virtual + root->body.virtual));
	failed += compare_ref(base, "size", &out) < 0;
	strbuf_release(&out);
	mime_part_free(&root);
	xfree(&msg);
	assert_int_equal(failed, 0);
}

/* RFC 2046: the line break before a boundary is the boundary's. A part
   whose header's empty line is directly followed by the boundary has a
   header without it and an empty body (as Dovecot counts it); a part with
   a body keeps its empty line. */
static void
test_header_break_before_boundary(void **state)
{
	static const char msg[] = "Content-Type: multipart/mixed; boundary=b\n"
				  "\n"
				  "--b\n"
				  "Content-Type: text/plain\n"
				  "\n"
				  "--b\r\n"
				  "X: y\r\n"
				  "\r\n"
				  "--b\n"
				  "X: z\n"
				  "\n"
				  "body\n"
				  "--b--\n";
	struct mime_part *root;
	const struct mime_part *p1, *p2, *p3;

	(void)state;
	root = mime_parse_message(msg, sizeof(msg) - 1, NULL);
	assert_int_equal(root->children_count, 3);
	p1 = root->children;
	p2 = p1->next;
	p3 = p2->next;
	/* "Content-Type: text/plain\n": 25 bytes, 1 line, no empty line */
	assert_int_equal(p1->header.physical, 25);
	assert_int_equal(p1->header.virtual, 26);
	assert_int_equal(p1->header.lines, 1);
	assert_int_equal(p1->body_offset, p1->header_offset + 25);
	assert_int_equal(p1->body.physical, 0);
	/* CRLF: "X: y\r\n" without the empty "\r\n" */
	assert_int_equal(p2->header.physical, 6);
	assert_int_equal(p2->header.virtual, 6);
	assert_int_equal(p2->body.physical, 0);
	/* a body follows: the empty line stays in the header */
	assert_int_equal(p3->header.physical, 6);
	assert_int_equal(p3->body.physical, 4);
	/* the same tree when fed a byte at a time */
	{
		struct mime_part *c = parse_chunked(msg, sizeof(msg) - 1, 1);

		assert_true(same_tree(root, c));
		mime_part_free(&c);
	}
	mime_part_free(&root);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(void)
{
	struct CMUnitTest tests[MAX_CASES];
	char *names[MAX_CASES];
	unsigned int n = 0, i;
	DIR *dir = opendir(corpus_dir());
	struct dirent *de;
	int ret;

	if (dir == NULL) {
		fprintf(stderr, "cannot open %s\n", corpus_dir());
		return 1;
	}
	while ((de = readdir(dir)) != NULL && n < MAX_CASES) {
		size_t l = strlen(de->d_name);

		if (l > 4 && strcmp(de->d_name + l - 4, ".eml") == 0)
			names[n++] = xstrndup(de->d_name, l - 4);
	}
	closedir(dir);
	if (n == 0) {
		fprintf(stderr, "no corpus in %s\n", corpus_dir());
		return 1;
	}
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (i = 0; i < n; i++) {
		memset(&tests[i], 0, sizeof(tests[i]));
		tests[i].name = names[i];
		tests[i].test_func = test_golden;
		tests[i].initial_state = names[i];
	}
	ret = _cmocka_run_group_tests("mime_golden", tests, n, NULL, NULL);
	{
		const struct CMUnitTest unit[] = {
		    cmocka_unit_test(test_header_break_before_boundary),
		};

		ret |= cmocka_run_group_tests_name("mime_parse", unit, NULL,
						   NULL);
	}
	for (i = 0; i < n; i++)
		xfree(&names[i]);
	return ret;
}
