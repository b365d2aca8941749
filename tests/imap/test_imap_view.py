"""The selected mailbox (imapd/view*.c, lib/mail/mail_index.c): SELECT and
EXAMINE replies on a Maildir with an existing dovecot-uidlist (UIDVALIDITY
and UIDs kept), STORE variants (.SILENT, keywords, UNCHANGEDSINCE),
EXPUNGE / UID EXPUNGE / CLOSE, CONDSTORE and QRESYNC SELECT with VANISHED
(EARLIER), two sessions seeing each other's flag changes, expunges and new
mail, files renamed or removed by another program, the index rebuilt
after corruption without modseqs going back, STATUS through the index.
Runs imapd -P through tests/lib/imap_harness.py.
"""
import os
import re
import sys
import time
import traceback

from imap_harness import ImapEnv

FAILURES = []

MSG = ("From: Alice <alice@example.org>\nTo: bob@example.org\n"
       "Subject: {subj}\nDate: Mon, 2 Jan 2023 10:00:00 +0000\n"
       "Message-ID: <{subj}@example.org>\n\nbody of {subj}\n")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def run(r, text, tag="t"):
    """Sends a command; returns (untagged lines as str without CRLF,
    tagged line as str)."""
    un, tagged = r.command(tag, text)
    return ([l.decode(errors="replace").rstrip("\r\n") for l in un],
            tagged.decode(errors="replace").rstrip("\r\n"))


def ok(r, text):
    un, tagged = run(r, text)
    check(tagged.startswith("t OK"), f"{text}: {tagged} ({un})")
    return un


def session(env):
    r = env.raw()
    r.expect(rb"^\* PREAUTH ")
    return r


def find(lines, pattern):
    rx = re.compile(pattern)
    return [l for l in lines if rx.search(l)]


def one(lines, pattern):
    got = find(lines, pattern)
    check(len(got) == 1, f"expected one {pattern!r} in {lines}")
    return re.search(pattern, got[0])


def base_of(path):
    return os.path.basename(path).split(":2,")[0]


def fetch_flags(lines):
    """{seq: set of flags} from untagged FETCH (... FLAGS (...) ...)."""
    out = {}
    for l in lines:
        m = re.match(r"^\* (\d+) FETCH \(.*FLAGS \(([^)]*)\)", l)
        if m:
            out[int(m.group(1))] = set(m.group(2).split())
    return out


def modseqs(lines):
    out = {}
    for l in lines:
        m = re.match(r"^\* (\d+) FETCH \(.*MODSEQ \((\d+)\)", l)
        if m:
            out[int(m.group(1))] = int(m.group(2))
    return out


