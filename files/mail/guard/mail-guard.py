#!/usr/bin/env python3
"""mail-guard: the mail server's limits on what logged-in users and guessers may do.

Three listeners on loopback, each for one daemon (components/render/mailGuard.ts
renders the configuration, a JSON file given as the only argument):

- milter (Postfix, on 587 and 465 only): the null sender is refused, and the
  message's From header must be one address, the envelope sender's (which
  Postfix has already checked belongs to the login: reject_sender_login_mismatch).
- policy (Postfix's policy delegation, on 587 and 465): each login may send to
  at most `recipientsPerHour` recipients in any hour; more are deferred (4xx).
- auth (Dovecot's HTTP auth policy, so SMTP AUTH, IMAP and POP3 alike): after
  `authFailures` failed logins from one address within `authWindowSeconds`,
  that address is refused, even with the right password, for `authBanSeconds`.
  Loopback is never banned.

State is in memory: a restart forgets counts and bans. Written for Python 3.6
(RHEL 8's python3) and later, standard library only.
"""
import collections
import email.utils
import ipaddress
import json
import logging
import logging.handlers
import os
import pwd
import signal
import socketserver
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

log = logging.getLogger("mail-guard")


# ------------------------------------------------------------------ limits


class RecipientRate:
    """Recipients per login in a sliding hour."""

    def __init__(self, per_hour, clock=time.monotonic):
        self.per_hour = per_hour
        self.clock = clock
        self.sent = {}
        self.lock = threading.Lock()

    def allow(self, login):
        """Counts one recipient for `login`; False when it is over the limit (not counted)."""
        now = self.clock()
        with self.lock:
            times = self.sent.setdefault(login, collections.deque())
            while times and times[0] <= now - 3600:
                times.popleft()
            if len(times) >= self.per_hour:
                return False
            times.append(now)
            return True


class AuthPenalty:
    """Failed logins per client address; an address with too many is banned for a while."""

    def __init__(self, failures, window, ban, exempt, clock=time.monotonic):
        self.failures = failures
        self.window = window
        self.ban = ban
        self.exempt = [ipaddress.ip_network(n) for n in exempt]
        self.clock = clock
        self.failed = {}
        self.banned = {}
        self.lock = threading.Lock()

    def _key(self, remote):
        try:
            ip = ipaddress.ip_address(remote)
        except ValueError:
            return None  # no address (a local process): nothing to count
        return None if any(ip in n for n in self.exempt) else str(ip)

    def banned_for(self, remote):
        """Seconds the address is still banned (0 if it is not)."""
        key = self._key(remote)
        if key is None:
            return 0
        now = self.clock()
        with self.lock:
            until = self.banned.get(key, 0)
            if until <= now:
                self.banned.pop(key, None)
                return 0
            return int(until - now) + 1

    def failed_login(self, remote):
        """Records a failed login; True when it bans the address."""
        key = self._key(remote)
        if key is None:
            return False
        now = self.clock()
        with self.lock:
            times = self.failed.setdefault(key, collections.deque())
            times.append(now)
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) < self.failures:
                return False
            self.banned[key] = now + self.ban
            del self.failed[key]
            # Forget addresses that stopped failing long ago (bounded memory).
            if len(self.failed) > 10000:
                for k in [k for k, t in self.failed.items() if not t or t[-1] <= now - self.window]:
                    del self.failed[k]
            return True


# ------------------------------------------------------------------ milter

# Milter protocol version 6, as Postfix speaks it (MILTER_README).
SMFIP_STEPS_SKIPPED = 0x1 | 0x2 | 0x8 | 0x10 | 0x100 | 0x200  # connect, helo, rcpt, body, unknown, data
CONTINUE = b"c"


def reply_code(text):
    return b"y" + text.encode("ascii", "replace") + b"\0"


def bare(address):
    """The address of an SMTP path or header mailbox, lower-cased: '<A@B>' -> 'a@b'."""
    return address.strip().strip("<>").strip().lower()


