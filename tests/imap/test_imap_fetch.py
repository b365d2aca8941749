#!/usr/bin/env python3
"""test_imap_fetch - FETCH and UID FETCH (imapd/cmd_fetch.c) with imaplib
over imapd -P.

On the MIME golden corpus (tests/unit/mime/*.eml) it checks, against
values computed here from the files: BODY[] and RFC822 with bare LF sent
as CRLF and NUL as 0x80, RFC822.SIZE, BODYSTRUCTURE/BODY/ENVELOPE equal to
the Dovecot refs, HEADER + TEXT = the message, partials at every offset
around line breaks (offsets count the CRLF stream), HEADER.FIELDS(.NOT);
then sections of parts and message/rfc822 subparts, BINARY/BINARY.SIZE on
base64 and quoted-printable (literal8), UNKNOWN-CTE, \\Seen set by BODY[]
and not by BODY.PEEK/EXAMINE (FLAGS added to the reply), UID FETCH,
messages expunged under a FETCH, CHANGEDSINCE/MODSEQ, and a 2,000-message
FETCH 1:* of header fields. Finally, when Debian's Dovecot and root are
available (else missing(): skip locally, fail in CI), every body item on
every corpus message is compared byte for byte with what a private
Dovecot answers for the same Maildir.
"""
import glob
import imaplib
import os
import pwd
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import dovetail_test  # noqa: E402
from imap_harness import ImapEnv  # noqa: E402

