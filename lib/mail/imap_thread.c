/*
 * imap_thread - RFC 5256 THREAD=ORDEREDSUBJECT and THREAD=REFERENCES. The
 * header values come from messages (untrusted): message IDs are copied
 * into a hash table, references per message are bounded, links that
 * would make a loop are refused, and all tree walks use explicit stacks.
 * Nodes live in one array and refer to each other by index, so the
 * array may grow (dummies) while links are held.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "mail/imap_base_subject.h"
#include "mail/imap_thread.h"
#include "util/hash.h"
#include "util/strbuf.h"
#include "util/xmem.h"

#define NONE UINT32_MAX

struct node {
	uint32_t parent, first, last, prev, next; /* tree links */
	uint32_t nchildren;
	uint32_t msg; /* index into msgs, NONE for a dummy */
};

struct thread_ctx {
	const struct imap_thread_msg *msgs;
	size_t msg_count;
	struct node *nodes;
	uint32_t count, alloc;
	uint32_t root;
	char **subjects; /* base subjects by message, ASCII lower-cased */
	bool *replies;	 /* by message: a reply or forward (RFC 5256) */
};

int
imap_thread_algorithm_parse(const char *name, enum imap_thread_algorithm *alg_r)
{
	if (strcasecmp(name, "REFERENCES") == 0)
		*alg_r = IMAP_THREAD_REFERENCES;
	else if (strcasecmp(name, "ORDEREDSUBJECT") == 0)
		*alg_r = IMAP_THREAD_ORDEREDSUBJECT;
	else
		return -1;
	return 0;
}

bool
imap_thread_next_msgid(const char *value, size_t *pos, const char **id_r,
		       size_t *len_r)
{
	size_t p = *pos, start, i;
	int depth = 0;
	bool ok;

	for (; value[p] != '\0'; p++) {
		if (depth > 0) {
			if (value[p] == '\\' && value[p + 1] != '\0')
				p++;
			else if (value[p] == '(')
				depth++;
			else if (value[p] == ')')
				depth--;
			continue;
		}
		if (value[p] == '(') {
			depth++;
			continue;
		}
		if (value[p] != '<')
			continue;
		start = p + 1;
		ok = false;
		for (i = start; value[i] != '\0' && value[i] != '>'; i++) {
			unsigned char c = (unsigned char)value[i];

			if (c == '<' || c <= ' ' || c == 0x7f)
				break;
			if (c == '@')
				ok = true;
		}
		if (value[i] != '>' || !ok || i == start) {
			/* not an ID: go on after it (or at a new '<') */
			p = value[i] == '<' ? i - 1 : i;
			if (value[i] == '\0')
				break;
			continue;
		}
		*id_r = value + start;
		*len_r = i - start;
		*pos = i + 1;
		return true;
	}
	*pos = p;
	return false;
}

static uint32_t
node_new(struct thread_ctx *t, uint32_t msg)
{
	struct node *n;

	if (t->count == t->alloc) {
		t->alloc = t->alloc == 0 ? 64 : t->alloc * 2;
		t->nodes = xreallocarray(t->nodes, t->alloc, sizeof(*t->nodes));
	}
	n = &t->nodes[t->count];
	n->parent = n->first = n->last = n->prev = n->next = NONE;
	n->nchildren = 0;
	n->msg = msg;
	return t->count++;
}

static void
unlink_node(struct thread_ctx *t, uint32_t c)
{
	struct node *n = &t->nodes[c];
	struct node *p;

	if (n->parent == NONE)
		return;
	p = &t->nodes[n->parent];
	if (n->prev != NONE)
		t->nodes[n->prev].next = n->next;
	else
		p->first = n->next;
	if (n->next != NONE)
		t->nodes[n->next].prev = n->prev;
	else
		p->last = n->prev;
	p->nchildren--;
	n->parent = n->prev = n->next = NONE;
}