def test_select_dovecot_store(env):
    """An existing Dovecot store: UIDVALIDITY, UIDs, flags and keywords are
    taken as they are, new files get the next UIDs."""
    p1 = env.deliver(MSG.format(subj="one"), flags="S")
    p2 = env.deliver(MSG.format(subj="two"), flags="F", keywords=("$Junk",))
    p3 = env.deliver(MSG.format(subj="three"))
    d = env.maildir()
    uidlist = (f"3 V1234567890 N20 Gd0c1d5c0b5f1a3653c0000a1b2c3d4e5\n"
               f"10 :{base_of(p1)}\n15 :{base_of(p2)}\n")
    with open(os.path.join(d, "dovecot-uidlist"), "w") as f:
        f.write(uidlist)
    r = session(env)
    un, tagged = run(r, "SELECT INBOX")
    check(re.match(r"^t OK \[READ-WRITE\] ", tagged), tagged)
    one(un, r"^\* FLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft "
            r"\$Junk\)$")
    one(un, r"^\* OK \[PERMANENTFLAGS \(\\Answered \\Flagged \\Deleted "
            r"\\Seen \\Draft \$Junk \\\*\)\] ")
    one(un, r"^\* 3 EXISTS$")
    one(un, r"^\* 3 RECENT$")
    one(un, r"^\* OK \[UNSEEN 2\] ")
    one(un, r"^\* OK \[UIDVALIDITY 1234567890\] ")
    one(un, r"^\* OK \[UIDNEXT 21\] ")
    hms = int(one(un, r"^\* OK \[HIGHESTMODSEQ (\d+)\] ").group(1))
    check(hms > 0, "HIGHESTMODSEQ")
    # the order Dovecot uses
    order = [l.split()[1] if not l.startswith("* OK") else l.split()[2]
             for l in un]
    check(order[:3] == ["FLAGS", "[PERMANENTFLAGS", "3"], order)
    un = ok(r, "FETCH 1:* (UID FLAGS)")
    got = {int(m.group(1)): (int(m.group(2)), set(m.group(3).split()))
           for m in (re.match(r"^\* (\d+) FETCH \(UID (\d+) FLAGS \(([^)]*)\)\)$", l)
                     for l in un) if m}
    check(got == {1: (10, {"\\Seen", "\\Recent"}),
                  2: (15, {"\\Flagged", "\\Recent", "$Junk"}),
                  3: (20, {"\\Recent"})}, got)
    ok(r, "LOGOUT")
    with open(os.path.join(d, "dovecot-uidlist")) as f:
        text = f.read()
    check(text.startswith("3 V1234567890 "), text)
    check(f"10 :{base_of(p1)}" in text and f"15 :{base_of(p2)}" in text, text)
    check(re.search(r"^20 .*:" + re.escape(base_of(p3)) + "$", text, re.M), text)
    # our index is beside it; Dovecot's files untouched otherwise
    check(os.path.exists(os.path.join(d, "dovetail.index")), "no index")
    # \Recent went to the first session
    r = session(env)
    un = ok(r, "SELECT INBOX")
    one(un, r"^\* 0 RECENT$")
    one(un, r"^\* OK \[HIGHESTMODSEQ %d\] " % hms)


def test_examine(env):
    env.deliver(MSG.format(subj="one"))
    env.deliver(MSG.format(subj="two"), flags="T")
    r = session(env)
    un, tagged = run(r, "EXAMINE INBOX")
    check(re.match(r"^t OK \[READ-ONLY\] ", tagged), tagged)
    one(un, r"^\* OK \[PERMANENTFLAGS \(\)\] ")
    one(un, r"^\* 2 RECENT$")
    un, tagged = run(r, "STORE 1 +FLAGS (\\Seen)")
    check(tagged.startswith("t NO"), tagged)
    un, tagged = run(r, "EXPUNGE")
    check(tagged.startswith("t NO"), tagged)
    ok(r, "CLOSE")  # read-only: nothing expunged
    check(len(os.listdir(os.path.join(env.maildir(), "cur"))) == 2,
          "CLOSE after EXAMINE expunged")
    # EXAMINE did not take \Recent
    r2 = session(env)
    one(ok(r2, "SELECT INBOX"), r"^\* 2 RECENT$")
    # selecting another mailbox closes the first with [CLOSED]
    un = ok(r2, "EXAMINE INBOX")
    check(un[0] == "* OK [CLOSED] Previous mailbox closed.", un)
    one(un, r"^\* 0 RECENT$")
    un, tagged = run(r2, "SELECT nosuch")
    check(tagged.startswith("t NO [NONEXISTENT]"), tagged)
    # a failed SELECT leaves no mailbox selected
    un, tagged = run(r2, "FETCH 1 FLAGS")
    check(tagged.startswith("t BAD") or tagged.startswith("t NO"), tagged)


