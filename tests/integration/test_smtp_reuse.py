#!/usr/bin/env python3
"""Connection reuse in the smtp agent (Postfix's connection cache) and the
per-destination rate delay in qmgr, driven end to end (queue file ->
qmgr -> smtp -> scripted SMTP peers, tests/lib/smtp_peer.py, which count
TCP connections and time each command):

- three messages queued for one destination with concurrency 1 go over
  one connection (qmgr tells the agent that more mail waits: on demand),
  RSET before each reuse, "conn_use=2" and "conn_use=3" on the delivery
  lines as Postfix logs them, QUIT after the last one;
- a destination in smtp_connection_cache_destinations keeps a single
  message's connection open until smtp_connection_cache_time_limit, then
  QUIT;
- a cached connection that the peer closed, or whose RSET is refused, is
  dropped silently: the next message goes over a new connection, sent,
  never deferred;
- smtp_connection_cache_on_demand = no (no destinations listed): one
  connection per message, no RSET;
- a cached session gets QUIT when the agent stops (SIGTERM), long before
  its time limit;
- smtp_destination_rate_delay = 2s (the per-transport override of
  default_destination_rate_delay, which stays 0 here, and of a 30 s delay
  set for another transport): three messages to one destination arrive
  at the peer at least 1.5 s apart (a behaviour check with wide
  margins, not a timing benchmark).
"""
import os
import re
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from dovetail_test import need_root  # noqa: E402
from instance import Instance, wait_for  # noqa: E402
from queue_tools import inject, wake_qmgr  # noqa: E402
from smtp_peer import SMTPPeer  # noqa: E402

FAILURES = []
CONTENT = b"Subject: reuse\r\n\r\nhello\r\n"


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        FAILURES.append(what)
    return cond


def line_for(inst, qid, rcpt, timeout=20):
    """The smtp delivery log line for rcpt (after it appeared), or ""."""
    pat = re.compile(rf"{qid}: to=<{re.escape(rcpt)}>, relay=\S+, .*status=\w+ .*")
    wait_for(lambda: pat.search(inst.log()), timeout)
    m = pat.search(inst.log())
    return m.group(0) if m else ""


def queue_all(inst, rcpts):
    """Injects one message per recipient, then wakes qmgr once, so that
    one queue scan sees them all."""
    qids = [inject(inst.queue, "", [r], CONTENT) for r in rcpts]
    wake_qmgr(inst.queue)
    return qids


def verbs(peer, session):
    with peer.lock:
        return [l.split(" ", 1)[0].upper() for (_, n, l) in peer.events if n == session]


def reuse_on_demand(inst, peer):
    rcpts = [f"u{i}@ondemand.test" for i in range(3)]
    qids = queue_all(inst, rcpts)
    lines = [line_for(inst, q, r) for q, r in zip(qids, rcpts)]
    check(all("status=sent" in l for l in lines), f"three messages sent ({lines})")
    check(peer.sessions == 1 and len(peer.transactions) == 3,
          f"one connection for three messages (sessions={peer.sessions}, "
          f"transactions={len(peer.transactions)})")
    # qmgr picks the three in scan order: look at them in log order.
    log = inst.log()
    ordered = sorted(lines, key=lambda l: log.find(l))
    check(len(ordered) == 3 and "conn_use=" not in ordered[0]
          and ", conn_use=2, delay=" in ordered[1] and ", conn_use=3, delay=" in ordered[2],
          "conn_use=2 and conn_use=3 logged as Postfix does (none on the first)")
    wait_for(lambda: "QUIT" in verbs(peer, 1), 10)
    v = verbs(peer, 1)
    check(v.count("EHLO") == 1 and v.count("RSET") == 2 and v.count("MAIL") == 3,
          f"one EHLO, RSET before each reuse ({v})")
    seq = [x for x in v if x in ("MAIL", "RSET", "QUIT")]
    check(seq == ["MAIL", "RSET", "MAIL", "RSET", "MAIL", "QUIT"],
          f"RSET between the transactions, QUIT after the last ({seq})")


def time_limit(inst, peer, limit):
    qid = queue_all(inst, ["u@listed.test"])[0]
    line = line_for(inst, qid, "u@listed.test")
    check("status=sent" in line, f"listed destination: sent ({line})")
    sent = time.time()
    time.sleep(0.5)
    check("QUIT" not in verbs(peer, 1), "the connection stays open after the delivery")
    check(wait_for(lambda: "QUIT" in verbs(peer, 1), limit + 10),
          "QUIT after smtp_connection_cache_time_limit")
    with peer.lock:
        quit_at = [t for (t, n, l) in peer.events if l.upper() == "QUIT"]
    idle = quit_at[0] - sent if quit_at else -1
    check(limit - 0.7 <= idle <= limit + 6,
          f"QUIT about {limit}s after the delivery ({idle:.2f}s)")


def dead_cached(inst, peer, dom, what):
    qid1 = queue_all(inst, [f"a@{dom}"])[0]
    l1 = line_for(inst, qid1, f"a@{dom}")
    check("status=sent" in l1, f"{what}: first message sent ({l1})")
    time.sleep(0.3)
    qid2 = queue_all(inst, [f"b@{dom}"])[0]
    l2 = line_for(inst, qid2, f"b@{dom}")
    check("status=sent" in l2 and "conn_use" not in l2,
          f"{what}: next message sent over a new connection ({l2})")
    check(peer.sessions == 2, f"{what}: two connections ({peer.sessions})")
    check(not re.search(rf"{qid2}: .*status=deferred", inst.log()),
          f"{what}: nothing deferred")


