"""lmtpd over LMTP with Python's smtplib.LMTP (a client we did not write).

Starts the auth daemon (userdb socket, passwd-file users) and lmtpd by hand
(-l unix:...), as the test user dvvmail, and checks what the client sees
and what lands on disk:
  - per-recipient replies after DATA, in Dovecot's wording;
  - an unknown user gets "550 5.1.1 <addr> User doesn't exist: addr";
  - the message is in new/ byte for byte (CRLF stored as LF) behind
    Return-Path, Delivered-To and Received, with ,S= and ,W= right;
  - the Maildir is created on first delivery (0700, cur/new/tmp), tmp/ is
    left empty;
  - with lda_mailbox_autocreate = yes a missing +folder is created (its
    name in modified UTF-7, with maildirfolder);
  - BDAT (CHUNKING) gets one reply per recipient after BDAT LAST;
  - user+folder goes into an existing folder with
    lmtp_save_to_detail_mailbox = yes, into INBOX when the folder does not
    exist or the setting is no;
  - a user whose mail belongs to another uid gets 451 (lmtpd never changes
    uid), the auth daemon being down gives 451 at RCPT;
  - mbox delivery (userdb mail=mbox:...:INBOX=spool file) with From_ line,
    >From quoting and the dot-lock removed afterwards;
  - without auth (auth_socket_path empty) recipients come from
    virtual_mailbox_maps.
"""
import os
import pwd
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from dovetail_test import bin_path, missing, need_root  # noqa: E402

VMAIL = "dvvmail"
failures = []


def check(cond, what):
    if cond:
        print(f"ok: {what}")
    else:
        print(f"FAIL: {what}")
        failures.append(what)


def ensure_user(name):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell",
                        "/usr/sbin/nologin", "--user-group", name],
                       check=False)
        return pwd.getpwnam(name)


