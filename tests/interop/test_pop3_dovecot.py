"""POP3 UIDLs and sizes: Dovetail's Maildir read side against Debian's
Dovecot (dovecot-pop3d, dovecot-core) serving the same Maildir, in a
private instance (own base_dir, state_dir, log and config in a temporary
directory, POP3 on a free loopback port, users from a passwd-file owned by
the test mail user).

Dovetail's side is tests/mailbox_dump (lib/mail/mailbox + pop3_uidl, what
a POP3 session does: sync cur/ new/ with dovecot-uidlist, UIDs, virtual
sizes, UIDLs in pop3_uidl_format %08Xu%08Xv). Checked, in both orders:
1. Dovecot syncs a Maildir first (files with and without S=/W=, CRLF and
   LF bodies); our UIDLs and LIST sizes equal Dovecot's.
2. New mail, Dovetail syncs first (assigns UIDs, moves new/ -> cur/);
   Dovecot then serves the same UIDLs.
3. Dovecot deletes one (DELE, QUIT); the rest keep their UIDLs on our side.
4. A fresh Maildir synced by Dovetail first (our dovecot-uidlist, our
   UIDVALIDITY): Dovecot serves our UIDLs.
5. The same files (in cur/ and new/, delivery times out of name order)
   in two fresh Maildirs, one synced by Dovecot first, one by Dovetail
   first: the messages get the same UIDs (Dovecot's assignment rules).
Each step also runs the real pop3d (preauth mode, "pop3d -P user:home" on
a socketpair, as the mail user) through poplib: its UIDL and LIST equal
Dovecot's; a DELE+QUIT in our pop3d leaves Dovecot the same UIDLs for the
rest; our post-login CAPA equals Dovecot's.
6. UIDLs Dovecot saved with pop3_save_uidl = yes (dovecot-uidlist "P",
   here with pop3_uidl_format = %f) are what our pop3d serves, although
   our pop3_uidl_format is the default.
"""
import os
import poplib
import socket
import subprocess
import sys
import tempfile

import dovetail_test
import peers
from peers import ensure_user, free_port, read

VMAIL = "dvvmail"
failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


class Dovecot(peers.PrivateDovecot):
    def __init__(self, base, vmail, users, extra=""):
        self.port = free_port()
        super().__init__(base, vmail, users, "pw", "pop3", f"""disable_plaintext_auth = no
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
""" + extra, "pop3", "dovecot-pop3d", ready_port=self.port)

    def pop3(self, user, dele=()):
        """[(uid-order number, size, uidl)] as Dovecot serves them; the
        message numbers in dele are deleted and QUIT commits."""
        p = poplib.POP3("127.0.0.1", self.port, timeout=10)
        p.user(user)
        p.pass_("pw")
        uidls = {}
        for line in p.uidl()[1]:
            num, uidl = line.decode().split()
            uidls[int(num)] = uidl
        result = []
        for line in p.list()[1]:
            num, size = line.decode().split()
            result.append((int(size), uidls[int(num)]))
        for n in dele:
            p.dele(n)
        p.quit()
        return result


def put(vmail, maildir, sub, name, data):
    path = os.path.join(maildir, sub, name)
    with open(path, "wb") as f:
        f.write(data)
    os.chown(path, vmail.pw_uid, vmail.pw_gid)


