"""imapd's command loop (imapd/client.c): greeting, CAPABILITY, NOOP, ID,
ENABLE, NAMESPACE, LOGOUT, unknown and malformed commands, literals
(synchronising, LITERAL+, oversized, a command inside a literal), line
length limit, state errors, IDLE (keepalive, DONE, wake-up on delivery)
and the session log line. Runs imapd -P through tests/lib/imap_harness.py.
"""
import imaplib
import os
import re
import sys
import time
import traceback

from dovetail_test import SOURCE_DIR
from imap_harness import ImapEnv

FAILURES = []


def is_scaffold(path):
    with open(os.path.join(SOURCE_DIR, path)) as f:
        return f.readline().startswith("/* SCAFFOLD")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def caps_of(line):
    m = re.search(rb"\[CAPABILITY ([^\]]*)\]", line)
    check(m is not None, f"no CAPABILITY code in {line!r}")
    return m.group(1).split()


def test_greeting_and_capability(env):
    r = env.raw()
    m = r.expect(rb"^\* PREAUTH \[CAPABILITY [^\]]+\] Logged in as tester$")
    caps = caps_of(m.string)
    for c in (b"IMAP4rev1", b"IMAP4rev2", b"LITERAL+", b"ENABLE", b"IDLE",
              b"UIDPLUS", b"MOVE", b"NAMESPACE", b"ID", b"CONDSTORE",
              b"QRESYNC", b"ESEARCH", b"BINARY", b"UTF8=ACCEPT"):
        check(c in caps, f"{c!r} missing from {caps!r}")
    limit = [c for c in caps if c.startswith(b"APPENDLIMIT=")]
    check(limit == [b"APPENDLIMIT=10240000"], f"APPENDLIMIT: {limit!r}")
    check(b"LOGINDISABLED" not in caps and b"STARTTLS" not in caps,
          "pre-login capabilities after login")
    untagged, tagged = r.command("a1", "CAPABILITY")
    check(tagged == b"a1 OK Capability completed.", tagged)
    check(len(untagged) == 1 and untagged[0].startswith(b"* CAPABILITY IMAP4rev1 "),
          untagged)
    check(untagged[0].split()[2:] == caps, "CAPABILITY differs from greeting")
    _, tagged = r.command("a2", "CAPABILITY extra")
    check(tagged.startswith(b"a2 BAD "), tagged)


def test_imaplib_basics(env):
    m = env.connect()
    check(m.state == "AUTH", m.state)
    typ, data = m.capability()
    check(typ == "OK" and b"IDLE" in data[0].split(), (typ, data))
    typ, data = m.noop()
    check(typ == "OK", (typ, data))
    typ, data = m.namespace()
    check(typ == "OK" and data == [b'(("" ".")) NIL NIL'], (typ, data))
    typ, data = m.xatom("ID", '("name" "imaplib" "version" "3")')
    check(typ == "OK", (typ, data))
    typ, data = m._untagged_response(typ, data, "ID")
    check(data == [b'("name" "Dovetail")'], data)
    typ, data = m.enable("CONDSTORE")
    check(typ == "OK", (typ, data))
    check(m.response("ENABLED") == ("ENABLED", [b"CONDSTORE"]), m.response("ENABLED"))
    typ, data = m.logout()
    check(typ == "BYE", (typ, data))
    deadline = time.time() + 5
    while "Disconnected: Logged out in=" not in env.log() and time.time() < deadline:
        time.sleep(0.05)
    check(re.search(r"imap\(tester\): Disconnected: Logged out in=\d+ out=\d+",
                    env.log()), f"no logout log line in {env.log()!r}")


def test_logout_exact(env):
    r = env.raw()
    r.expect(rb"^\* PREAUTH ")
    untagged, tagged = r.command("z", "LOGOUT")
    check(untagged == [b"* BYE Logging out\r\n"], untagged)
    check(tagged == b"z OK Logout completed.", tagged)
    check(r.readline() == b"", "data after LOGOUT")
    check(r.wait() == 0, "imapd exit status")


def test_enable(env):
    r = env.raw()
    r.expect(rb"^\* PREAUTH ")
    u, t = r.command("e1", "ENABLE CONDSTORE")
    check(u == [b"* ENABLED CONDSTORE\r\n"] and t == b"e1 OK Enabled.", (u, t))
    u, t = r.command("e2", "ENABLE CONDSTORE X-UNKNOWN")
    check(u == [b"* ENABLED\r\n"] and t == b"e2 OK Enabled.", (u, t))
    u, t = r.command("e3", "enable qresync imap4rev2 utf8=accept")
    check(u == [b"* ENABLED QRESYNC IMAP4rev2 UTF8=ACCEPT\r\n"], u)
    _, t = r.command("e4", "ENABLE")
    check(t.startswith(b"e4 BAD "), t)
    _, t = r.command("e5", 'ENABLE "CONDSTORE"')
    check(t.startswith(b"e5 BAD "), t)


