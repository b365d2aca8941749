"""A Maildir shared by Debian's Dovecot (dovecot-imapd, dovecot-core) and
Dovetail's imapd (issue 6): either one takes over a store the other has
used, with the same UIDVALIDITY, UIDNEXT, UIDs, flags, keywords, sizes,
contents and folder names.

Dovecot runs privately (own base_dir, state, log and config in a temporary
directory, IMAP on a free loopback port, a passwd-file user owned by the
test vmail user); Dovetail's imapd runs in preauth mode as that user
(imapd -c CONF -f -P user:HOME -o mail_location=maildir:~/Maildir, as
Dovecot's imap binary can be run from a shell).

1. Dovecot first: messages APPENDed to INBOX and to two folders (one with
   a non-ASCII name, modified UTF-7 on disk), system flags and keywords
   set by STORE, one message expunged (a hole in the UIDs). A snapshot
   taken through Dovecot's IMAP equals the one taken through ours.
2. Dovetail next: APPENDs with flags and a new keyword, STORE adding and
   removing flags and keywords, an EXPUNGE, a MOVE, a folder created by
   us (its UIDVALIDITY is ours). Dovecot, started afresh on the store,
   shows what we show.
Needs root.
"""
import hashlib
import imaplib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import dovetail_test
import peers
from peers import ensure_user, free_port, read

VMAIL = "dvvmail"
USER = "carol"
PW = "dv-pw"
failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


class Dovecot(peers.PrivateDovecot):
    def __init__(self, base, vmail):
        self.port = free_port()
        super().__init__(base, vmail, [USER], PW, "imap", f"""disable_plaintext_auth = no
mail_fsync = never
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
""", "imap", "dovecot-imapd", ready_port=self.port)

    def connect(self):
        m = imaplib.IMAP4("127.0.0.1", self.port, timeout=20)
        m.login(USER, PW)
        return m


def dovetail_connect(conf, home, vmail):
    imapd = dovetail_test.bin_path("imapd")
    cmd = ["setpriv", f"--reuid={vmail.pw_uid}", f"--regid={vmail.pw_gid}",
           "--clear-groups", imapd, "-c", conf, "-f", "-P", f"{USER}:{home}",
           "-o", "mail_location=maildir:~/Maildir"]
    return imaplib.IMAP4_stream(" ".join(shlex.quote(a) for a in cmd)
                                + " 2>>" + shlex.quote(os.path.join(conf, "..",
                                                                    "imapd.stderr")))


