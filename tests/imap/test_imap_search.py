#!/usr/bin/env python3
"""test_imap_search - SEARCH, ESEARCH, SEARCHRES, SORT and THREAD
(imapd/cmd_search.c, cmd_sort.c, search_eval.c) over imapd -P.

A crafted mailbox of six messages (flags, keywords, RFC 2047 headers, a
quoted-printable UTF-8 body, a base64 ISO-8859-1 body, a multipart, a
duplicate Message-ID, a missing parent, a message without Date:) is
searched with every RFC 3501 key, NOT/OR nesting, CHARSET conversion of
the search string, ESEARCH RETURN options, SAVE and "$", CONDSTORE MODSEQ
and the IMAP4rev2 reply form. The expected SORT and THREAD answers were
worked out by hand from RFC 5256 (see the comments at each), not taken
from the server.
"""
import base64
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from imap_harness import ImapEnv  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


DAY = 86400
T0 = 1578657600  # 2020-01-10 12:00:00 UTC: noon, whatever the zone

B64_LATIN1 = base64.b64encode("Grüße aus Köln\n".encode("latin-1")).decode()

MSGS = [
    # 1
    ("From: Alice Smith <alice@example.com>\n"
     "To: bob@example.org\n"
     "Cc: carol@example.net\n"
     "Subject: Project plan\n"
     "Date: Mon, 7 Feb 1994 21:52:25 -0800\n"
     "Message-ID: <m1@test>\n"
     "\n"
     "The quick brown fox\n", "S", ("$Work",)),
    # 2
    ("From: bob@example.org\n"
     "To: alice@example.com\n"
     "Subject: Re: Project plan\n"
     "Date: Tue, 8 Feb 1994 10:00:00 +0000\n"
     "Message-ID: <m2@test>\n"
     "References: <m1@test>\n"
     "MIME-Version: 1.0\n"
     "Content-Type: text/plain; charset=utf-8\n"
     "Content-Transfer-Encoding: quoted-printable\n"
     "\n"
     "Un Caf=C3=A9 au lait, s'il vous pla=C3=AEt=\n"
     " merci\n", "RS", ()),
    # 3
    ("From: =?ISO-8859-1?Q?Ren=E9?= <rene@example.fr>\n"
     "To: alice@example.com\n"
     "Subject: =?UTF-8?B?w5xiZXJ3ZWlzdW5n?=\n"
     "Date: Wed, 9 Feb 1994 08:00:00 +0100\n"
     "Message-ID: <m3@test>\n"
     "MIME-Version: 1.0\n"
     "Content-Type: text/plain; charset=iso-8859-1\n"
     "Content-Transfer-Encoding: base64\n"
     "\n" + B64_LATIN1 + "\n", "F", ()),
    # 4
    ("From: Dave <dave@example.com>\n"
     "To: zed@example.com\n"
     "Subject: Fwd: Lunch\n"
     "Date: Thu, 10 Feb 1994 12:00:00 +0000\n"
     "Message-ID: <m4@test>\n"
     "In-Reply-To: <missing@test>\n"
     "MIME-Version: 1.0\n"
     "Content-Type: multipart/mixed; boundary=\"XX\"\n"
     "\n"
     "preamble\n"
     "--XX\n"
     "Content-Type: text/plain\n"
     "\n"
     "see attached menu\n"
     "--XX\n"
     "Content-Type: text/plain; charset=utf-8\n"
     "Content-Transfer-Encoding: base64\n"
     "\n" + base64.b64encode(b"Soup of the day: gazpacho\n").decode() + "\n"
     "--XX--\n", "T", ("$Later",)),
    # 5
    ("From: Eve <eve@example.com>\n"
     "To: bob@example.org\n"
     "Subject: Lunch\n"
     "Date: 9 Feb 1994 12:00:00 +0000\n"
     "Message-ID: <m5@test>\n"
     "References: <missing@test>\n"
     "X-Priority: 1\n"
     "\n" + "large " * 300 + "\n", "", ()),
    # 6: a duplicate Message-ID and no Date:
    ("From: alice@example.com\n"
     "To: bob@example.org\n"
     "Subject: Project plan (fwd)\n"
     "Message-ID: <m1@test>\n"
     "\n"
     "short\n", "D", ()),
]


