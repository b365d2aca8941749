"""mysql: maps against a real MariaDB started here in a temporary directory.

Shows: found / not found over TCP and the unix socket, multi-row results,
long values, a hostile key bound as data; reconnect after the server
restarts and after the connection is killed; MAP_TEMPFAIL (never NOT FOUND)
while the server is down; fail-over from a dead first host to a live one.
Drives build/tests/map_lookup_tool, which keeps one map handle open
(MAP_TOOL_WRAPPER="valgrind -q --leak-check=full --error-exitcode=9" runs
it under valgrind; a leak then fails the exit check).
"""
import os
import shutil
import subprocess
import sys
import tempfile

import dovetail_test
from mariadb import MariaDB, free_port

SCHEMA_FALLBACK = """
CREATE TABLE virtual_domains (id int NOT NULL AUTO_INCREMENT,
  name varchar(50) NOT NULL, PRIMARY KEY (id), UNIQUE KEY (name));
CREATE TABLE virtual_users (id int NOT NULL AUTO_INCREMENT,
  domain_id int NOT NULL, password varchar(255) NOT NULL,
  email varchar(100) NOT NULL, PRIMARY KEY (id), UNIQUE KEY (email));
CREATE TABLE virtual_aliases (id int NOT NULL AUTO_INCREMENT,
  domain_id int NOT NULL, source varchar(100) NOT NULL,
  destination varchar(100) NOT NULL, PRIMARY KEY (id));
"""

DATA = """
INSERT INTO virtual_domains (id, name) VALUES (1, 'example.org');
INSERT INTO virtual_users (domain_id, password, email) VALUES
  (1, '{SHA512-CRYPT}$6$x$y', 'alice@example.org');
INSERT INTO virtual_aliases (domain_id, source, destination) VALUES
  (1, 'team@example.org', 'alice@example.org'),
  (1, 'team@example.org', 'bob@example.org'),
  (1, 'x''; DROP TABLE virtual_users; --', 'evil@example.org');
"""

failures = []
all_tools = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


