#!/usr/bin/env bash
# t_observer: the event observer (eBPF) against the capture and against the poller.
#  1. A handshake and a four-way close on a link with no delay: the run's timeline (events)
#     shows every state of both sides, each one between the packets that cause and follow it
#     in the capture (tshark's frame times, same clock); a poller watching the same run
#     (labctl watch --observer poll) sees a subsequence and misses some (which: in the log).
#     Then both ends close at once: crossed FINs or not, each side's states must be the
#     ones the capture's order of FINs implies.
#  2. A second lab with the same addresses and ports at the same time: neither timeline holds
#     the other's connections (the namespace filter), and their cookies differ.
#  3. A timewait socket's short timer (tcp_fin_timeout=1 s: an orphaned FIN_WAIT_2 ends
#     after 1 s) and TIME_WAIT entered from it when the peer's FIN comes.
#  4. SYN_RECV of a held handshake (labs/syn-recv-held.lab): from the SYN to the accept.
#  5. A BPF object that cannot load (forced) falls back to the poller and says why; with
#     --observer events the run refuses instead; `expect HOST path/seen` then say that a
#     short state may have been missed.
# Lab A's `expect HOST path` and `seen` steps (the "was seen" expectations) must hold.
source "$(dirname "$0")/lib.sh"
need_root
if ! "$LABCTL" run --help | grep -q -- --observer; then skip "labctl has no --observer"; exit 0; fi
if [ ! -r /sys/kernel/btf/vmlinux ]; then skip "$(basename "$0"): no BTF on this kernel"; exit 0; fi
command -v tshark >/dev/null || { skip "$(basename "$0"): needs tshark"; exit 0; }

cat >"$T_TMP/fw.lab" <<'LAB'
lab obsfw
host client addr 10.0.0.1/24
host server addr 10.0.0.2/24
link client server
capture all
wait 2s                                  # the test's pollers start meanwhile
server listen :8080 on-eof keep
client connect server:8080
expect client ESTABLISHED within 1s
expect server event accepted within 1s
client close c
expect server event eof within 1s
wait 20ms
server close s
expect client TIME_WAIT within 1s
expect server LAST_ACK port 8080 count 0 within 1s
expect client path SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT
expect server path SYN_RECV ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED port 8080 within 1s
expect server seen SYN_RECV port 8080
expect server seen TIME_WAIT count 0
LAB

A=oa$T_SUFFIX B=ob$T_SUFFIX
mkdir -p "$T_TMP/ca" "$T_TMP/cb"
"$LABCTL" run "$T_TMP/fw.lab" --expose --id "$A" --json --observer events --capture "$T_TMP/ca" \
	>"$T_TMP/a.json" 2>"$T_TMP/a.err" &
PA=$!; T_PIDS+=("$PA")
"$LABCTL" run "$T_TMP/fw.lab" --id "$B" --json --observer events --capture "$T_TMP/cb" \
	>"$T_TMP/b.json" 2>"$T_TMP/b.err" &
PB=$!; T_PIDS+=("$PB")
wait_for 10 test -e "/run/netns/$A-client" -a -e "/run/netns/$A-server" ||
	not_ok "lab A exposed its namespaces"
"$LABCTL" watch "$A" client --observer poll --json --for 5s port 8080 >"$T_TMP/pc" 2>&1 &
WC=$!; T_PIDS+=("$WC")
"$LABCTL" watch "$A" server --observer poll --json --for 5s port 8080 >"$T_TMP/ps" 2>&1 &
WS=$!; T_PIDS+=("$WS")
wait_polling "$WC" "$WS" || not_ok "both pollers started"
wait "$PA"; check_eq "lab A passes" $? 0 || tail -5 "$T_TMP/a.err" "$T_TMP/a.json" | sed 's/^/# /'
wait "$PB"; check_eq "lab B, at the same time, passes" $? 0 || tail -5 "$T_TMP/b.err" | sed 's/^/# /'
wait "$WC" "$WS"