def vsize(text):
    raw = text.encode("utf-8")
    return len(raw) + raw.count(b"\n")


SIZES = [vsize(m[0]) for m in MSGS]


def fill(env):
    for i, (text, flags, kw) in enumerate(MSGS):
        env.deliver(text.encode("utf-8"), flags=flags, keywords=kw,
                    mtime=T0 + i * DAY)


def nums(line):
    """The numbers of "* SEARCH 1 2" / "* SORT 2 1" (without MODSEQ)."""
    line = line.decode().rstrip("\r\n")
    line = re.sub(r"\s*\(MODSEQ \d+\)$", "", line)
    return [int(x) for x in line.split()[2:]]


class Session:
    def __init__(self, env):
        self.r = env.raw()
        self.r.readline()
        self.n = 0

    def cmd(self, text):
        """(untagged lines, tagged line) of one command; text may be bytes
        with literals written as {N+} (LITERAL+)."""
        self.n += 1
        tag = f"t{self.n}"
        self.tag = tag
        return self.r.command(tag, text)

    def untagged(self, text, prefix):
        u, t = self.cmd(text)
        lines = [x for x in u if x.startswith(prefix)]
        return lines, t

    def search(self, criteria, uid=False):
        lines, t = self.untagged(("UID " if uid else "") + "SEARCH " + criteria
                                 if isinstance(criteria, str) else
                                 (b"UID " if uid else b"") + b"SEARCH " + criteria,
                                 b"* SEARCH")
        if not t.startswith(self.tag.encode() + b" OK") or len(lines) != 1:
            return ("error", t, lines)
        return nums(lines[0])


def lit(data):
    return b"{%d+}\r\n" % len(data) + data