def test_enable_condstore_selected(env):
    """RFC 7162 3.1: CONDSTORE enabled while a mailbox is selected sends
    its HIGHESTMODSEQ; enabling it again (or while nothing is selected)
    does not."""
    env.deliver(b"From: a@example.org\nSubject: m\n\nbody\n")
    r = env.raw()
    r.expect(rb"^\* PREAUTH ")
    u, t = r.command("s1", "SELECT INBOX")
    check(t.startswith(b"s1 OK "), f"SELECT: {t}")
    u, t = r.command("e1", "ENABLE CONDSTORE")
    check(len(u) == 2 and u[0] == b"* ENABLED CONDSTORE\r\n" and
          re.match(rb"^\* OK \[HIGHESTMODSEQ [1-9][0-9]*\] ", u[1])
          is not None and t == b"e1 OK Enabled.",
          f"ENABLE CONDSTORE while selected: {u} {t}")
    u, t = r.command("e2", "ENABLE CONDSTORE QRESYNC")
    check(u == [b"* ENABLED QRESYNC\r\n"],
          f"HIGHESTMODSEQ sent again: {u}")


def test_id(env):
    r = env.raw()
    r.expect(rb"^\* PREAUTH ")
    u, t = r.command("i1", "ID NIL")
    check(u == [b'* ID ("name" "Dovetail")\r\n'] and t == b"i1 OK ID completed.", (u, t))
    u, t = r.command("i2", 'ID ("name" NIL "os" "x")')
    check(t == b"i2 OK ID completed.", t)
    for bad in ('ID ("name")', "ID", 'ID "name"', 'ID ("' + "f" * 31 + '" "v")',
                "ID (" + ' "k" "v"' * 31 + ")"):
        u, t = r.command("i3", bad)
        check(t.startswith(b"i3 BAD ") and u == [], (bad, u, t))


def test_unknown_and_state_errors(env):
    r = env.raw()
    r.expect(rb"^\* PREAUTH ")
    _, t = r.command("u1", "FROBNICATE 1 2")
    check(t == b"u1 BAD Error in IMAP command received by server.", t)
    _, t = r.command("u2", "UID FROBNICATE 1")
    check(t.startswith(b"u2 BAD "), t)
    _, t = r.command("u3", "UID NOOP")
    check(t.startswith(b"u3 BAD "), t)
    _, t = r.command("u4", "UID")
    check(t.startswith(b"u4 BAD "), t)
    _, t = r.command("s1", "CHECK")
    check(t == b"s1 BAD No mailbox selected.", t)
    # FETCH/STORE/EXPUNGE need a selected mailbox (or are still unknown
    # while their module is a scaffold): BAD either way, never OK/NO
    for cmd in ("FETCH 1 FLAGS", "UID FETCH 1:* FLAGS", "STORE 1 +FLAGS \\Seen",
                "EXPUNGE", "CLOSE", "SEARCH ALL"):
        _, t = r.command("s2", cmd)
        check(t.startswith(b"s2 BAD "), (cmd, t))
    if not is_scaffold("imapd/cmd_fetch.c"):
        _, t = r.command("s3", "FETCH 1 FLAGS")
        check(t == b"s3 BAD No mailbox selected.", t)
    for cmd in ("LOGIN a b", "AUTHENTICATE PLAIN", "STARTTLS"):
        _, t = r.command("l1", cmd)
        check(t.startswith(b"l1 BAD "), (cmd, t))
    u, t = r.command("n1", "NOOP")
    check(t == b"n1 OK NOOP completed.", t)


def test_malformed(env):
    r = env.raw()
    r.expect(rb"^\* PREAUTH ")
    for junk in (b"", b"   ", b"a1", b"a1 ", b"*** NOOP", b"a1 NOOP (", b"a1 ID (()",
                 b"a1 ID )", b'a1 ID ("unterminated', b"a1 \x00\x01\xff NOOP",
                 b"a1 ID (\"a\x00b\" \"c\")", b"(a) NOOP", b"a1 ID {x}",
                 b"a1 ID {5} trailing", b"+ OK", b"\xc3\xa9 NOOP"):
        r.send(junk + b"\r\n")
        m = r.expect(rb"^\S+ (BAD|OK|NO) ")
        check(m.group(1) == b"BAD", (junk, m.string))
    u, t = r.command("ok1", "NOOP")
    check(t == b"ok1 OK NOOP completed.", t)
    # bare LF line ends are accepted, as Dovecot does
    r.send(b"lf1 NOOP\n")
    r.expect(rb"^lf1 OK ")


