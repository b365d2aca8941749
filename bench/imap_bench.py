#!/usr/bin/env python3
"""imap_bench - issue 6 benchmark: IMAP on a large mailbox and many idle
connections. Prints figures; registered nowhere in ctest.

1. Fills a Maildir with N generated messages (realistic headers: names,
   Message-ID, threading headers on some, Cc on some; about 1 in 5 a
   multipart/alternative text+HTML, 1 in 10 a multipart/mixed with a
   base64 attachment; flags on about half) and a dovecot-uidlist v3 as
   Dovecot would have written it.
2. Times through imapd in preauth mode (imapd -c CONF -f -P user:home, as
   the harness of tests/imap does): SELECT cold (no dovetail.index) and
   warm, UID FETCH 1:* (FLAGS), FETCH 1:* (ENVELOPE), SEARCH FROM (a
   header) and SEARCH BODY (body text; a word in 1% of the messages).
3. Memory per idle connection: a running instance (tests/lib/
   imap_instance.py: master, auth, imap-login, imapd), C connections
   through imap-login's plain port (or --tls: its implicit TLS port, where
   imap-login keeps proxying the TLS), each LOGIN + SELECT INBOX (a
   mailbox of --idle-n messages) + IDLE; VmRSS of imapd and imap-login
   before and after, imapd's CPU time over --idle-secs while every session
   idles, its inotify instances (one per process: lib/login/mail_watch.h;
   no fs.inotify limit needs raising) and whether any folder fell back to
   stat() polling (fs.inotify.max_user_watches).

    sudo DOVETAIL_BUILD_DIR=build bench/imap_bench.py [--n 100000]
        [--conns 1000] [--idle-n 1000] [--idle-secs 10] [--tls]
        [--skip-idle] [--skip-big]
        [--dir DIR] [--keep]

Needs root for part 3 (master). Uses only the Python standard library.
"""
import argparse
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
from dovetail_test import bin_path  # noqa: E402

FIRST = ["Anna", "Ben", "Carla", "David", "Eva", "Farid", "Greta", "Hiro",
         "Ines", "Jonas", "Kemal", "Lena", "Marek", "Nina", "Omar", "Paula",
         "Quentin", "Rosa", "Sven", "Tara", "Ulla", "Viktor", "Wen", "Yara"]
LAST = ["Schmidt", "Dubois", "Rossi", "Novak", "Tanaka", "Silva", "Jensen",
        "Kowalski", "Murphy", "Haddad", "Okafor", "Larsen", "Moreau"]
DOMAINS = ["example.org", "example.net", "mail.example.com", "lists.example.org",
           "corp.example"]
WORDS = ("the report budget meeting schedule project release draft invoice "
         "review quarterly update please find attached thanks regards "
         "deadline server migration backup holiday lunch agenda minutes "
         "customer feedback contract signed approval pending urgent").split()
RARE_WORD = "zebracorn"


def person(rng):
    f, l = rng.choice(FIRST), rng.choice(LAST)
    return f"{f} {l}", f"{f.lower()}.{l.lower()}@{rng.choice(DOMAINS)}"