def test_keys(env):
    fill(env)
    s = Session(env)
    u, t = s.cmd("SELECT INBOX")
    check(b"OK" in t, f"select: {t!r}")
    cases = [
        ("ALL", [1, 2, 3, 4, 5, 6]),
        ("SEEN", [1, 2]), ("UNSEEN", [3, 4, 5, 6]),
        ("ANSWERED", [2]), ("UNANSWERED", [1, 3, 4, 5, 6]),
        ("FLAGGED", [3]), ("UNFLAGGED", [1, 2, 4, 5, 6]),
        ("DELETED", [4]), ("UNDELETED", [1, 2, 3, 5, 6]),
        ("DRAFT", [6]), ("UNDRAFT", [1, 2, 3, 4, 5]),
        ("KEYWORD $Work", [1]), ("UNKEYWORD $Work", [2, 3, 4, 5, 6]),
        ("KEYWORD $Later", [4]), ("KEYWORD $Nothing", []),
        ("UNKEYWORD $Nothing", [1, 2, 3, 4, 5, 6]),
        ("FROM alice", [1, 6]), ('FROM "ALICE SMITH"', [1]),
        ("TO bob", [1, 5, 6]), ("CC carol", [1]), ("BCC carol", []),
        ("SUBJECT project", [1, 2, 6]), ("SUBJECT lunch", [4, 5]),
        ('HEADER X-Priority ""', [5]), ("HEADER x-priority 1", [5]),
        ("HEADER X-Priority 2", []),
        ("HEADER Message-ID m1@test", [1, 6]),
        ('HEADER In-Reply-To ""', [4]),
        ("BODY quick", [1]), ('BODY "QUICK BROWN"', [1]),
        ("BODY project", []), ("TEXT project", [1, 2, 6]),
        ("TEXT rene@example", [3]), ("BODY menu", [4]),
        # the second part is base64
        ("BODY gazpacho", [4]),
        ("BODY large", [5]),
        # INTERNALDATE (file mtimes at noon, one day apart)
        ("ON 12-Jan-2020", [3]), ("BEFORE 12-Jan-2020", [1, 2]),
        ("SINCE 14-Jan-2020", [5, 6]), ("BEFORE 1-Jan-2000", []),
        # Date: in its own zone (1 is 8 Feb in UTC); 6 has no Date:
        ("SENTON 7-Feb-1994", [1]), ("SENTON 8-Feb-1994", [2]),
        ("SENTSINCE 9-Feb-1994", [3, 4, 5]),
        ("SENTBEFORE 9-Feb-1994", [1, 2]),
        # sequence and UID sets
        ("2:4", [2, 3, 4]), ("5:*", [5, 6]), ("*", [6]), ("4,2", [2, 4]),
        ("UID 2,4", [2, 4]), ("UID 5:*", [5, 6]), ("UID 100:*", [6]),
        # NOT, OR, groups
        ("NOT SEEN", [3, 4, 5, 6]), ("NOT NOT SEEN", [1, 2]),
        ("OR SEEN FLAGGED", [1, 2, 3]),
        ("OR OR ANSWERED FLAGGED DRAFT", [2, 3, 6]),
        ("OR (FROM alice SEEN) (NOT OR FLAGGED DELETED)", [1, 2, 5, 6]),
        ("(SEEN (FROM bob))", [2]),
        ("NOT (OR SUBJECT lunch (NOT UNSEEN))", [3, 6]),
        ("SEEN UNSEEN", []),
        ("CHARSET US-ASCII FROM bob", [2]),
        ("CHARSET UTF-8 TO alice", [2, 3]),
    ]
    for crit, want in cases:
        got = s.search(crit)
        check(got == want, f"SEARCH {crit}: {got}, want {want}")
    # sizes: computed from the files here
    for n in (500, 1000, SIZES[0]):
        want = [i + 1 for i, sz in enumerate(SIZES) if sz > n]
        got = s.search(f"LARGER {n}")
        check(got == want, f"LARGER {n}: {got}, want {want}")
        want = [i + 1 for i, sz in enumerate(SIZES) if sz < n]
        got = s.search(f"SMALLER {n}")
        check(got == want, f"SMALLER {n}: {got}, want {want}")
    # RECENT/NEW/OLD consistency: NEW = RECENT and UNSEEN, OLD = NOT RECENT
    recent = s.search("RECENT")
    check(isinstance(recent, list), f"RECENT: {recent}")
    if isinstance(recent, list):
        got = s.search("NEW")
        check(got == [x for x in recent if x in (3, 4, 5, 6)],
              f"NEW: {got} (RECENT {recent})")
        got = s.search("OLD")
        check(got == [x for x in range(1, 7) if x not in recent],
              f"OLD: {got} (RECENT {recent})")
    # UID SEARCH answers UIDs
    got = s.search("SEEN", uid=True)
    check(got == [1, 2], f"UID SEARCH SEEN: {got}")
    # charsets: the search string converted to UTF-8, the bodies and
    # headers decoded to UTF-8 from theirs
    for crit, want in [
            (b"CHARSET ISO-8859-1 BODY " + lit("CAFÉ".encode("latin-1")), [2]),
            (b"CHARSET ISO-8859-1 FROM " + lit("René".encode("latin-1")), [3]),
            (b"CHARSET UTF-8 SUBJECT " + lit("überweisung".encode()), [3]),
            (b"CHARSET UTF-8 BODY " + lit("GRÜSSE".encode()), [3]),
            (b"CHARSET UTF-8 BODY " + lit("köln".encode()), [3]),
            (b"CHARSET UTF-8 BODY " + lit("plaît merci".encode()), [2]),
            (b"CHARSET windows-1252 TEXT " + lit("Köln".encode("cp1252")), [3]),
            (b"CHARSET UTF-8 BODY " + lit("Koln".encode()), [])]:
        got = s.search(crit)
        check(got == want, f"SEARCH {crit!r}: {got}, want {want}")
    u, t = s.cmd("SEARCH CHARSET X-NO-SUCH-CHARSET FROM alice")
    check(re.match(rb"t\d+ NO \[BADCHARSET \(UTF-8 US-ASCII\)\]", t) is not None,
          f"BADCHARSET: {t!r}")
    # malformed
    for bad in ("SEARCH FOO", "SEARCH SINCE 32-Jan-2020", "SEARCH OR SEEN",
                "SEARCH (SEEN", "SEARCH LARGER x", "SEARCH 0",
                "SEARCH " + " ".join(["SEEN"] * 2000)):
        u, t = s.cmd(bad)
        check(re.match(rb"t\d+ BAD ", t) is not None, f"{bad[:40]}: {t!r}")
    got = s.search(" ".join(["SEEN"] * 100))
    check(got == [1, 2], f"100 keys: {got}")
    s.r.close()


