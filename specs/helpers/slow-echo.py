#!/usr/bin/env python3
"""A user-space ICMP/ICMPv6 echo responder that answers late: for the soundness harness (this kernel has no netem).

Run it inside a lab namespace whose kernel echo is turned off (net.ipv4.icmp_echo_ignore_all=1, and for IPv6
net.ipv6.icmp.echo_ignore_all=1). Usage: slow-echo.py DELAY_MS [DELAY_MAX_MS]. Prints "ready" once listening.
Each reply is sent DELAY_MS..DELAY_MAX_MS after its request. Ends with its parent (stdin closed) or the lab.
With a third argument PORT it also answers UDP datagrams to that port (IPv4 and IPv6) as late, with "late\n".
"""
import os, random, select, socket, struct, sys, threading, time

lo = int(sys.argv[1]); hi = int(sys.argv[2]) if len(sys.argv) > 2 else lo
port = int(sys.argv[3]) if len(sys.argv) > 3 else None

def checksum(data):
    if len(data) % 2: data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff

v4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
v6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
lock = threading.Lock()
udp = None
if port is not None:
    udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    udp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    udp.bind(('::', port))

def later(sock, packet, addr, delay):
    time.sleep(delay)
    with lock:
        try: sock.sendto(packet, addr)
        except OSError: pass

print('ready', flush=True)
while True:
    r, _, _ = select.select([v4, v6, sys.stdin] + ([udp] if udp else []), [], [])
    if sys.stdin in r and not os.read(sys.stdin.fileno(), 4096): break
    delay = random.uniform(lo, hi) / 1000
    if udp is not None and udp in r:
        data, addr = udp.recvfrom(65535)
        threading.Thread(target=later, args=(udp, b'late\n', addr, delay), daemon=True).start()
    if v4 in r:
        data, addr = v4.recvfrom(65535)
        ihl = (data[0] & 0x0f) * 4; icmp = data[ihl:]
        if icmp[0] != 8: continue
        reply = b'\0\0\0\0' + icmp[4:]
        reply = reply[:2] + struct.pack('!H', checksum(reply)) + reply[4:]
        threading.Thread(target=later, args=(v4, reply, (addr[0], 0), delay), daemon=True).start()
    if v6 in r:
        data, addr = v6.recvfrom(65535)
        if data[0] != 128: continue
        reply = bytes([129, 0, 0, 0]) + data[4:]  # the kernel computes the ICMPv6 checksum
        threading.Thread(target=later, args=(v6, reply, addr, delay), daemon=True).start()