/* Appends c (without a parent) to p's children. */
static void
append_child(struct thread_ctx *t, uint32_t p, uint32_t c)
{
	struct node *pn = &t->nodes[p], *cn = &t->nodes[c];

	cn->parent = p;
	cn->prev = pn->last;
	cn->next = NONE;
	if (pn->last != NONE)
		t->nodes[pn->last].next = c;
	else
		pn->first = c;
	pn->last = c;
	pn->nchildren++;
}

/* Puts c (without a parent) in place of old, which loses its parent. */
static void
replace_node(struct thread_ctx *t, uint32_t old, uint32_t c)
{
	struct node *on = &t->nodes[old], *cn = &t->nodes[c];
	struct node *pn = &t->nodes[on->parent];

	cn->parent = on->parent;
	cn->prev = on->prev;
	cn->next = on->next;
	if (on->prev != NONE)
		t->nodes[on->prev].next = c;
	else
		pn->first = c;
	if (on->next != NONE)
		t->nodes[on->next].prev = c;
	else
		pn->last = c;
	on->parent = on->prev = on->next = NONE;
}

/* Would making p the parent of c make a loop (p is c or below c)? */
static bool
would_loop(const struct thread_ctx *t, uint32_t p, uint32_t c)
{
	/* nothing is below a childless node (keeps a long chain linear) */
	if (t->nodes[c].first == NONE)
		return p == c;
	for (; p != NONE; p = t->nodes[p].parent) {
		if (p == c)
			return true;
	}
	return false;
}

static bool
is_dummy(const struct thread_ctx *t, uint32_t n)
{
	return t->nodes[n].msg == NONE;
}

/* The message that represents n for sorting and subjects: itself, or a
   dummy's first child (RFC 5256 steps 4, 5.B.i and 6). */
static uint32_t
repr_msg(const struct thread_ctx *t, uint32_t n)
{
	while (n != NONE && is_dummy(t, n))
		n = t->nodes[n].first;
	return n == NONE ? NONE : t->nodes[n].msg;
}

static int
msg_order(const struct thread_ctx *t, uint32_t a, uint32_t b)
{
	uint32_t ma = repr_msg(t, a), mb = repr_msg(t, b);
	int64_t da, db;

	if (ma == NONE || mb == NONE)
		return ma == mb ? 0 : ma == NONE ? 1 : -1;
	da = t->msgs[ma].date;
	db = t->msgs[mb].date;
	if (da != db)
		return da < db ? -1 : 1;
	return ma < mb ? -1 : ma > mb ? 1 : 0;
}

typedef int node_cmp_fn(const struct thread_ctx *t, uint32_t a, uint32_t b);

/* Stable merge sort of n node indexes in a, using tmp (n entries). */
static void
sort_nodes(const struct thread_ctx *t, uint32_t *a, uint32_t *tmp, size_t n,
	   node_cmp_fn *cmp)
{
	size_t width, l, lo, r, lend, rend, k;

	for (width = 1; width < n; width *= 2) {
		for (l = 0; l < n; l += 2 * width) {
			lo = l;
			lend = l + width < n ? l + width : n;
			rend = l + 2 * width < n ? l + 2 * width : n;
			r = lend;
			for (k = l; lo < lend && r < rend;) {
				if (cmp(t, a[r], a[lo]) < 0)
					tmp[k++] = a[r++];
				else
					tmp[k++] = a[lo++];
			}
			while (lo < lend)
				tmp[k++] = a[lo++];
			while (r < rend)
				tmp[k++] = a[r++];
		}
		memcpy(a, tmp, n * sizeof(*a));
	}
}