def test_store(env):
    for i in range(4):
        env.deliver(MSG.format(subj=f"m{i}"))
    r = session(env)
    ok(r, "SELECT INBOX")
    un = ok(r, "STORE 1 +FLAGS (\\Seen \\Flagged)")
    check(fetch_flags(un) == {1: {"\\Seen", "\\Flagged", "\\Recent"}}, un)
    un = ok(r, "STORE 1 -FLAGS (\\Flagged)")
    check(fetch_flags(un) == {1: {"\\Seen", "\\Recent"}}, un)
    un = ok(r, "STORE 2:3 FLAGS (\\Answered $Label1 Work)")
    ff = fetch_flags(un)
    check(ff == {2: {"\\Answered", "$Label1", "Work", "\\Recent"},
                 3: {"\\Answered", "$Label1", "Work", "\\Recent"}}, un)
    # new keywords were announced
    one(un, r"^\* FLAGS \(.*\$Label1 Work\)$")
    un = ok(r, "STORE 4 FLAGS.SILENT (\\Draft)")
    check(fetch_flags(un) == {}, un)
    un = ok(r, "UID STORE 4 +FLAGS (\\Seen)")
    check(re.search(r"^\* 4 FETCH \(UID 4 FLAGS \(", un[0]), un)
    # on disk: Maildir letters and dovecot-keywords as Dovecot writes them
    with open(os.path.join(env.maildir(), "dovecot-keywords")) as f:
        kw = f.read()
    check(kw == "0 $Label1\n1 Work\n", kw)
    names = sorted(os.listdir(os.path.join(env.maildir(), "cur")))
    infos = sorted(n.split(":2,")[1] for n in names)
    check(infos == ["DS", "Rab", "Rab", "S"], infos)
    # errors
    _, tagged = run(r, "STORE 1 +FLAGS (\\Recent)")
    check(tagged.startswith("t BAD"), tagged)
    _, tagged = run(r, "STORE 9 +FLAGS (\\Seen)")
    check(tagged.startswith("t BAD"), tagged)
    _, tagged = run(r, "STORE 1 +FLAGZ (\\Seen)")
    check(tagged.startswith("t BAD"), tagged)
    un = ok(r, "UID STORE 99 +FLAGS (\\Seen)")  # no such UID: nothing
    check(fetch_flags(un) == {}, un)
    # flags persist for a new session
    r2 = session(env)
    ok(r2, "SELECT INBOX")
    ff = fetch_flags(ok(r2, "FETCH 1:4 FLAGS"))
    check(ff[1] == {"\\Seen"} and ff[4] == {"\\Draft", "\\Seen"}, ff)


def test_condstore(env):
    for i in range(3):
        env.deliver(MSG.format(subj=f"m{i}"))
    r = session(env)
    un = ok(r, "SELECT INBOX (CONDSTORE)")
    hms = int(one(un, r"^\* OK \[HIGHESTMODSEQ (\d+)\] ").group(1))
    un = ok(r, "FETCH 1:3 (MODSEQ)")
    ms = modseqs(un)
    check(len(ms) == 3 and max(ms.values()) <= hms, un)
    un = ok(r, f"STORE 1 (UNCHANGEDSINCE {ms[1]}) +FLAGS (\\Seen)")
    new = modseqs(un)
    check(new.get(1, 0) > hms, un)
    # the message changed since: refused, MODIFIED names it
    un, tagged = run(r, f"STORE 1,2 (UNCHANGEDSINCE {ms[1]}) +FLAGS (\\Flagged)")
    check(re.match(r"^t OK \[MODIFIED 1\] ", tagged), tagged)
    ff = fetch_flags(un)
    check(2 in ff and "\\Flagged" in ff[2] and 1 not in ff, un)
    un, tagged = run(r, "UID STORE 1:3 (UNCHANGEDSINCE 0) +FLAGS (\\Draft)")
    check(re.match(r"^t OK \[MODIFIED 1:3\] ", tagged), tagged)
    # .SILENT still reports the new MODSEQ (RFC 7162 3.1.3)
    un = ok(r, "STORE 3 +FLAGS.SILENT (\\Answered)")
    m = one(un, r"^\* 3 FETCH \(MODSEQ \((\d+)\)\)$")
    last = int(m.group(1))
    check(last > new[1], un)
    un = ok(r, f"FETCH 1:* (FLAGS) (CHANGEDSINCE {new[1]})")
    check(sorted(fetch_flags(un)) == [2, 3], un)
    # modseqs are kept across sessions
    r2 = session(env)
    un = ok(r2, "SELECT INBOX (CONDSTORE)")
    one(un, r"^\* OK \[HIGHESTMODSEQ %d\] " % last)