CORPUS = os.path.join(HERE, "..", "unit", "mime")
# message/global: encapsulated on purpose, unlike Dovecot (mime/README)
DIFFERS_ON_PURPOSE = {"21-message-global"}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def crlf(data):
    """The message as IMAP sends it: bare LF as CRLF, NUL as 0x80."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data).replace(b"\0", b"\x80")


def joined(data):
    """imaplib FETCH data joined back into the bytes the server sent."""
    out = b""
    for d in data:
        if isinstance(d, tuple):
            out += d[0] + b"\r\n" + d[1]
        elif d is not None:
            out += d
    return out


def literal_value(resp, name):
    """The literal (or quoted/NIL/atom) value of item name in resp."""
    key = name + b" "
    i = resp.find(key)
    assert i >= 0, (name, resp[:300])
    rest = resp[i + len(key):]
    m = re.match(rb"~?\{(\d+)\}\r\n", rest)
    if m:
        n = int(m.group(1))
        return rest[m.end():m.end() + n]
    if rest.startswith(b'"'):
        return rest[1:rest.index(b'"', 1)]
    return re.match(rb"[^ )]*", rest).group(0)


def fetch1(m, seq, item, uid=False):
    if uid:
        typ, data = m.uid("FETCH", seq, "(" + item + ")")
    else:
        typ, data = m.fetch(seq, "(" + item + ")")
    assert typ == "OK", (seq, item, typ, data)
    return joined(data)


def corpus():
    return sorted(p for p in glob.glob(os.path.join(CORPUS, "*.eml"))
                  if os.path.basename(p)[:-4] not in DIFFERS_ON_PURPOSE)


def put_files(maildir, blobs):
    """Files in cur/ named so that UIDs follow the list order."""
    for i, data in enumerate(blobs):
        name = "%d.M%dP1.dovetail:2," % (1700000000 + i, i)
        with open(os.path.join(maildir, "cur", name), "wb") as f:
            f.write(data)


def header_fields(msg, names, negate):
    """HEADER.FIELDS computed here (msg already CRLF, so every line ends
    in CRLF; a bare CR is no line end). As Dovecot: HEADER.FIELDS of the
    message always ends with the empty line, HEADER.FIELDS.NOT only when
    the header has one."""
    end = msg.find(b"\r\n\r\n")
    hdr = msg if end < 0 else msg[:end + 2]
    lines = [x + b"\r\n" for x in hdr.split(b"\r\n")]
    if lines[-1] == b"\r\n":
        lines.pop()
    elif negate:
        # an unended last line stays so without the empty line
        lines[-1] = lines[-1][:-2]
    fields = []
    for line in lines:
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] += line
        else:
            fields.append(line)
    out = b""
    for f in fields:
        name = f.split(b":", 1)[0].rstrip(b" \t").upper() if b":" in f else None
        want = name is not None and name in names
        if want != negate:
            out += f
    return out + b"\r\n" if end >= 0 or not negate else out


def test_corpus(env):
    paths = corpus()
    blobs = [open(p, "rb").read() for p in paths]
    put_files(env.maildir("INBOX"), blobs)
    m = env.connect()
    typ, data = m.select("INBOX", readonly=True)
    check(typ == "OK" and int(data[0]) == len(blobs), f"SELECT {data}")
    for i, (path, raw) in enumerate(zip(paths, blobs)):
        seq = str(i + 1)
        name = os.path.basename(path)[:-4]
        want = crlf(raw)
        got = literal_value(fetch1(m, seq, "BODY.PEEK[]"), b"BODY[]")
        check(got == want, f"{name}: BODY[] differs")
        size = literal_value(fetch1(m, seq, "RFC822.SIZE"), b"RFC822.SIZE")
        check(int(size) == len(want), f"{name}: RFC822.SIZE {size}")
        for item, ext in (("BODYSTRUCTURE", "bodystructure"),
                          ("BODY", "body"), ("ENVELOPE", "envelope")):
            ref = open(os.path.join(CORPUS, name + "." + ext + ".ref"),
                       "rb").read().rstrip(b"\n")
            resp = fetch1(m, seq, item)
            check(resp.endswith(b" " + ref + b")") and
                  (b"(" + item.encode() + b" ") in resp,
                  f"{name}: {item} differs from the Dovecot ref")
        hdr = literal_value(fetch1(m, seq, "BODY.PEEK[HEADER]"),
                            b"BODY[HEADER]")
        text = literal_value(fetch1(m, seq, "BODY.PEEK[TEXT]"), b"BODY[TEXT]")
        check(hdr + text == want, f"{name}: HEADER + TEXT != BODY[]")
        if b"\r\n\r\n" in want:
            check(hdr == want[:want.index(b"\r\n\r\n") + 4],
                  f"{name}: HEADER does not end at the first empty line")
        for names, neg in (((b"FROM", b"SUBJECT"), False),
                           ((b"FROM", b"TO", b"CONTENT-TYPE"), True)):
            item = "BODY.PEEK[HEADER.FIELDS%s (%s)]" % (
                ".NOT" if neg else "", " ".join(n.decode() for n in names))
            got = literal_value(fetch1(m, seq, item),
                                item.replace(".PEEK", "").encode())
            exp = header_fields(want, set(names), neg)
            check(got == exp, f"{name}: {item}: {got!r} != {exp!r}")
    # partials: every offset and length around the first line breaks of an
    # LF-only message (each LF is sent as CRLF, so offsets must count the
    # CR that is not in the file)
    lf = [i for i, p in enumerate(paths) if p.endswith("17-lf-only.eml")][0]
    want = crlf(blobs[lf])
    for off in list(range(0, 40)) + [len(want) - 3, len(want) - 1,
                                     len(want), len(want) + 5]:
        for ln in (1, 2, 3, 7):
            resp = fetch1(m, str(lf + 1), f"BODY.PEEK[]<{off}.{ln}>")
            got = literal_value(resp, f"BODY[]<{off}>".encode())
            check(got == want[off:off + ln],
                  f"partial <{off}.{ln}>: {got!r} != {want[off:off + ln]!r}")
    resp = fetch1(m, str(lf + 1), "BODY.PEEK[TEXT]<3.10>")
    text = want[want.index(b"\r\n\r\n") + 4:]
    check(literal_value(resp, b"BODY[TEXT]<3>") == text[3:13],
          "TEXT partial")
    m.logout()


def msg(headers, body):
    return ("".join(h + "\n" for h in headers) + "\n" + body).encode()


def test_parts_and_binary(env):
    rfc822 = open(os.path.join(CORPUS, "05-rfc822-in-multipart.eml"),
                  "rb").read()
    blobs = [
        rfc822,
        msg(["From: a", "Content-Type: text/plain",
             "Content-Transfer-Encoding: base64"], "AAECAwAA\n"),
        msg(["From: a", "Content-Type: text/plain",
             "Content-Transfer-Encoding: quoted-printable"],
            "h=C3=A9llo=\nworld=3D\n"),
        msg(["From: a", "Content-Transfer-Encoding: x-uuencode"], "abc\n"),
        msg(["From: a", "Content-Transfer-Encoding: 8bit"],
            "h\u00e9llo\n"),
        msg(["From: a", "MIME-Version: 1.0",
             "Content-Type: multipart/mixed; boundary=zz"],
            "pre\n--zz\nContent-Type: text/plain\n\none\n--zz\n"
            "Content-Type: application/octet-stream\n"
            "Content-Transfer-Encoding: base64\n\nAP8A/w==\n--zz--\n"),
        # a part whose header's empty line is directly followed by the
        # boundary: that line break is the boundary's (RFC 2046), so the
        # header has no empty line, as Dovecot answers
        msg(["From: a", "MIME-Version: 1.0",
             "Content-Type: multipart/mixed; boundary=yy"],
            "--yy\nContent-Type: text/plain\n\n--yy\n"
            "Content-Type: text/plain\nContent-Transfer-Encoding: base64"
            "\n\n--yy\nContent-Type: text/plain\n\ntwo\n--yy--\n"),
    ]
    put_files(env.maildir("INBOX"), blobs)
    m = env.connect()
    m.select("INBOX", readonly=True)
    r = fetch1(m, "1", "BODY.PEEK[2.MIME]")
    check(literal_value(r, b"BODY[2.MIME]") ==
          b"Content-Type: message/rfc822\r\n"
          b"Content-Disposition: attachment\r\n\r\n", f"2.MIME: {r!r}")
    r = literal_value(fetch1(m, "1", "BODY.PEEK[2.HEADER]"),
                      b"BODY[2.HEADER]")
    check(r.startswith(b"From: Original Sender <orig@example.net>\r\n") and
          r.endswith(b"boundary=\"b2\"\r\n\r\n"), f"2.HEADER: {r!r}")
    r = literal_value(fetch1(m, "1", "BODY.PEEK[2.1]"), b"BODY[2.1]")
    check(r == b"inner text", f"2.1: {r!r}")
    r = literal_value(fetch1(m, "1", "BINARY.PEEK[2.1]"), b"BINARY[2.1]")
    check(r == b"inner text", f"BINARY[2.1]: {r!r}")
    r = literal_value(fetch1(m, "1", "BODY.PEEK[2.2.HEADER]"),
                      b"BODY[2.2.HEADER]")
    check(r == b"Subject: innermost\r\nFrom: deep@example.net\r\n\r\n",
          f"2.2.HEADER: {r!r}")
    r = literal_value(fetch1(m, "1", "BODY.PEEK[2.2.TEXT]"),
                      b"BODY[2.2.TEXT]")
    check(r == b"innermost body\r\nline two", f"2.2.TEXT: {r!r}")
    # a non-multipart part is its own part 1, as in Dovecot
    r = literal_value(fetch1(m, "1", "BODY.PEEK[1.1]"), b"BODY[1.1]")
    check(r == b"See attached.\r\n", f"1.1 of a text part: {r!r}")
    # sections that name nothing are empty strings, as in Dovecot
    for sec in ("9", "1.2", "1.1.1", "1.HEADER"):
        r = fetch1(m, "1", f"BODY.PEEK[{sec}]")
        check(re.search(rb"BODY\[" + re.escape(sec.encode()) +
                        rb"\] (\{0\}|\"\")", r) is not None,
              f"missing section {sec}: {r!r}")

    r = fetch1(m, "2", "BINARY.PEEK[1] BINARY.SIZE[1]")
    check(b"BINARY[1] ~{6}\r\n\x00\x01\x02\x03\x00\x00" in r,
          f"BINARY base64: {r!r}")
    check(b"BINARY.SIZE[1] 6" in r, f"BINARY.SIZE base64: {r!r}")
    r = fetch1(m, "2", "BINARY.PEEK[1]<2.3>")
    check(b"BINARY[1]<2> ~{3}\r\n\x02\x03\x00" in r, f"BINARY partial: {r!r}")
    r = fetch1(m, "3", "BINARY.PEEK[1] BINARY.SIZE[1]")
    check(b"BINARY[1] ~{14}\r\nh\xc3\xa9lloworld=\r\n" in r,
          f"BINARY quoted-printable: {r!r}")
    check(b"BINARY.SIZE[1] 14" in r, f"BINARY.SIZE qp: {r!r}")
    # imaplib raises only on BAD: a NO is returned
    typ, data = m.fetch("4", "(BINARY.PEEK[1])")
    check(typ == "NO" and data[0].startswith(b"[UNKNOWN-CTE] "),
          f"BINARY of an unknown CTE: {typ} {data}")
    typ, data = m.fetch("4", "(BINARY.SIZE[1])")
    check(typ == "NO" and data[0].startswith(b"[UNKNOWN-CTE] "),
          f"BINARY.SIZE of an unknown CTE: {typ} {data}")
    m.untagged_responses.pop("FETCH", None)
    r = fetch1(m, "4", "BODY.PEEK[1]")
    check(b"BODY[1] {5}\r\nabc\r\n" in r, f"BODY[1] of unknown CTE: {r!r}")
    r = fetch1(m, "5", "BINARY.PEEK[1]")
    check(b"BINARY[1] {8}\r\nh\xc3\xa9llo\r\n" in r, f"BINARY 8bit: {r!r}")
    r = fetch1(m, "6", "BINARY.PEEK[2] BODY.PEEK[1] BODY.PEEK[2.MIME]")
    check(b"BINARY[2] ~{4}\r\n\x00\xff\x00\xff" in r, f"BINARY[2]: {r!r}")
    check(b"BODY[1] {3}\r\none" in r, f"BODY[1] multipart: {r!r}")
    r = fetch1(m, "7", "BODY.PEEK[1.MIME] BODY.PEEK[1] BODY.PEEK[3.MIME]")
    check(b"BODY[1.MIME] {26}\r\nContent-Type: text/plain\r\n BODY[1] "
          in r, f"1.MIME ended by the boundary: {r!r}")
    check(b"BODY[3.MIME] {28}\r\nContent-Type: text/plain\r\n\r\n" in r,
          f"3.MIME with a body: {r!r}")
    r = fetch1(m, "7", "BODY.PEEK[2.MIME] BINARY.SIZE[2]")
    check(b"BODY[2.MIME] {61}\r\nContent-Type: text/plain\r\n"
          b"Content-Transfer-Encoding: base64\r\n BINARY.SIZE[2] 0)" in r,
          f"2.MIME ended by the boundary: {r!r}")
    # BINARY.SIZE is cached per message and part: a repeat does not
    # decode again. Shown by rewriting message 2's file in place (which
    # Maildir never does): the size stays, BINARY reads the new file.
    d = env.maildir("INBOX")
    path = [os.path.join(d, "cur", f) for f in os.listdir(os.path.join(d, "cur"))
            if open(os.path.join(d, "cur", f), "rb").read() == blobs[1]]
    check(len(path) == 1, f"message 2's file: {path}")
    with open(path[0], "wb") as fp:
        fp.write(blobs[1].replace(b"AAECAwAA", b"AAECAwAABwgJ"))
    r = fetch1(m, "2", "BINARY.SIZE[1]")
    check(b"BINARY.SIZE[1] 6)" in r, f"BINARY.SIZE from the cache: {r!r}")
    r = fetch1(m, "2", "BINARY.PEEK[1]")
    check(b"BINARY[1] ~{9}\r\n" in r, f"BINARY reads the file: {r!r}")
    r = fetch1(m, "2", "BINARY.SIZE[]")
    check(b"BINARY.SIZE[] " in r, f"another part is computed: {r!r}")
    r = fetch1(m, "7", "BODYSTRUCTURE")
    check(b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 ' in r
          and b'"base64" 0 0 ' in r, f"BODYSTRUCTURE sizes: {r!r}")
    m.logout()


def test_seen(env):
    d = env.maildir("INBOX")
    for i in range(3):
        env.deliver(msg(["From: s@example.org", f"Subject: seen {i}"],
                        f"body {i}\n"))
    m = env.connect()
    m.select("INBOX")
    r = fetch1(m, "1", "BODY.PEEK[]")
    check(b"FLAGS" not in r, f"BODY.PEEK reply has FLAGS: {r!r}")
    r = fetch1(m, "1", "RFC822.HEADER")
    check(b"\\Seen" not in r, f"RFC822.HEADER set \\Seen: {r!r}")
    r = fetch1(m, "1", "FLAGS")
    check(b"\\Seen" not in r, f"\\Seen set by PEEK: {r!r}")
    r = fetch1(m, "1", "BODY[TEXT]")
    check(re.search(rb"FLAGS \([^)]*\\Seen", r) is not None,
          f"BODY[] reply lacks FLAGS (\\Seen): {r!r}")
    r = fetch1(m, "2", "RFC822.TEXT")
    check(b"\\Seen" in r, f"RFC822.TEXT: {r!r}")
    names = os.listdir(os.path.join(d, "cur"))
    check(sum(1 for n in names if re.search(r":2,[A-Z]*S", n)) == 2,
          f"\\Seen not on disk: {names}")
    r = fetch1(m, "2", "UID FLAGS", uid=False)
    check(b"UID 2" in r, f"UID item: {r!r}")
    r = fetch1(m, "3", "FLAGS", uid=True)
    check(b"UID 3" in r and b"FLAGS" in r, f"UID FETCH lacks UID: {r!r}")
    m.close()
    m.select("INBOX", readonly=True)
    r = fetch1(m, "3", "BODY[]")
    check(b"\\Seen" not in r, f"EXAMINE set \\Seen: {r!r}")
    m.logout()
    names = os.listdir(os.path.join(d, "cur"))
    check(sum(1 for n in names if re.search(r":2,[A-Z]*S", n)) == 2,
          f"\\Seen set under EXAMINE: {names}")


def test_expunged_meanwhile(env):
    paths = [env.deliver(msg(["From: e@example.org", f"Subject: e{i}"],
                             f"e{i}\n")) for i in range(4)]
    raw = env.raw()
    raw.readline()
    raw.command("a", "EXAMINE INBOX")
    d = env.maildir("INBOX")
    base = os.path.basename(paths[1]).split(":")[0]
    victim = [n for n in os.listdir(os.path.join(d, "cur")) if base in n]
    check(len(victim) == 1, f"delivered file not found: {victim}")
    os.unlink(os.path.join(d, "cur", victim[0]))
    untagged, tagged = raw.command("b", "FETCH 1:4 (BODY.PEEK[TEXT])")
    got = b"".join(untagged)
    check(b"e0" in got and b"e2" in got and b"e3" in got and
          b"e1" not in got, f"expunged message not sent/skipped: {got!r}")
    # Dovecot 2.3 (cmd-fetch.c) answers so when it skipped one
    check(tagged.startswith(b"b OK [EXPUNGEISSUED] "),
          f"FETCH with an expunged message: {tagged!r}")


def test_condstore(env):
    for i in range(3):
        env.deliver(msg(["From: c@example.org", f"Subject: c{i}"], "c\n"))
    m = env.connect()
    m.select("INBOX")
    r = fetch1(m, "1:3", "MODSEQ FLAGS")
    mods = [int(x) for x in re.findall(rb"MODSEQ \((\d+)\)", r)]
    check(len(mods) == 3, f"MODSEQ: {r!r}")
    top = max(mods) if mods else 0
    m.store("2", "+FLAGS", "(\\Flagged)")
    m.untagged_responses.pop("FETCH", None)
    typ, data = m.fetch("1:3", f"(FLAGS) (CHANGEDSINCE {top})")
    # imaplib strips "* n FETCH ": each item starts with "n ("
    seqs = [re.match(rb"(\d+) \(", d if isinstance(d, bytes) else d[0])
            for d in data if d is not None]
    r = joined(data)
    check(typ == "OK" and [x.group(1) for x in seqs if x] == [b"2"] and
          b"MODSEQ" in r and b"\\Flagged" in r, f"CHANGEDSINCE: {data!r}")
    m.logout()


def test_many(env):
    d = env.maildir("INBOX")
    n = 2000
    for i in range(n):
        name = "%d.M%dP2.many:2," % (1600000000 + i, i)
        with open(os.path.join(d, "cur", name), "wb") as f:
            f.write(msg(["From: many@example.org", f"Subject: number {i}",
                         "X-Filler: " + "x" * 200], "body\n" * 20))
    m = env.connect()
    m.select("INBOX", readonly=True)
    typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    subj = [x[1] for x in data if isinstance(x, tuple)]
    check(typ == "OK" and len(subj) == n and
          all(s == b"Subject: number %d\r\n\r\n" % i
              for i, s in enumerate(subj)),
          f"FETCH 1:* HEADER.FIELDS: {len(subj)} replies")
    typ, data = m.fetch("1:*", "(RFC822.SIZE BODY.PEEK[])")
    check(typ == "OK" and sum(1 for x in data if isinstance(x, tuple)) == n,
          "FETCH 1:* BODY[] count")
    m.logout()


def test_bad(env):
    env.deliver(msg(["From: b"], "b\n"))
    raw = env.raw()
    raw.readline()
    _, tagged = raw.command("a", "FETCH 1 (FLAGS)")
    check(tagged.startswith(b"a BAD") or tagged.startswith(b"a NO"),
          f"FETCH without SELECT: {tagged!r}")
    raw.command("b", "SELECT INBOX")
    for bad in ("FETCH 1 (BODY[HEADER.FIELDS])", "FETCH 1 (FOO)",
                "FETCH 0 (FLAGS)", "FETCH 1", "FETCH 1 (BODY[1.2.MIME]<0.0>)",
                "FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)"):
        _, tagged = raw.command("c", bad)
        check(tagged.startswith(b"c BAD"), f"{bad}: {tagged!r}")
    _, tagged = raw.command("d", "FETCH 1 (FLAGS)")
    check(tagged.startswith(b"d OK"), f"session dead after BADs: {tagged!r}")


def dovecot_compare():
    """Every body item of every corpus message: byte for byte as Dovecot."""
    if os.geteuid() != 0:
        dovetail_test.missing("root privileges (the Dovecot comparison)")
    import peers
    paths = corpus()
    blobs = [open(p, "rb").read() for p in paths]
    items = ["BODY.PEEK[]", "BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]",
             "BODY.PEEK[1]", "BODY.PEEK[1.MIME]", "BODY.PEEK[2]",
             "BODY.PEEK[2.MIME]", "BODY.PEEK[2.HEADER]", "BODY.PEEK[2.TEXT]",
             "BODY.PEEK[2.1]", "BODY.PEEK[2.2]", "BODY.PEEK[1.1]",
             "BODY.PEEK[3.1.2]", "BODY.PEEK[1.2.MIME]",
             "BODY.PEEK[HEADER.FIELDS (FROM SUBJECT CONTENT-TYPE)]",
             "BODY.PEEK[HEADER.FIELDS.NOT (FROM RECEIVED)]",
             "BODY.PEEK[2.HEADER.FIELDS (SUBJECT)]",
             "BODY.PEEK[]<7.50>", "BODY.PEEK[TEXT]<1.20>",
             "BODY.PEEK[1]<0.1>", "RFC822.HEADER", "RFC822.SIZE",
             "BINARY.PEEK[1]", "BINARY.SIZE[1]", "BINARY.PEEK[2]",
             "BINARY.PEEK[1.1]", "BINARY.PEEK[]", "BINARY.SIZE[]",
             "BINARY.PEEK[2.1]", "BINARY.SIZE[2]", "BODY.PEEK[2.1.MIME]",
             "BODY.PEEK[2.HEADER.FIELDS.NOT (SUBJECT)]", "BINARY.PEEK[3]",
             "BINARY.SIZE[2.1]", "BINARY.PEEK[]<10.40>",
             "BINARY.PEEK[1]<2.5>"]
    tmp = tempfile.mkdtemp(prefix="dovetail-fetchcmp-")
    os.chmod(tmp, 0o755)
    nobody = pwd.getpwnam("nobody")
    home = os.path.join(tmp, "home")
    md = os.path.join(home, "Maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub))
    put_files(md, blobs)
    for root, dirs, files in os.walk(home):
        os.chown(root, nobody.pw_uid, nobody.pw_gid)
        for f in files:
            os.chown(os.path.join(root, f), nobody.pw_uid, nobody.pw_gid)
    port = peers.free_port()
    dv = peers.PrivateDovecot(
        tmp, nobody, {"test": home}, "pass", "imap", """
