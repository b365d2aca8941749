#!/usr/bin/env python3
"""nfq_delay - netem's delay and loss in user space, for kernels built
without sch_netem: an NFQUEUE listener (nfnetlink_queue over a raw
netlink socket, metadata only) that holds each queued packet for the
delay and then accepts it, or drops it with the given probability.

    ip netns exec dt-mail1 python3 nfq_delay.py QUEUE DELAY_MS LOSS_PERCENT

Run inside the namespace whose iptables OUTPUT rule sends packets to
queue QUEUE ("-j NFQUEUE --queue-num QUEUE --queue-bypass", so packets
pass unharmed when this process is gone). Input: kernel netlink messages
(parsed with length checks); never looks at packet contents. Stops on
SIGTERM/SIGINT, accepting what it still holds.
"""
import collections
import os
import random
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
NF_DROP, NF_ACCEPT = 0, 1
MAX_HELD = 100000  # packets held at once; beyond that they pass at once


def attr(atype, data):
    length = 4 + len(data)
    return struct.pack("=HH", length, atype) + data + b"\0" * ((4 - length % 4) % 4)


class Queue:
    def __init__(self, num):
        self.num = num
        self.seq = 0
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((0, 0))

    def send(self, msg_type, payload, flags=NLM_F_REQUEST):
        self.seq += 1
        nfgen = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(self.num))
        body = nfgen + payload
        hdr = struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type,
                          flags, self.seq, 0)
        self.sock.send(hdr + body)

    def config(self):
        self.send(NFQNL_MSG_CONFIG,
                  attr(NFQA_CFG_CMD, struct.pack("=BBH", NFQNL_CFG_CMD_BIND, 0, 0)),
                  NLM_F_REQUEST | NLM_F_ACK)
        self.check_ack()
        self.send(NFQNL_MSG_CONFIG,
                  attr(NFQA_CFG_PARAMS, struct.pack(">IB", 0, NFQNL_COPY_META)),
                  NLM_F_REQUEST | NLM_F_ACK)
        self.check_ack()

    def check_ack(self):
        data = self.sock.recv(65536)
        if len(data) >= 20:
            _, mtype = struct.unpack_from("=IH", data, 0)
            if mtype == NLMSG_ERROR:
                err = struct.unpack_from("=i", data, 16)[0]
                if err != 0:
                    raise OSError(-err, f"nfqueue config: {os.strerror(-err)}")

    def verdict(self, packet_id, verdict):
        self.send(NFQNL_MSG_VERDICT,
                  attr(NFQA_VERDICT_HDR, struct.pack(">II", verdict, packet_id)))

    def packets(self, data):
        """Packet ids in one recv buffer (several netlink messages)."""
        ids = []
        off = 0
        while off + 16 <= len(data):
            length, mtype = struct.unpack_from("=IH", data, off)
            if length < 16 or off + length > len(data):
                break
            if mtype == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                a = off + 20  # nlmsghdr + nfgenmsg
                end = off + length
                while a + 4 <= end:
                    alen, atype = struct.unpack_from("=HH", data, a)
                    if alen < 4 or a + alen > end:
                        break
                    if (atype & 0x7fff) == NFQA_PACKET_HDR and alen >= 8:
                        ids.append(struct.unpack_from(">I", data, a + 4)[0])
                    a += (alen + 3) & ~3
            off += (length + 3) & ~3
        return ids


def main(argv):
    if len(argv) != 4:
        print("usage: nfq_delay.py QUEUE DELAY_MS LOSS_PERCENT", file=sys.stderr)
        return 2
    num, delay, loss = int(argv[1]), float(argv[2]) / 1000.0, float(argv[3]) / 100.0
    if not (0 <= num <= 65535 and 0 <= delay <= 60 and 0 <= loss <= 1):
        print("nfq_delay: out of range", file=sys.stderr)
        return 2
    q = Queue(num)
    q.config()
    held = collections.deque()
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    print(f"nfq_delay: queue {num}, delay {delay * 1000:.0f}ms, loss {loss * 100:g}%",
          flush=True)
    while not stop:
        now = time.monotonic()
        while held and held[0][0] <= now:
            q.verdict(held.popleft()[1], NF_ACCEPT)
        timeout = max(0.0, held[0][0] - now) if held else 1.0
        try:
            r, _, _ = select.select([q.sock], [], [], timeout)
        except InterruptedError:
            continue
        if not r:
            continue
        try:
            data = q.sock.recv(1 << 20)
        except OSError:  # ENOBUFS: the kernel dropped some; go on
            continue
        due = time.monotonic() + delay
        for pid in q.packets(data):
            if loss > 0 and random.random() < loss:
                q.verdict(pid, NF_DROP)
            elif delay == 0 or len(held) >= MAX_HELD:
                q.verdict(pid, NF_ACCEPT)
            else:
                held.append((due, pid))
    while held:
        q.verdict(held.popleft()[1], NF_ACCEPT)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