def test_expunge(env):
    paths = [env.deliver(MSG.format(subj=f"m{i}")) for i in range(6)]
    r = session(env)
    ok(r, "SELECT INBOX")
    ok(r, "STORE 2,4,5 +FLAGS.SILENT (\\Deleted)")
    un = ok(r, "EXPUNGE")
    check(un == ["* 5 EXPUNGE", "* 4 EXPUNGE", "* 2 EXPUNGE"], un)
    un = ok(r, "UID FETCH 1:* (UID)")
    check([int(re.search(r"UID (\d+)", l).group(1)) for l in un] == [1, 3, 6], un)
    # UID EXPUNGE removes only the given \Deleted messages
    ok(r, "STORE 1:3 +FLAGS.SILENT (\\Deleted)")
    un = ok(r, "UID EXPUNGE 3:6")
    check(un == ["* 3 EXPUNGE", "* 2 EXPUNGE"], un)
    check(len(os.listdir(os.path.join(env.maildir(), "cur"))) == 1, "files")
    # CLOSE expunges silently
    env.deliver(MSG.format(subj="late"))
    un = ok(r, "NOOP")
    one(un, r"^\* 2 EXISTS$")
    ok(r, "STORE 1 -FLAGS.SILENT (\\Deleted)")
    ok(r, "STORE 2 +FLAGS.SILENT (\\Deleted)")
    un = ok(r, "CLOSE")
    check(un == [], un)
    left = os.listdir(os.path.join(env.maildir(), "cur"))
    check(len(left) == 1 and left[0].endswith(":2,") and
          base_of(left[0]) == base_of(paths[0]), left)
    _, tagged = run(r, "EXPUNGE")
    check(tagged.startswith("t BAD") or tagged.startswith("t NO"), tagged)


def test_qresync(env):
    for i in range(5):
        env.deliver(MSG.format(subj=f"m{i}"))
    r = session(env)
    ok(r, "ENABLE QRESYNC")
    un = ok(r, "SELECT INBOX")
    uv = int(one(un, r"^\* OK \[UIDVALIDITY (\d+)\] ").group(1))
    hms = int(one(un, r"^\* OK \[HIGHESTMODSEQ (\d+)\] ").group(1))
    # changes while the client is away
    ok(r, "STORE 2 +FLAGS.SILENT (\\Seen)")
    ok(r, "STORE 4 +FLAGS.SILENT (\\Deleted)")
    un = ok(r, "EXPUNGE")
    check(un == ["* VANISHED 4"], un)  # QRESYNC: VANISHED, not EXPUNGE
    ok(r, "UNSELECT")
    un, tagged = run(r, "SELECT INBOX (QRESYNC (%d %d))" % (uv, hms))
    check(tagged.startswith("t OK"), tagged)
    one(un, r"^\* VANISHED \(EARLIER\) 4$")
    got = [l for l in un if " FETCH " in l]
    check(len(got) == 1 and re.match(r"^\* 2 FETCH \(UID 2 FLAGS \(\\Seen\) "
                                     r"MODSEQ \(\d+\)\)$", got[0]), un)
    # known-uids limits the answer
    ok(r, "UNSELECT")
    un = ok(r, "SELECT INBOX (QRESYNC (%d %d 1,3,5))" % (uv, hms))
    check(not find(un, r"VANISHED") and not find(un, r" FETCH "), un)
    # another UIDVALIDITY: no VANISHED or FETCH
    ok(r, "UNSELECT")
    un = ok(r, "SELECT INBOX (QRESYNC (%d %d))" % (uv + 1, hms))
    check(not find(un, r"VANISHED") and not find(un, r" FETCH "), un)
    # QRESYNC without ENABLE is refused
    r2 = session(env)
    _, tagged = run(r2, "SELECT INBOX (QRESYNC (%d %d))" % (uv, hms))
    check(tagged.startswith("t BAD"), tagged)