check "lab A says it uses the event observer" grep -q '"type":"start".*"observer":"events"' "$T_TMP/a.json"
check "lab A lost no events" grep -q '"type":"observer","source":"events".*"ring_drops":0,"recursion_misses":0' "$T_TMP/a.json"

# Every check of part 1, in one pass: prints "ok"/"not ok" lines and comments.
python3 - "$T_TMP" <<'PY'
import json, subprocess, sys, glob, os
tmp = sys.argv[1]
def timeline(f):
    out = {}
    for o in map(json.loads, open(f)):
        if o.get('type') == 'timeline' and not o['peer'].endswith(':*'):
            out.setdefault(o['host'], []).append(o)
    return out
def okk(cond, name):
    print(('ok - ' if cond else 'not ok - ') + name)
    return cond
A = timeline(tmp + '/a.json'); B = timeline(tmp + '/b.json')
okk(len(A.get('client', [])) == 1 and len(A.get('server', [])) == 1,
    'lab A\'s timeline has exactly its one connection per side (%d, %d)' %
    (len(A.get('client', [])), len(A.get('server', []))))
okk(len(B.get('client', [])) == 1 and len(B.get('server', [])) == 1,
    'lab B\'s timeline has exactly its one connection per side')
ca = {c['cookie'] for h in A.values() for c in h}; cb = {c['cookie'] for h in B.values() for c in h}
okk(not (ca & cb), 'the two labs share no socket cookie')
if not A.get('client') or not A.get('server'):
    sys.exit(0)
C = A['client'][0]; S = A['server'][0]
cs = [e['state'] for e in C['events']]; ss = [e['state'] for e in S['events']]
print('# events client: ' + ' '.join(cs)); print('# events server: ' + ' '.join(ss))
okk(cs == ['SYN_SENT', 'ESTABLISHED', 'FIN_WAIT_1', 'FIN_WAIT_2', 'TIME_WAIT'],
    'client: SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT')
okk(ss == ['SYN_RECV', 'ESTABLISHED', 'CLOSE_WAIT', 'LAST_ACK', 'CLOSED'],
    'server: SYN_RECV ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED')

# the capture, as tshark reads it: (time ns, flags) per host
def frames(host):
    f = glob.glob(tmp + '/ca/*-%s-eth0.pcap' % host)
    if not f:
        return []
    out = subprocess.run(['tshark', '-r', f[0], '-T', 'fields', '-e', 'frame.time_epoch',
                          '-e', 'tcp.srcport', '-e', 'tcp.flags.syn', '-e', 'tcp.flags.ack',
                          '-e', 'tcp.flags.fin', 'tcp'], capture_output=True, text=True).stdout
    res = []
    for line in out.split('\n'):
        p = line.split('\t')
        if len(p) < 5:
            continue
        sec, _, frac = p[0].partition('.')
        ns = int(sec) * 10**9 + int((frac + '000000000')[:9])
        out_ = (p[1] == '8080') == (host == 'server')
        fl = ('S' if p[2] in ('1', 'True') else '') + ('F' if p[4] in ('1', 'True') else '') + \
             ('A' if p[3] in ('1', 'True') else '')
        res.append((ns, ('>' if out_ else '<') + fl))
    return res
fc = frames('client'); fs = frames('server')
print('# client frames: ' + ' '.join(k for _, k in fc))
print('# server frames: ' + ' '.join(k for _, k in fs))
def t(fr, kind, n=1):
    m = [ts for ts, k in fr if k == kind]
    return m[n - 1] if len(m) >= n else None