def no_cache(inst, peer):
    rcpts = [f"n{i}@nocache.test" for i in range(3)]
    qids = queue_all(inst, rcpts)
    lines = [line_for(inst, q, r) for q, r in zip(qids, rcpts)]
    check(all("status=sent" in l and "conn_use" not in l for l in lines),
          f"on_demand = no: three sent ({lines})")
    check(peer.sessions == 3, f"on_demand = no: one connection per message ({peer.sessions})")
    wait_for(lambda: all("QUIT" in verbs(peer, n) for n in (1, 2, 3)), 10)
    check(all(verbs(peer, n).count("QUIT") == 1 and "RSET" not in verbs(peer, n)
              for n in (1, 2, 3)), "each connection ends with QUIT, no RSET")


def shutdown(inst, peer):
    qid = queue_all(inst, ["u@shutdown.test"])[0]
    line = line_for(inst, qid, "u@shutdown.test")
    check("status=sent" in line, f"shutdown: sent ({line})")
    time.sleep(0.5)
    check("QUIT" not in verbs(peer, 1), "shutdown: cached (30 s time limit)")
    stopped = time.time()
    inst.stop()
    check(wait_for(lambda: "QUIT" in verbs(peer, 1), 10) and time.time() - stopped < 15,
          "shutdown: the cached session gets QUIT when smtp stops")


def rate_delay(peer, tmp):
    tmap = os.path.join(tmp, "transport-rate")
    with open(tmap, "w") as f:
        f.write(f"rate.test smtp:[127.0.0.1]:{peer.port}\n")
    os.chmod(tmap, 0o644)
    inst = Instance(services=("qmgr",), queue_run_delay=1,
                    master_cf_extra="smtp unix - - n - 1 smtp\n")
    inst.main_cf_extra = f"""
default_transport = smtp
transport_maps = texthash:{tmap}
smtp_helo_name = client.test
smtp_tls_security_level = none
default_destination_rate_delay = 0s
smtp_destination_rate_delay = 2s
lmtp_destination_rate_delay = 30s
inet_protocols = ipv4
"""
    with inst:
        inst.setup()
        inst.start()
        rcpts = [f"r{i}@rate.test" for i in range(3)]
        start = time.time()
        qids = queue_all(inst, rcpts)
        lines = [line_for(inst, q, r, 30) for q, r in zip(qids, rcpts)]
        check(all("status=sent" in l for l in lines), f"rate delay: three sent ({lines})")
        times = sorted(t["time"] for t in peer.transactions)
        gaps = [b - a for a, b in zip(times, times[1:])]
        check(len(times) == 3 and all(g >= 1.5 for g in gaps),
              f"rate delay 2s: arrivals at least 1.5 s apart ({[round(g, 2) for g in gaps]})")
        check(len(times) == 3 and times[-1] - start < 20,
              "rate delay: all three within 20 s")
        if FAILURES:
            print("--- mail.log ---\n" + inst.log()[-20000:])


def main():
    need_root()
    tmp = tempfile.mkdtemp(prefix="dovetail-reuse-")
    limit = 3
    peers = {
        "ondemand.test": SMTPPeer(name="ondemand.test"),
        "listed.test": SMTPPeer(name="listed.test"),
        "closes.test": SMTPPeer(name="closes.test", close_after=1),
        "rsetno.test": SMTPPeer(name="rsetno.test", replies={"rset": "554 5.5.0 no RSET here"}),
        "nocache.test": SMTPPeer(name="nocache.test"),
        "shutdown.test": SMTPPeer(name="shutdown.test"),
    }
    rate_peer = SMTPPeer(name="rate.test")
    tmap = os.path.join(tmp, "transport")
    with open(tmap, "w") as f:
        for d, p in peers.items():
            transport = {"nocache.test": "smtpn", "shutdown.test": "smtpl"}.get(d, "smtp")
            f.write(f"{d} {transport}:[127.0.0.1]:{p.port}\n")
    os.chmod(tmap, 0o644)
    os.chmod(tmp, 0o755)
    listed = " ".join(f"[127.0.0.1]:{peers[d].port}"
                      for d in ("listed.test", "closes.test", "rsetno.test", "shutdown.test"))
    # maxproc 1: one agent process, so one connection cache.
    inst = Instance(services=("qmgr",), queue_run_delay=1,
                    master_cf_extra="smtp unix - - n - 1 smtp\n"
                    "smtpn unix - - n - 1 smtp -o smtp_connection_cache_on_demand=no smtp\n"
                    "smtpl unix - - n - 1 smtp -o smtp_connection_cache_time_limit=30s smtp\n")
    inst.need_daemons("qmgr", "smtp")
    inst.main_cf_extra = f"""
default_transport = smtp
transport_maps = texthash:{tmap}
smtp_helo_name = client.test
smtp_tls_security_level = none
default_destination_concurrency_limit = 1
smtp_connection_cache_time_limit = {limit}s
smtp_connection_cache_destinations = {listed}
inet_protocols = ipv4
"""
    try:
        with inst:
            inst.setup()
            inst.start()
            reuse_on_demand(inst, peers["ondemand.test"])
            time_limit(inst, peers["listed.test"], limit)
            dead_cached(inst, peers["closes.test"], "closes.test",
                        "peer closed the cached connection")
            dead_cached(inst, peers["rsetno.test"], "rsetno.test", "RSET refused")
            check("RSET" in verbs(peers["rsetno.test"], 1),
                  "RSET refused: the probe was sent on the cached connection")
            no_cache(inst, peers["nocache.test"])
            shutdown(inst, peers["shutdown.test"])
            if FAILURES:
                print("--- mail.log ---\n" + inst.log()[-30000:])
        rate_delay(rate_peer, tmp)
    finally:
        for p in list(peers.values()) + [rate_peer]:
            p.stop()
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        sys.exit(1)
    print("all connection reuse and rate delay checks passed")


if __name__ == "__main__":
    main()