/* Sorts the children of p by sent date, ties in mailbox order. */
static void
sort_children(struct thread_ctx *t, uint32_t p, uint32_t **scratch,
	      size_t *scratch_alloc)
{
	uint32_t n = t->nodes[p].nchildren, i, c, *a;

	if (n < 2)
		return;
	if (*scratch_alloc < 2 * (size_t)n) {
		*scratch_alloc = 2 * (size_t)n;
		*scratch =
		    xreallocarray(*scratch, *scratch_alloc, sizeof(**scratch));
	}
	a = *scratch;
	for (i = 0, c = t->nodes[p].first; c != NONE; c = t->nodes[c].next)
		a[i++] = c;
	sort_nodes(t, a, a + n, n, msg_order);
	/* relink in order */
	t->nodes[p].first = a[0];
	t->nodes[p].last = a[n - 1];
	for (i = 0; i < n; i++) {
		t->nodes[a[i]].prev = i == 0 ? NONE : a[i - 1];
		t->nodes[a[i]].next = i + 1 == n ? NONE : a[i + 1];
	}
}

/* The nodes under the root in post-order (children before parents), the
   root last. Caller frees. */
static uint32_t *
post_order(const struct thread_ctx *t, uint32_t *count_r)
{
	uint32_t *out = xreallocarray(NULL, t->count, sizeof(*out));
	uint32_t *stack = xreallocarray(NULL, t->count, sizeof(*stack));
	uint32_t n = 0, sp = 0, cur;

	/* iterative: go down first children; on the way up emit and move to
	   the next sibling */
	cur = t->root;
	for (;;) {
		while (t->nodes[cur].first != NONE) {
			stack[sp++] = cur;
			cur = t->nodes[cur].first;
		}
		for (;;) {
			out[n++] = cur;
			if (cur == t->root)
				goto done;
			if (t->nodes[cur].next != NONE) {
				cur = t->nodes[cur].next;
				break;
			}
			cur = stack[--sp];
		}
	}
done:
	xfree(&stack);
	*count_r = n;
	return out;
}

static uint32_t
lookup_id(struct hash_table *ids, const char *id, size_t len,
	  struct strbuf *key)
{
	void *v;

	strbuf_reset(key);
	if (strbuf_append(key, id, len) < 0)
		return NONE;
	v = hash_lookup(ids, strbuf_cstr(key));
	return v == NULL ? NONE : (uint32_t)((uintptr_t)v - 1);
}

static void
insert_id(struct hash_table *ids, const char *id, size_t len,
	  struct strbuf *key, uint32_t node)
{
	strbuf_reset(key);
	if (strbuf_append(key, id, len) < 0)
		return;
	(void)hash_insert(ids, strbuf_cstr(key), (void *)((uintptr_t)node + 1));
}

/* RFC 5256 REFERENCES step 1. */
static void
link_references(struct thread_ctx *t)
{
	struct hash_table *ids = hash_create();
	struct strbuf key;
	uint32_t *refs =
	    xreallocarray(NULL, IMAP_THREAD_MAX_REFS, sizeof(*refs));
	uint32_t i, nrefs, j, prev;
	const char *id;
	size_t len, pos;

	strbuf_init(&key, 4096);
	/* Message-IDs first: a reference may name a later message. The
	   first of duplicate IDs keeps it; later ones get none (unique). */
	for (i = 0; i < t->msg_count; i++) {
		pos = 0;
		if (t->msgs[i].message_id != NULL &&
		    imap_thread_next_msgid(t->msgs[i].message_id, &pos, &id,
					   &len))
			insert_id(ids, id, len, &key, i);
	}
	for (i = 0; i < t->msg_count; i++) {
		const char *v = t->msgs[i].references;
		bool any = false;

		nrefs = 0;
		pos = 0;
		while (v != NULL &&
		       imap_thread_next_msgid(v, &pos, &id, &len)) {
			uint32_t n = lookup_id(ids, id, len, &key);

			any = true;
			if (n == NONE) {
				n = node_new(t, NONE);
				insert_id(ids, id, len, &key, n);
			}
			if (nrefs == IMAP_THREAD_MAX_REFS) {
				memmove(refs, refs + 1,
					(nrefs - 1) * sizeof(*refs));
				nrefs--;
			}
			refs[nrefs++] = n;
		}
		pos = 0;
		if (!any && t->msgs[i].in_reply_to != NULL &&
		    imap_thread_next_msgid(t->msgs[i].in_reply_to, &pos, &id,
					   &len)) {
			uint32_t n = lookup_id(ids, id, len, &key);

			if (n == NONE) {
				n = node_new(t, NONE);
				insert_id(ids, id, len, &key, n);
			}
			refs[nrefs++] = n;
		}
		/* (A) each reference is the parent of the next, unless the
		   child has a parent already or it would make a loop */
		for (j = 1; j < nrefs; j++) {
			if (t->nodes[refs[j]].parent == NONE &&
			    !would_loop(t, refs[j - 1], refs[j]))
				append_child(t, refs[j - 1], refs[j]);
		}
		/* (B) the last reference is this message's parent */
		unlink_node(t, i);
		prev = nrefs > 0 ? refs[nrefs - 1] : NONE;
		if (prev != NONE && !would_loop(t, prev, i))
			append_child(t, prev, i);
	}
	strbuf_release(&key);
	xfree(&refs);
	hash_destroy(&ids, NULL);
}

