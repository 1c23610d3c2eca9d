# The oracle's sender for exposure claims (bench/oracle/case.ts), sharing no code with netspec: plain sockets, one per
# port. TCP: a non-blocking connect() to every port at once from a source port the kernel picks (bound first, so it is
# known before the SYN leaves: the listeners' raw sockets name each SYN delivered by its source port); a connect that
# completes sends "OXP <nonce> <port>" and closes. UDP: "OXP <nonce> <port>" to every port, twice, from a socket
# connected to that port (so the source-address policy routing a connected socket gets applies). Waits WAIT_MS at
# most (TCP: until every connect is answered; a dropped SYN is sent again after 1 s by the kernel), then prints one JSON
# line per port: {"port", "sport", "result": connected | refused | unanswered | error: … | sent}.
# argv: PROTO ADDRESS NONCE WAIT_MS PORT...
import errno, json, select, socket, sys, time

proto, address, nonce, wait_ms = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ports = [int(p) for p in sys.argv[5:]]
out = {}
deadline = time.time() + wait_ms / 1000.0
if proto == 'tcp':
    pending = {}
    for p in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind(('0.0.0.0', 0))
        sport = s.getsockname()[1]
        rc = s.connect_ex((address, p))
        if rc in (0, errno.EINPROGRESS):
            pending[s] = (p, sport)
            out[p] = {'port': p, 'sport': sport, 'result': 'unanswered'}
        else:
            out[p] = {'port': p, 'sport': sport, 'result': 'refused' if rc == errno.ECONNREFUSED else 'error: %s' % errno.errorcode.get(rc, rc)}
            s.close()
    while pending and time.time() < deadline:
        _, w, _ = select.select([], list(pending), [], max(0, deadline - time.time()))
        for s in w:
            p, sport = pending.pop(s)
            rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if rc == 0:
                out[p]['result'] = 'connected'
                try:
                    s.send(('OXP %s %d\n' % (nonce, p)).encode())
                except OSError:
                    pass
            else:
                out[p]['result'] = 'refused' if rc == errno.ECONNREFUSED else 'error: %s' % errno.errorcode.get(rc, rc)
            s.close()
    for s in pending:
        s.close()
else:
    # one connected socket per port, as a UDP client (a resolver, socat) does: its route is looked up again from the
    # source address it was given, as a TCP connection's is
    socks = {}
    for p in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.connect((address, p))
            socks[p] = s
        except OSError as e:
            out[p] = {'port': p, 'sport': 0, 'result': 'error: %s' % errno.errorcode.get(e.errno, e.errno)}
            s.close()
    for attempt in range(2):
        for p, s in socks.items():
            try:
                s.send(('OXP %s %d\n' % (nonce, p)).encode())
                out[p] = {'port': p, 'sport': s.getsockname()[1], 'result': 'sent'}
            except OSError as e:  # the second send may carry the first one's port unreachable: it was sent
                out.setdefault(p, {'port': p, 'sport': s.getsockname()[1], 'result': 'error: %s' % errno.errorcode.get(e.errno, e.errno)})
        time.sleep(0.1)
    time.sleep(max(0, min(0.3, deadline - time.time())))
for p in ports:
    print(json.dumps(out[p]))