class Tool:
    """One map_lookup_tool process holding one open map."""

    def __init__(self, spec, flags=()):
        exe = os.path.join(dovetail_test.BUILD_DIR, "tests", "map_lookup_tool")
        wrapper = os.environ.get("MAP_TOOL_WRAPPER", "").split()
        self.p = subprocess.Popen([*wrapper, exe, *flags, spec], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        all_tools.append(self)
        ready = self.p.stdout.readline().strip()
        if ready != "READY":
            raise RuntimeError("map_lookup_tool %s: %s" % (spec, ready))

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().rstrip("\n")

    def lookup(self, key):
        return self.cmd("lookup " + key)

    def close(self):
        self.p.stdin.close()
        check(self.p.wait(timeout=30) == 0, "map_lookup_tool exits cleanly")


def write_cf(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return "mysql:" + path


def main():
    schema_path = os.path.join(dovetail_test.SOURCE_DIR, "conf", "sql", "mysql-schema.sql")
    if os.path.exists(schema_path):
        with open(schema_path) as f:
            schema = f.read()
    else:
        schema = SCHEMA_FALLBACK
    tmp = tempfile.mkdtemp(prefix="test_map_mysql.")
    try:
        run(tmp, schema)
    finally:
        for t in all_tools:
            if t.p.poll() is None:
                t.p.kill()
                t.p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


def run(tmp, schema):
    tools = []
    with MariaDB() as db:
        db.create_database("mail", schema + DATA)
        db.create_user("dovetail", "s3cret'pw", "mail")
        common = ("user = dovetail\npassword = s3cret'pw\ndbname = mail\n"
                  "connect_timeout = 3\ntimeout = 10\n")
        tcp = "hosts = inet:127.0.0.1:%d\n" % db.port
        dead = free_port()

        domains = Tool(write_cf(tmp, "domains.cf", tcp + common +
                                "query = SELECT 1 FROM virtual_domains WHERE name='%s'\n"))
        aliases = Tool(write_cf(tmp, "aliases.cf", "hosts = unix:%s\n" % db.socket + common +
                                "query = SELECT destination FROM virtual_aliases\n"
                                "  WHERE source = '%s' ORDER BY id\n"))
        users = Tool(write_cf(tmp, "users.cf", tcp + common +
                              "query = SELECT email AS user, password FROM virtual_users"
                              " WHERE email = '%u'\n"), ("-D", "-f"))
        failover = Tool(write_cf(tmp, "failover.cf",
                                 "hosts = 127.0.0.1:%d, 127.0.0.1:%d\n" % (dead, db.port)
                                 + common +
                                 "query = SELECT 1 FROM virtual_domains WHERE name='%s'\n"))
        tools += [domains, aliases, users, failover]

        # found / not found
        check(domains.cmd("check") == "OK", "check: server answers, query prepares")
        check(domains.lookup("example.org") == "FOUND 1 1", "domain found")
        check(domains.lookup("example.com") == "NOTFOUND", "domain not found")
        check(aliases.lookup("team@example.org") ==
              "FOUND 2 alice@example.org, bob@example.org", "aliases over socket, rows joined")
        check(aliases.lookup("x'; DROP TABLE virtual_users; --") == "FOUND 1 evil@example.org",
              "hostile key is bound as data")
        check(db.sql("SELECT COUNT(*) FROM virtual_users;", "mail").strip() == "1",
              "virtual_users still there")
        check(users.cmd("get ALICE@example.org password") == "FOUND 1 {SHA512-CRYPT}$6$x$y",
              "named column, Dovecot %u, folded key")
        long_values = Tool(write_cf(tmp, "long.cf", tcp + common +
                                    "query = SELECT REPEAT(destination, 100) FROM virtual_aliases\n"
                                    "  WHERE source = '%s' ORDER BY id\n"))
        tools.append(long_values)
        want = "FOUND 2 " + "alice@example.org" * 100 + ", " + "bob@example.org" * 100
        check(long_values.lookup("team@example.org") == want,
              "values over the first buffer fetched whole, on every row")
        check(users.lookup("nobody@example.org") == "NOTFOUND", "user not found")

        # fail-over: the first host is a dead port
        check(failover.lookup("example.org") == "FOUND 1 1", "fail-over to the second host")

        # the server restarts under an open connection
        db.restart()
        r = domains.lookup("example.org")
        check(r == "FOUND 1 1", "reconnect after server restart (%s)" % r)
        r = users.cmd("get alice@example.org user")
        check(r == "FOUND 1 alice@example.org", "re-prepare after restart (%s)" % r)

        # the connection is killed (ER_CONNECTION_KILLED / server gone)
        n = db.kill_connections("dovetail")
        check(n >= 2, "killed %d connections" % n)
        r = aliases.lookup("team@example.org")
        check(r.startswith("FOUND 2"), "reconnect after KILL CONNECTION (%s)" % r)
        r = domains.lookup("example.org")
        check(r == "FOUND 1 1", "reconnect after KILL CONNECTION, tcp (%s)" % r)

        # server down: TEMPFAIL, never NOTFOUND
        db.stop()
        for t, key in ((domains, "example.org"), (domains, "example.com"),
                       (aliases, "team@example.org"), (failover, "example.org")):
            r = t.lookup(key)
            check(r.startswith("TEMPFAIL ") and "no database host answers" in r,
                  "server down: %s -> %s" % (key, r))
        r = domains.cmd("check")
        check(r.startswith("ERROR "), "check fails while down (%s)" % r)

        # back up: the same handles work again
        db.start()
        check(domains.lookup("example.org") == "FOUND 1 1", "works again after start")
        check(failover.lookup("example.org") == "FOUND 1 1", "fail-over works after start")

        # a broken query is TEMPFAIL too, and check says why
        broken = Tool(write_cf(tmp, "broken.cf", tcp + common +
                               "query = SELECT 1 FROM no_such_table WHERE a='%s'\n"))
        tools.append(broken)
        r = broken.lookup("x")
        check(r.startswith("TEMPFAIL ") and "no_such_table" in r
              and "no database host" not in r, "bad query: %s" % r)
        check(broken.cmd("check").startswith("ERROR "), "check reports the bad query")

        for t in tools:
            t.close()
        tools = []


if __name__ == "__main__":
    main()