/* Step 3: dummies without children go; a dummy's children replace it,
   except that several children stay under a dummy at the top. */
static void
prune_dummies(struct thread_ctx *t)
{
	uint32_t n, i, *order = post_order(t, &n);

	for (i = 0; i < n; i++) {
		uint32_t d = order[i], c;

		if (d == t->root || !is_dummy(t, d))
			continue;
		if (t->nodes[d].nchildren == 0) {
			unlink_node(t, d);
			continue;
		}
		if (t->nodes[d].parent == t->root && t->nodes[d].nchildren > 1)
			continue;
		/* splice the children in at d's place */
		while ((c = t->nodes[d].last) != NONE) {
			uint32_t p = t->nodes[d].parent;
			struct node *dn = &t->nodes[d];

			unlink_node(t, c);
			/* insert c right after d */
			t->nodes[c].parent = p;
			t->nodes[c].prev = d;
			t->nodes[c].next = dn->next;
			if (dn->next != NONE)
				t->nodes[dn->next].prev = c;
			else
				t->nodes[p].last = c;
			dn->next = c;
			t->nodes[p].nchildren++;
		}
		unlink_node(t, d);
	}
	xfree(&order);
}

static const char *
thread_subject(const struct thread_ctx *t, uint32_t n)
{
	uint32_t m = repr_msg(t, n);

	return m == NONE ? "" : t->subjects[m];
}

/* Step 5: threads with the same base subject are gathered. The subject
   table maps a subject to a slot holding the node, so that an entry can be
   replaced. */