class MessageCheck:
    """One SMTP session's messages on 587/465, as the milter sees them."""

    def __init__(self):
        self.sender = None
        self.froms = []

    def mail(self, args):
        """MAIL FROM: a reply, or None to go on."""
        self.sender = bare(args[0]) if args else ""
        self.froms = []
        if not self.sender:
            return "553 5.7.1 The null sender <> is for bounces; send as your own address"
        return None

    def header(self, name, value):
        if name.lower() == "from":
            self.froms.append(value)

    def end_of_headers(self):
        """After the last header: a reply, or None to accept."""
        if len(self.froms) != 1:
            return "550 5.7.1 A message must have exactly one From header"
        addresses = [a for _, a in email.utils.getaddresses(self.froms) if a]
        if len(addresses) != 1:
            return "550 5.7.1 The From header must hold exactly one address, your own"
        if bare(addresses[0]) != self.sender:
            return "550 5.7.1 The From header ({}) is not your sender address ({}): you may only send as yourself".format(
                bare(addresses[0]), self.sender
            )
        return None


def milter_packets(sock):
    """(command, data) for each packet the MTA sends, until it closes."""
    f = sock.makefile("rb")
    while True:
        head = f.read(4)
        if len(head) < 4:
            return
        (size,) = struct.unpack("!I", head)
        if size < 1 or size > 1 << 20:
            raise ValueError("milter packet of {} bytes".format(size))
        body = f.read(size)
        if len(body) < size:
            return
        yield body[:1], body[1:]


def send_packet(sock, payload):
    sock.sendall(struct.pack("!I", len(payload)) + payload)


class MilterHandler(socketserver.BaseRequestHandler):
    def handle(self):
        check = MessageCheck()
        for cmd, data in milter_packets(self.request):
            if cmd == b"O":
                _, _, offered = struct.unpack("!III", data[:12])
                send_packet(self.request, b"O" + struct.pack("!III", 6, 0, offered & SMFIP_STEPS_SKIPPED))
            elif cmd in (b"D", b"A"):
                if cmd == b"A":
                    check = MessageCheck()
                # Macros and aborts get no reply.
            elif cmd == b"M":
                refused = check.mail([a.decode("utf-8", "replace") for a in data.split(b"\0") if a])
                send_packet(self.request, reply_code(refused) if refused else CONTINUE)
                if refused:
                    log.info("milter: refused MAIL FROM:<%s>: %s", check.sender, refused)
            elif cmd == b"L":
                parts = data.split(b"\0")
                check.header(parts[0].decode("utf-8", "replace"), parts[1].decode("utf-8", "replace") if len(parts) > 1 else "")
                send_packet(self.request, CONTINUE)
            elif cmd == b"N":
                refused = check.end_of_headers()
                send_packet(self.request, reply_code(refused) if refused else CONTINUE)
                if refused:
                    log.info("milter: refused a message from <%s>: %s", check.sender, refused)
            elif cmd == b"Q":
                return
            elif cmd == b"K":
                check = MessageCheck()
            else:  # connect, helo, rcpt, data, body, end of body, unknown
                send_packet(self.request, CONTINUE)


# ------------------------------------------------------------------ Postfix policy


class PolicyHandler(socketserver.StreamRequestHandler):
    rate = None  # RecipientRate, set by main

    def handle(self):
        attrs = {}
        for raw in self.rfile:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line:
                name, _, value = line.partition("=")
                attrs[name] = value
                if len(attrs) > 100:
                    return
                continue
            action = self.decide(attrs)
            self.wfile.write("action={}\n\n".format(action).encode("utf-8"))
            self.wfile.flush()
            attrs = {}

    def decide(self, attrs):
        login = attrs.get("sasl_username", "").lower()
        if attrs.get("protocol_state") != "RCPT" or not login:
            return "DUNNO"
        if self.rate.allow(login):
            return "DUNNO"
        log.info("policy: %s is over %d recipients an hour", login, self.rate.per_hour)
        return "450 4.7.1 You have sent to {} recipients in the last hour, the most allowed; try again later".format(self.rate.per_hour)