st = lambda conn, s: next(e['ts_ns'] for e in conn['events'] if e['state'] == s)
SL = 50000  # 50 us: the timeline's real time is the monotonic time plus one offset
rules = [  # (what, earlier, later)
    ('client SYN_SENT before its SYN leaves', st(C, 'SYN_SENT'), t(fc, '>S')),
    ('client ESTABLISHED after the SYN+ACK', t(fc, '<SA'), st(C, 'ESTABLISHED')),
    ('client ESTABLISHED before its ACK leaves', st(C, 'ESTABLISHED'), t(fc, '>A', 1)),
    ('server SYN_RECV after the SYN arrives', t(fs, '<S'), st(S, 'SYN_RECV')),
    ('server SYN_RECV before its SYN+ACK leaves', st(S, 'SYN_RECV'), t(fs, '>SA')),
    ('server ESTABLISHED after the ACK arrives', t(fs, '<A', 1), st(S, 'ESTABLISHED')),
    ('client FIN_WAIT_1 before its FIN leaves', st(C, 'FIN_WAIT_1'), t(fc, '>FA', 1)),
    ('server CLOSE_WAIT after the FIN arrives', t(fs, '<FA', 1), st(S, 'CLOSE_WAIT')),
    ('client FIN_WAIT_2 after the ACK of its FIN', t(fc, '<A', 1), st(C, 'FIN_WAIT_2')),
    ('server LAST_ACK before its FIN leaves', st(S, 'LAST_ACK'), t(fs, '>FA', 1)),
    ('client TIME_WAIT after the server\'s FIN', t(fc, '<FA', 1), st(C, 'TIME_WAIT')),
    ('server CLOSED after the last ACK', t(fs, '<A', 2), st(S, 'CLOSED')),
]
for name, a, b in rules:
    if a is None or b is None:
        okk(False, name + ' (frame or state missing)')
    else:
        okk(a <= b + SL, '%s (%+.1f us)' % (name, (b - a) / 1000))

# the poller on the same run
def polled(f):
    seq = []
    for line in open(f):
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if not o['peer'].endswith(':*'):
            seq.append(o['to'])
    return seq
pc = polled(tmp + '/pc'); ps = polled(tmp + '/ps')
print('# poller client: ' + ' '.join(pc)); print('# poller server: ' + ' '.join(ps))
def subseq(a, b):
    it = iter(b)
    return all(x in it for x in a)
okk(subseq(pc, cs) and subseq(ps, ss), 'what the poller saw is a subsequence of the events')
missed = [('client', s) for s in cs if s not in pc] + [('server', s) for s in ss if s not in ps]
print('# the poller missed: ' + (' '.join('%s:%s' % m for m in missed) or 'nothing'))
okk(len(missed) > 0, 'the poller (1 ms) missed %d of the %d states' % (len(missed), len(cs) + len(ss)))
PY

# 1b. Both ends close at the same instant on the undelayed link: whether the FINs cross is
# up to the machine; the timeline must tell the story the capture tells, either way.
cat >"$T_TMP/sc.lab" <<'LAB'
lab obssc
host client addr 10.0.0.1/24
host server addr 10.0.0.2/24
link client server
capture all
server listen :8080 on-eof keep
client connect server:8080
expect client event connected within 1s
expect server event accepted within 1s
client close c & server close s
expect client ESTABLISHED count 0 within 1s
expect server ESTABLISHED count 0 within 1s
wait 50ms
LAB
mkdir -p "$T_TMP/cs"
"$LABCTL" run "$T_TMP/sc.lab" --json --observer events --capture "$T_TMP/cs" >"$T_TMP/sc.json" 2>&1
check_eq "the simultaneous close passes" $? 0 || tail -5 "$T_TMP/sc.json" | sed 's/^/# /'
python3 - "$T_TMP" <<'PY'
import json, subprocess, sys, glob
tmp = sys.argv[1]
def okk(c, n): print(('ok - ' if c else 'not ok - ') + n)
tl = {o['host']: [e['state'] for e in o['events']] for o in map(json.loads, open(tmp + '/sc.json'))
      if o.get('type') == 'timeline' and not o['peer'].endswith(':*')}
def fins(host):
    f = glob.glob(tmp + '/cs/*-%s-eth0.pcap' % host)
    out = subprocess.run(['tshark', '-r', f[0], '-T', 'fields', '-e', 'tcp.srcport', '-e',
                          'tcp.flags.fin', 'tcp'], capture_output=True, text=True).stdout
    # the order of FINs at this host: 'out' (its own) and 'in' (the peer's)
    return [('out' if (p.split('\t')[0] == '8080') == (host == 'server') else 'in')
            for p in out.strip().split('\n') if p.split('\t')[1] in ('1', 'True')]