static void
gather_subjects(struct thread_ctx *t)
{
	struct hash_table *table = hash_create();
	uint32_t n = t->nodes[t->root].nchildren, i, c, *top, *slots;
	uint32_t nslots = 0;

	top = xreallocarray(NULL, n == 0 ? 1 : n, sizeof(*top));
	slots = xreallocarray(NULL, n == 0 ? 1 : n, sizeof(*slots));
	for (i = 0, c = t->nodes[t->root].first; c != NONE;
	     c = t->nodes[c].next)
		top[i++] = c;
	/* (B) one thread per subject: a dummy wins over a message, a
	   message that is no reply over a reply, else the first */
	for (i = 0; i < n; i++) {
		const char *subj = thread_subject(t, top[i]);
		uint32_t *slot, old;

		if (*subj == '\0')
			continue;
		if ((slot = hash_lookup(table, subj)) == NULL) {
			slots[nslots] = top[i];
			(void)hash_insert(table, subj, &slots[nslots]);
			nslots++;
			continue;
		}
		old = *slot;
		if (!is_dummy(t, old) && (is_dummy(t, top[i]) ||
					  (t->replies[t->nodes[old].msg] &&
					   !t->replies[t->nodes[top[i]].msg])))
			*slot = top[i];
	}
	/* (C) merge the others into the table's thread */
	for (i = 0; i < n; i++) {
		uint32_t cur = top[i], *slot, old, d;
		const char *subj;

		/* moved below another thread meanwhile */
		if (t->nodes[cur].parent != t->root)
			continue;
		subj = thread_subject(t, cur);
		if (*subj == '\0' || (slot = hash_lookup(table, subj)) == NULL)
			continue;
		old = *slot;
		if (old == cur)
			continue;
		if (is_dummy(t, old) && is_dummy(t, cur)) {
			while ((c = t->nodes[cur].first) != NONE) {
				unlink_node(t, c);
				append_child(t, old, c);
			}
			unlink_node(t, cur);
		} else if (is_dummy(t, old) && !is_dummy(t, cur)) {
			unlink_node(t, cur);
			append_child(t, old, cur);
		} else if (!is_dummy(t, cur) && !is_dummy(t, old) &&
			   t->replies[t->nodes[cur].msg] &&
			   !t->replies[t->nodes[old].msg]) {
			unlink_node(t, cur);
			append_child(t, old, cur);
		} else {
			d = node_new(t, NONE);
			replace_node(t, old, d);
			unlink_node(t, cur);
			append_child(t, d, old);
			append_child(t, d, cur);
			*slot = d;
		}
	}
	xfree(&top);
	xfree(&slots);
	hash_destroy(&table, NULL);
}

/* Step 6 (and 4 for the top): every set of siblings by sent date, the
   deepest first, so that a dummy's first child is known when it is
   sorted among its siblings. */
static void
sort_all(struct thread_ctx *t)
{
	uint32_t n, i, *order = post_order(t, &n), *scratch = NULL;
	size_t scratch_alloc = 0;

	for (i = 0; i < n; i++)
		sort_children(t, order[i], &scratch, &scratch_alloc);
	xfree(&scratch);
	xfree(&order);
}

/* Appends the thread under top: "3 6 (4 23)(44 7 96)" (without the
   outer parentheses). Iterative: a chain goes on in a loop, a node with
   several children pushes a frame holding the next child to print. */
static int
format_thread(const struct thread_ctx *t, uint32_t top, struct strbuf *out,
	      uint32_t **stack, size_t *stack_alloc)
{
	uint32_t cur = top, sp = 0;
	int ret = 0;

	for (;;) {
		for (;;) {
			const struct node *n = &t->nodes[cur];

			if (n->msg != NONE)
				ret |= strbuf_printf(
				    out, "%lu",
				    (unsigned long)t->msgs[n->msg].id);
			if (n->nchildren == 0)
				break;
			if (n->msg != NONE)
				ret |= strbuf_append_char(out, ' ');
			if (n->nchildren > 1) {
				if (sp == *stack_alloc) {
					*stack_alloc = *stack_alloc == 0
							   ? 16
							   : *stack_alloc * 2;
					*stack =
					    xreallocarray(*stack, *stack_alloc,
							  sizeof(**stack));
				}
				(*stack)[sp++] = t->nodes[n->first].next;
				ret |= strbuf_append_char(out, '(');
			}
			cur = n->first;
		}
		for (;;) {
			if (sp == 0)
				return ret < 0 ? -1 : 0;
			ret |= strbuf_append_char(out, ')');
			if ((*stack)[sp - 1] != NONE) {
				cur = (*stack)[sp - 1];
				(*stack)[sp - 1] = t->nodes[cur].next;
				ret |= strbuf_append_char(out, '(');
				break;
			}
			sp--;
		}
		if (ret < 0)
			return -1;
	}
}