def q(name):
    """A mailbox name as an IMAP quoted string (names here are ASCII or
    already modified UTF-7)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def folders(m):
    typ, data = m.list('""', '"*"')
    names = set()
    for line in data:
        if not line:
            continue
        line = line.decode() if isinstance(line, bytes) else line[0].decode()
        mm = re.match(r'\(([^)]*)\) (?:"."|NIL) (.*)$', line)
        if mm:
            n = mm.group(2)
            if n.startswith('"'):
                n = n[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            names.add(n)
    return names


def snapshot(m, boxes):
    """{box: (uidvalidity, uidnext, [(uid, flags, size, sha1)])} and the
    folder names, through one IMAP connection."""
    out = {}
    for box in sorted(boxes):
        typ, data = m.status(q(box), "(UIDVALIDITY UIDNEXT MESSAGES)")
        st = data[0].decode() if typ == "OK" else ""
        uv = re.search(r"UIDVALIDITY (\d+)", st)
        un = re.search(r"UIDNEXT (\d+)", st)
        typ, _ = m.select(q(box), readonly=True)
        msgs = []
        if typ == "OK":
            typ, data = m.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[])")
            for item in data or []:
                if not isinstance(item, tuple):
                    continue
                head = item[0].decode()
                uid = int(re.search(r"UID (\d+)", head).group(1))
                fl = re.search(r"FLAGS \(([^)]*)\)", head).group(1).split()
                fl = tuple(sorted(f for f in fl if f != "\\Recent"))
                size = int(re.search(r"RFC822\.SIZE (\d+)", head).group(1))
                msgs.append((uid, fl, size, hashlib.sha1(item[1]).hexdigest()[:12]))
            m.close()
        out[box] = (int(uv.group(1)) if uv else None,
                    int(un.group(1)) if un else None, sorted(msgs))
    return out


def compare(what, theirs, ours):
    same = theirs == ours
    check(same, what)
    if not same:
        for box in sorted(set(theirs) | set(ours)):
            a, b = theirs.get(box), ours.get(box)
            if a != b:
                print(f"      {box}:\n        dovecot:  {a}\n        dovetail: {b}")
    return same


def msg(n, subject, extra=""):
    return (f"From: Sender {n} <s{n}@remote.test>\r\nTo: {USER}@example.test\r\n"
            f"Subject: {subject}\r\nDate: Wed, 03 Jan 2024 09:{n:02d}:00 +0100\r\n"
            f"Message-ID: <dv{n}.{subject.replace(' ', '-')}@remote.test>\r\n{extra}\r\n"
            f"Body of {subject}.\r\n" + "more text\r\n" * n).encode()


def ok(res, what):
    typ, data = res
    return check(typ == "OK", f"{what}: {typ} {data!r:.120}")


NONASCII = "Entw&APw-rfe"  # "Entwürfe" in modified UTF-7


def dovecot_first(dv):
    m = dv.connect()
    ok(m.create("Archive.2024"), "dovecot: CREATE Archive.2024")
    ok(m.create(NONASCII), "dovecot: CREATE Entwürfe")
    for i in range(1, 7):
        ok(m.append("INBOX", None, None, msg(i, f"inbox {i}")), f"dovecot: APPEND inbox {i}")
    ok(m.append("INBOX", "(\\Seen \\Flagged $Label1)", None, msg(7, "inbox 7")),
       "dovecot: APPEND with flags and a keyword")
    for i in range(1, 4):
        ok(m.append(q("Archive.2024"), "(\\Seen)", None, msg(10 + i, f"archive {i}")),
           f"dovecot: APPEND Archive.2024 {i}")
    ok(m.append(q(NONASCII), "(\\Draft)", None, msg(20, "draft")),
       "dovecot: APPEND to Entwürfe")
    m.select("INBOX")
    ok(m.uid("STORE", "1", "+FLAGS", "(\\Seen \\Answered)"), "dovecot: STORE \\Seen \\Answered")
    ok(m.uid("STORE", "2", "+FLAGS", "(Junk Project-X)"), "dovecot: STORE keywords")
    ok(m.uid("STORE", "3", "+FLAGS", "(\\Draft $Forwarded NonJunk)"),
       "dovecot: STORE \\Draft and keywords")
    ok(m.uid("STORE", "4", "+FLAGS", "(\\Deleted)"), "dovecot: STORE \\Deleted")
    ok(m.expunge(), "dovecot: EXPUNGE (UID 4 goes)")
    ok(m.uid("STORE", "5", "+FLAGS", "(\\Deleted)"), "dovecot: \\Deleted kept on UID 5")
    ok(m.unselect(), "dovecot: UNSELECT (no expunge)")
    m.select(q("Archive.2024"))
    ok(m.uid("STORE", "3", "+FLAGS", "(\\Deleted)"), "dovecot: STORE \\Deleted in Archive")
    ok(m.expunge(), "dovecot: EXPUNGE the last UID of Archive.2024")
    m.close()
    names = folders(m)
    snap = snapshot(m, names)
    m.logout()
    return names, snap


def dovetail_next(m):
    ok(m.append("INBOX", "(\\Seen Project-X NewKeyword)", None, msg(30, "from dovetail")),
       "dovetail: APPEND with a known and a new keyword")
    ok(m.append("INBOX", None, None, msg(31, "plain from dovetail")),
       "dovetail: APPEND without flags")
    ok(m.create("Neu.Ordner"), "dovetail: CREATE Neu.Ordner")
    ok(m.append(q("Neu.Ordner"), "(\\Flagged)", None, msg(32, "in new folder")),
       "dovetail: APPEND to the new folder")
    typ, _ = m.select("INBOX")
    ok(m.uid("STORE", "1", "-FLAGS", "(\\Seen)"), "dovetail: STORE -\\Seen")
    ok(m.uid("STORE", "2", "-FLAGS", "(Junk)"), "dovetail: STORE -Junk keyword")
    ok(m.uid("STORE", "6", "+FLAGS", "(NonJunk \\Answered NewKeyword)"),
       "dovetail: STORE +keywords")
    ok(m.uid("STORE", "5", "-FLAGS", "(\\Deleted)"), "dovetail: STORE -\\Deleted")
    ok(m.uid("STORE", "7", "+FLAGS", "(\\Deleted)"), "dovetail: STORE +\\Deleted")
    ok(m.expunge(), "dovetail: EXPUNGE (UID 7 goes)")
    ok(m.uid("MOVE", "3", q(NONASCII)), "dovetail: UID MOVE 3 to Entwürfe")
    m.close()
    names = folders(m)
    return names, snapshot(m, names)


def main():
    dovetail_test.need_root()
    if not os.access(dovetail_test.bin_path("imapd"), os.X_OK):
        dovetail_test.missing(dovetail_test.bin_path("imapd"))
    dovetail_test.need_program("setpriv", "util-linux")
    vmail = ensure_user(VMAIL)
    base = tempfile.mkdtemp(prefix="dovetail-imap-dovecot-")
    os.chmod(base, 0o755)
    dv = Dovecot(base, vmail)
    home = os.path.join(dv.home, USER)
    os.makedirs(home)
    os.chown(home, vmail.pw_uid, vmail.pw_gid)
    conf = os.path.join(base, "dt-etc")
    os.makedirs(conf)
    logf = os.path.join(base, "dovetail.log")
    with open(os.path.join(conf, "main.cf"), "w") as f:
        f.write(f"queue_directory = {base}/dt-spool\ndata_directory = {base}/dt-data\n"
                f"syslog_name = dovetail-test\nmaillog_file = {logf}\n"
                "myhostname = imap.test.example\nmydomain = test.example\n"
                # only the folders the test makes: no autocreated ones
                "imap_autocreate =\n")
    for p in (logf, os.path.join(base, "imapd.stderr")):
        open(p, "a").close()
        os.chown(p, vmail.pw_uid, vmail.pw_gid)
    os.chmod(os.path.join(conf, "main.cf"), 0o644)
    try:
        # 1. Dovecot writes and uses the store, then Dovetail serves it.
        with dv:
            names_dc, snap_dc = dovecot_first(dv)
        check({"INBOX", "Archive.2024", NONASCII} <= names_dc,
              f"dovecot lists the folders: {sorted(names_dc)}")
        check(os.path.isdir(os.path.join(home, "Maildir", "." + NONASCII)),
              "the non-ASCII folder is .Entw&APw-rfe on disk")
        m = dovetail_connect(conf, home, vmail)
        names_dt = folders(m)
        check(names_dt == names_dc, f"Dovetail lists Dovecot's folders: {sorted(names_dt)}")
        snap_dt = snapshot(m, names_dc)
        compare("1: Dovetail serves Dovecot's store: same UIDVALIDITY, UIDNEXT, UIDs, "
                "flags, keywords, sizes, contents", snap_dc, snap_dt)
        inbox = snap_dt.get("INBOX", (0, 0, []))[2]
        check([u for u, *_ in inbox] == [1, 2, 3, 5, 6, 7],
              f"1: the expunged UID 4 stays a hole: {[u for u, *_ in inbox]}")
        kws = {f for _, fl, *_ in inbox for f in fl if not f.startswith("\\")}
        check({"$Label1", "Junk", "Project-X", "$Forwarded", "NonJunk"} <= kws,
              f"1: Dovecot's keywords seen by Dovetail: {sorted(kws)}")

        # 2. Dovetail changes the store, then Dovecot serves it.
        names_dt2, snap_dt2 = dovetail_next(m)
        m.logout()
        with dv:
            m = dv.connect()
            names_dc2 = folders(m)
            snap_dc2 = snapshot(m, names_dt2)
            m.logout()
        check(names_dc2 == names_dt2,
              f"2: Dovecot lists Dovetail's folders: {sorted(names_dc2)} vs {sorted(names_dt2)}")
        compare("2: Dovecot serves the store after Dovetail's changes identically",
                snap_dt2, snap_dc2)
        inbox = snap_dc2.get("INBOX", (0, 0, []))[2]
        new_kw = [fl for _, fl, *_ in inbox if "NewKeyword" in fl]
        check(len(new_kw) == 2, f"2: Dovetail's new keyword as Dovecot sees it: {new_kw}")
        check(snap_dc2.get("Neu.Ordner", (None,))[0] == snap_dt2.get("Neu.Ordner", (0,))[0],
              "2: Dovecot keeps the UIDVALIDITY of the folder Dovetail created")
    finally:
        if failures:
            print("--- dovecot.log\n" + read(dv.log)[-3000:])
            print("--- dovetail\n" + read(logf)[-3000:]
                  + read(os.path.join(base, "imapd.stderr"))[-2000:])
        if failures and os.environ.get("DOVETAIL_KEEP_TEST_DIR") == "1":
            print("kept " + base)
        else:
            shutil.rmtree(base, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