disable_plaintext_auth = no
auth_mechanisms = plain
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {p}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
""".format(p=port), "imap", "dovecot-imapd", ready_port=port)

    def answers(m):
        out = {}
        for it in items:
            for i in range(len(blobs)):
                # only this FETCH's reply for this message: a failed
                # FETCH leaves untagged replies behind in imaplib
                m.untagged_responses.pop("FETCH", None)
                try:
                    typ, data = m.fetch(str(i + 1), "(" + it + ")")
                except imaplib.IMAP4.error as e:
                    out[(i, it)] = b"ERR " + str(e).split("]")[0].encode()
                    continue
                if typ != "OK":
                    # Dovecot adds its timing: "... (0.001 + 0.000 secs)."
                    text = re.sub(rb" \([0-9.+ ]*secs\)\.$", b"",
                                  data[0] or b"")
                    out[(i, it)] = typ.encode() + b" " + text
                    continue
                mine, keep = [], False
                for d in data:
                    if d is None:
                        continue
                    head = re.match(rb"(\d+) \(",
                                    d if isinstance(d, bytes) else d[0])
                    if head:
                        keep = int(head.group(1)) == i + 1
                    if keep:
                        mine.append(d)
                out[(i, it)] = typ.encode() + b" " + joined(mine)
        return out

    with dv:
        d = imaplib.IMAP4("127.0.0.1", port)
        d.login("test", "pass")
        d.select("INBOX", readonly=True)
        theirs = answers(d)
        d.logout()
    shutil.rmtree(tmp, ignore_errors=True)
    with ImapEnv() as env:
        put_files(env.maildir("INBOX"), blobs)
        m = env.connect()
        m.select("INBOX", readonly=True)
        ours = answers(m)
        m.logout()
    differ = 0
    for key in sorted(theirs):
        if theirs[key] != ours.get(key):
            differ += 1
            if differ <= int(os.environ.get("FETCH_DIFFS", "30")):
                print("DIFFERS from Dovecot: %s %s\n  dovecot:  %r\n"
                      "  dovetail: %r" % (os.path.basename(paths[key[0]]),
                                          key[1], theirs[key][:400],
                                          ours.get(key, b"")[:400]))
    check(differ == 0, f"{differ} of {len(theirs)} answers differ from "
          f"Dovecot")


def main():
    for t in (test_corpus, test_parts_and_binary, test_seen,
              test_expunged_meanwhile, test_condstore, test_many, test_bad):
        with ImapEnv() as env:
            try:
                t(env)
            except Exception as e:  # report and go on with the others
                import traceback
                traceback.print_exc()
                check(False, f"{t.__name__}: {e!r}")
    if os.path.exists("/usr/sbin/dovecot") or dovetail_test.IN_CI:
        dovecot_compare()
    else:
        print("note: Dovecot comparison skipped (no /usr/sbin/dovecot)")
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