def test_two_sessions(env):
    for i in range(3):
        env.deliver(MSG.format(subj=f"m{i}"))
    a = session(env)
    b = session(env)
    ok(a, "SELECT INBOX")
    ok(b, "SELECT INBOX")
    ok(b, "STORE 2 +FLAGS (\\Flagged)")
    un = ok(a, "NOOP")
    ff = fetch_flags(un)
    check(2 in ff and "\\Flagged" in ff[2], un)
    un = ok(a, "NOOP")
    check(fetch_flags(un) == {}, f"reported twice: {un}")
    # a .SILENT STORE still tells about the other session's change
    ok(b, "STORE 3 +FLAGS (\\Answered)")
    un = ok(a, "STORE 3 +FLAGS.SILENT (\\Seen)")
    ff = fetch_flags(un)
    check(ff.get(3, set()) >= {"\\Answered", "\\Seen"}, un)
    ok(b, "STORE 3 +FLAGS (\\Draft)")
    un = ok(a, "STORE 3 +FLAGS (\\Flagged)")
    check(len(un) == 1 and fetch_flags(un)[3] >= {"\\Draft", "\\Flagged"},
          un)
    # an expunge by b: held back while a runs FETCH, sent at NOOP
    ok(b, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    ok(b, "EXPUNGE")
    un = ok(a, "FETCH 1:3 (UID)")
    check(not find(un, r"EXPUNGE"), un)
    un = ok(a, "NOOP")
    check(find(un, r"^\* 1 EXPUNGE$"), un)
    # new mail: \Recent for the first session that sees it
    env.deliver(MSG.format(subj="new"))
    un = ok(a, "NOOP")
    one(un, r"^\* 3 EXISTS$")
    one(un, r"^\* 3 RECENT$")  # a selected first: all three are its
    un = ok(b, "NOOP")
    one(un, r"^\* 3 EXISTS$")
    one(un, r"^\* 0 RECENT$")
    un = ok(b, "FETCH 3 (UID FLAGS)")
    check(re.search(r"UID 4 FLAGS \(\)", un[0]), un)


def test_concurrent_stores(env):
    """Three sessions storing on the same messages at once (pipelined)
    end with the same flags and modseqs, equal to the files on disk."""
    for i in range(10):
        env.deliver(MSG.format(subj=f"m{i}"))
    rs = [session(env) for _ in range(3)]
    for r in rs:
        ok(r, "SELECT INBOX (CONDSTORE)")
    n = 60
    for k, r in enumerate(rs):
        r.send("".join(f"x{i} STORE {(i * 7 + k) % 10 + 1} "
                       f"{'+' if i % 2 == 0 else '-'}FLAGS (\\Flagged kw{k})\r\n"
                       for i in range(n)))
    for r in rs:
        m = r.expect(rb"^x%d " % (n - 1), timeout=60)
        check(b" OK " in m.string, m.string)
    views = []
    for r in rs:
        ok(r, "NOOP")
        un = ok(r, "FETCH 1:* (UID FLAGS MODSEQ)")
        views.append(sorted(re.sub(r" ?\\Recent", "", l).replace("( ", "(")
                            for l in un))
    check(views[0] == views[1] == views[2], views)
    letters = {"\\Flagged": "F", "kw0": "a", "kw1": "b", "kw2": "c"}
    with open(os.path.join(env.maildir(), "dovecot-keywords")) as f:
        order = {line.split()[1]: chr(ord("a") + int(line.split()[0]))
                 for line in f}
    letters.update(order)
    want = sorted("".join(sorted(letters[f] for f in
                                 re.search(r"FLAGS \(([^)]*)\)", l).group(1).split()))
                  for l in views[0])
    cur = os.path.join(env.maildir(), "cur")
    disk = sorted("".join(sorted(n.split(":2,")[1])) for n in os.listdir(cur))
    check(want == disk, f"{want} != {disk}")
    ms = [int(re.search(r"MODSEQ \((\d+)\)", l).group(1)) for l in views[0]]
    check(len(set(ms)) > 1, ms)


def test_changed_on_disk(env):
    p1 = env.deliver(MSG.format(subj="one"), flags="S")
    p2 = env.deliver(MSG.format(subj="two"), flags="S")
    r = session(env)
    un = ok(r, "SELECT INBOX (CONDSTORE)")
    hms = int(one(un, r"^\* OK \[HIGHESTMODSEQ (\d+)\] ").group(1))
    # a MUA or Dovecot renames the file: flags changed
    os.rename(p1, p1.replace(":2,S", ":2,FS"))
    un = ok(r, "NOOP")
    m = one(un, r"^\* 1 FETCH \(FLAGS \(([^)]*)\) MODSEQ \((\d+)\)\)$")
    check(set(m.group(1).split()) == {"\\Flagged", "\\Seen", "\\Recent"}, un)
    check(int(m.group(2)) > hms, un)
    # and another program deletes a file
    os.unlink(p2)
    un = ok(r, "NOOP")
    check(find(un, r"^\* 2 EXPUNGE$"), un)
    # message content still readable after a rename by someone else
    cur = os.path.join(env.maildir(), "cur")
    name = os.listdir(cur)[0]
    os.rename(os.path.join(cur, name),
              os.path.join(cur, name.split(":2,")[0] + ":2,FRS"))
    un = ok(r, "FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)] ENVELOPE)")
    check(find(un, r"Subject: one") or find(un, r'"one"'), un)


def test_index_rebuild(env):
    for i in range(3):
        env.deliver(MSG.format(subj=f"m{i}"))
    r = session(env)
    un = ok(r, "SELECT INBOX")
    uv = one(un, r"^\* OK \[UIDVALIDITY (\d+)\] ").group(1)
    ok(r, "STORE 1 +FLAGS (\\Seen)")
    un = ok(r, "FETCH 1:* (UID MODSEQ ENVELOPE)")
    ms = modseqs(un)
    ok(r, "LOGOUT")
    idx = os.path.join(env.maildir(), "dovetail.index")
    with open(idx, "r+b") as f:
        f.seek(120)
        f.write(b"garbage!")
    r = session(env)
    un = ok(r, "SELECT INBOX")
    one(un, r"^\* OK \[UIDVALIDITY %s\] " % uv)
    hms = int(one(un, r"^\* OK \[HIGHESTMODSEQ (\d+)\] ").group(1))
    check(hms > max(ms.values()), f"modseq went back: {hms} {ms}")
    un = ok(r, "FETCH 1:* (UID FLAGS ENVELOPE)")
    check(len(un) == 3 and "\\Seen" in un[0] and '"m2"' in un[2], un)
    ok(r, "LOGOUT")
    # a missing index is rebuilt too
    os.unlink(idx)
    r = session(env)
    un = ok(r, "SELECT INBOX")
    hms2 = int(one(un, r"^\* OK \[HIGHESTMODSEQ (\d+)\] ").group(1))
    check(hms2 > hms, f"modseq went back: {hms2} <= {hms}")
    check("rebuilding" in env.log(), "corruption not logged")


def test_status(env):
    env.deliver(MSG.format(subj="a"), folder="Work")
    env.deliver(MSG.format(subj="b"), folder="Work", flags="S")
    env.deliver(MSG.format(subj="c"), folder="Work", flags="ST")
    r = session(env)
    for _ in range(2):  # cold, then through the index
        un = ok(r, "STATUS Work (MESSAGES RECENT UNSEEN UIDNEXT DELETED SIZE)")
        m = one(un, r"^\* STATUS Work \((.*)\)$")
        items = dict(zip(m.group(1).split()[::2], m.group(1).split()[1::2]))
        check(items.get("MESSAGES") == "3" and items.get("UNSEEN") == "1" and
              items.get("UIDNEXT") == "4" and items.get("RECENT") == "3", items)
        if "DELETED" in items:
            check(items["DELETED"] == "1", items)
    ok(r, "SELECT Work")
    un = ok(r, "STATUS Work (MESSAGES RECENT UNSEEN)")
    one(un, r"^\* STATUS Work \(MESSAGES 3 RECENT 3 UNSEEN 1\)$")


def age_dirs(env, secs=10):
    """Sets cur/ and new/ mtimes secs in the past; returns cur/'s (ns)."""
    md = env.maildir()
    t = int((time.time() - secs) * 1e9)
    for sub in ("cur", "new"):
        os.utime(os.path.join(md, sub), ns=(t, t))
    return t


def sneak(env, subj, cur_ns):
    """A file put into cur/ with cur/'s mtime set back to cur_ns: only a
    session that lists cur/ sees it."""
    md = env.maildir()
    path = env.deliver(MSG.format(subj=subj), flags="S")
    os.utime(os.path.join(md, "cur"), ns=(cur_ns, cur_ns))
    return path


def test_select_unlisted(env):
    """SELECT of a folder unchanged since the index was written takes the
    file names from dovecot-uidlist and the index instead of listing cur/
    (Dovecot's maildir sync does the same), and lists it again once cur/
    changed or a name did not follow from the flags."""
    p1 = env.deliver(MSG.format(subj="one"), flags="S")
    env.deliver(MSG.format(subj="two"), flags="S", keywords=("$Work",))
    t = age_dirs(env)
    r = session(env)
    un = ok(r, "SELECT INBOX")
    one(un, r"^\* 2 EXISTS$")
    ok(r, "LOGOUT")
    # unchanged mtimes: the next SELECT does not list cur/ (the sneaked
    # file stays unseen), yet names, flags and contents are right
    sneak(env, "sneaked", t)
    r = session(env)
    un = ok(r, "SELECT INBOX")
    one(un, r"^\* 2 EXISTS$")
    un = ok(r, "FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    text = "\n".join(un)
    check("Subject: one" in text and "Subject: two" in text, un)
    fl = fetch_flags(un)
    check(fl.get(1) == {"\\Seen"} and fl.get(2) == {"\\Seen", "$Work"}, fl)
    # STORE renames the file whose name came from the index
    ok(r, "STORE 1 +FLAGS (\\Flagged)")
    cur = os.path.join(env.maildir(), "cur")
    check(os.path.exists(os.path.join(cur, base_of(p1) + ":2,FS")),
          os.listdir(cur))
    ok(r, "LOGOUT")
    # cur/ changed (the STORE): listed again, the sneaked file appears
    r = session(env)
    un = ok(r, "SELECT INBOX")
    one(un, r"^\* 3 EXISTS$")
    ok(r, "LOGOUT")
    # a name with a letter the index does not keep ("P", passed): the
    # index cannot name it, so every SELECT lists cur/
    os.rename(os.path.join(cur, base_of(p1) + ":2,FS"),
              os.path.join(cur, base_of(p1) + ":2,FPS"))
    t = age_dirs(env)
    r = session(env)
    un = ok(r, "SELECT INBOX")
    one(un, r"^\* 3 EXISTS$")
    ok(r, "LOGOUT")
    sneak(env, "sneaked 2", t)
    r = session(env)
    un = ok(r, "SELECT INBOX")
    one(un, r"^\* 4 EXISTS$")
    un = ok(r, "FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    check(find(un, r"Subject: one"), un)
    check(fetch_flags(un).get(1) == {"\\Seen", "\\Flagged"}, un)


def test_cache_compacted(env):
    """Blobs of expunged messages are dropped from dovetail.index.cache
    once they are a good part of it (not only when the index is
    rebuilt); the other messages' cached data stays right."""
    pad = "X-Pad: " + "p" * 70 + "\n"
    for i in range(30):
        env.deliver(MSG.format(subj=f"c{i}").replace(
            "\n\n", "\n" + pad * 30 + "\n", 1))
    r = session(env)
    ok(r, "SELECT INBOX")
    un = ok(r, "FETCH 1:* (ENVELOPE BODYSTRUCTURE)")
    check(len(find(un, r"ENVELOPE")) == 30, un)
    cache = os.path.join(env.maildir(), "dovetail.index.cache")
    before = os.path.getsize(cache)
    check(before > 60000, f"cache only {before} bytes")
    ok(r, "STORE 1:20 +FLAGS.SILENT (\\Deleted)")
    ok(r, "EXPUNGE")
    after = os.path.getsize(cache)
    check(after < before / 2, f"cache not compacted: {before} -> {after}")
    un = ok(r, "FETCH 1:* (ENVELOPE)")
    subjects = [re.search(r'"(c\d+)"', l).group(1) for l in find(un, r"ENVELOPE")]
    check(subjects == [f"c{i}" for i in range(20, 30)], subjects)
    ok(r, "LOGOUT")
    r = session(env)
    ok(r, "SELECT INBOX")
    un = ok(r, "FETCH 10 (ENVELOPE)")
    check(find(un, r'"c29"'), un)


def test_idle_release(env):
    """An IDLE session drops its listing and index copy while idling and
    reads them again on a change or at DONE: flags another session set,
    a delivery and an expunge all arrive, the session then works as
    before; a dovecot-uidlist recreated with another UIDVALIDITY during
    IDLE ends the session with BYE (a fresh listing alone could not
    tell)."""
    for i in range(3):
        env.deliver(MSG.format(subj=f"i{i}"), flags="S")
    r = session(env)
    ok(r, "SELECT INBOX")
    r2 = session(env)
    ok(r2, "SELECT INBOX")
    r.send(b"i1 IDLE\r\n")
    r.expect(rb"^\+ idling")
    ok(r2, "STORE 2 +FLAGS (\\Flagged)")
    r.expect(rb"^\* 2 FETCH \(FLAGS \(.*\\Flagged", timeout=5)
    env.deliver(MSG.format(subj="i3"))
    r.expect(rb"^\* 4 EXISTS", timeout=5)
    ok(r2, "STORE 1 +FLAGS.SILENT (\\Deleted)")
    ok(r2, "EXPUNGE")
    r.expect(rb"^\* 1 EXPUNGE", timeout=5)
    r.send(b"DONE\r\n")
    r.expect(rb"^i1 OK Idle completed")
    un = ok(r, "FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    text = "\n".join(un)
    check(len(find(un, r"^\* \d FETCH")) == 3 and "Subject: i1" in text
          and "Subject: i3" in text and "Subject: i0" not in text, un)
    ok(r, "STORE 1 +FLAGS (\\Answered)")
    # IDLE, DONE without changes, IDLE again, then the uidlist is replaced
    r.send(b"i2 IDLE\r\nDONE\r\n")
    r.expect(rb"^i2 OK Idle completed")
    ok(r2, "LOGOUT")
    r.send(b"i3 IDLE\r\n")
    r.expect(rb"^\+ idling")
    ul = os.path.join(env.maildir(), "dovecot-uidlist")
    with open(ul) as f:
        lines = f.read().split("\n")
    hdr = lines[0].split()
    hdr = [("V%d" % (int(h[1:]) + 7) if h.startswith("V") else h) for h in hdr]
    with open(ul + ".new", "w") as f:
        f.write(" ".join(hdr) + "\n" + "\n".join(lines[1:]))
    os.rename(ul + ".new", ul)
    env.deliver(MSG.format(subj="i4"))
    r.expect(rb"^\* BYE .*UIDVALIDITY", timeout=5)


TESTS = [
    test_select_dovecot_store,
    test_examine,
    test_store,
    test_condstore,
    test_expunge,
    test_qresync,
    test_two_sessions,
    test_concurrent_stores,
    test_changed_on_disk,
    test_index_rebuild,
    test_status,
    test_select_unlisted,
    test_cache_compacted,
    test_idle_release,
]


def main():
    only = sys.argv[1:]
    for t in TESTS:
        if only and t.__name__ not in only:
            continue
        env = ImapEnv()
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