# ------------------------------------------------------------------ Dovecot auth policy


class AuthPolicyHandler(BaseHTTPRequestHandler):
    penalty = None  # AuthPenalty, set by main

    def do_POST(self):
        size = int(self.headers.get("Content-Length") or 0)
        try:
            req = json.loads(self.rfile.read(min(size, 65536)).decode("utf-8") or "{}")
        except ValueError:
            req = {}
        remote = str(req.get("remote", ""))
        status, msg = 0, ""
        if "command=report" in self.path:
            # A failure the policy itself caused is not another guess.
            if req.get("success") is False and not req.get("policy_reject"):
                if self.penalty.failed_login(remote):
                    log.info("auth: %s failed %d logins: refused for %ds", remote, self.penalty.failures, self.penalty.ban)
        else:
            wait = self.penalty.banned_for(remote)
            if wait:
                status, msg = -1, "too many failed logins from {}; try again in {}s".format(remote, wait)
        body = json.dumps({"status": status, "msg": msg}).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass  # one line per login would flood the log


# ------------------------------------------------------------------ main


class Threading(socketserver.ThreadingMixIn):
    daemon_threads = True
    allow_reuse_address = True


class TCPServer(Threading, socketserver.TCPServer):
    pass


class HTTPThreadingServer(Threading, HTTPServer):
    pass


def listener(spec):
    host, _, port = spec.rpartition(":")
    return host, int(port)


def setup_logging(to):
    handler = logging.StreamHandler(sys.stderr)
    if to == "syslog" and os.path.exists("/dev/log"):
        handler = logging.handlers.SysLogHandler("/dev/log", facility=logging.handlers.SysLogHandler.LOG_MAIL)
        handler.setFormatter(logging.Formatter("mail-guard[%(process)d]: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("mail-guard: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def drop_privileges(user):
    if os.getuid() != 0:
        return
    pw = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)


# The configuration's keys: listeners are "127.0.0.1:PORT"; counts and times positive.
LISTENERS = ("milter", "policy", "auth")
COUNTS = ("recipientsPerHour", "authFailures", "authWindowSeconds", "authBanSeconds")


def load_config(path):
    """The configuration; ValueError naming the key that is wrong."""
    with open(path) as f:
        conf = json.load(f)
    for key in LISTENERS:
        host, _, port = str(conf.get(key, "")).rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("{}: {!r} is not HOST:PORT".format(key, conf.get(key)))
    for key in COUNTS:
        if not isinstance(conf.get(key), int) or isinstance(conf.get(key), bool) or conf[key] < 1:
            raise ValueError("{}: {!r} is not a positive whole number".format(key, conf.get(key)))
    for net in conf.get("exempt", []):
        ipaddress.ip_network(net)
    return conf


def main(argv):
    if len(argv) == 3 and argv[1] == "--check":
        try:
            load_config(argv[2])
        except (OSError, ValueError) as e:
            sys.stderr.write("mail-guard: {}: {}\n".format(argv[2], e))
            return 1
        return 0
    if len(argv) != 2:
        sys.stderr.write("usage: mail-guard [--check] CONFIG.json\n")
        return 2
    conf = load_config(argv[1])
    setup_logging(conf.get("log", "stderr"))
    PolicyHandler.rate = RecipientRate(conf["recipientsPerHour"])
    AuthPolicyHandler.penalty = AuthPenalty(conf["authFailures"], conf["authWindowSeconds"], conf["authBanSeconds"], conf.get("exempt", []))
    servers = [
        TCPServer(listener(conf["milter"]), MilterHandler),
        TCPServer(listener(conf["policy"]), PolicyHandler),
        HTTPThreadingServer(listener(conf["auth"]), AuthPolicyHandler),
    ]
    drop_privileges(conf.get("user", "nobody"))
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    log.info("listening: milter %s, policy %s, auth %s", conf["milter"], conf["policy"], conf["auth"])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(3600):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