fc, fs = fins('client'), fins('server')
# Who closed first is what each FIN acknowledges, not the order a capture point saw them in:
# a FIN sent after the peer's FIN was processed acknowledges it (the passive closer's), while
# crossing FINs acknowledge neither.  (The order at the server's device is not enough: under
# load a FIN can be captured "in" before the server's own close() sends its FIN, yet reach TCP
# after it, which makes a simultaneous close.)
def fin_acks():
    f = glob.glob(tmp + '/cs/*-client-eth0.pcap')
    out = subprocess.run(['tshark', '-r', f[0], '-T', 'fields', '-e', 'tcp.srcport', '-e',
                          'tcp.flags.fin', '-e', 'tcp.seq', '-e', 'tcp.ack', 'tcp'],
                         capture_output=True, text=True).stdout
    seg = {}
    for p in out.strip().split('\n'):
        port, fin, seq, ack = p.split('\t')
        side = 'server' if port == '8080' else 'client'
        if fin in ('1', 'True') and side not in seg:
            seg[side] = (int(seq), int(ack))
    return seg
seg = fin_acks()
s_acks_c = seg['server'][1] >= seg['client'][0] + 1
c_acks_s = seg['client'][1] >= seg['server'][0] + 1
crossed = not s_acks_c and not c_acks_s
first = 'client' if s_acks_c else 'server'
print('# FINs at the client: %s, at the server: %s; FIN seq/ack %s (%s)' % (fc, fs, seg, 'crossed' if crossed else first + ' closed first'))
print('# client: %s; server: %s' % (' '.join(tl.get('client', [])), ' '.join(tl.get('server', []))))
active = ['FIN_WAIT_1', 'FIN_WAIT_2', 'TIME_WAIT']
passive = ['CLOSE_WAIT', 'LAST_ACK', 'CLOSED']
both = ['FIN_WAIT_1', 'CLOSING', 'TIME_WAIT']
want = {'client': ['SYN_SENT', 'ESTABLISHED'], 'server': ['SYN_RECV', 'ESTABLISHED']}
for h in want:
    want[h] = want[h] + (both if crossed else active if h == first else passive)
    okk(tl.get(h) == want[h], '%s walked what the capture implies: %s' % (h, ' '.join(want[h])))
PY

# 3. A timewait socket's short timer, and TIME_WAIT entered from it.
cat >"$T_TMP/tw.lab" <<'LAB'
lab obstw
host client addr 10.0.0.1/24 sysctl net.ipv4.tcp_fin_timeout=1
host server addr 10.0.0.2/24
link client server
server listen :8080 on-eof keep
client connect server:8080 as a
expect server event accepted within 1s
client close a                             # the server never closes: FIN_WAIT_2 for 1 s
expect client FIN_WAIT_2 within 1s
wait 1500ms
expect client FIN_WAIT_2 count 0
client connect server:8080 as b
expect server event accepted count 2 within 1s
client close b
expect client FIN_WAIT_2 within 1s
server close s                              # now both: b enters TIME_WAIT
expect client TIME_WAIT within 1s
LAB
"$LABCTL" run "$T_TMP/tw.lab" --json --observer events >"$T_TMP/tw.json" 2>&1
check_eq "the timewait lab passes" $? 0 || tail -5 "$T_TMP/tw.json" | sed 's/^/# /'
python3 - "$T_TMP/tw.json" <<'PY'
import json, sys
conns = [o for o in map(json.loads, open(sys.argv[1])) if o.get('type') == 'timeline'
         and o['host'] == 'client']
conns.sort(key=lambda c: c['events'][0]['mono_ns'])
def okk(c, n): print(('ok - ' if c else 'not ok - ') + n)
if len(conns) != 2:
    okk(False, 'two client connections (got %d)' % len(conns)); sys.exit(0)
