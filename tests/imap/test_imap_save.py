#!/usr/bin/env python3
"""test_imap_save - APPEND, COPY, MOVE (imapd/cmd_save.c) with imaplib over
imapd -P, checked against what lands on disk: APPEND with flags, keywords
and a date-time (file name ":2,<letters>" per dovecot-keywords, mtime =
the date, LF line ends) fetched back byte-exact, APPENDUID equal to
dovecot-uidlist, TRYCREATE, TOOBIG with message_size_limit, LITERAL+;
COPY/UID COPY with COPYUID equal to the target's dovecot-uidlist, flags and
keywords kept (keyword letters translated between two dovecot-keywords
files), hard links, copies into the same mailbox; MOVE with the untagged
COPYUID, the expunge and the source file gone.
"""
import imaplib
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from imap_harness import ImapEnv  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def uidlist(d):
    """(uidvalidity, {uid: base name}) from dir's dovecot-uidlist."""
    with open(os.path.join(d, "dovecot-uidlist")) as f:
        lines = f.read().splitlines()
    v = int(re.search(r"\bV(\d+)", lines[0]).group(1))
    recs = {}
    for line in lines[1:]:
        m = re.match(r"(\d+)\s.*?:(\S+)$", line) or re.match(r"(\d+) :?(\S+)$",
                                                             line)
        if m:
            recs[int(m.group(1))] = m.group(2).split(":2,")[0]
    return v, recs


def keywords(d):
    out = {}
    p = os.path.join(d, "dovecot-keywords")
    if os.path.exists(p):
        for line in open(p):
            i, name = line.rstrip("\n").split(" ", 1)
            out[chr(ord("a") + int(i))] = name
    return out


def files(d):
    """{base: (dir, flags)} of every message file."""
    out = {}
    for sub in ("new", "cur"):
        for n in os.listdir(os.path.join(d, sub)):
            base, _, fl = n.partition(":2,")
            out[base] = (sub, fl, os.path.join(d, sub, n))
    return out


def code(resp, name):
    m = re.search(r"\[" + name + r" ([^\]]*)\]", resp)
    return m.group(1).split() if m else None


def expand(uidset):
    out = []
    for part in uidset.split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            out += list(range(a, b + 1)) if a <= b else list(range(a, b - 1, -1))
        else:
            out.append(int(part))
    return out


MSG = (b"From: Appender <app@example.org>\r\nTo: x@example.org\r\n"
       b"Subject: appended\r\nDate: Tue, 5 Mar 2024 10:11:12 +0100\r\n\r\n"
       b"line one\r\nline two\r\n\r\n-- \r\nsig\r\n")


def test_append(env):
    m = env.connect()
    d = env.maildir("INBOX")
    typ, data = m.append("INBOX", "(\\Seen \\Flagged $Label1 Work)",
                         '"05-Mar-2024 10:11:12 +0100"', MSG)
    resp = data[0].decode()
    check(typ == "OK", f"APPEND: {typ} {data}")
    au = code(resp, "APPENDUID")
    check(au is not None and len(au) == 2, f"no APPENDUID: {resp}")
    v, recs = uidlist(d)
    fs = files(d)
    check(len(fs) == 1, f"files after APPEND: {fs}")
    if au and fs:
        check(int(au[0]) == v, f"APPENDUID validity {au[0]} != uidlist {v}")
        uid = int(au[1])
        check(uid in recs and recs[uid] in fs,
              f"APPENDUID uid {uid} not the file's uidlist entry {recs}")
        base, (sub, fl, path) = next(iter(fs.items()))
        kw = keywords(d)
        names = {kw.get(ch) for ch in fl if ch.islower()}
        check(sub == "cur" and "S" in fl and "F" in fl and
              names == {"$Label1", "Work"}, f"flags on disk: {sub} {fl} {kw}")
        check(list(fl) == sorted(fl), f"flag letters unsorted: {fl}")
        # 05-Mar-2024 10:11:12 +0100 = 09:11:12 UTC
        want = 1709629872
        check(int(os.stat(path).st_mtime) == want,
              f"mtime {os.stat(path).st_mtime} != {want}")
        check(open(path, "rb").read() == MSG.replace(b"\r\n", b"\n"),
              "stored bytes (LF line ends)")
    m.select("INBOX")
    typ, data = m.fetch("1", "(BODY.PEEK[] FLAGS INTERNALDATE RFC822.SIZE)")
    body = [x for x in data if isinstance(x, tuple)]
    check(body and body[0][1] == MSG, f"FETCH back not byte-exact: {data}")
    head = b"".join(x[0] if isinstance(x, tuple) else x for x in data)
    check(b"\\Seen" in head and b"\\Flagged" in head and b"$Label1" in head
          and b"Work" in head, f"flags back: {head!r}")
    check(b"RFC822.SIZE %d" % len(MSG) in head, f"size back: {head!r}")
    it = imaplib.Internaldate2tuple(head)
    check(it is not None and int(time.mktime(it)) == 1709629872,
          f"INTERNALDATE back: {head!r}")
    # APPEND without flags and date: new UID, next in line
    typ, data = m.append("INBOX", None, None, b"Subject: two\r\n\r\nx\r\n")
    au2 = code(data[0].decode(), "APPENDUID")
    check(typ == "OK" and au2 and au and int(au2[1]) == int(au[1]) + 1,
          f"second APPENDUID: {data}")
    # missing target, bad arguments
    # imaplib raises only on BAD: a NO comes back as the result
    typ, data = m.append("NoSuchBox", None, None, MSG)
    check(typ == "NO", f"APPEND to a missing mailbox: {typ} {data}")
    check(typ != "NO" or data[0].startswith(b"[TRYCREATE] "),
          f"no TRYCREATE: {data}")
    check(not os.path.exists(os.path.join(d, ".NoSuchBox")),
          "APPEND created the mailbox")
    for flags, date in (("(\\Bogus)", None), (None, '"31-Feb-2024 00:00:00 +0000"')):
        try:
            typ, data = m.append("INBOX", flags, date, MSG)
            check(typ != "OK", f"APPEND {flags} {date} accepted")
        except imaplib.IMAP4.error:
            pass  # BAD
    typ, _ = m.noop()
    check(typ == "OK", "session alive after refused APPENDs")
    m.logout()