static int
format_all(const struct thread_ctx *t, struct strbuf *out)
{
	uint32_t c, *stack = NULL;
	size_t stack_alloc = 0;
	int ret = 0;

	for (c = t->nodes[t->root].first; c != NONE && ret == 0;
	     c = t->nodes[c].next) {
		ret |= strbuf_append_char(out, '(');
		ret |= format_thread(t, c, out, &stack, &stack_alloc);
		ret |= strbuf_append_char(out, ')');
	}
	xfree(&stack);
	return ret < 0 ? -1 : 0;
}

static void
compute_subjects(struct thread_ctx *t)
{
	struct strbuf sb;
	size_t i, j;

	t->subjects = xcalloc(t->msg_count, sizeof(*t->subjects));
	t->replies = xcalloc(t->msg_count, sizeof(*t->replies));
	for (i = 0; i < t->msg_count; i++) {
		const char *s = t->msgs[i].subject;

		strbuf_init(&sb, STRBUF_UNLIMITED);
		(void)imap_base_subject(&sb, s, s == NULL ? 0 : strlen(s),
					&t->replies[i]);
		/* subjects are compared with i;ascii-casemap */
		for (j = 0; j < sb.len; j++) {
			if (sb.data[j] >= 'A' && sb.data[j] <= 'Z')
				sb.data[j] += 'a' - 'A';
		}
		t->subjects[i] = xstrdup(strbuf_cstr(&sb));
		strbuf_release(&sb);
	}
}

static int
subject_order(const struct thread_ctx *t, uint32_t a, uint32_t b)
{
	int r = strcmp(t->subjects[a], t->subjects[b]);

	return r != 0 ? r : msg_order(t, a, b);
}

/* ORDEREDSUBJECT: by base subject, then sent date; the first message of
   each subject is the thread's root and the others are its children;
   the threads by the date of their first message. */
static void
ordered_subject(struct thread_ctx *t)
{
	uint32_t n = (uint32_t)t->msg_count, i, first = NONE;
	uint32_t *a = xreallocarray(NULL, 2 * (size_t)n, sizeof(*a));
	size_t scratch_alloc = 2 * (size_t)n;

	for (i = 0; i < n; i++)
		a[i] = i;
	sort_nodes(t, a, a + n, n, subject_order);
	for (i = 0; i < n; i++) {
		if (first != NONE &&
		    strcmp(t->subjects[first], t->subjects[a[i]]) == 0) {
			append_child(t, first, a[i]);
		} else {
			first = a[i];
			append_child(t, t->root, first);
		}
	}
	sort_children(t, t->root, &a, &scratch_alloc);
	xfree(&a);
}

int
imap_thread(enum imap_thread_algorithm alg, const struct imap_thread_msg *msgs,
	    size_t count, struct strbuf *out)
{
	struct thread_ctx t = {msgs, count, NULL, 0, 0, NONE, NULL, NULL};
	uint32_t i;
	int ret;

	if (count == 0)
		return 0;
	if (count >= NONE / 4)
		return -1;
	for (i = 0; i < count; i++)
		(void)node_new(&t, i);
	compute_subjects(&t);
	if (alg == IMAP_THREAD_REFERENCES) {
		link_references(&t);
		/* (2) every node without a parent goes under the root */
		t.root = node_new(&t, NONE);
		for (i = 0; i < t.root; i++) {
			if (t.nodes[i].parent == NONE)
				append_child(&t, t.root, i);
		}
		prune_dummies(&t);
		sort_all(&t); /* (4): the top, by dummies' first children */
		gather_subjects(&t);
		sort_all(&t); /* (6) */
	} else {
		t.root = node_new(&t, NONE);
		ordered_subject(&t);
	}
	ret = format_all(&t, out);
	for (i = 0; i < count; i++)
		xfree(&t.subjects[i]);
	xfree(&t.subjects);
	xfree(&t.replies);
	xfree(&t.nodes);
	return ret;
}