def wait_socket(path, proc, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            return False
        if os.path.exists(path):
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                s.close()
                return True
            except OSError:
                pass
        time.sleep(0.05)
    return False


def start(tmp, name, cmd, sock):
    log = open(os.path.join(tmp, name + ".log"), "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    if not wait_socket(sock, proc):
        proc.kill()
        log.close()
        print(open(log.name).read())
        raise RuntimeError(f"{name} did not start: {' '.join(cmd)}")
    return proc


def lmtp(sock):
    c = smtplib.LMTP(sock)
    code, _ = c.docmd("LHLO", "client.test")
    check(code == 250, "LHLO answered 250")
    return c


def data(c, body, n):
    """DATA with n accepted recipients: returns the n replies."""
    code, _ = c.docmd("DATA")
    check(code == 354, "DATA answered 354")
    c.send(body + b".\r\n")
    return [c.getreply() for _ in range(n)]


def new_files(maildir):
    d = os.path.join(maildir, "new")
    if not os.path.isdir(d):
        return []
    return sorted(os.listdir(d))


def received_re(sender, rcpt):
    return (re.escape(f"Return-Path: <{sender}>\nDelivered-To: {rcpt}\n")
            + r"Received: from client\.test\n\tby mx\.test\.example with "
            r"LMTP\n\tid [A-Za-z0-9+/]{22}\n"
            + re.escape(f"\t(envelope-from <{sender}>)\n\tfor <{rcpt}>; ")
            + r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d "
            r"[+-]\d{4}\n")


def test_auth_mode(tmp, sock, home):
    alice = os.path.join(home, "alice", "Maildir")
    body = (b"From: Someone <s@remote.test>\r\nSubject: test 1\r\n\r\n"
            b"line one\r\n..dot stuffed\r\nFrom here\r\n\r\nend\r\n")
    stored = body.replace(b"\r\n", b"\n").replace(b"\n..", b"\n.")
    check(not os.path.exists(alice), "alice's Maildir does not exist yet")

    c = lmtp(sock)
    check(c.docmd("MAIL FROM:<s@remote.test>") == (250, b"2.1.0 OK"),
          "MAIL answered 250 2.1.0 OK")
    check(c.docmd("RCPT TO:<alice@example.test>") == (250, b"2.1.5 OK"),
          "known RCPT answered 250 2.1.5 OK")
    r = c.docmd("RCPT TO:<nobody@example.test>")
    check(r == (550, b"5.1.1 <nobody@example.test> User doesn't exist: "
                     b"nobody@example.test"),
          f"unknown RCPT gets Dovecot's 550 5.1.1 reply: {r}")
    check(c.docmd("RCPT TO:<bob@example.test>")[0] == 250, "bob accepted")
    replies = data(c, body, 2)
    check(re.fullmatch(rb"2\.0\.0 <alice@example\.test> [A-Za-z0-9+/]{22} "
                       rb"Saved", replies[0][1]) is not None
          and replies[0][0] == 250,
          f"first recipient: 250 2.0.0 <addr> id Saved: {replies[0]}")
    check(replies[1][0] == 250 and b"<bob@example.test>" in replies[1][1],
          f"second recipient gets its own reply: {replies[1]}")

    files = new_files(alice)
    check(len(files) == 1, f"one file in alice's new/: {files}")
    st = os.stat(alice)
    check(st.st_mode & 0o7777 == 0o700, "Maildir created mode 0700")
    check(all(os.path.isdir(os.path.join(alice, d))
              for d in ("cur", "new", "tmp")), "cur/ new/ tmp/ created")
    check(os.listdir(os.path.join(alice, "tmp")) == [], "tmp/ left empty")
    check(st.st_uid == pwd.getpwnam(VMAIL).pw_uid,
          "Maildir owned by the mail user")
    if files:
        name = files[0]
        m = re.fullmatch(r"(\d+)\.M(\d+)P(\d+)\.([^,]+),S=(\d+),W=(\d+)",
                         name)
        check(m is not None, f"Dovecot-style file name: {name}")
        with open(os.path.join(alice, "new", name), "rb") as f:
            content = f.read()
        text = content.decode("latin-1")
        hdr = re.match(received_re("s@remote.test", "alice@example.test"),
                       text)
        check(hdr is not None, "Return-Path, Delivered-To, Received in "
                               "front:\n" + text[:400])
        if hdr:
            check(content[hdr.end():] == stored,
                  "message body stored byte for byte (LF line ends)")
        if m:
            check(int(m.group(5)) == len(content), "S= is the file size")
            check(int(m.group(6)) == len(content) + content.count(b"\n"),
                  "W= is the size with CRLF line ends")
    bob_files = new_files(os.path.join(home, "bob", "Maildir"))
    check(len(bob_files) == 1, "bob got his own copy")
    if bob_files:
        with open(os.path.join(home, "bob", "Maildir", "new", bob_files[0]),
                  "rb") as f:
            check(b"Delivered-To: bob@example.test\n" in f.read(),
                  "bob's copy has his Delivered-To")

    # A second transaction on the same connection, with +folder.
    folder = os.path.join(alice, ".Work.Sub")
    for d in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(folder, d), mode=0o700)
    subprocess.run(["chown", "-R", VMAIL + ":", folder], check=True)
    c.docmd("RSET")
    check(c.docmd("MAIL FROM:<>")[0] == 250, "MAIL FROM:<> accepted")
    check(c.docmd("RCPT TO:<alice+Work.Sub@example.test>")[0] == 250,
          "alice+Work.Sub accepted")
    check(c.docmd("RCPT TO:<alice+NoSuchFolder@example.test>")[0] == 250,
          "alice+NoSuchFolder accepted")
    replies = data(c, b"Subject: folder\r\n\r\nx\r\n", 2)
    check([r[0] for r in replies] == [250, 250], f"both saved: {replies}")
    files = new_files(folder)
    check(len(files) == 1, f"+Work.Sub landed in .Work.Sub/new: {files}")
    if files:
        with open(os.path.join(folder, "new", files[0]), "rb") as f:
            t = f.read()
        check(t.startswith(b"Return-Path: <>\nDelivered-To: "
                           b"alice+Work.Sub@example.test\n"),
              "folder copy has Return-Path <> and the full Delivered-To")
    check(len(new_files(alice)) == 2,
          "+NoSuchFolder fell back to INBOX")

    # uid mismatch: lmtpd cannot write as another uid.
    c.docmd("RSET")
    c.docmd("MAIL FROM:<s@remote.test>")
    check(c.docmd("RCPT TO:<other@example.test>")[0] == 250,
          "user with another uid is accepted at RCPT")
    replies = data(c, b"Subject: x\r\n\r\ny\r\n", 1)
    check(replies[0][0] == 451 and b"4.3.0 <other@example.test>"
          in replies[0][1], f"...and gets 451 after DATA: {replies[0]}")

    # mbox for a spool user.
    spool = os.path.join(tmp, "spool", "carol")
    c.docmd("RSET")
    c.docmd("MAIL FROM:<s@remote.test>")
    check(c.docmd("RCPT TO:<carol@example.test>")[0] == 250, "carol accepted")
    replies = data(c, b"Subject: mbox\r\n\r\nFrom the start\r\n>From x\r\n", 1)
    check(replies[0][0] == 250, f"mbox delivery saved: {replies[0]}")
    with open(spool, "rb") as f:
        mb = f.read()
    check(re.match(rb"From s@remote\.test  [A-Z][a-z]{2} [A-Z][a-z]{2} "
                   rb"[ \d]\d \d\d:\d\d:\d\d \d{4}\nReturn-Path: "
                   rb"<s@remote\.test>\nDelivered-To: carol@example\.test\n",
                   mb) is not None, "mbox: From_ line then the headers")
    check(mb.endswith(b"Subject: mbox\n\n>From the start\n>From x\n\n"),
          "mbox: From quoted, blank line at the end")
    check(not os.path.exists(spool + ".lock"), "mbox dot-lock removed")
    c.quit()


def test_detail_off(sock, home):
    alice = os.path.join(home, "alice", "Maildir")
    before = len(new_files(alice))
    folder_before = len(new_files(os.path.join(alice, ".Work.Sub")))
    c = lmtp(sock)
    c.docmd("MAIL FROM:<s@remote.test>")
    c.docmd("RCPT TO:<alice+Work.Sub@example.test>")
    replies = data(c, b"Subject: off\r\n\r\nx\r\n", 1)
    check(replies[0][0] == 250, "saved with lmtp_save_to_detail_mailbox=no")
    check(len(new_files(alice)) == before + 1
          and len(new_files(os.path.join(alice, ".Work.Sub")))
          == folder_before,
          "lmtp_save_to_detail_mailbox=no: +folder goes to INBOX")
    c.quit()


def test_bdat(sock, home):
    """CHUNKING: BDAT chunks, one reply per recipient after BDAT LAST."""
    alice = os.path.join(home, "alice", "Maildir")
    before = len(new_files(alice))
    c = lmtp(sock)
    c.docmd("MAIL FROM:<s@remote.test>")
    c.docmd("RCPT TO:<alice@example.test>")
    c.docmd("RCPT TO:<bob@example.test>")
    part1 = b"Subject: bdat\r\n\r\nfirst "
    part2 = b"chunk\r\n.no stuffing\r\n"
    c.send(b"BDAT %d\r\n" % len(part1) + part1)
    check(c.getreply()[0] == 250, "BDAT chunk accepted")
    c.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
    replies = [c.getreply(), c.getreply()]
    check([r[0] for r in replies] == [250, 250]
          and b"<alice@example.test>" in replies[0][1]
          and b"<bob@example.test>" in replies[1][1],
          f"BDAT LAST: one reply per recipient: {replies}")
    files = new_files(alice)
    check(len(files) == before + 1, "BDAT message saved for alice")
    found = False
    for name in files:
        with open(os.path.join(alice, "new", name), "rb") as f:
            if f.read().endswith(b"\n\nfirst chunk\n.no stuffing\n"):
                found = True
    check(found, "BDAT content stored as sent (no dot-unstuffing)")
    c.quit()


def test_autocreate(sock, home):
    alice = os.path.join(home, "alice", "Maildir")
    folder = os.path.join(alice, ".New.Entw&APw-rfe")
    check(not os.path.exists(folder), "folder New.Entwürfe does not exist")
    c = lmtp(sock)
    c.command_encoding = "utf-8"
    c.docmd("MAIL FROM:<s@remote.test> SMTPUTF8")
    check(c.docmd("RCPT TO:<alice+New.Entw\u00fcrfe@example.test>")[0]
          == 250, "UTF-8 +folder recipient accepted (SMTPUTF8)")
    replies = data(c, b"Subject: auto\r\n\r\nx\r\n", 1)
    check(replies[0][0] == 250, "saved with lda_mailbox_autocreate=yes")
    check(len(new_files(folder)) == 1,
          "the folder was created as .New.Entw&APw-rfe (modified UTF-7) "
          "and got the message")
    check(os.path.exists(os.path.join(folder, "maildirfolder")),
          "the new folder has a maildirfolder file")
    check(os.stat(folder).st_mode & 0o7777 == 0o700, "folder mode 0700")
    c.quit()


def test_auth_down(sock):
    c = lmtp(sock)
    c.docmd("MAIL FROM:<s@remote.test>")
    r = c.docmd("RCPT TO:<alice@example.test>")
    check(r == (451, b"4.3.0 <alice@example.test> Temporary internal error"),
          f"auth daemon down: 451 at RCPT: {r}")
    c.quit()


def test_map_mode(sock, mail):
    c = lmtp(sock)
    c.docmd("MAIL FROM:<s@remote.test>")
    check(c.docmd("RCPT TO:<dave@example.test>")[0] == 250,
          "map mode: user in virtual_mailbox_maps accepted")
    check(c.docmd("RCPT TO:<eve@example.test>")[0] == 550,
          "map mode: user not in virtual_mailbox_maps refused")
    check(c.docmd("RCPT TO:<Dave@Example.TEST>")[0] == 250,
          "map mode: the lookup ignores case")
    replies = data(c, b"Subject: map\r\n\r\nx\r\n", 2)
    check([r[0] for r in replies] == [250, 250], "map mode: saved")
    check(len(new_files(os.path.join(mail, "example.test", "dave"))) == 2,
          "map mode: mail_location %d/%n used, with the user lower-cased")
    c.quit()


def main():
    need_root()
    for prog in ("lmtpd", "auth"):
        if not os.access(bin_path(prog), os.X_OK):
            missing(bin_path(prog))
    vmail = ensure_user(VMAIL)
    tmp = tempfile.mkdtemp(prefix="dovetail-lmtpd-")
    os.chmod(tmp, 0o755)
    procs = []
    try:
        home = os.path.join(tmp, "home")
        mail = os.path.join(tmp, "mail")
        spool = os.path.join(tmp, "spool")
        for d in (home, mail, spool):
            os.mkdir(d)
            os.chown(d, vmail.pw_uid, vmail.pw_gid)
        open(os.path.join(spool, "carol"), "w").close()
        os.chown(os.path.join(spool, "carol"), vmail.pw_uid, vmail.pw_gid)
        os.chmod(os.path.join(spool, "carol"), 0o660)
        uid, gid = vmail.pw_uid, vmail.pw_gid
        with open(os.path.join(tmp, "users"), "w") as f:
            f.write(f"alice@example.test:{{PLAIN}}x:{uid}:{gid}::"
                    f"{home}/alice::\n"
                    f"bob@example.test:{{PLAIN}}x:{uid}:{gid}::{home}/bob::\n"
                    f"other@example.test:{{PLAIN}}x:0:0::{home}/other::\n"
                    f"carol@example.test:{{PLAIN}}x:{uid}:{gid}::"
                    f"{home}/carol::userdb_mail=mbox:~/mail:INBOX="
                    f"{spool}/carol\n")
        with open(os.path.join(tmp, "vmailbox"), "w") as f:
            f.write("dave@example.test example.test/dave/\n")
        for name in ("users", "vmailbox"):
            os.chmod(os.path.join(tmp, name), 0o644)
        conf = os.path.join(tmp, "etc")
        os.mkdir(conf)
        os.chmod(conf, 0o755)
        auth_sock = os.path.join(tmp, "auth-userdb")
        with open(os.path.join(conf, "main.cf"), "w") as f:
            f.write(f"queue_directory = {tmp}/queue\n"
                    f"mail_owner = {VMAIL}\n"
                    "myhostname = mx.test.example\n"
                    "recipient_delimiter = +\n")
        with open(os.path.join(conf, "auth.cf"), "w") as f:
            f.write(f"passdb = passwd-file:{tmp}/users\n"
                    f"userdb = passwd-file:{tmp}/users\n")
        with open(os.path.join(conf, "lmtpd.cf"), "w") as f:
            f.write(f"auth_socket_path = {auth_sock}\n"
                    "mail_location = maildir:~/Maildir\n"
                    "lmtp_save_to_detail_mailbox = yes\n")
        for name in os.listdir(conf):
            os.chmod(os.path.join(conf, name), 0o644)

        procs.append(start(tmp, "auth", [bin_path("auth"), "-c", conf, "-l",
                                         "unix:" + auth_sock, "-f", "-u",
                                         "nobody", "userdb"], auth_sock))
        sock = os.path.join(tmp, "lmtp")
        lmtpd = [bin_path("lmtpd"), "-c", conf, "-f", "-u", VMAIL]
        procs.append(start(tmp, "lmtpd", lmtpd + ["-l", "unix:" + sock],
                           sock))
        sock_off = os.path.join(tmp, "lmtp-off")
        procs.append(start(tmp, "lmtpd-off", lmtpd + [
            "-l", "unix:" + sock_off,
            "-o", "lmtp_save_to_detail_mailbox=no"], sock_off))
        sock_auto = os.path.join(tmp, "lmtp-auto")
        procs.append(start(tmp, "lmtpd-auto", lmtpd + [
            "-l", "unix:" + sock_auto,
            "-o", "lda_mailbox_autocreate=yes"], sock_auto))
        sock_down = os.path.join(tmp, "lmtp-down")
        procs.append(start(tmp, "lmtpd-down", lmtpd + [
            "-l", "unix:" + sock_down,
            "-o", f"auth_socket_path={tmp}/no-such-socket"], sock_down))
        sock_map = os.path.join(tmp, "lmtp-map")
        procs.append(start(tmp, "lmtpd-map", lmtpd + [
            "-l", "unix:" + sock_map, "-o", "auth_socket_path=",
            "-o", f"virtual_mailbox_maps=texthash:{tmp}/vmailbox",
            "-o", f"mail_location=maildir:{mail}/%d/%n"], sock_map))

        test_auth_mode(tmp, sock, home)
        test_detail_off(sock_off, home)
        test_bdat(sock, home)
        test_autocreate(sock_auto, home)
        test_auth_down(sock_down)
        test_map_mode(sock_map, mail)
        for p in procs:
            check(p.poll() is None, "daemon still running at the end")
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        if failures:
            for name in sorted(os.listdir(tmp)):
                if name.endswith(".log"):
                    print(f"--- {name}")
                    with open(os.path.join(tmp, name)) as f:
                        print(f.read()[-4000:])
        if os.environ.get("KEEP_TMP"):
            print("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'FAILED' if failures else 'PASSED'}: {len(failures)} "
          "check(s) failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