def esearch(s, text):
    lines, t = s.untagged(text, b"* ESEARCH")
    check(t.startswith(s.tag.encode() + b" OK"), f"{text}: {t!r}")
    return [x.decode().rstrip("\r\n") for x in lines]


def test_esearch_save(env):
    fill(env)
    s = Session(env)
    s.cmd("SELECT INBOX")
    got = esearch(s, "UID SEARCH RETURN (MIN MAX COUNT) SEEN")
    check(got == [f'* ESEARCH (TAG "{s.tag}") UID MIN 1 MAX 2 COUNT 2'],
          f"ESEARCH MIN MAX COUNT: {got}")
    got = esearch(s, "SEARCH RETURN () UNSEEN")
    check(got == [f'* ESEARCH (TAG "{s.tag}") ALL 3:6'], f"RETURN (): {got}")
    got = esearch(s, "SEARCH RETURN (ALL) OR FLAGGED SEEN")
    check(got == [f'* ESEARCH (TAG "{s.tag}") ALL 1:3'], f"ALL: {got}")
    got = esearch(s, "SEARCH RETURN (ALL COUNT) OR DRAFT SEEN")
    check(got == [f'* ESEARCH (TAG "{s.tag}") ALL 1:2,6 COUNT 3'],
          f"ALL COUNT: {got}")
    got = esearch(s, "SEARCH RETURN (COUNT) BCC nobody")
    check(got == [f'* ESEARCH (TAG "{s.tag}") COUNT 0'], f"COUNT 0: {got}")
    got = esearch(s, "SEARCH RETURN (MIN) KEYWORD $Nothing")
    check(got == [f'* ESEARCH (TAG "{s.tag}")'], f"empty MIN: {got}")
    # SAVE alone: no ESEARCH reply; "$" is the result
    got = esearch(s, "SEARCH RETURN (SAVE) FLAGGED")
    check(got == [], f"SAVE alone: {got}")
    check(s.search("$") == [3], "SEARCH $ after SAVE FLAGGED")
    check(s.search("UID $", uid=True) == [3], "UID SEARCH UID $")
    check(s.search("OR $ SEEN") == [1, 2, 3], "OR $ SEEN")
    u, t = s.cmd("FETCH $ (FLAGS)")
    check(any(x.startswith(b"* 3 FETCH") for x in u) and len(u) == 1,
          f"FETCH $: {u!r} {t!r}")
    # SAVE with MIN only keeps the minimum (RFC 5182 2.4)
    got = esearch(s, "SEARCH RETURN (SAVE MIN) UNSEEN")
    check(got == [f'* ESEARCH (TAG "{s.tag}") MIN 3'], f"SAVE MIN: {got}")
    check(s.search("$") == [3], "$ after SAVE MIN")
    got = esearch(s, "SEARCH RETURN (SAVE MIN MAX) UNSEEN")
    check(s.search("$") == [3, 6], "$ after SAVE MIN MAX")
    got = esearch(s, "SEARCH RETURN (SAVE ALL MIN) UNSEEN")
    check(got == [f'* ESEARCH (TAG "{s.tag}") MIN 3 ALL 3:6'],
          f"SAVE ALL MIN: {got}")
    check(s.search("$") == [3, 4, 5, 6], "$ after SAVE ALL MIN")
    # a failed SEARCH with SAVE empties "$"
    u, t = s.cmd("SEARCH RETURN (SAVE) CHARSET X-NO-SUCH ALL")
    check(b" NO " in t, f"failed SAVE: {t!r}")
    check(s.search("$") == [], "$ after a failed SAVE")
    # "$" refers to UIDs: still right after an expunge
    s.cmd("SEARCH RETURN (SAVE) SUBJECT lunch")
    s.cmd("EXPUNGE")  # removes 4 (\Deleted): 5 becomes seq 4
    check(s.search("$") == [4], "$ after EXPUNGE")
    check(s.search("$", uid=True) == [5], "UID SEARCH $ after EXPUNGE")
    check(s.search("ALL", uid=True) == [1, 2, 3, 5, 6], "UIDs after EXPUNGE")
    check(s.search("UID 5") == [4], "SEARCH UID 5 after EXPUNGE")
    s.r.close()