def test_literals(env):
    r = env.raw()
    r.expect(rb"^\* PREAUTH ")
    # synchronising: "+ OK" before each literal's bytes
    r.send(b"l1 ID ({4}\r\n")
    check(r.readline().startswith(b"+ "), "no continuation")
    r.send(b"name {5}\r\n")
    check(r.readline().startswith(b"+ "), "no continuation 2")
    r.send(b"hello)\r\n")
    r.expect(rb'^\* ID \("name" "Dovetail"\)$')
    r.expect(rb"^l1 OK ")
    # LITERAL+: no continuation, the bytes follow at once
    r.send(b"l2 ID ({4+}\r\nname {5+}\r\nhello)\r\n")
    line = r.readline()
    check(line == b'* ID ("name" "Dovetail")\r\n', line)
    r.expect(rb"^l2 OK ")
    # a literal whose bytes look like a command is data, not a command
    r.send(b'l3 ID ("x" {13+}\r\n\r\nb3 LOGOUT\r\n)\r\n')
    u, t = r.command("l4", "NOOP")
    check(t == b"l4 OK NOOP completed.", (u, t))
    check(not any(x.startswith(b"b3 ") or x.startswith(b"* BYE") for x in u), u)
    check(any(x.startswith(b"l3 OK ") for x in u), u)
    # a literal where the command name should be
    r.send(b"l5 {4}\r\n")
    line = r.readline()
    if line.startswith(b"+"):
        r.send(b"NOOP\r\n")
        line = r.readline()
    check(line.startswith(b"l5 BAD "), line)
    u, t = r.command("l6", "NOOP")
    check(t == b"l6 OK NOOP completed.", (u, t))
    # an empty literal
    r.send(b'l7 ID ("name" {0}\r\n')
    check(r.readline().startswith(b"+ "), "no continuation for {0}")
    r.send(b")\r\n")
    r.expect(rb"^l7 OK ")
    # a literal8 (~{N}, BINARY) is a literal too
    u, t = r.command("l8", 'ID ("name" ~{3+}\r\nabc)')
    check(t.startswith(b"l8 "), t)


def vmrss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_huge_literal(env):
    r = env.raw()
    r.expect(rb"^\* PREAUTH ")
    # synchronising: refused before "+", nothing allocated, session lives
    r.send(b"h1 ID ({4294967296}\r\n")
    line = r.readline()
    check(line.startswith(b"h1 BAD ") and b"TOOBIG" in line, line)
    check(vmrss_kb(r.proc.pid) < 64 * 1024, f"RSS {vmrss_kb(r.proc.pid)} kB")
    _, t = r.command("h2", "NOOP")
    check(t == b"h2 OK NOOP completed.", t)
    # larger than 64 bits
    r.send(b"h3 ID (" + b"{" + b"9" * 40 + b"}\r\n")
    line = r.readline()
    check(line.startswith(b"h3 BAD ") and b"TOOBIG" in line, line)
    # over the in-memory limit but not absurd: still no continuation
    r.send(b"h4 ID ({200000}\r\n")
    line = r.readline()
    check(line.startswith(b"h4 BAD ") and b"TOOBIG" in line, line)
    _, t = r.command("h5", "NOOP")
    check(t == b"h5 OK NOOP completed.", t)
    # non-synchronising: the bytes cannot be framed: BYE and close
    r.send(b"h6 ID ({4294967296+}\r\nxxxx")
    line = r.readline()
    check(line.startswith(b"* BYE ") and b"TOOBIG" in line, line)
    check(r.readline() == b"", "session continued after BYE")
    check(r.wait() == 0, "exit status")


def test_line_too_long(env):
    r = env.raw()
    r.expect(rb"^\* PREAUTH ")
    r.send(b"t1 ID (\"x\" \"" + b"y" * 70000 + b"\")\r\n")
    line = r.readline()
    check(line.startswith(b"* BAD ") and b"TOOBIG" in line, line)
    _, t = r.command("t2", "NOOP")
    check(t == b"t2 OK NOOP completed.", t)
    # the same, sent slowly in pieces: discarded as it comes
    r.send(b"t3 NOOP " + b"z" * 40000)
    time.sleep(0.1)
    r.send(b"z" * 40000 + b"\r\nt4 NOOP\r\n")
    line = r.readline()
    check(line.startswith(b"* BAD "), line)
    r.expect(rb"^t4 OK ")
    # a too-long line ending in a LITERAL+ announcement cannot be framed
    r.send(b"t5 ID (" + b"a" * 70000 + b" {5+}\r\nhello)\r\n")
    line = r.readline()
    check(line.startswith(b"* BYE "), line)
    check(r.readline() == b"", "session continued")


