/* Unit tests for the auth daemon's pure parts: penalty, cache, expansion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth_cache.h"
#include "auth_expand.h"
#include "auth_lru.h"
#include "auth_penalty.h"
#include "util/strbuf.h"

static void
test_penalty_secs(void **state)
{
	(void)state;
	assert_int_equal(auth_penalty_to_secs(0), 0);
	assert_int_equal(auth_penalty_to_secs(1), 4);
	assert_int_equal(auth_penalty_to_secs(2), 8);
	assert_int_equal(auth_penalty_to_secs(3), 15);
	assert_int_equal(auth_penalty_to_secs(4), 15);
	assert_int_equal(auth_penalty_to_secs(100), 15);
}

static void
test_penalty_grows_and_clears(void **state)
{
	struct auth_penalty *p = auth_penalty_new(100);
	time_t now = 1000000;
	unsigned int v;

	(void)state;
	assert_int_equal(auth_penalty_get(p, "192.0.2.1", now), 0);
	for (unsigned int i = 1; i <= 6; i++) {
		v = auth_penalty_get(p, "192.0.2.1", now);
		auth_penalty_update(p, "192.0.2.1", 100 + i, v + 1, now);
	}
	/* Capped at the maximum. */
	assert_int_equal(auth_penalty_get(p, "192.0.2.1", now), 4);
	/* Another address is untouched. */
	assert_int_equal(auth_penalty_get(p, "192.0.2.2", now), 0);
	/* A success clears it. */
	auth_penalty_update(p, "192.0.2.1", 0, 0, now);
	assert_int_equal(auth_penalty_get(p, "192.0.2.1", now), 0);
	assert_int_equal(auth_penalty_count(p), 0);
	auth_penalty_free(&p);
	assert_null(p);
}

static void
test_penalty_same_credentials_do_not_count(void **state)
{
	struct auth_penalty *p = auth_penalty_new(100);
	time_t now = 5000;
	unsigned int v;

	(void)state;
	for (int i = 0; i < 5; i++) {
		v = auth_penalty_get(p, "198.51.100.7", now);
		auth_penalty_update(p, "198.51.100.7", 42, v + 1, now);
	}
	assert_int_equal(auth_penalty_get(p, "198.51.100.7", now), 1);
	auth_penalty_free(&p);
}

static void
test_penalty_decays_and_expires(void **state)
{
	struct auth_penalty *p = auth_penalty_new(100);
	time_t now = 10000;

	(void)state;
	auth_penalty_update(p, "192.0.2.9", 1, 3, now);
	assert_int_equal(auth_penalty_get(p, "192.0.2.9", now + 14), 3);
	/* As in Dovecot, 15 s after the last failure it is all gone... */
	assert_int_equal(auth_penalty_get(p, "192.0.2.9", now + 15), 0);
	/* ...and after the timeout the record is forgotten. */
	assert_int_equal(
	    auth_penalty_get(p, "192.0.2.9", now + AUTH_PENALTY_TIMEOUT), 0);
	assert_int_equal(auth_penalty_count(p), 0);
	auth_penalty_free(&p);
}

static void
test_penalty_bounded(void **state)
{
	struct auth_penalty *p = auth_penalty_new(3);
	char ip[32];

	(void)state;
	for (int i = 0; i < 10; i++) {
		snprintf(ip, sizeof(ip), "203.0.113.%d", i);
		auth_penalty_update(p, ip, 1, 1, 100);
	}
	assert_int_equal(auth_penalty_count(p), 3);
	assert_int_equal(auth_penalty_get(p, "203.0.113.9", 100), 1);
	assert_int_equal(auth_penalty_get(p, "203.0.113.0", 100), 0);
	auth_penalty_free(&p);
}

static void
test_penalty_ident(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(auth_penalty_ident("192.0.2.1", buf, sizeof(buf)),
			    "192.0.2.1");
	assert_string_equal(
	    auth_penalty_ident("2001:db8:1:2:3::4", buf, sizeof(buf)),
	    "2001:db8:1::");
	assert_null(auth_penalty_ident("not-an-ip", buf, sizeof(buf)));
	assert_null(auth_penalty_ident(NULL, buf, sizeof(buf)));
	assert_int_not_equal(auth_penalty_checksum("a", "x", 1), 0);
	assert_int_not_equal(auth_penalty_checksum("a", "x", 1),
			     auth_penalty_checksum("a", "y", 1));
}