def test_modseq_rev2(env):
    fill(env)
    s = Session(env)
    s.cmd("SELECT INBOX")
    lines, t = s.untagged("SEARCH MODSEQ 1", b"* SEARCH")
    check(len(lines) == 1 and re.match(rb"\* SEARCH 1 2 3 4 5 6 \(MODSEQ \d+\)\r\n$",
                                       lines[0]) is not None,
          f"SEARCH MODSEQ: {lines!r}")
    u, t = s.cmd("STORE 5 +FLAGS (\\Flagged)")
    u, t = s.cmd("FETCH 5 (MODSEQ)")
    m = re.search(rb"MODSEQ \((\d+)\)", b"".join(u))
    check(m is not None, f"FETCH MODSEQ: {u!r}")
    if m:
        ms = int(m.group(1))
        lines, t = s.untagged(f"SEARCH MODSEQ {ms}", b"* SEARCH")
        check(lines == [b"* SEARCH 5 (MODSEQ %d)\r\n" % ms],
              f"SEARCH MODSEQ {ms}: {lines!r}")
        lines, t = s.untagged(f'SEARCH MODSEQ "/flags/\\\\flagged" all {ms}',
                              b"* SEARCH")
        check(lines == [b"* SEARCH 5 (MODSEQ %d)\r\n" % ms],
              f"SEARCH MODSEQ entry: {lines!r}")
        got = esearch(s, f"SEARCH RETURN (COUNT) MODSEQ {ms}")
        check(got == [f'* ESEARCH (TAG "{s.tag}") COUNT 1 MODSEQ {ms}'],
              f"ESEARCH MODSEQ: {got}")
        lines, t = s.untagged(f"SEARCH MODSEQ {ms + 1}", b"* SEARCH")
        check(lines == [b"* SEARCH\r\n"], f"SEARCH MODSEQ none: {lines!r}")
    s.r.close()
    # IMAP4rev2: SEARCH answers with ESEARCH
    s = Session(env)
    u, t = s.cmd("ENABLE IMAP4rev2")
    s.cmd("SELECT INBOX")
    got = esearch(s, "SEARCH SEEN")
    check(got == [f'* ESEARCH (TAG "{s.tag}") ALL 1:2'], f"rev2 SEARCH: {got}")
    got = esearch(s, "UID SEARCH KEYWORD $Nothing")
    check(got == [f'* ESEARCH (TAG "{s.tag}") UID'], f"rev2 empty: {got}")
    s.r.close()


def sort(s, text):
    lines, t = s.untagged(text, b"* SORT")
    check(t.startswith(s.tag.encode() + b" OK") and len(lines) == 1,
          f"{text}: {t!r} {lines!r}")
    return nums(lines[0]) if lines else None


