# The oracle's listener (bench/oracle.ts): one process per namespace, sharing no code with netspec. It listens on every
# given TCP and UDP port on 0.0.0.0 and on a raw ICMP socket, records what arrived (one JSON line per packet or
# connection: protocol, local address and port after every NAT, the peer as this namespace saw it, the payload), and
# answers TCP/UDP with "ORACLE <namespace> <payload>". It runs until the stop file appears (or 60 s pass).
# Two more raw sockets record what this namespace's kernel delivered locally, on any port, listened on or not (a raw
# socket gets its copy after the input hook, i.e. after every input filter): each TCP SYN (the exposure claims'
# connects, told apart by their source port) and each UDP datagram whose payload starts with "OXP " (their nonce).
# A port that cannot be bound (something of the lab holds it) is left out of the listening and said in the log.
# argv: NAMESPACE LOG READY STOP PORT...
import json, os, select, socket, struct, sys, time

IP_PKTINFO = getattr(socket, 'IP_PKTINFO', 8)

name, log_path, ready_path, stop_path = sys.argv[1:5]
ports = [int(p) for p in sys.argv[5:]]
log = open(log_path, 'a', buffering=1)

def record(**kv):
    kv['ns'] = name
    log.write(json.dumps(kv) + '\n')

listeners, udps, conns = {}, {}, {}
for p in ports:
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        t.bind(('0.0.0.0', p)); t.listen(64); t.setblocking(False)
        listeners[t] = p
    except OSError as e:
        t.close(); record(proto='unbound', port=p, peer='', local='tcp: %s' % e)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)  # answer from the address the datagram was sent to
    try:
        u.bind(('0.0.0.0', p))
        udps[u] = p
    except OSError as e:
        u.close(); record(proto='unbound', port=p, peer='', local='udp: %s' % e)
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
rawtcp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
rawudp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
open(ready_path, 'w').close()

deadline = time.time() + 60
while time.time() < deadline and not os.path.exists(stop_path):
    r, _, _ = select.select(list(listeners) + list(udps) + list(conns) + [raw, rawtcp, rawudp], [], [], 0.05)
    for s in r:
        if s in listeners:
            try:
                c, peer = s.accept()
            except OSError:
                continue
            c.settimeout(2)
            conns[c] = (listeners[s], peer, c.getsockname())
        elif s in conns:
            port, peer, local = conns.pop(s)
            try:
                data = s.recv(256)
            except OSError:
                data = b''
            nonce = data.decode('ascii', 'replace').strip()
            record(proto='tcp', port=port, peer=peer[0], local=local[0], nonce=nonce)
            try:
                s.sendall(('ORACLE %s %s\n' % (name, nonce)).encode())
            except OSError:
                pass
            s.close()
        elif s in udps:
            try:
                data, anc, _flags, peer = s.recvmsg(256, socket.CMSG_SPACE(12))
            except OSError:
                continue
            local = None
            for level, kind, cdata in anc:
                if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                    local = cdata[8:12]
            nonce = data.decode('ascii', 'replace').strip()
            record(proto='udp', port=udps[s], peer=peer[0], local=socket.inet_ntoa(local) if local else None, nonce=nonce)
            reply = ('ORACLE %s %s\n' % (name, nonce)).encode()
            try:  # no route back (a server without a default route) is the lab's business, not the listener's end
                if local:
                    s.sendmsg([reply], [(socket.IPPROTO_IP, IP_PKTINFO, struct.pack('I4s4s', 0, local, b'\0' * 4))], 0, peer)
                else:
                    s.sendto(reply, peer)
            except OSError:
                pass
        elif s is raw:
            pkt = raw.recv(65535)
            ihl = (pkt[0] & 0x0f) * 4
            if len(pkt) > ihl and pkt[ihl] == 8:  # echo request
                src = socket.inet_ntoa(pkt[12:16]); dst = socket.inet_ntoa(pkt[16:20])
                record(proto='icmp', peer=src, local=dst, payload=pkt[ihl + 8:].hex())
        elif s is rawtcp:
            pkt = rawtcp.recv(65535)
            ihl = (pkt[0] & 0x0f) * 4
            if len(pkt) >= ihl + 14 and pkt[ihl + 13] & 0x12 == 0x02:  # SYN without ACK
                sport, dport = struct.unpack('!HH', pkt[ihl:ihl + 4])
                record(proto='syn', peer=socket.inet_ntoa(pkt[12:16]), local=socket.inet_ntoa(pkt[16:20]), sport=sport, port=dport)
        elif s is rawudp:
            pkt = rawudp.recv(65535)
            ihl = (pkt[0] & 0x0f) * 4
            payload = pkt[ihl + 8:]
            if payload.startswith(b'OXP '):
                sport, dport = struct.unpack('!HH', pkt[ihl:ihl + 4])
                record(proto='dgram', peer=socket.inet_ntoa(pkt[12:16]), local=socket.inet_ntoa(pkt[16:20]), sport=sport, port=dport, nonce=payload.decode('ascii', 'replace').strip())
