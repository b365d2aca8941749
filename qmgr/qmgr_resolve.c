/*
 * qmgr_resolve - recipient -> (transport, nexthop), Postfix's way:
 * transport_maps first (key: the address, then its domain; value
 * "transport:nexthop"), then local domains (mydestination ->
 * local_transport, virtual_mailbox_domains -> virtual_transport), else
 * default_transport with the domain as nexthop. The configuration is
 * trusted; addresses come from the queue file (bounded by its limits).
 * Lookups may block: called on worker threads (maps serialise).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/map.h"
#include "mail/mail_params.h"
#include "qmgr.h"
#include "util/log.h"
#include "util/xmem.h"

#define QMGR_MAX_LIST 32

struct qmgr_domain_list {
	char *literal[QMGR_MAX_LIST];
	unsigned int n_literal;
	struct map *maps[QMGR_MAX_LIST];
	unsigned int n_maps;
};

static struct qmgr_domain_list mydest, vdomains, transport_maps;

static void
qmgr_list_parse(struct qmgr_domain_list *list, const char *name,
		const char *value)
{
	char *copy = xstrdup(value), *save = NULL;

	for (char *tok = strtok_r(copy, ", \t\n", &save); tok != NULL;
	     tok = strtok_r(NULL, ", \t\n", &save)) {
		if (strchr(tok, ':') != NULL && tok[0] != '/') {
			const char *error;
			struct map *m;

			if (list->n_maps == QMGR_MAX_LIST)
				log_fatal("%s: too many maps", name);
			m = map_open(tok, MAP_FOLD_CASE, &error);
			if (m == NULL)
				log_fatal("%s: %s", name, error);
			list->maps[list->n_maps++] = m;
		} else if (list->n_literal < QMGR_MAX_LIST) {
			list->literal[list->n_literal++] = xstrdup(tok);
		}
	}
	free(copy);
}

static const char *
qmgr_param(const char *name)
{
	const struct param_def *def = mail_param_find(name);

	if (def == NULL || def->type != PARAM_STR)
		return "";
	return *(char **)def->var;
}

void
qmgr_resolve_init(void)
{
	qmgr_list_parse(&mydest, "mydestination", var_mydestination);
	/* Owned by smtpd's parameter block; read by name so qmgr works
	 * whether or not that block is compiled in. */
	qmgr_list_parse(&vdomains, "virtual_mailbox_domains",
			qmgr_param("virtual_mailbox_domains"));
	qmgr_list_parse(&transport_maps, "transport_maps", var_transport_maps);
}

/* 1 found (value in *value_r when wanted), 0 not found, -1 tempfail. */
static int
qmgr_list_match(struct qmgr_domain_list *list, const char *key, char **value_r,
		const char **error_r)
{
	for (unsigned int i = 0; i < list->n_literal && value_r == NULL; i++) {
		if (strcasecmp(list->literal[i], key) == 0)
			return 1;
	}
	for (unsigned int i = 0; i < list->n_maps; i++) {
		struct map_result res;
		enum map_status st =
		    map_lookup(list->maps[i], key, &res, error_r);

		if (st == MAP_TEMPFAIL)
			return -1;
		if (st == MAP_FOUND) {
			if (value_r != NULL)
				*value_r = xstrdup(map_result_value(&res));
			map_result_free(&res);
			return 1;
		}
	}
	return 0;
}

/* "lmtp:unix:private/x" -> "lmtp", "unix:private/x"; "smtp" -> "smtp",
 * default nexthop. */
static void
qmgr_split(const char *spec, const char *def_nexthop, char **transport_r,
	   char **nexthop_r)
{
	const char *colon = strchr(spec, ':');

	if (colon == NULL) {
		*transport_r = xstrdup(spec);
		*nexthop_r = xstrdup(def_nexthop);
		return;
	}
	*transport_r = xstrndup(spec, (size_t)(colon - spec));
	*nexthop_r = xstrdup(colon[1] == '\0' ? def_nexthop : colon + 1);
}

int
qmgr_resolve(const char *address, char **transport_r, char **nexthop_r,
	     const char **error_r)
{
	const char *at = strrchr(address, '@');
	const char *domain = at == NULL ? "" : at + 1;
	char *value = NULL;
	int ret;

	ret = qmgr_list_match(&transport_maps, address, &value, error_r);
	if (ret == 0 && domain[0] != '\0')
		ret = qmgr_list_match(&transport_maps, domain, &value, error_r);
	if (ret < 0)
		return -1;
	if (ret > 0 && value[0] != '\0') {
		qmgr_split(value, domain, transport_r, nexthop_r);
		free(value);
		return 0;
	}
	free(value);
	if (domain[0] == '\0' ||
	    (ret = qmgr_list_match(&mydest, domain, NULL, error_r)) > 0) {
		qmgr_split(var_local_transport, domain, transport_r, nexthop_r);
		return 0;
	}
	if (ret < 0)
		return -1;
	ret = qmgr_list_match(&vdomains, domain, NULL, error_r);
	if (ret < 0)
		return -1;
	if (ret > 0) {
		qmgr_split(var_virtual_transport, domain, transport_r,
			   nexthop_r);
		return 0;
	}
	qmgr_split(var_default_transport, domain, transport_r, nexthop_r);
	return 0;
}