def sentence(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def body_text(rng, i, lines):
    out = [sentence(rng, rng.randint(6, 14)) for _ in range(lines)]
    if i % 100 == 7:
        out.insert(len(out) // 2, f"The {RARE_WORD} appears in this one.")
    return "\r\n".join(out) + "\r\n"


def gen_message(i, rng, when):
    name, addr = person(rng)
    to_name, to_addr = "Bench User", "bench@example.org"
    subject = sentence(rng, rng.randint(2, 7))[:-1]
    if i % 4 == 1:
        subject = "Re: " + subject
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(when))
    h = [f"Return-Path: <{addr}>",
         f"Received: from mx.{addr.split('@')[1]} by mx.example.org with ESMTPS "
         f"id B{i:08X}; {date}",
         f"From: {name} <{addr}>", f"To: {to_name} <{to_addr}>"]
    if i % 5 == 2:
        cn, ca = person(rng)
        h.append(f"Cc: {cn} <{ca}>")
    h += [f"Subject: {subject}", f"Date: {date}",
          f"Message-ID: <{i}.{when}@{addr.split('@')[1]}>"]
    if i % 4 == 1 and i > 1:
        ref = f"<{i - 1}.{when - 60}@example.net>"
        h += [f"In-Reply-To: {ref}", f"References: {ref}"]
    h.append("MIME-Version: 1.0")
    text = body_text(rng, i, rng.randint(3, 30))
    if i % 10 == 3:
        b = f"b{i:x}mixed"
        att = os.urandom(rng.randint(600, 6000))
        import base64
        enc = base64.encodebytes(att).decode().replace("\n", "\r\n")
        h.append(f'Content-Type: multipart/mixed; boundary="{b}"')
        body = (f"This is a multi-part message in MIME format.\r\n--{b}\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n"
                f"Content-Transfer-Encoding: 7bit\r\n\r\n{text}--{b}\r\n"
                f'Content-Type: application/pdf; name="report-{i}.pdf"\r\n'
                "Content-Transfer-Encoding: base64\r\n"
                f'Content-Disposition: attachment; filename="report-{i}.pdf"\r\n\r\n'
                f"{enc}--{b}--\r\n")
    elif i % 5 == 4:
        b = f"b{i:x}alt"
        html = "<html><body><p>" + text.replace("\r\n", "</p><p>") + "</p></body></html>\r\n"
        h.append(f'Content-Type: multipart/alternative; boundary="{b}"')
        body = (f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{text}--{b}\r\n"
                "Content-Type: text/html; charset=utf-8\r\n\r\n"
                f"{html}--{b}--\r\n")
    else:
        h.append("Content-Type: text/plain; charset=utf-8")
        body = text
    return ("\r\n".join(h) + "\r\n\r\n" + body).encode()


def fill_maildir(maildir, n, seed=1, owner=None):
    """n messages in maildir/cur plus a dovecot-uidlist; returns seconds."""
    t0 = time.time()
    rng = random.Random(seed)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    start = int(time.time()) - n * 60 - 86400
    lines = []
    host = "bench"
    for i in range(1, n + 1):
        when = start + i * 60
        raw = gen_message(i, rng, when)
        vsize = len(raw)  # CRLF already
        base = f"{when}.M{i}P{4242}.{host},S={len(raw)},W={vsize}"
        flags = ""
        r = rng.random()
        if r < 0.5:
            flags = "S"
        if r < 0.05:
            flags = "FS"
        if r > 0.97:
            flags = "RS"
        path = os.path.join(maildir, "cur", base + ":2," + flags)
        with open(path, "wb") as f:
            f.write(raw)
        os.utime(path, (when, when))
        lines.append(f"{i} :{base}\n")
    validity = int(time.time()) - 1000
    with open(os.path.join(maildir, "dovecot-uidlist"), "w") as f:
        f.write(f"3 V{validity} N{n + 1} G{os.urandom(16).hex()}\n")
        f.writelines(lines)
    if owner is not None:
        for root, dirs, files in os.walk(maildir):
            os.chown(root, owner.pw_uid, owner.pw_gid)
            for x in files:
                os.chown(os.path.join(root, x), owner.pw_uid, owner.pw_gid)
    return time.time() - t0


class Session:
    """imapd -P on pipes; cmd() times a command and counts its output."""

    def __init__(self, conf, home):
        self.p = subprocess.Popen(
            [bin_path("imapd"), "-c", conf, "-f", "-P", f"bench:{home}",
             "-o", "mail_location=maildir:~/Maildir"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.buf = b""
        self.n = 0
        greeting = self.readline()
        if not greeting.startswith(b"* PREAUTH"):
            raise RuntimeError(f"imapd greeting: {greeting!r}")

    def readline(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                return line
            chunk = os.read(self.p.stdout.fileno(), 1 << 20)
            if not chunk:
                raise RuntimeError("imapd closed the session")
            self.buf += chunk

    def cmd(self, text):
        """(seconds, untagged lines, output bytes, tagged line)."""
        self.n += 1
        tag = f"b{self.n}".encode()
        t0 = time.perf_counter()
        self.p.stdin.write(tag + b" " + text.encode() + b"\r\n")
        count = 0
        nbytes = 0
        while True:
            line = self.readline()
            nbytes += len(line)
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            while m:  # a literal: skip its bytes, then the rest of the line
                want = int(m.group(1))
                while len(self.buf) < want:
                    chunk = os.read(self.p.stdout.fileno(), 1 << 20)
                    if not chunk:
                        raise RuntimeError("imapd closed the session")
                    self.buf += chunk
                self.buf = self.buf[want:]
                nbytes += want
                line = self.readline()
                nbytes += len(line)
                m = re.search(rb"\{(\d+)\}\r\n$", line)
            if line.startswith(tag + b" "):
                dt = time.perf_counter() - t0
                if not line.startswith(tag + b" OK"):
                    raise RuntimeError(f"{text}: {line!r}")
                return dt, count, nbytes, line.decode(errors="replace").strip()
            count += 1

    def close(self):
        try:
            self.p.stdin.write(b"z LOGOUT\r\n")
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            m = re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M)
            return int(m.group(1)) if m else 0
    except OSError:
        return 0


def proc_threads(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return int(re.search(r"^Threads:\s+(\d+)", f.read(), re.M).group(1))
    except (OSError, AttributeError):
        return 0


def cpu_ticks(pid):
    """utime + stime of pid in clock ticks."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def inotify_fds(pid):
    n = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                n += os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:inotify"
            except OSError:
                pass
    except OSError:
        pass
    return n


def bench_big(args, top):
    home = os.path.join(top, "home")
    maildir = os.path.join(home, "Maildir")
    conf = os.path.join(top, "etc")
    os.makedirs(conf, exist_ok=True)
    with open(os.path.join(conf, "main.cf"), "w") as f:
        f.write(f"queue_directory = {top}/spool\ndata_directory = {top}/data\n"
                f"maillog_file = {top}/mail.log\nsyslog_name = imap-bench\n"
                "imap_autocreate =\n")
    print(f"filling {maildir} with {args.n} messages ...", flush=True)
    secs = fill_maildir(maildir, args.n)
    size = sum(os.path.getsize(os.path.join(maildir, "cur", x))
               for x in os.listdir(os.path.join(maildir, "cur")))
    print(f"  {args.n} messages, {size / 1e6:.1f} MB, written in {secs:.1f} s")
    for name in os.listdir(maildir):
        if name.startswith("dovetail.index"):
            os.unlink(os.path.join(maildir, name))

    rows = []
    # A directory changed within the last second or two is "dirty" (its
    # mtime may not move on the next change): the index only vouches for
    # cur/ once it is older, as on any mailbox not just filled.
    newest = max(os.stat(os.path.join(maildir, d)).st_mtime for d in ("cur", "new"))
    time.sleep(max(0.0, newest + 2.2 - time.time()))
    s = Session(conf, home)
    dt, n, nb, tagged = s.cmd("SELECT INBOX")
    rows.append(("SELECT INBOX, cold (no index)", dt, nb))
    s.close()
    idx = [x for x in os.listdir(maildir) if x.startswith("dovetail.index")]
    idx_size = sum(os.path.getsize(os.path.join(maildir, x)) for x in idx)

    # cur/ touched since the index was written: listed again
    os.utime(os.path.join(maildir, "cur"))
    s = Session(conf, home)
    dt, n, nb, tagged = s.cmd("SELECT INBOX")
    rows.append(("SELECT INBOX, warm, cur/ changed (listed)", dt, nb))
    s.close()
    time.sleep(2.2)
    s = Session(conf, home)
    dt, n, nb, tagged = s.cmd("SELECT INBOX")
    rows.append(("SELECT INBOX, again (cur/ was dirty at last scan)", dt, nb))
    s.close()

    s = Session(conf, home)
    dt, n, nb, tagged = s.cmd("SELECT INBOX")
    rows.append(("SELECT INBOX, warm (cur/ not listed)", dt, nb))
    dt, n, nb, _ = s.cmd("UID FETCH 1:* (FLAGS)")
    rows.append((f"UID FETCH 1:* (FLAGS) [{n} replies]", dt, nb))
    dt, n, nb, _ = s.cmd("FETCH 1:* (ENVELOPE)")
    rows.append((f"FETCH 1:* (ENVELOPE) [{n} replies], first time", dt, nb))
    dt, n, nb, _ = s.cmd("FETCH 1:* (ENVELOPE)")
    rows.append((f"FETCH 1:* (ENVELOPE), again", dt, nb))
    dt, n, nb, res = s.cmd('SEARCH FROM "Greta"')
    rows.append(('SEARCH FROM "Greta"', dt, nb))
    dt, n, nb, _ = s.cmd(f'SEARCH BODY "{RARE_WORD}"')
    rows.append((f'SEARCH BODY "{RARE_WORD}"', dt, nb))
    dt, n, nb, _ = s.cmd(f'SEARCH TEXT "{RARE_WORD}"')
    rows.append((f'SEARCH TEXT "{RARE_WORD}"', dt, nb))
    rss = rss_kb(s.p.pid)
    s.close()
    print(f"\nimapd -P on {args.n} messages (index {len(idx)} files, "
          f"{idx_size / 1e6:.1f} MB):")
    for what, dt, nb in rows:
        print(f"  {what:<52} {dt * 1000:10.1f} ms  {nb / 1e6:8.2f} MB out")
    print(f"  imapd RSS after these commands: {rss / 1024:.1f} MB")


def bench_idle(args, top):
    from imap_instance import imap_instance, tls_context, user_maildir
    import pwd
    want = args.conns + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(want, soft), hard)
                                                       if hard != resource.RLIM_INFINITY
                                                       else want, hard))
        except (ValueError, OSError) as e:
            print(f"  cannot raise the fd limit to {want}: {e}")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    user = "bench@example.org"
    pw = "bench-pw"
    inst, _ = imap_instance({user: pw}, main_cf_extra=(
        "mail_max_userip_connections = 0\n"
        # imapd runs with maxproc 1 (the user+IP count is per process):
        # after max_use handoffs it stops accepting and master cannot
        # start a second one while its sessions live (see the report).
        "max_use = 1000000000\n"
        "imap_autocreate =\n"
        f"default_process_limit = {args.conns + 10}\n"))
    vmail = pwd.getpwnam("dvvmail")
    with inst:
        md = user_maildir(inst, user)
        fill_maildir(md, args.idle_n, seed=2, owner=vmail)
        os.chown(os.path.dirname(md), vmail.pw_uid, vmail.pw_gid)
        os.chown(os.path.dirname(os.path.dirname(md)), vmail.pw_uid, vmail.pw_gid)
        inst.start()
        port = inst.imaps_port if args.tls else inst.imap_port
        login_service = "imaps-login" if args.tls else "imap-login"

        def one(tag):
            s = socket.create_connection(("127.0.0.1", port), 30)
            if args.tls:
                s = tls_context().wrap_socket(s)
            f = s.makefile("rb")
            f.readline()
            s.sendall(f"{tag}a LOGIN {user} {pw}\r\n{tag}b SELECT INBOX\r\n"
                      f"{tag}c IDLE\r\n".encode())
            while True:
                line = f.readline()
                if not line:
                    raise RuntimeError(f"session {tag} closed")
                if line.startswith(f"{tag}a NO".encode()) or \
                        line.startswith(f"{tag}b NO".encode()) or line.startswith(b"* BYE"):
                    raise RuntimeError(f"session {tag}: {line!r}")
                if line.startswith(b"+"):
                    return s, f

        # one session first: the process exists and has done one SELECT
        first = one("w")
        imapd = inst.daemon_pids("imapd")
        logins = inst.daemon_pids("imap-login")
        time.sleep(0.5)
        before = {p: rss_kb(p) for p in imapd + logins}
        log0 = inst.log_size()
        conns = [first]
        t0 = time.time()
        failed = None
        for i in range(args.conns - 1):
            if (i + 2) % 100 == 0:
                print(f"  {i + 2} sessions, {time.time() - t0:.1f} s", flush=True)
            try:
                conns.append(one(f"s{i}"))
            except Exception as e:
                failed = f"after {len(conns)} sessions: {e}"
                break
        dt = time.time() - t0
        time.sleep(1.0)
        imapd = inst.daemon_pids("imapd")
        logins = inst.daemon_pids("imap-login")
        after = {p: rss_kb(p) for p in imapd + logins}
        # CPU while every session idles (no mail arrives)
        tick = os.sysconf("SC_CLK_TCK")
        c0 = {p: cpu_ticks(p) for p in imapd}
        t_cpu = time.time()
        time.sleep(args.idle_secs)
        c1 = {p: cpu_ticks(p) for p in imapd}
        t_cpu = time.time() - t_cpu
        log = inst.log()[log0:]
        polls = len(re.findall(r"mail_watch: inotify", log))
        n = len(conns)
        print(f"\n{n} idle IMAP{'S' if args.tls else ''} sessions (LOGIN + SELECT of "
              f"{args.idle_n} messages + IDLE) opened in {dt:.1f} s"
              + (f"; stopped {failed}" if failed else ""))
        print(f"  (fd limit {soft}; fs.inotify.max_user_instances "
              f"{open('/proc/sys/fs/inotify/max_user_instances').read().strip()}, "
              f"max_user_watches "
              f"{open('/proc/sys/fs/inotify/max_user_watches').read().strip()}; "
              f"{polls} watcher warnings (folders polled by stat()))")
        for p in imapd:
            used = (c1[p] - c0[p]) / tick
            print(f"  imapd[{p}]: {inotify_fds(p)} inotify instance(s); CPU while "
                  f"idle {used:.2f} s in {t_cpu:.1f} s = {100 * used / t_cpu:.1f} %")
        for label, pids in (("imapd", imapd), (login_service, logins)):
            for p in pids:
                b, a = before.get(p, 0), after.get(p, 0)
                print(f"  {label}[{p}]: VmRSS {b / 1024:.1f} MB -> {a / 1024:.1f} MB, "
                      f"threads {proc_threads(p)}; "
                      f"{(a - b) / max(1, n - 1):.1f} kB per session")
        # one delivery: how long until every session heard "* N EXISTS"
        name = f"{time.time():.6f}.bench-wake.localhost"
        tmp = os.path.join(md, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(b"From: a@example.org\r\nSubject: wake up\r\n\r\nhi\r\n")
        os.chown(tmp, vmail.pw_uid, vmail.pw_gid)
        t_wake = time.time()
        os.rename(tmp, os.path.join(md, "new", name))
        heard = 0
        for s, f in conns:
            try:
                s.settimeout(max(0.1, 30 - (time.time() - t_wake)))
                while True:
                    line = f.readline()
                    if not line:
                        break
                    if re.match(rb"\* %d EXISTS" % (args.idle_n + 1), line):
                        heard += 1
                        break
            except OSError:
                pass
        print(f"  one delivery: {heard} of {n} sessions got "
              f"'* {args.idle_n + 1} EXISTS', the last after "
              f"{time.time() - t_wake:.2f} s")
        # every session still answers DONE
        alive = 0
        for s, f in conns[:50]:
            try:
                s.settimeout(10)
                s.sendall(b"DONE\r\n")
                while True:  # untagged updates may come first
                    line = f.readline()
                    if not line or not line.startswith(b"*"):
                        break
                alive += bool(re.match(rb"\S+c OK", line))
            except OSError:
                pass
        print(f"  {alive} of {min(50, n)} sampled sessions answered DONE")
        for s, f in conns:
            try:
                s.close()
            except OSError:
                pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100000, help="messages in the big mailbox")
    ap.add_argument("--conns", type=int, default=1000, help="idle connections")
    ap.add_argument("--idle-n", type=int, default=1000,
                    help="messages in the mailbox the idle sessions select")
    ap.add_argument("--tls", action="store_true", help="idle sessions over IMAPS")
    ap.add_argument("--idle-secs", type=float, default=10,
                    help="how long to measure imapd's CPU while all sessions idle")
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--skip-idle", action="store_true")
    ap.add_argument("--dir", help="work directory (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    # SIGTERM (timeout(1)) unwinds like ^C, so the instance is stopped
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    top = args.dir or tempfile.mkdtemp(prefix="imap-bench-")
    os.makedirs(top, exist_ok=True)
    try:
        if not args.skip_big:
            bench_big(args, top)
        if not args.skip_idle:
            if os.geteuid() != 0:
                print("idle connections: needs root (master); skipped")
            else:
                # (--raise-inotify is gone: imapd holds one inotify
                # instance per process whatever the number of sessions)
                bench_idle(args, top)
    finally:
        if args.keep:
            print(f"kept {top}")
        else:
            shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