def make_maildir(vmail, path):
    for d in ("", "cur", "new", "tmp"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
        os.chown(os.path.join(path, d), vmail.pw_uid, vmail.pw_gid)
        os.chmod(os.path.join(path, d), 0o700)


def ours(vmail, maildir):
    tool = os.path.join(dovetail_test.BUILD_DIR, "tests", "mailbox_dump")
    p = subprocess.run([tool, maildir], capture_output=True, text=True,
                       user=vmail.pw_uid, group=vmail.pw_gid)
    if p.returncode != 0:
        check(False, "mailbox_dump: " + p.stderr.strip())
        return None, []
    lines = p.stdout.splitlines()
    validity = int(lines[0].split()[1])
    msgs = []
    for line in lines[1:]:
        f = line.split()
        msgs.append((int(f[1]), f[2]))
    return validity, msgs


class SockPOP3(poplib.POP3):
    """poplib on an already connected socket."""

    def __init__(self, sock):
        self._given = sock
        super().__init__("localhost", 0)

    def _create_socket(self, timeout):
        return self._given


def pop3d(vmail, conf, home, dele=(), capa=None):
    """[(size, uidl)] as our pop3d serves them (run as the mail user in
    preauth mode on a socketpair); like Dovecot.pop3()."""
    ours_end, theirs = socket.socketpair()
    proc = subprocess.Popen(
        [os.path.join(dovetail_test.BIN_DIR, "pop3d"), "-c", conf, "-f",
         "-P", "%s:%s" % (os.path.basename(home), home),
         "-o", "mail_location=maildir:~/Maildir"],
        stdin=theirs, stdout=theirs, stderr=subprocess.PIPE,
        user=vmail.pw_uid, group=vmail.pw_gid)
    theirs.close()
    ours_end.settimeout(10)
    try:
        p = SockPOP3(ours_end)
        if capa is not None:
            capa.extend(sorted(p.capa()))
        uidls = {}
        for line in p.uidl()[1]:
            num, uidl = line.decode().split()
            uidls[int(num)] = uidl
        result = []
        for line in p.list()[1]:
            num, size = line.decode().split()
            result.append((int(size), uidls[int(num)]))
        for n in dele:
            p.dele(n)
        p.quit()
    except (poplib.error_proto, OSError) as e:
        check(False, "pop3d session: %s" % e)
        result = None
    ours_end.close()
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    if proc.returncode != 0:
        check(False, "pop3d exit %d: %s" % (proc.returncode, err.decode()))
    return result


def msg(subject, body, crlf=False):
    text = f"From: a@example.org\nSubject: {subject}\n\n{body}\n"
    if crlf:
        text = text.replace("\n", "\r\n")
    return text.encode()


def main():
    if os.geteuid() != 0:
        dovetail_test.missing("root (the test runs Dovecot as a mail user)")
    tool = os.path.join(dovetail_test.BUILD_DIR, "tests", "mailbox_dump")
    if not os.access(tool, os.X_OK):
        dovetail_test.missing(tool + " (build target mailbox_dump)")
    if not os.access(os.path.join(dovetail_test.BIN_DIR, "pop3d"), os.X_OK):
        dovetail_test.missing("pop3d (build target pop3d)")
    vmail = ensure_user(VMAIL)
    base = tempfile.mkdtemp(prefix="dt-pop3-dovecot-")
    os.chmod(base, 0o755)
    conf = os.path.join(base, "dovetail-conf")
    os.makedirs(conf)
    os.chmod(conf, 0o755)
    with open(os.path.join(conf, "main.cf"), "w") as f:
        f.write("# pop3d -P for the interop test\n")
    os.chmod(os.path.join(conf, "main.cf"), 0o644)
    dv = Dovecot(base, vmail, ["alice", "bob", "carol", "dave"])
    alice = os.path.join(dv.home, "alice", "Maildir")
    bob = os.path.join(dv.home, "bob", "Maildir")
    carol = os.path.join(dv.home, "carol", "Maildir")
    dave = os.path.join(dv.home, "dave", "Maildir")
    for m in (alice, bob, carol, dave):
        os.makedirs(os.path.dirname(m))
        os.chown(os.path.dirname(m), vmail.pw_uid, vmail.pw_gid)
        make_maildir(vmail, m)
    try:
        with dv:
            # 1. Dovecot first
            one = msg("one", "first\nbody")
            put(vmail, alice, "new", "1700000000.M1P10.host,S=%d,W=%d"
                % (len(one), len(one) + one.count(b"\n")), one)
            put(vmail, alice, "new", "1700000005.M7P10.host",
                msg("two", "lf only\nlines\n"))
            put(vmail, alice, "cur", "1700000002.M3P10.host:2,S",
                msg("three", "crlf\nbody", crlf=True))
            theirs = dv.pop3("alice")
            validity, mine = ours(vmail, alice)
            print("dovecot:", theirs)
            print("ours:   ", mine)
            check(len(theirs) == 3, "Dovecot lists 3 messages")
            check(mine == theirs, "1: UIDLs and sizes equal after Dovecot's sync")
            check(theirs and theirs[0][1] == "00000001%08x" % validity,
                  "UIDL is %08Xu%08Xv in lowercase hex")
            our_caps = []
            check(pop3d(vmail, conf, os.path.dirname(alice), capa=our_caps)
                  == theirs, "1: our pop3d serves Dovecot's UIDLs and sizes")
            p = poplib.POP3("127.0.0.1", dv.port, timeout=10)
            p.user("alice")
            p.pass_("pw")
            their_caps = sorted(p.capa())
            p.quit()
            print("CAPA dovecot:", their_caps, "ours:", our_caps)
            check(our_caps == their_caps, "post-login CAPA equals Dovecot's")

            # 2. new mail, Dovetail first
            put(vmail, alice, "new", "1700000100.M1P11.host",
                msg("four", "x" * 100))
            put(vmail, alice, "new", "1700000099.M9P11.host",
                msg("five", "y\ny\ny", crlf=True))
            _, mine = ours(vmail, alice)
            check(not os.listdir(os.path.join(alice, "new")),
                  "2: our sync moved new/ to cur/")
            theirs = dv.pop3("alice", dele=(2,))
            print("dovecot:", theirs)
            print("ours:   ", mine)
            check(len(mine) == 5 and mine == theirs,
                  "2: Dovecot serves the UIDs we assigned")
            check(pop3d(vmail, conf, os.path.dirname(alice)) == mine[:1] + mine[2:],
                  "2: our pop3d agrees after Dovecot's DELE")

            # 3. Dovecot deleted message 2
            _, after = ours(vmail, alice)
            check(after == mine[:1] + mine[2:],
                  "3: after Dovecot's DELE the others keep their UIDLs")
            check(dv.pop3("alice") == after, "3: Dovecot agrees")
            # our pop3d deletes one (DELE, QUIT): Dovecot keeps the rest
            before = pop3d(vmail, conf, os.path.dirname(alice), dele=(1,))
            theirs = dv.pop3("alice")
            check(before is not None and theirs == before[1:],
                  "3: after our pop3d's DELE Dovecot serves the rest unchanged")

            # 4. Dovetail first on a fresh Maildir
            put(vmail, bob, "new", "1700000200.M1P12.host", msg("b1", "b"))
            put(vmail, bob, "new", "1700000201.M1P12.host,S=10,W=12",
                b"0123\n5678\n")
            validity, mine = ours(vmail, bob)
            theirs = dv.pop3("bob")
            print("dovecot:", theirs)
            print("ours:   ", mine)
            check(len(mine) == 2 and mine == theirs,
                  "4: Dovecot serves a Maildir Dovetail synced first")
            check(validity != 0 and theirs and
                  theirs[0][1].endswith("%08x" % validity),
                  "4: Dovecot keeps our UIDVALIDITY")
            check(pop3d(vmail, conf, os.path.dirname(bob)) == theirs,
                  "4: our pop3d agrees")

            # 5. same files, Dovecot first (carol) vs Dovetail first (dave)
            files = [("new", "1700000300.M20P1.host", "a" * 10),
                     ("new", "999999999.M1P1.host", "b" * 20),
                     ("cur", "1700000299.M1P1.host:2,S", "c" * 30),
                     ("new", "1700000300.M3P1.host", "d" * 40),
                     ("cur", "1700000100.M1P1.host:2,", "e" * 50),
                     ("new", "1700000300.M3P2.host,S=77,W=80", "f" * 60)]
            for who in (carol, dave):
                for sub, name, body in files:
                    put(vmail, who, sub, name, msg(name, body))
            theirs = dv.pop3("carol")
            _, mine = ours(vmail, dave)
            order_theirs = [(size, uidl[:8]) for size, uidl in theirs]
            order_mine = [(size, uidl[:8]) for size, uidl in mine]
            print("dovecot:", order_theirs)
            print("ours:   ", order_mine)
            check(len(mine) == 6 and order_mine == order_theirs,
                  "5: first syncs by Dovecot and by Dovetail give the same UIDs")
            served = pop3d(vmail, conf, os.path.dirname(dave))
            check(served is not None and
                  [(size, uidl[:8]) for size, uidl in served] == order_theirs,
                  "5: our pop3d serves the same UIDs")
        # 6. Dovecot's saved UIDLs (a second Dovecot, pop3_save_uidl = yes)
        dv2 = Dovecot(os.path.join(base, "dv2"), vmail, ["erin"],
                      "pop3_save_uidl = yes\npop3_uidl_format = %f\n")
        erin = os.path.join(dv2.home, "erin", "Maildir")
        os.makedirs(os.path.dirname(erin))
        os.chown(os.path.dirname(erin), vmail.pw_uid, vmail.pw_gid)
        make_maildir(vmail, erin)
        put(vmail, erin, "new", "1700000400.M1P1.host", msg("e1", "one"))
        put(vmail, erin, "cur", "1700000401.M1P1.host:2,S", msg("e2", "two"))
        with dv2:
            theirs = dv2.pop3("erin")
        with open(os.path.join(erin, "dovecot-uidlist")) as f:
            uidlist = f.read()
        print("dovecot:", theirs)
        print(uidlist)
        check([u for _, u in theirs] == ["1700000400.M1P1.host",
                                         "1700000401.M1P1.host"]
              and uidlist.count(" P :1700000") == 2,
              "6: Dovecot saved its %f UIDLs in dovecot-uidlist (empty P: "
              "the base name)")
        check(pop3d(vmail, conf, os.path.dirname(erin)) == theirs,
              "6: our pop3d serves Dovecot's saved UIDLs")
        # and a saved UIDL with a value (as Dovecot writes for other
        # formats) is served as it is
        with open(os.path.join(erin, "dovecot-uidlist"), "w") as f:
            f.write(uidlist.replace(" P :1700000401", " Pold-17 :1700000401"))
        served = pop3d(vmail, conf, os.path.dirname(erin))
        check(served is not None and served[1][1] == "old-17",
              "6: a saved UIDL value is served: %s" % served)
    finally:
        if failures:
            print(read(dv.log)[-3000:])
    if failures:
        print(f"{len(failures)} check(s) failed; files kept in {base}")
        sys.exit(1)
    subprocess.run(["rm", "-rf", base])
    print("all checks passed")


if __name__ == "__main__":
    main()