static void
test_cache_ttl_and_negative(void **state)
{
	struct auth_cache *c = auth_cache_new(10000, 60, 30);
	const void *data;
	size_t len;

	(void)state;
	assert_int_equal(auth_cache_lookup(c, "alice", 100, &data, &len),
			 AUTH_CACHE_MISS);
	auth_cache_insert(c, "alice", "hash", 5, 100);
	auth_cache_insert(c, "nobody", NULL, 0, 100);
	assert_int_equal(auth_cache_lookup(c, "alice", 159, &data, &len),
			 AUTH_CACHE_POSITIVE);
	assert_int_equal(len, 5);
	assert_string_equal(data, "hash");
	assert_int_equal(auth_cache_lookup(c, "nobody", 129, &data, &len),
			 AUTH_CACHE_NEGATIVE);
	assert_int_equal(auth_cache_lookup(c, "nobody", 130, &data, &len),
			 AUTH_CACHE_MISS);
	assert_int_equal(auth_cache_lookup(c, "alice", 160, &data, &len),
			 AUTH_CACHE_MISS);
	assert_int_equal(auth_cache_count(c), 0);
	auth_cache_free(&c);
}

static void
test_cache_size_limit_evicts_oldest(void **state)
{
	struct auth_cache *c = auth_cache_new(400, 60, 60);
	const void *data;
	size_t len;
	char key[16];

	(void)state;
	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "user%d", i);
		auth_cache_insert(c, key, "0123456789", 11, 1);
		assert_true(auth_cache_bytes(c) <= 400);
	}
	assert_true(auth_cache_count(c) < 20);
	assert_int_equal(auth_cache_lookup(c, "user19", 2, &data, &len),
			 AUTH_CACHE_POSITIVE);
	assert_int_equal(auth_cache_lookup(c, "user0", 2, &data, &len),
			 AUTH_CACHE_MISS);
	auth_cache_free(&c);
}

static void
test_cache_disabled(void **state)
{
	struct auth_cache *c = auth_cache_new(0, 60, 60);
	const void *data;
	size_t len;

	(void)state;
	auth_cache_insert(c, "alice", "x", 2, 1);
	assert_int_equal(auth_cache_lookup(c, "alice", 1, &data, &len),
			 AUTH_CACHE_MISS);
	auth_cache_free(&c);
}

static void
test_lru_remove_and_order(void **state)
{
	struct auth_lru *lru = auth_lru_new();
	static int a = 1, b = 2, c = 3;
	const char *key;
	char name[16];

	(void)state;
	auth_lru_add(lru, "a", &a);
	auth_lru_add(lru, "b", &b);
	auth_lru_add(lru, "c", &c);
	assert_ptr_equal(auth_lru_oldest(lru, &key), &a);
	assert_ptr_equal(auth_lru_get(lru, "a"), &a);
	assert_ptr_equal(auth_lru_oldest(lru, &key), &b);
	assert_string_equal(key, "b");
	assert_ptr_equal(auth_lru_remove(lru, "b"), &b);
	assert_null(auth_lru_get(lru, "b"));
	assert_int_equal(auth_lru_count(lru), 2);
	/* Growth keeps every entry reachable. */
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		auth_lru_add(lru, name, &a);
	}
	assert_ptr_equal(auth_lru_get(lru, "k250"), &a);
	assert_ptr_equal(auth_lru_get(lru, "c"), &c);
	auth_lru_free(&lru, NULL);
}

static void
test_expand(void **state)
{
	struct strbuf sb;
	const char *error;

	(void)state;
	strbuf_init(&sb, 200);
	assert_int_equal(
	    auth_expand(&sb, "/var/vmail/%d/%n", "Al@Ex.Test", &error), 0);
	assert_string_equal(strbuf_cstr(&sb), "/var/vmail/Ex.Test/Al");
	strbuf_reset(&sb);
	assert_int_equal(auth_expand(&sb, "%Lu|%Ud|%%|%{username}|%{domain}",
				     "Al@Ex.Test", &error),
			 0);
	assert_string_equal(strbuf_cstr(&sb),
			    "al@ex.test|EX.TEST|%|Al|Ex.Test");
	strbuf_reset(&sb);
	assert_int_equal(auth_expand(&sb, "%n-%d", "plain", &error), 0);
	assert_string_equal(strbuf_cstr(&sb), "plain-");
	assert_int_equal(auth_expand_check("%x", &error), -1);
	assert_int_equal(auth_expand_check("%{nope}", &error), -1);
	assert_int_equal(auth_expand_check("%{user", &error), -1);
	assert_int_equal(auth_expand_check("%Lu@%d", &error), 0);
	strbuf_release(&sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_penalty_secs),
	    cmocka_unit_test(test_penalty_grows_and_clears),
	    cmocka_unit_test(test_penalty_same_credentials_do_not_count),
	    cmocka_unit_test(test_penalty_decays_and_expires),
	    cmocka_unit_test(test_penalty_bounded),
	    cmocka_unit_test(test_penalty_ident),
	    cmocka_unit_test(test_cache_ttl_and_negative),
	    cmocka_unit_test(test_cache_size_limit_evicts_oldest),
	    cmocka_unit_test(test_cache_disabled),
	    cmocka_unit_test(test_lru_remove_and_order),
	    cmocka_unit_test(test_expand),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