def test_append_raw(env):
    raw = env.raw()
    raw.readline()
    # LITERAL+ (non-synchronising)
    body = b"Subject: plus\r\n\r\nliteral plus\r\n"
    raw.send(b"a APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\n")
    m = raw.expect(rb"^a ")
    check(m.string.startswith(b"a OK [APPENDUID "), f"LITERAL+: {m.string!r}")
    # synchronising literal: "+" first
    raw.send(b"b APPEND INBOX (\\Draft) {%d}\r\n" % len(body))
    m = raw.expect(rb"^(\+|b )")
    check(m.string.startswith(b"+"), f"no continuation: {m.string!r}")
    raw.send(body + b"\r\n")
    m = raw.expect(rb"^b ")
    check(m.string.startswith(b"b OK [APPENDUID "), f"sync: {m.string!r}")
    # literal8 with NUL bytes (BINARY)
    bin_body = b"Subject: bin\r\nContent-Type: application/octet-stream\r\n\r\na\x00b\r\n"
    raw.send(b"c APPEND INBOX ~{%d+}\r\n" % len(bin_body) + bin_body + b"\r\n")
    m = raw.expect(rb"^c ")
    check(m.string.startswith(b"c OK [APPENDUID "), f"literal8: {m.string!r}")
    _, t = raw.command("d", "NOOP")
    check(t.startswith(b"d OK"), f"after APPENDs: {t!r}")


def test_toobig():
    with ImapEnv(main_cf="message_size_limit = 1000") as env:
        m = env.connect()
        typ, data = m.capability()
        check(b"APPENDLIMIT=1000" in data[0].split(),
              f"APPENDLIMIT: {data}")
        # NO [TOOBIG] before the literal is sent (RFC 7889)
        typ, data = m.append("INBOX", None, None,
                             b"Subject: big\r\n\r\n" + b"x" * 2000)
        check(typ == "NO" and data[0].startswith(b"[TOOBIG] "),
              f"APPEND over message_size_limit: {typ} {data}")
        typ, data = m.append("INBOX", None, None, b"Subject: small\r\n\r\nx\r\n")
        check(typ == "OK", f"small APPEND after TOOBIG: {data}")
        raw = env.raw()
        raw.readline()
        raw.send(b"a APPEND INBOX {2000+}\r\n" + b"y" * 2000 + b"\r\n")
        m2 = raw.expect(rb"^a ")
        check(b"TOOBIG" in m2.string, f"LITERAL+ TOOBIG: {m2.string!r}")
        _, t = raw.command("b", "NOOP")
        check(t.startswith(b"b OK"), f"framing after refused literal: {t!r}")
        m.logout()