def thread(s, text):
    lines, t = s.untagged(text, b"* THREAD")
    check(t.startswith(s.tag.encode() + b" OK") and len(lines) == 1,
          f"{text}: {t!r} {lines!r}")
    return lines[0].decode().rstrip("\r\n") if lines else None


def test_sort_thread(env):
    fill(env)
    s = Session(env)
    s.cmd("SELECT INBOX")
    # Base subjects: 1 2 6 "Project plan", 3 "Überweisung", 4 5 "Lunch";
    # i;ascii-casemap puts "L" < "P" < 0xC3; ties in mailbox order.
    # Sent dates (UTC): 1 8-Feb 05:52, 2 8-Feb 10:00, 3 9-Feb 07:00,
    # 5 9-Feb 12:00, 4 10-Feb 12:00, 6 none: INTERNALDATE (2020).
    # First addr-mailbox: From 1 alice 2 bob 3 rene 4 dave 5 eve 6 alice;
    # To 1 bob 2 alice 3 alice 4 zed 5 bob 6 bob; Cc only 1 (carol).
    cases = [
        ("(SUBJECT) UTF-8 ALL", [4, 5, 1, 2, 6, 3]),
        ("(DATE) UTF-8 ALL", [1, 2, 3, 5, 4, 6]),
        ("(REVERSE DATE) UTF-8 ALL", [6, 4, 5, 3, 2, 1]),
        ("(FROM) UTF-8 ALL", [1, 6, 2, 4, 5, 3]),
        ("(TO) UTF-8 ALL", [2, 3, 1, 5, 6, 4]),
        ("(CC) UTF-8 ALL", [2, 3, 4, 5, 6, 1]),
        ("(ARRIVAL) UTF-8 ALL", [1, 2, 3, 4, 5, 6]),
        ("(REVERSE ARRIVAL) UTF-8 ALL", [6, 5, 4, 3, 2, 1]),
        ("(SUBJECT REVERSE DATE) UTF-8 ALL", [4, 5, 6, 2, 1, 3]),
        ("(REVERSE SUBJECT) UTF-8 ALL", [3, 1, 2, 6, 4, 5]),
        ("(SUBJECT) UTF-8 UNSEEN", [4, 5, 6, 3]),
        ("(SUBJECT) US-ASCII FROM alice", [1, 6]),
    ]
    for crit, want in cases:
        got = sort(s, "SORT " + crit)
        check(got == want, f"SORT {crit}: {got}, want {want}")
    want = [i + 1 for _, i in sorted((sz, i) for i, sz in enumerate(SIZES))]
    got = sort(s, "SORT (SIZE) UTF-8 ALL")
    check(got == want, f"SORT (SIZE): {got}, want {want}")
    got = sort(s, "UID SORT (SUBJECT) UTF-8 SEEN")
    check(got == [1, 2], f"UID SORT: {got}")
    lines, t = s.untagged("SORT (DATE) UTF-8 MODSEQ 1", b"* SORT")
    check(len(lines) == 1 and re.match(rb"\* SORT 1 2 3 5 4 6 \(MODSEQ \d+\)",
                                       lines[0]) is not None,
          f"SORT MODSEQ: {lines!r}")
    # REFERENCES: 2 answers 1; 4 (In-Reply-To) and 5 (References) share
    # the missing parent, a dummy with two children kept at the top; 6
    # has 1's Message-ID again (a duplicate: a unique ID instead).
    # Top sorted by date: 1, 3, dummy (its first child 5, 9-Feb 12:00),
    # 6. Subjects: 6 "Project plan (fwd)" is a forward of 1's subject
    # and 1 is not: 6 goes under 1, after 2 by date.
    got = thread(s, "THREAD REFERENCES UTF-8 ALL")
    check(got == "* THREAD (1 (2)(6))(3)((5)(4))", f"THREAD REFERENCES: {got}")
    # ORDEREDSUBJECT: "lunch" 5 then 4, "project plan" 1 2 6, 3 alone;
    # threads by their first date: 1, 3, 5
    got = thread(s, "THREAD ORDEREDSUBJECT UTF-8 ALL")
    check(got == "* THREAD (1 (2)(6))(3)(5 4)", f"THREAD ORDEREDSUBJECT: {got}")
    got = thread(s, "THREAD REFERENCES UTF-8 SUBJECT lunch")
    check(got == "* THREAD ((5)(4))", f"THREAD lunch: {got}")
    got = thread(s, "THREAD REFERENCES UTF-8 KEYWORD $Nothing")
    check(got == "* THREAD", f"THREAD empty: {got}")
    # after expunging 4, the dummy has one child and goes; UIDs differ
    # from sequence numbers now
    s.cmd("EXPUNGE")
    got = thread(s, "UID THREAD REFERENCES UTF-8 ALL")
    check(got == "* THREAD (1 (2)(6))(3)(5)", f"UID THREAD: {got}")
    got = thread(s, "THREAD REFERENCES UTF-8 ALL")
    check(got == "* THREAD (1 (2)(5))(3)(4)", f"THREAD after EXPUNGE: {got}")
    got = sort(s, "UID SORT (DATE) UTF-8 ALL")
    check(got == [1, 2, 3, 5, 6], f"UID SORT (DATE): {got}")
    for bad in ("SORT SUBJECT UTF-8 ALL", "SORT () UTF-8 ALL",
                "SORT (FOO) UTF-8 ALL", "SORT (REVERSE) UTF-8 ALL",
                "SORT (DATE) UTF-8", "THREAD FOO UTF-8 ALL",
                "THREAD REFERENCES", "SORT (DATE) UTF-8 FOO"):
        u, t = s.cmd(bad)
        check(re.match(rb"t\d+ BAD ", t) is not None, f"{bad}: {t!r}")
    u, t = s.cmd("SORT (DATE) X-NO-SUCH ALL")
    check(b"NO [BADCHARSET" in t, f"SORT BADCHARSET: {t!r}")
    s.r.close()