def test_too_many_bad(env):
    r = env.raw()
    r.expect(rb"^\* PREAUTH ")
    # BAD replies separated by good commands do not add up
    for i in range(25):
        r.send(b"x%d BOGUS\r\ny%d NOOP\r\n" % (i, i))
        r.expect(rb"^y%d OK " % i)
    for i in range(19):
        _, t = r.command(f"b{i}", "BOGUS")
        check(t.startswith(f"b{i} BAD ".encode()), t)
    r.send(b"b19 BOGUS\r\n")
    r.expect(rb"^b19 BAD ")
    r.expect(rb"^\* BYE Too many invalid IMAP commands")
    check(r.readline() == b"", "session continued")


def test_pipelining_and_eof(env):
    r = env.raw()
    r.expect(rb"^\* PREAUTH ")
    r.send(b"p1 NOOP\r\np2 NAMESPACE\r\np3 ID NIL\r\np4 NOOP\r\n")
    for tag in (b"p1", b"p2", b"p3", b"p4"):
        m = r.expect(rb"^(\S+) OK ")
        check(m.group(1) == tag, (tag, m.string))
    r.close_input()
    check(r.readline() == b"", "output after EOF")
    check(r.wait() == 0, "exit status")
    time.sleep(0.1)
    check("Disconnected: Connection closed in=" in env.log(), env.log())


def test_idle_no_mailbox(env):
    r = env.raw()
    r.expect(rb"^\* PREAUTH ")
    r.send(b"d1 IDLE\r\n")
    check(r.readline() == b"+ idling\r\n", "no + idling")
    # keepalive (imap_idle_notify_interval = 1s in this env)
    r.expect(rb"^\* OK Still here$", timeout=4)
    r.send(b"DONE\r\n")
    r.expect(rb"^d1 OK Idle completed\.$")
    r.send(b"d2 IDLE\r\n")
    check(r.readline() == b"+ idling\r\n", "no + idling")
    r.send(b"d3 NOOP\r\n")
    r.expect(rb"^d2 BAD ")
    _, t = r.command("d4", "NOOP")
    check(t == b"d4 OK NOOP completed.", t)
    # DONE in any case, pipelined with the next command
    r.send(b"d5 IDLE\r\ndone\r\nd6 NOOP\r\n")
    r.expect(rb"^d5 OK Idle completed")
    r.expect(rb"^d6 OK ")


def test_idle_wakeup(env):
    """IDLE reports a delivery within a second (inotify); needs view.c."""
    if is_scaffold("imapd/view.c"):
        print("  (skipped: imapd/view.c is a scaffold)")
        return
    env.deliver(b"Subject: one\r\n\r\nbody\r\n")
    r = env.raw()
    r.expect(rb"^\* PREAUTH ")
    r.send(b"s1 SELECT INBOX\r\n")
    r.expect(rb"^\* 1 EXISTS$")
    r.expect(rb"^s1 OK ")
    r.send(b"s2 IDLE\r\n")
    r.expect(rb"^\+ idling$")
    time.sleep(0.2)
    t0 = time.time()
    env.deliver(b"Subject: two\r\n\r\nbody\r\n")
    r.expect(rb"^\* 2 EXISTS$", timeout=3)
    check(time.time() - t0 < 1.5, f"IDLE woke after {time.time() - t0:.2f}s")
    r.send(b"DONE\r\n")
    r.expect(rb"^s2 OK Idle completed")
    # CHECK is allowed now and NOOP sees changes from outside
    _, t = r.command("s3", "CHECK")
    check(t == b"s3 OK Check completed.", t)
    env.deliver(b"Subject: three\r\n\r\nbody\r\n")
    u, t = r.command("s4", "NOOP")
    check(b"* 3 EXISTS\r\n" in u, u)