a, b = [[e['state'] for e in c['events']] for c in conns]
print('# a: ' + ' '.join(a)); print('# b: ' + ' '.join(b))
okk(a == ['SYN_SENT', 'ESTABLISHED', 'FIN_WAIT_1', 'FIN_WAIT_2', 'CLOSED'],
    'a: FIN_WAIT_2 then CLOSED when the timewait socket\'s timer expires')
ev = {e['state']: e['mono_ns'] for e in conns[0]['events']}
if 'CLOSED' in ev and 'FIN_WAIT_2' in ev:
    d = (ev['CLOSED'] - ev['FIN_WAIT_2']) / 1e6
    okk(900 <= d <= 1600, 'a: FIN_WAIT_2 lasted the 1 s timer (%.0f ms)' % d)
okk(b == ['SYN_SENT', 'ESTABLISHED', 'FIN_WAIT_1', 'FIN_WAIT_2', 'TIME_WAIT'],
    'b: FIN_WAIT_2 then TIME_WAIT when the server\'s FIN comes')
PY

# 4. SYN_RECV of a held handshake, from the SYN to the accept (about 7 s).
"$LABCTL" run labs/syn-recv-held.lab --json --observer events >"$T_TMP/sr.json" 2>&1
check_eq "syn-recv-held passes on the event observer" $? 0 || tail -5 "$T_TMP/sr.json" | sed 's/^/# /'
python3 - "$T_TMP/sr.json" <<'PY'
import json, sys
c = [o for o in map(json.loads, open(sys.argv[1])) if o.get('type') == 'timeline'
     and o['host'] == 'server' and not o['peer'].endswith(':*')]
def okk(x, n): print(('ok - ' if x else 'not ok - ') + n)
if len(c) != 1:
    okk(False, 'one server connection (got %d)' % len(c)); sys.exit(0)
ev = c[0]['events']
print('# server: ' + ' '.join('%s@%dms' % (e['state'], e['rel_us'] // 1000) for e in ev))
okk([e['state'] for e in ev[:2]] == ['SYN_RECV', 'ESTABLISHED'], 'server: SYN_RECV, ESTABLISHED')
okk(len(ev) > 1 and ev[1]['rel_us'] >= 4000000,
    'SYN_RECV held from the SYN for more than 4 s (%d ms)' % (ev[1]['rel_us'] // 1000 if len(ev) > 1 else -1))
PY

# 5. A program that cannot load.
LABCTL_TEST_TCPEV_FAIL=1 "$LABCTL" run labs/handshake.lab >"$T_TMP/fb.log" 2>&1
check_eq "forced load failure: the run still passes" $? 0
head -1 "$T_TMP/fb.log" | sed 's/^/# /'
check "its first line says poll, and why" grep -q "^lab handshake.*observer poll (.*LABCTL_TEST_TCPEV_FAIL" "$T_TMP/fb.log"
check "its timeline comes from sock_diag" grep -q "^timeline (.*sock_diag every" "$T_TMP/fb.log"
LABCTL_TEST_TCPEV_FAIL=1 "$LABCTL" run labs/handshake.lab --observer events >"$T_TMP/fe.log" 2>&1
check_eq "forced load failure with --observer events: exit 2" $? 2
check "and the reason" grep -q "tcpev.bpf.o" "$T_TMP/fe.log"
sed -e 's/^capture all$//' -e 's/^wait 2s .*$//' "$T_TMP/fw.lab" >"$T_TMP/fwp.lab"
LABCTL_TEST_TCPEV_FAIL=1 "$LABCTL" run "$T_TMP/fwp.lab" >"$T_TMP/fp.log" 2>&1
grep -E "path|seen" "$T_TMP/fp.log" | sed 's/^/# /'
check "on the poller, path and seen say a shorter state may be missed" \
	grep -q "seen SYN_RECV.*" "$T_TMP/fp.log"
check "  (the words)" grep -q "a shorter state may be missed" "$T_TMP/fp.log"
t_done