def test_not_selected(env):
    s = Session(env)
    for cmd in ("SEARCH ALL", "SORT (DATE) UTF-8 ALL",
                "THREAD REFERENCES UTF-8 ALL"):
        u, t = s.cmd(cmd)
        check(re.match(rb"t\d+ (BAD|NO) ", t) is not None, f"{cmd}: {t!r}")
    s.r.close()


def test_many(env):
    # 3,000 messages: header searches come from the cache, results in order
    for i in range(3000):
        env.deliver(f"From: user{i}@example.com\nSubject: msg {i}\n"
                    f"Message-ID: <{i}@many>\n"
                    + (f"References: <{i - 1}@many>\n" if i % 3 else "")
                    + f"\nbody {i}\n")
    s = Session(env)
    s.cmd("SELECT INBOX")
    got = s.search("FROM user2999@")
    check(got == [3000], f"many FROM: {got}")
    got = s.search('SUBJECT "msg 1"')
    want = [i + 1 for i in range(3000) if str(i).startswith("1")]
    check(got == want, f"many SUBJECT: {len(got) if isinstance(got, list) else got}")
    got = s.search("BODY \"body 2500\"")
    check(got == [2501], f"many BODY: {got}")
    # threads of three: (1 2 3)(4 5 6)...
    got = thread(s, "THREAD REFERENCES UTF-8 ALL")
    want = "* THREAD " + "".join(f"({i} {i + 1} {i + 2})" for i in range(1, 3001, 3))
    check(got == want, f"many THREAD: {(got or '')[:80]}")
    s.r.close()


def main():
    for t in (test_keys, test_esearch_save, test_modseq_rev2,
              test_sort_thread, test_not_selected, test_many):
        with ImapEnv() as env:
            try:
                t(env)
            except Exception as e:  # report and go on with the others
                import traceback
                traceback.print_exc()
                check(False, f"{t.__name__}: {e!r}")
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