def test_copy_move(env):
    inbox = env.maildir("INBOX")
    arch = env.maildir("Archive")
    # Archive knows other keywords first: letters must be translated
    env.keyword_letters("Archive", ["Other", "Thing"])
    env.deliver(b"Subject: c1\n\none\n", flags="S", keywords=("Work",))
    env.deliver(b"Subject: c2\n\ntwo\n", flags="FR", keywords=("$Label1", "Work"))
    env.deliver(b"Subject: c3\n\nthree\n")
    m = env.connect()
    m.select("INBOX")
    typ, data = m.copy("1:3", "Archive")
    resp = data[0].decode()
    cu = code(resp, "COPYUID")
    check(typ == "OK" and cu is not None, f"COPY: {typ} {data}")
    v, recs = uidlist(arch)
    af = files(arch)
    check(len(af) == 3, f"Archive files: {af}")
    if cu:
        check(int(cu[0]) == v, f"COPYUID validity {cu[0]} != {v}")
        src, dst = expand(cu[1]), expand(cu[2])
        check(src == [1, 2, 3] and len(dst) == 3,
              f"COPYUID sets {cu}")
        kw = keywords(arch)
        want = {1: ("S", {"Work"}), 2: ("FR", {"$Label1", "Work"}),
                3: ("", set())}
        for s, t in zip(src, dst):
            base = recs.get(t)
            check(base in af, f"COPYUID dst {t} not in uidlist {recs}")
            if base not in af:
                continue
            fl = af[base][1]
            sysf = "".join(ch for ch in fl if ch.isupper())
            names = {kw.get(ch) for ch in fl if ch.islower()}
            check(sysf == want[s][0] and names == want[s][1],
                  f"copy of uid {s}: flags {fl} {kw}")
    # hard links (same filesystem)
    ino_in = {os.stat(p).st_ino for _, _, p in files(inbox).values()}
    ino_ar = {os.stat(p).st_ino for _, _, p in af.values()}
    check(ino_in == ino_ar, "COPY did not hard-link")
    typ, data = m.select("Archive")
    typ, data = m.fetch("1:3", "(FLAGS BODY.PEEK[TEXT])")
    joined = b"".join(x[0] + x[1] if isinstance(x, tuple) else x for x in data)
    check(b"Work" in joined and b"$Label1" in joined and b"three" in joined
          and b"Other" not in joined, f"Archive FETCH: {joined!r}")
    # into the same mailbox
    m.select("INBOX")
    # (m.uid() drops the tagged text, where COPYUID is)
    typ, data = m._simple_command("UID", "COPY", "3", "INBOX")
    cu = code(data[0].decode(), "COPYUID")
    check(typ == "OK" and cu and cu[1] == "3" and cu[2] == "4",
          f"COPY into itself: {data}")
    typ, data = m.noop()
    typ, data = m.search(None, "ALL")
    check(data[0].split() == [b"1", b"2", b"3", b"4"], f"after self-copy: {data}")
    # MOVE
    before = set(files(inbox))
    _, arch_recs = uidlist(arch)
    m.untagged_responses.clear()
    typ, data = m.uid("MOVE", "2", "Archive")
    check(typ == "OK", f"MOVE: {typ} {data}")
    # "* OK [COPYUID v 2 n] ..." before the tagged OK (RFC 6851 3.3);
    # imaplib files the response code under its name
    cus = [x.decode().split() for x in m.untagged_responses.get("COPYUID", [])]
    va, _ = uidlist(arch)
    check(len(cus) == 1 and cus[0][0] == str(va) and cus[0][1] == "2" and
          int(cus[0][2]) == max(arch_recs) + 1,
          f"MOVE untagged COPYUID: {cus} (Archive had {arch_recs})")
    exp = m.untagged_responses.get("EXPUNGE", [])
    check(exp == [b"2"] or b"2" in exp, f"MOVE EXPUNGE: {exp}")
    after = set(files(inbox))
    check(len(before - after) == 1 and not (after - before),
          f"MOVE left the source: {before} -> {after}")
    check(len(files(arch)) == 4, "MOVE target count")
    # missing target
    typ, data = m.copy("1", "Nowhere")
    check(typ == "NO" and data[0].startswith(b"[TRYCREATE] "),
          f"COPY to a missing mailbox: {typ} {data}")
    typ, data = m.uid("MOVE", "1", "Nowhere")
    check(typ == "NO", f"MOVE to a missing mailbox: {typ} {data}")
    m.logout()
    # the exact order on the wire: untagged COPYUID, then the EXPUNGE
    raw = env.raw()
    raw.readline()
    raw.command("a", "SELECT INBOX")
    untagged, tagged = raw.command("b", "UID MOVE 1 Archive")
    cu = [i for i, u in enumerate(untagged) if u.startswith(b"* OK [COPYUID ")]
    ex = [i for i, u in enumerate(untagged)
          if re.match(rb"^\* \d+ EXPUNGE", u)]
    check(tagged.startswith(b"b OK") and len(cu) == 1 and len(ex) == 1 and
          cu[0] < ex[0] and b"COPYUID" not in tagged,
          f"MOVE replies: {untagged!r} {tagged!r}")
    _, tagged = raw.command("c", "COPY 1 Archive")
    check(tagged.startswith(b"c OK [COPYUID "), f"COPY tagged: {tagged!r}")


def main():
    for t in (test_append, test_append_raw, test_copy_move):
        with ImapEnv() as env:
            try:
                t(env)
            except Exception as e:
                import traceback
                traceback.print_exc()
                check(False, f"{t.__name__}: {e!r}")
    try:
        test_toobig()
    except Exception as e:
        import traceback
        traceback.print_exc()
        check(False, f"test_toobig: {e!r}")
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
