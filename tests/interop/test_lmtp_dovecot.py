"""Dovecot and our LMTP side, both directions, with Debian's Dovecot
(dovecot-lmtpd, dovecot-core) in a private instance: its own base_dir,
state_dir, log and config in a temporary directory, LMTP on a unix socket,
users from a passwd-file owned by the test mail user.

1. Dovecot reads what our lmtpd wrote: lmtpd (started by hand) delivers
   two messages into a Maildir; doveadm fetch lists them with UIDs 1 and 2,
   the Maildir base name as GUID, W= as the virtual size and S= as the
   physical size, and the body as written.
2. Our LMTP client delivers to Dovecot's LMTP: a Dovetail instance
   (smtpd -> queue -> qmgr -> smtp in LMTP mode) with virtual_transport =
   lmtp:unix:<Dovecot's socket>; Python's smtplib sends to our smtpd.
   The message lands in the Dovecot user's Maildir with Dovecot's headers;
   an unknown user is bounced with Dovecot's 550 text (qmgr's log).
   Needs smtpd, qmgr and smtp built (else skipped locally, failed in CI).
"""
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile

import dovetail_test
import peers
from peers import ensure_user, read, wait_for

VMAIL = "dvvmail"
failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


class Dovecot(peers.PrivateDovecot):
    def __init__(self, base, vmail, users):
        self.sock = os.path.join(base, "run", "lmtp")
        super().__init__(base, vmail, users, "x", "lmtp", """service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
""", "lmtp", "dovecot-lmtpd", ready_socket=self.sock)

    def fetch(self, user, fields):
        p = subprocess.run([self.doveadm, "-c", self.conf, "fetch", "-u",
                            user, fields, "mailbox", "INBOX", "all"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        return p.returncode, p.stdout


def start_lmtpd(base, sock, maildir_tmpl, vmailbox):
    conf = os.path.join(base, "lmtpd-etc")
    os.mkdir(conf)
    os.chmod(conf, 0o755)
    with open(os.path.join(conf, "main.cf"), "w") as f:
        f.write(f"queue_directory = {base}/dv-queue\n"
                f"mail_owner = {VMAIL}\n"
                "myhostname = mx.test.example\n"
                "auth_socket_path =\n"
                f"virtual_mailbox_maps = texthash:{vmailbox}\n"
                f"mail_location = maildir:{maildir_tmpl}\n"
                "recipient_delimiter = +\n"
                "lmtp_save_to_detail_mailbox = yes\n"
                "lda_mailbox_autocreate = yes\n")
    os.chmod(os.path.join(conf, "main.cf"), 0o644)
    log = open(os.path.join(base, "lmtpd.log"), "w")
    proc = subprocess.Popen([dovetail_test.bin_path("lmtpd"), "-c", conf,
                             "-f", "-u", VMAIL, "-l", "unix:" + sock],
                            stdout=log, stderr=subprocess.STDOUT)
    if not wait_for(lambda: os.path.exists(sock) or proc.poll() is not None,
                    10) or proc.poll() is not None:
        raise RuntimeError("lmtpd did not start:\n" +
                           read(os.path.join(base, "lmtpd.log")))
    return proc


def part1_dovecot_reads_ours(base, dv):
    """Our lmtpd writes, Dovecot reads."""
    user = "carol@example.test"
    vmailbox = os.path.join(base, "vmailbox")
    with open(vmailbox, "w") as f:
        f.write(f"{user} x\n")
    os.chmod(vmailbox, 0o644)
    sock = os.path.join(base, "our-lmtp")
    proc = start_lmtpd(base, sock, f"{dv.home}/%u/Maildir", vmailbox)
    try:
        c = smtplib.LMTP(sock)
        c.docmd("LHLO", "client.test")
        for i in (1, 2):
            c.docmd("MAIL FROM:<s@remote.test>")
            c.docmd(f"RCPT TO:<{user}>")
            c.docmd("DATA")
            c.send(f"Subject: msg {i}\r\n\r\nbody {i}\r\n.\r\n".encode())
            code, _ = c.getreply()
            check(code == 250, f"lmtpd saved message {i}")
        c.command_encoding = "utf-8"
        c.docmd("MAIL FROM:<s@remote.test> SMTPUTF8")
        c.docmd("RCPT TO:<carol+Entw\u00fcrfe.Sub@example.test>")
        c.docmd("DATA")
        c.send(b"Subject: folder\r\n\r\nin a folder\r\n.\r\n")
        check(c.getreply()[0] == 250, "lmtpd saved into a new folder")
        c.quit()
    finally:
        proc.terminate()
        proc.wait(10)
    maildir = os.path.join(dv.home, user, "Maildir")
    files = sorted(os.listdir(os.path.join(maildir, "new")))
    check(len(files) == 2, f"two files in new/: {files}")
    rc, out = dv.fetch(user, "uid guid size.virtual size.physical body")
    check(rc == 0, "doveadm fetch works on the Maildir lmtpd wrote:\n" + out)
    recs = [dict(re.findall(r"^(uid|guid|size\.virtual|size\.physical): "
                            r"(.*)$", block, re.M))
            for block in out.split("\x0c") if "uid:" in block]
    check([r.get("uid") for r in recs] == ["1", "2"],
          f"Dovecot gives UIDs 1 and 2: {recs}")
    for r in recs:
        m = re.fullmatch(r".*,S=(\d+),W=(\d+)", r.get("guid", ""))
        check(m is not None and r.get("guid") in files,
              f"Dovecot's GUID is our file name: {r.get('guid')}")
        if m:
            check(r.get("size.physical") == m.group(1)
                  and r.get("size.virtual") == m.group(2),
                  f"Dovecot's sizes match S= and W=: {r}")
    check("body 1" in out and "body 2" in out, "Dovecot reads the bodies")
    check(os.path.exists(os.path.join(maildir, "dovecot-uidlist")),
          "Dovecot wrote its dovecot-uidlist beside our files")
    p = subprocess.run([dv.doveadm, "-c", dv.conf, "mailbox", "list", "-u",
                        user], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    names = p.stdout.decode("utf-8", "replace").split("\n")
    check("Entw\u00fcrfe.Sub" in names,
          f"Dovecot lists the folder lmtpd created (mUTF-7 name): {names}")
    p = subprocess.run([dv.doveadm, "-c", dv.conf, "fetch", "-u", user,
                        "uid body", "mailbox", "Entw\u00fcrfe.Sub", "all"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check(b"in a folder" in p.stdout,
          "Dovecot reads the message in that folder")


def part2_ours_to_dovecot(base, dv):
    """Our smtpd -> qmgr -> smtp (LMTP) -> Dovecot's lmtp."""
    from instance import Instance
    inst = Instance(services=("smtpd", "qmgr", "lmtp"), queue_run_delay=1)
    inst.need_daemons("smtpd", "qmgr", "smtp")
    inst.main_cf_extra = f"""virtual_mailbox_domains = example.test
virtual_mailbox_maps = static:ok
virtual_transport = lmtp:unix:{dv.sock}
smtpd_peername_lookup = no
mydestination = localhost
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""
    with inst:
        inst.start()
        body = (b"From: Sender <s@remote.test>\r\nTo: alice@example.test\r\n"
                b"Subject: to dovecot\r\nX-Token: dv-1\r\n\r\nline one\r\n"
                b".dot line\r\nlast\r\n")
        with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as c:
            refused = c.sendmail("s@remote.test",
                                 ["alice@example.test", "nobody@example.test"],
                                 body)
            check(refused == {}, "our smtpd accepted both recipients")
        new = os.path.join(dv.home, "alice@example.test", "Maildir", "new")
        files = wait_for(lambda: os.path.isdir(new) and os.listdir(new), 30)
        check(bool(files), "the message reached Dovecot's Maildir")
        if files:
            t = read(os.path.join(new, files[0]), "rb")
            check(re.search(rb"Received: from \S+.*\n\tby \S+ with LMTP", t)
                  is not None, "Dovecot's lmtp added its Received header")
            check(t.endswith(b"\n\nline one\n.dot line\nlast\n"),
                  "body intact after our LMTP client and Dovecot")
        log = wait_for(lambda: re.search(
            r"to=<nobody@example\.test>.*status=bounced.*550 5\.1\.1",
            inst.log()) and inst.log(), 30)
        check(bool(log), "the unknown user is bounced with Dovecot's 550")
        check(re.search(r"to=<alice@example\.test>.*status=sent",
                        inst.log()) is not None,
              "qmgr logs status=sent for alice")
        if failures:
            print("--- dovetail log\n" + inst.log()[-4000:])


def main():
    dovetail_test.need_root()
    if not os.access(dovetail_test.bin_path("lmtpd"), os.X_OK):
        dovetail_test.missing(dovetail_test.bin_path("lmtpd"))
    vmail = ensure_user(VMAIL)
    base = tempfile.mkdtemp(prefix="dovetail-lmtp-dovecot-")
    os.chmod(base, 0o755)
    dv = Dovecot(base, vmail, ["alice@example.test", "carol@example.test"])
    try:
        with dv:
            part1_dovecot_reads_ours(base, dv)
            part2_ours_to_dovecot(base, dv)
    finally:
        if failures:
            print("--- dovecot.log\n" + read(dv.log)[-4000:])
            print("--- lmtpd.log\n" + read(os.path.join(base, "lmtpd.log")))
        if os.environ.get("KEEP_TMP"):
            print("kept " + base)
        else:
            shutil.rmtree(base, ignore_errors=True)
    print(f"{'FAILED' if failures else 'PASSED'}: {len(failures)} "
          "check(s) failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