def test_append_literal_sync(env):
    """The streamed literal path (APPEND); needs cmd_save.c and cmd_list.c."""
    if is_scaffold("imapd/cmd_save.c") or is_scaffold("imapd/cmd_list.c"):
        print("  (skipped: cmd_save.c or cmd_list.c is a scaffold)")
        return
    r = env.raw()
    r.expect(rb"^\* PREAUTH ")
    msg = b"Subject: appended\r\n\r\nhello\r\n"
    r.send(b"a1 APPEND INBOX {%d}\r\n" % len(msg))
    check(r.readline().startswith(b"+ "), "no continuation")
    r.send(msg + b"\r\n")
    r.expect(rb"^a1 OK ")
    r.send(b"a2 APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
    r.expect(rb"^a2 OK ")
    # to a folder that does not exist, LITERAL+: the bytes are skipped
    r.send(b"a3 APPEND NoSuchFolder {%d+}\r\n" % len(msg) + msg + b"\r\n")
    r.expect(rb"^a3 NO ")
    _, t = r.command("a4", "NOOP")
    check(t == b"a4 OK NOOP completed.", t)
    files = os.listdir(os.path.join(env.maildir(), "cur")) + \
        os.listdir(os.path.join(env.maildir(), "new"))
    check(len(files) == 2, files)


def test_append_toobig(env):
    """APPEND over message_size_limit: NO [TOOBIG] (RFC 7889), no "+ OK"
    for a synchronising literal, a LITERAL+ one read away."""
    env.close()
    env2 = ImapEnv(main_cf="message_size_limit = 1000\n")
    try:
        r = env2.raw()
        m = r.expect(rb"^\* PREAUTH ")
        check(b"APPENDLIMIT=1000" in m.string.split(), m.string)
        r.send(b"a1 APPEND INBOX {2000}\r\n")
        line = r.readline()
        check(line.startswith(b"a1 NO [TOOBIG] "), line)
        r.send(b"a2 APPEND INBOX {2000+}\r\n" + b"x" * 2000 + b"\r\n")
        line = r.readline()
        check(line.startswith(b"a2 NO [TOOBIG] "), line)
        _, t = r.command("a3", "NOOP")
        check(t == b"a3 OK NOOP completed.", t)
    finally:
        env2.close()


def test_random_input(env):
    """Garbage never crashes or hangs the session: it answers, or says BYE,
    and exits normally at EOF."""
    import random
    rnd = random.Random(6)
    alphabet = b'aZ09 ()[]{}<>"\\~*%$.:,-\x00\x7f\xff\r'
    words = [b"FETCH", b"UID", b"SEARCH", b"ID", b"ENABLE", b"IDLE", b"DONE",
             b"NOOP", b"{3}", b"~{1}", b"NIL", b"(", b")", b'"x"', b"STORE",
             b"LIST", b"STATUS", b"APPEND", b"SELECT", b"INBOX", b"1:*"]
    for run in range(3):
        if run == 2:
            # only the last run has non-synchronising literals, which end
            # the session (BYE) when they come where none may
            alphabet += b"+"
            words.append(b"{2+}")
        r = env.raw()
        r.expect(rb"^\* PREAUTH ")
        data = b""
        for i in range(300):
            parts = [bytes(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))
                     if rnd.random() < 0.5 else rnd.choice(words)
                     for _ in range(rnd.randint(0, 6))]
            data += b"g%d " % i + b" ".join(parts) + b"\r\n"
            if i % 8 == 7:
                # keeps the run of BAD replies short of the limit
                data += b"n%d NOOP\r\n" % i
        r.send(data)
        r.send(b"DONE\r\nend NOOP\r\n")
        end = None
        while True:
            line = r.readline(timeout=10)
            if line == b"" or line.startswith(b"end OK") or line.startswith(b"* BYE"):
                end = line
                break
        check(end is not None, "no answer")
        r.close_input()
        check(r.wait() == 0, "imapd died")


TESTS = [
    test_greeting_and_capability,
    test_imaplib_basics,
    test_logout_exact,
    test_enable,
    test_enable_condstore_selected,
    test_id,
    test_unknown_and_state_errors,
    test_malformed,
    test_literals,
    test_huge_literal,
    test_line_too_long,
    test_too_many_bad,
    test_pipelining_and_eof,
    test_idle_no_mailbox,
    test_idle_wakeup,
    test_append_literal_sync,
    test_append_toobig,
    test_random_input,
]


def main():
    only = sys.argv[1:]
    for t in TESTS:
        if only and t.__name__ not in only:
            continue
        env = ImapEnv(main_cf="imap_idle_notify_interval = 1s\n")
        print(f"{t.__name__} ...", flush=True)
        try:
            t(env)
        except Exception:
            FAILURES.append(t.__name__)
            traceback.print_exc()
            print(env.log())
        finally:
            env.close()
    if FAILURES:
        print("FAILED:", " ".join(FAILURES))
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
