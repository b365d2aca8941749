"""Real IMAP clients against a running Dovetail instance (issue 6), over
IMAPS (imap-login with implicit TLS -> imapd as vmail):

mbsync (isync), Far = our IMAPS store, Near = a local Maildir:
 1. a 1,000-message INBOX is pulled: exit 0, 1,000 files locally with the
    server's contents;
 2. a second run propagates nothing: the IMAP commands mbsync sends
    (-Dn) contain no STORE, APPEND, EXPUNGE or message fetch, and no file
    is renamed on either side;
 3. both ways: flags set locally (F, S) reach the server, a message
    written locally is uploaded (APPEND), one deleted locally is expunged
    on the server; flags set and a message appended on the server (through
    imaplib) reach the local Maildir; then again a run with no changes.
curl: lists mailboxes (LIST), fetches INBOX;UID=1 (the exact message),
runs a SEARCH and a custom command over IMAPS.

need_program() for mbsync and curl (skip locally, fail in CI). Needs root.
"""
import imaplib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import dovetail_test
from imap_instance import chown_tree, imap_instance, make_maildir, tls_context, user_maildir

USER = "sync@example.org"
PASSWORD = "mb-pass"
N = 1000
failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def message(i):
    body = "".join(f"Line {j} of message {i}: lorem ipsum dolor sit amet.\r\n"
                   for j in range(1 + i % 7))
    return (f"From: Sender {i % 13} <sender{i % 13}@remote.test>\r\n"
            f"To: <{USER}>\r\nSubject: Message number {i}\r\n"
            f"Date: Tue, 02 Jan 2024 {i // 60 % 24:02d}:{i % 60:02d}:00 +0000\r\n"
            f"Message-ID: <m{i}@remote.test>\r\n\r\n{body}").encode()


def fill(inst, owner):
    md = make_maildir(user_maildir(inst, USER), owner)
    now = int(time.time()) - 3600
    for i in range(1, N + 1):
        raw = message(i)
        name = f"{now + i}.M{i}P1.gen,S={len(raw)}"
        with open(os.path.join(md, "new", name), "wb") as f:
            f.write(raw)
    chown_tree(md, owner)
    return md


def msg_files(maildir):
    out = {}
    for sub in ("cur", "new"):
        d = os.path.join(maildir, sub)
        if os.path.isdir(d):
            for n in os.listdir(d):
                out[sub + "/" + n] = os.path.join(d, n)
    return out


def maildir_flags(name):
    return name.split(":2,", 1)[1] if ":2," in name else ""


class Mbsync:
    def __init__(self, prog, top, inst):
        self.prog = prog
        self.local = os.path.join(top, "local")
        os.makedirs(self.local)
        self.rc = os.path.join(top, "mbsyncrc")
        with open(self.rc, "w") as f:
            f.write(f"""IMAPAccount dovetail
Host 127.0.0.1
Port {inst.imaps_port}
User {USER}
Pass {PASSWORD}
SSLType IMAPS
CertificateFile {inst.cert}
PipelineDepth 20

IMAPStore far
Account dovetail

MaildirStore near
Path {self.local}/
Inbox {self.local}/INBOX
SubFolders Verbatim

Channel box
Far :far:
Near :near:
Patterns INBOX
Create Both
Expunge Both
SyncState *
Sync All
""")
        self.inbox = os.path.join(self.local, "INBOX")

    def run(self, what):
        """Runs one sync (with -Dn: the IMAP commands it sends are logged
        as ">>> TAG COMMAND"); returns (output, [commands])."""
        t0 = time.time()
        p = subprocess.run([self.prog, "-c", self.rc, "-V", "-Dn", "box"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, errors="replace", timeout=300)
        dt = time.time() - t0
        out = p.stdout
        check(p.returncode == 0, f"mbsync {what}: exit 0 ({dt:.1f} s)"
              + ("" if p.returncode == 0 else "\n" + out[-3000:]))
        cmds = [m.group(1) for m in re.finditer(r"^>>> \S+ (.*)$", out, re.M)]
        return out, cmds

    @staticmethod
    def changes(cmds):
        """The commands that change the server or fetch message contents."""
        return [c for c in cmds
                if re.match(r"(UID )?(STORE|APPEND|EXPUNGE|COPY|MOVE)\b", c, re.I)
                or re.search(r"BODY(\.PEEK)?\[\]|RFC822\b|BINARY", c, re.I)]


def local_uid(name):
    m = re.search(r",U=(\d+)", name)
    return int(m.group(1)) if m else None


def server_state(inst):
    """{uid: (flags set, subject)} of INBOX through imaplib over IMAPS."""
    m = imaplib.IMAP4_SSL("127.0.0.1", inst.imaps_port, ssl_context=tls_context(),
                          timeout=60)
    m.login(USER, PASSWORD)
    typ, data = m.select("INBOX")
    validity = m.untagged_responses.get("UIDVALIDITY", [b"0"])[-1]
    state = {}
    typ, data = m.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    for item in data:
        if not isinstance(item, tuple):
            continue
        head = item[0].decode()
        uid = int(re.search(r"UID (\d+)", head).group(1))
        flags = set(re.search(r"FLAGS \(([^)]*)\)", head).group(1).split())
        subj = item[1].decode().strip()
        state[uid] = (flags, subj)
    m.logout()
    return int(validity), state


def test_mbsync(inst, top):
    prog = dovetail_test.need_program("mbsync", "isync")
    mb = Mbsync(prog, top, inst)
    # 1. the first pull
    out, cmds = mb.run("first sync of 1,000 messages")
    local = msg_files(mb.inbox)
    check(len(local) == N, f"mbsync pulled {len(local)} of {N} messages")
    by_uid = {local_uid(k): p for k, p in local.items()}
    check(sorted(by_uid) == list(range(1, N + 1)),
          "local copies carry the server's UIDs 1..1000 (,U= in the names)")
    # mbsync stores LF line ends and adds its X-TUID tracking header
    def near_copy(path):
        data = open(path, "rb").read()
        return re.sub(rb"(?m)^X-TUID: .*\n", b"", data)
    check(all(i in by_uid and near_copy(by_uid[i])
              == message(i).replace(b"\r\n", b"\n") for i in (1, 500, N)),
          "local copies have the server's contents (UIDs 1, 500, 1000)")

    # 2. a second run changes nothing
    server_before = set(msg_files(user_maildir(inst, USER)))
    out, cmds = mb.run("second sync")
    check(cmds and not Mbsync.changes(cmds),
          f"second run: mbsync sends no change and fetches no message: "
          f"{Mbsync.changes(cmds)[:5]} (commands: {cmds[:12]})")
    check(set(msg_files(mb.inbox)) == set(local), "second run: no local file changed")
    check(set(msg_files(user_maildir(inst, USER))) == server_before,
          "second run: no server file changed")

    # 3a. local changes: flag UID 20, mark 21 seen, delete 22, add one
    local = msg_files(mb.inbox)
    by_uid = {local_uid(k): p for k, p in local.items()}
    for uid, add in ((20, "F"), (21, "S")):
        path = by_uid[uid]
        base, _, fl = os.path.basename(path).partition(":2,")
        newfl = "".join(sorted(set(fl) | {add}))
        os.rename(path, os.path.join(mb.inbox, "cur", base + ":2," + newfl))
    os.unlink(by_uid[22])
    new_local = (b"From: me@example.org\nTo: x@remote.test\n"
                 b"Subject: written locally\n\nhi\n")
    with open(os.path.join(mb.inbox, "new", f"{int(time.time())}.local1.host"), "wb") as f:
        f.write(new_local)
    out, cmds = mb.run("push local changes")
    print(f"      changes sent: {Mbsync.changes(cmds)[:8]}")
    validity, state = server_state(inst)
    subjects = {s: (uid, fl) for uid, (fl, s) in state.items()}
    check(len(state) == N, f"server: {len(state)} messages (1 deleted, 1 added)")
    check("Subject: written locally" in subjects and
          subjects["Subject: written locally"][0] > N,
          "server: the locally written message was uploaded (a new UID)")
    check(22 not in state, "server: UID 22, deleted locally, was expunged")
    check("\\Flagged" in state.get(20, (set(), ""))[0],
          f"server: the local F flag on UID 20 arrived as \\Flagged: {state.get(20)}")
    check("\\Seen" in state.get(21, (set(), ""))[0],
          f"server: the local S flag on UID 21 arrived as \\Seen: {state.get(21)}")

    # 3b. server changes: \Seen \Answered on UIDs 1..5, one APPEND
    m = imaplib.IMAP4_SSL("127.0.0.1", inst.imaps_port, ssl_context=tls_context(),
                          timeout=30)
    m.login(USER, PASSWORD)
    m.select("INBOX")
    typ, _ = m.uid("STORE", "1:5", "+FLAGS.SILENT", "(\\Seen \\Answered)")
    check(typ == "OK", "server: UID STORE 1:5 +FLAGS (\\Seen \\Answered)")
    typ, _ = m.append("INBOX", None, None,
                      b"From: a@remote.test\r\nSubject: appended on server\r\n\r\nx\r\n")
    check(typ == "OK", "server: APPEND")
    m.logout()
    out, cmds = mb.run("pull server changes")
    files = msg_files(mb.inbox)
    by_uid = {local_uid(k): k for k in files}
    contents = {k: open(p, "rb").read() for k, p in files.items()}
    check(any(b"Subject: appended on server" in v for v in contents.values()),
          "local: the message appended on the server arrived")
    flags5 = [maildir_flags(by_uid.get(u, "")) for u in range(1, 6)]
    check(all({"S", "R"} <= set(f) for f in flags5),
          f"local: \\Seen \\Answered set on the server became S, R: {flags5}")
    check(len(files) == N + 1, f"local: {len(files)} messages")
    out, cmds = mb.run("final sync")
    check(cmds and not Mbsync.changes(cmds),
          f"after both-way changes a further run propagates nothing: "
          f"{Mbsync.changes(cmds)[:5]}")


def test_curl(inst, top):
    curl = dovetail_test.need_program("curl", "curl")
    base = f"imaps://127.0.0.1:{inst.imaps_port}"

    def run(url, *extra):
        p = subprocess.run([curl, "-s", "-S", "-k", "--max-time", "30",
                            "--user", f"{USER}:{PASSWORD}", *extra, url],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        return p.returncode, p.stdout, p.stderr.decode(errors="replace")

    rc, out, err = run(base + "/")
    check(rc == 0 and re.search(rb'\* LIST \([^)]*\) "\." "?INBOX"?', out) is not None,
          f"curl lists mailboxes: {out[:300]!r} {err}")
    check(b"Sent" in out and b"Trash" in out, "curl: the special-use folders are listed")
    # UID 1 is the first generated message, unchanged since (only flags)
    rc, out, err = run(base + "/INBOX;UID=1")
    want = message(1)
    check(rc == 0 and out == want, f"curl fetches INBOX;UID=1 exactly "
          f"({len(out)} bytes, want {len(want)}) {err}")
    rc, out, err = run(base + "/INBOX;UID=2;SECTION=HEADER.FIELDS%20(SUBJECT)")
    check(rc == 0 and out.strip() == b"Subject: Message number 2",
          f"curl fetches a header section: {out!r} {err}")
    rc, out, err = run(base + "/INBOX?SUBJECT%20%22number%20777%22")
    check(rc == 0 and re.search(rb"^\* SEARCH 7\d\d\r?$", out, re.M) is not None,
          f"curl SEARCH SUBJECT: {out!r} {err}")
    rc, out, err = run(base + "/INBOX", "-X", "STATUS INBOX (MESSAGES UIDNEXT)")
    check(rc == 0 and re.search(rb"\* STATUS \"?INBOX\"? \(MESSAGES \d+ UIDNEXT \d+\)",
                                out) is not None,
          f"curl custom STATUS command: {out!r} {err}")
    rc, out, err = run(f"imaps://127.0.0.1:{inst.imaps_port}/INBOX;UID=1",
                       "--user", f"{USER}:wrong")
    check(rc != 0, f"curl with a wrong password fails (exit {rc})")


def main():
    dovetail_test.need_root()
    # both programs first: skip before starting anything
    dovetail_test.need_program("mbsync", "isync")
    dovetail_test.need_program("curl", "curl")
    top = tempfile.mkdtemp(prefix="dovetail-imap-clients-")
    inst, _ = imap_instance({USER: PASSWORD}, cert_cn="127.0.0.1")
    t0 = time.time()
    with inst:
        fill(inst, inst.vmail)
        inst.start()
        for name, fn in (("mbsync", test_mbsync), ("curl", test_curl)):
            print(f"--- {name}", flush=True)
            try:
                fn(inst, top)
            except Exception as e:
                check(False, f"{name}: {type(e).__name__}: {e}")
        if failures:
            print("--- mail.log (tail)\n" + inst.log()[-5000:])
    print(f"({time.time() - t0:.1f} s)")
    if failures and os.environ.get("DOVETAIL_KEEP_TEST_DIR") == "1":
        print(f"kept {top}")
    else:
        shutil.rmtree(top, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
