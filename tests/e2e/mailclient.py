#!/usr/bin/env python3
"""Real mail clients (Python's smtplib, imaplib, poplib) for the end-to-end tests.

dnssec validates an answer of the lab's BIND from the zone's DS record down
(dnspython's DNSSEC, with the cryptography package), as a resolver would;
dane checks the key a server presents against its validated TLSA records.

dkim-verify checks a received message's DKIM-Signature with dkimpy (an
implementation independent of OpenDKIM), fetching the key with dnspython
from the DNS server given by --dns (the lab's own), not the host's resolver.

tls makes one TLS handshake offering only the given protocol version and
ciphers, to see what a server refuses.

Each action prints one JSON object on stdout. Passwords come from the
MAIL_PASSWORD environment variable, never from the command line. TLS is
verified against --ca with --servername as the expected host name.
"""
import argparse
import base64
import email.message
import email.utils
import imaplib
import json
import re
import os
import poplib
import smtplib
import socket
import ssl
import sys

TIMEOUT = 20


def tls_context(args):
    ctx = ssl.create_default_context(cafile=args.ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class NamedSMTP_SSL(smtplib.SMTP_SSL):
    """SMTP over implicit TLS that verifies the certificate against a given name, not the address dialled."""

    def __init__(self, servername, *args, **kwargs):
        self._servername = servername
        super().__init__(*args, **kwargs)

    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((host, port), timeout, self.source_address)
        return self.context.wrap_socket(sock, server_hostname=self._servername)


class NamedIMAP4_SSL(imaplib.IMAP4_SSL):
    """IMAP over implicit TLS that verifies the certificate against a given name, not the address dialled."""

    def __init__(self, servername, *args, **kwargs):
        self._servername = servername
        super().__init__(*args, **kwargs)

    def _create_socket(self, timeout):
        sock = imaplib.IMAP4._create_socket(self, timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self._servername)


class NamedPOP3_SSL(poplib.POP3_SSL):
    """POP3 over implicit TLS that verifies the certificate against a given name, not the address dialled."""

    def __init__(self, servername, *args, **kwargs):
        self._servername = servername
        super().__init__(*args, **kwargs)

    def _create_socket(self, timeout):
        sock = poplib.POP3._create_socket(self, timeout)
        return self.context.wrap_socket(sock, server_hostname=self._servername)


def smtp(args):
    """An SMTP session: implicit TLS on 465, STARTTLS on 587 (and on 25 with --starttls)."""
    if args.port == 465:
        return NamedSMTP_SSL(args.servername, args.host, args.port, timeout=TIMEOUT, context=tls_context(args))
    s = smtplib.SMTP(args.host, args.port, timeout=TIMEOUT)
    s._host = args.servername  # the name STARTTLS verifies the certificate against
    s.ehlo("client.test")
    if args.port == 587 or args.starttls:
        s.starttls(context=tls_context(args))
        s.ehlo("client.test")
    return s


def act_features(args):
    """EHLO features offered on a port (after STARTTLS when --starttls or 587 with --tls)."""
    s = smtplib.SMTP(args.host, args.port, timeout=TIMEOUT)
    s._host = args.servername
    s.ehlo("client.test")
    before = sorted(s.esmtp_features)
    auth_before = s.esmtp_features.get("auth", "")
    after, auth_after = None, None
    if args.starttls:
        s.starttls(context=tls_context(args))
        s.ehlo("client.test")
        after = sorted(s.esmtp_features)
        auth_after = s.esmtp_features.get("auth", "")
    s.quit()
    return {"before": before, "authBefore": auth_before, "after": after, "authAfter": auth_after}


def act_send(args):
    """Authenticated submission of one message; reports the server's verdict."""
    msg = email.message.EmailMessage()
    msg["From"] = args.from_header if args.from_header is not None else args.sender
    msg["To"] = args.to
    msg["Subject"] = args.subject
    # As a mail program writes them: a filter scores mail without them.
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid(domain=args.sender.rpartition("@")[2] or "client.test")
    for h in args.header or []:
        name, _, value = h.partition(":")
        msg[name.strip()] = value.strip()
    msg.set_content(args.body)
    s = smtp(args)
    try:
        if args.user:
            s.login(args.user, os.environ.get("MAIL_PASSWORD", ""))
        refused = s.send_message(msg, from_addr=args.sender, to_addrs=args.to.split(","))
        return {"ok": True, "refused": {k: [code, text.decode(errors="replace")] for k, (code, text) in refused.items()}}
    except smtplib.SMTPAuthenticationError as e:
        return {"ok": False, "stage": "auth", "code": e.smtp_code, "error": e.smtp_error.decode(errors="replace")}
    except smtplib.SMTPSenderRefused as e:
        return {"ok": False, "stage": "sender", "code": e.smtp_code, "error": e.smtp_error.decode(errors="replace")}
    except smtplib.SMTPRecipientsRefused as e:
        code, text = list(e.recipients.values())[0]
        return {"ok": False, "stage": "recipient", "code": code, "error": text.decode(errors="replace")}
    except smtplib.SMTPDataError as e:
        return {"ok": False, "stage": "data", "code": e.smtp_code, "error": e.smtp_error.decode(errors="replace")}
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            pass


def act_imap(args):
    """Subjects in INBOX over IMAPS (993) or IMAP+STARTTLS (143); or the login failure."""
    if args.port == 993:
        m = NamedIMAP4_SSL(args.servername, args.host, args.port, ssl_context=tls_context(args), timeout=TIMEOUT)
    else:
        m = imaplib.IMAP4(args.host, args.port, timeout=TIMEOUT)
        caps_plain = sorted(m.capabilities)
        if not args.starttls:
            try:
                m.login(args.user, os.environ.get("MAIL_PASSWORD", ""))
                return {"ok": True, "capabilities": caps_plain, "note": "logged in without TLS"}
            except imaplib.IMAP4.error as e:
                return {"ok": False, "stage": "auth", "capabilities": caps_plain, "error": str(e)}
        m.host = args.servername  # the name STARTTLS verifies the certificate against
        m.starttls(ssl_context=tls_context(args))
    try:
        m.login(args.user, os.environ.get("MAIL_PASSWORD", ""))
    except imaplib.IMAP4.error as e:
        return {"ok": False, "stage": "auth", "error": str(e)}
    typ, _ = m.select(args.mailbox, readonly=True)
    if typ != "OK":
        return {"ok": True, "subjects": [], "note": "no mailbox %s" % args.mailbox}
    _, data = m.search(None, "ALL")
    subjects = []
    for num in data[0].split():
        _, parts = m.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        header = email.message_from_bytes(parts[0][1])
        subjects.append(header.get("Subject", ""))
    quota = None
    if args.quota:
        _, data = m.getquotaroot("INBOX")
        quota = [q.decode() for q in data[1]]
    m.logout()
    return {"ok": True, "subjects": subjects, **({"quota": quota} if args.quota else {})}


def imap_login(args):
    m = NamedIMAP4_SSL(args.servername, args.host, args.port, ssl_context=tls_context(args), timeout=TIMEOUT)
    m.login(args.user, os.environ.get("MAIL_PASSWORD", ""))
    return m


def by_subject(m):
    """The selected folder's messages: subject -> UID."""
    _, data = m.uid("SEARCH", None, "ALL")
    found = {}
    for uid in data[0].split():
        _, parts = m.uid("FETCH", uid, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        found[email.message_from_bytes(parts[0][1]).get("Subject", "")] = uid
    return found


def act_arrange(args):
    """Over IMAPS, as a mail user would: creates folders, sets flags on INBOX
    messages by subject, moves messages by subject into a folder. --arrange is
    JSON: {"create": [folder], "flags": {subject: [flag]}, "move": {subject: folder}}."""
    plan = json.loads(args.arrange)
    m = imap_login(args)
    for folder in plan.get("create", []):
        m.create(folder)
        m.subscribe(folder)
    m.select("INBOX")
    uids = by_subject(m)
    for subject, flags in plan.get("flags", {}).items():
        typ, _ = m.uid("STORE", uids[subject], "+FLAGS", "(%s)" % " ".join(flags))
        assert typ == "OK", subject
    for subject, folder in plan.get("move", {}).items():
        typ, _ = m.uid("COPY", uids[subject], folder)
        assert typ == "OK", subject
        m.uid("STORE", uids[subject], "+FLAGS", "(\\Deleted)")
    m.expunge()
    m.logout()
    return {"ok": True}


def listed_name(line):
    """The folder name of a LIST/LSUB answer: (flags) "separator" name."""
    m = re.match(r'^\((?:[^)]*)\) (?:NIL|"[^"]*") (.*)$', line.decode())
    return m.group(1).strip().strip('"')


def act_mailbox_state(args):
    """Every folder (subscribed or not) with its messages' subjects and flags, over IMAPS."""
    m = imap_login(args)
    _, listed = m.list()
    state = {}
    for name in (listed_name(line) for line in listed if line):
        m.select('"%s"' % name, readonly=True)
        messages = []
        for subject, uid in sorted(by_subject(m).items()):
            _, data = m.uid("FETCH", uid, "(FLAGS)")
            flags = sorted(f.decode() for f in imaplib.ParseFlags(data[0]) if f != b"\\Recent")
            messages.append({"subject": subject, "flags": flags})
        state[name] = messages
    _, subscribed = m.lsub()
    m.logout()
    return {"ok": True, "folders": state, "subscribed": sorted(listed_name(l) for l in subscribed if l)}


def act_dkim_verify(args):
    """Fetches the newest INBOX message with --subject over IMAPS and verifies its DKIM-Signature."""
    import dkim  # dkimpy; imported here so the other actions need only the standard library
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [args.dns]
    queried = []

    def dnsfunc(name, timeout=5):
        qname = name.decode() if isinstance(name, bytes) else name
        queried.append(qname.rstrip("."))
        try:
            answer = resolver.resolve(qname, "TXT", lifetime=timeout)
        except Exception:  # NXDOMAIN, timeout...: dkimpy treats None as no key
            return None
        return b"".join(b"".join(r.strings) for r in answer)

    m = NamedIMAP4_SSL(args.servername, args.host, args.port, ssl_context=tls_context(args), timeout=TIMEOUT)
    try:
        m.login(args.user, os.environ.get("MAIL_PASSWORD", ""))
    except imaplib.IMAP4.error as e:
        return {"ok": False, "stage": "auth", "error": str(e)}
    m.select("INBOX", readonly=True)
    _, data = m.search(None, "SUBJECT", '"%s"' % args.subject.replace('"', ""))
    nums = data[0].split()
    if not nums:
        m.logout()
        return {"ok": False, "stage": "fetch", "error": "no message with that subject"}
    _, parts = m.fetch(nums[-1], "(BODY.PEEK[])")
    m.logout()
    raw = parts[0][1]
    header = email.message_from_bytes(raw)
    signatures = header.get_all("DKIM-Signature") or []
    d = dkim.DKIM(raw)
    try:
        verified = bool(d.verify(dnsfunc=dnsfunc))
        error = None
    except dkim.DKIMException as e:
        verified, error = False, str(e)
    text = lambda v: v.decode() if isinstance(v, bytes) else v
    return {
        "ok": True,
        "verified": verified,
        "signatures": len(signatures),
        "domain": text(d.domain),
        "selector": text(d.selector),
        "queried": queried,
        "error": error,
    }


def act_pop3(args):
    """Subjects in the mailbox over POP3S (995)."""
    p = NamedPOP3_SSL(args.servername, args.host, args.port, context=tls_context(args), timeout=TIMEOUT)
    try:
        p.user(args.user)
        p.pass_(os.environ.get("MAIL_PASSWORD", ""))
    except poplib.error_proto as e:
        return {"ok": False, "stage": "auth", "error": str(e)}
    count, _ = p.stat()
    subjects = []
    for i in range(1, count + 1):
        _, lines, _ = p.top(i, 0)
        header = email.message_from_bytes(b"\r\n".join(lines))
        subjects.append(header.get("Subject", ""))
    p.quit()
    return {"ok": True, "subjects": subjects}


TLS_VERSIONS = {"1.0": "TLSv1", "1.1": "TLSv1_1", "1.2": "TLSv1_2", "1.3": "TLSv1_3"}
# Where TLS starts on each port: at once (implicit) or after the protocol's STARTTLS.
TLS_START = {25: "smtp", 587: "smtp", 465: None, 143: "imap", 993: None, 110: "pop3", 995: None}


def starttls(sock, proto):
    """Speaks the protocol up to its STARTTLS (SMTP, IMAP) or STLS (POP3); returns the refusal, or None."""
    f = sock.makefile("rb")
    try:
        return _starttls(sock, f, proto)
    finally:
        f.close()  # nothing is buffered: the server waits for the client's hello


def _starttls(sock, f, proto):
    def reply(ok):
        while True:
            line = f.readline().decode("latin1").rstrip("\r\n")
            if not line:
                return "connection closed"
            if proto == "smtp" and line[3:4] == "-":
                continue
            return None if ok(line) else line

    if proto == "smtp":
        for command, ok in [(None, "220"), (b"EHLO client.test", "250"), (b"STARTTLS", "220")]:
            if command:
                sock.sendall(command + b"\r\n")
            refused = reply(lambda line, ok=ok: line.startswith(ok + " "))
            if refused:
                return refused
        return None
    if proto == "imap":
        refused = reply(lambda line: line.startswith("* OK"))
        if refused:
            return refused
        sock.sendall(b"a STARTTLS\r\n")
        return reply(lambda line: line.startswith("a OK"))
    refused = reply(lambda line: line.startswith("+OK"))
    if refused:
        return refused
    sock.sendall(b"STLS\r\n")
    return reply(lambda line: line.startswith("+OK"))


def act_tls(args):
    """One TLS handshake on a port (after STARTTLS/STLS where the port needs it), offering only
    --tls-version and, for TLS 1.2 and older, only the OpenSSL --ciphers. The client itself allows
    everything (OpenSSL security level 0), so a refusal is the server's. --anonymous: no certificate
    check (for anonymous ciphers, which send none); otherwise the certificate is verified."""
    import warnings

    version = getattr(ssl.TLSVersion, TLS_VERSIONS[args.tls_version])
    ctx = ssl.create_default_context(cafile=args.ca)
    if args.anonymous:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():  # TLS 1.0 and 1.1 are deprecated: offering them is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = version
        ctx.maximum_version = version
    ctx.set_ciphers(args.ciphers + ":@SECLEVEL=0")
    sock = socket.create_connection((args.host, args.port), TIMEOUT)
    try:
        proto = TLS_START[args.port]
        refused = starttls(sock, proto) if proto else None
        if refused:
            return {"ok": False, "stage": "starttls", "error": refused}
        try:
            tls = ctx.wrap_socket(sock, server_hostname=args.servername)
        except (ssl.SSLError, OSError) as e:
            return {"ok": False, "stage": "handshake", "reason": getattr(e, "reason", None), "error": str(e)}
        result = {"ok": True, "version": tls.version(), "cipher": tls.cipher()[0]}
        tls.close()
        return result
    finally:
        sock.close()


class ManageSieve:
    """A ManageSieve session (RFC 5804): each command's response is its lines up to OK, NO or BYE."""

    def __init__(self, sock):
        self.use(sock)

    def use(self, sock):
        self.sock, self.f = sock, sock.makefile("rwb")

    def response(self):
        lines = []
        while True:
            line = self.f.readline().decode(errors="replace").rstrip("\r\n")
            if not line:
                raise EOFError("the server closed the connection after %r" % lines)
            lines.append(line)
            if line.split(" ")[0] in ("OK", "NO", "BYE"):
                return lines

    def command(self, text):
        self.f.write(text.encode() + b"\r\n")
        self.f.flush()
        return self.response()


def act_managesieve(args):
    """Uploads --body as the Sieve script --script-name over ManageSieve (STARTTLS, AUTHENTICATE PLAIN)
    and makes it the active one; reports the SASL capability offered before TLS and the scripts after."""
    sock = socket.create_connection((args.host, args.port), TIMEOUT)
    s = ManageSieve(sock)
    try:
        before = s.response()
        sasl_before = [l for l in before if l.startswith('"SASL"')]
        r = s.command("STARTTLS")
        if not r[-1].startswith("OK"):
            return {"ok": False, "stage": "starttls", "error": r[-1]}
        s.use(tls_context(args).wrap_socket(sock, server_hostname=args.servername))
        s.response()  # the capabilities again, now with SASL
        auth = base64.b64encode(("\0%s\0%s" % (args.user, os.environ.get("MAIL_PASSWORD", ""))).encode()).decode()
        r = s.command('AUTHENTICATE "PLAIN" "%s"' % auth)
        if not r[-1].startswith("OK"):
            return {"ok": False, "stage": "auth", "saslBeforeTls": sasl_before, "error": r[-1]}
        script = args.body.encode()
        r = s.command('PUTSCRIPT "%s" {%d+}\r\n%s' % (args.script_name, len(script), script.decode()))
        if not r[-1].startswith("OK"):
            return {"ok": False, "stage": "putscript", "error": "\n".join(r)}
        r = s.command('SETACTIVE "%s"' % args.script_name)
        if not r[-1].startswith("OK"):
            return {"ok": False, "stage": "setactive", "error": "\n".join(r)}
        scripts = s.command("LISTSCRIPTS")[:-1]
        s.command("LOGOUT")
        return {"ok": True, "saslBeforeTls": sasl_before, "scripts": scripts}
    finally:
        sock.close()


def validated(args, qname, qtype):
    """--qname's --qtype records served by --dns, validated as a validating
    resolver would: a DNSKEY of --zone must match the parent's DS (--ds), sign
    the zone's DNSKEY set, and through it the answer (dnspython's DNSSEC).
    Returns (rrset or None, the key tags used, an error or None)."""
    import warnings

    warnings.simplefilter("ignore")  # cryptography's deprecation of DSA, which dnspython imports
    import dns.dnssec
    import dns.message
    import dns.name
    import dns.query
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.rrset

    zone = dns.name.from_text(args.zone)
    qname = dns.name.from_text(qname)
    qtype = dns.rdatatype.from_text(qtype)

    def ask(name, rdtype):
        q = dns.message.make_query(name, rdtype, want_dnssec=True)
        r = dns.query.tcp(q, args.dns, port=53, timeout=TIMEOUT)
        rrset = r.get_rrset(r.answer, name, dns.rdataclass.IN, rdtype)
        sigs = r.get_rrset(r.answer, name, dns.rdataclass.IN, dns.rdatatype.RRSIG, rdtype)
        return rrset, sigs

    ds = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DS, args.ds)
    keys, key_sigs = ask(zone, dns.rdatatype.DNSKEY)
    if keys is None or key_sigs is None:
        return None, [], "no signed DNSKEY set at %s" % zone
    anchored = [k for k in keys if dns.dnssec.make_ds(zone, k, ds.digest_type) == ds]
    if not anchored:
        return None, [], "no DNSKEY of %s matches the DS" % zone
    answer, sigs = ask(qname, qtype)
    if answer is None or sigs is None:
        return None, [], "no signed %s %s" % (qname, dns.rdatatype.to_text(qtype))
    try:
        # The key set must be signed by a key the DS vouches for; the answer by the key set.
        dns.dnssec.validate(keys, key_sigs, {zone: dns.rrset.from_rdata_list(zone, keys.ttl, anchored)})
        dns.dnssec.validate(answer, sigs, {zone: keys})
    except dns.dnssec.ValidationFailure as e:
        return None, [], str(e)
    return answer, [dns.dnssec.key_id(k) for k in anchored], None


def act_dnssec(args):
    """Validates --qname's --qtype records from the zone's DS down (see validated)."""
    answer, tags, error = validated(args, args.qname, args.qtype)
    if error:
        return {"ok": True, "validated": False, "error": error}
    return {"ok": True, "validated": True, "keyTags": tags, "answers": sorted(r.to_text() for r in answer)}


def act_dane(args):
    """DANE as a sending MTA checks it (RFC 7672): the TLSA records of
    _<port>._tcp.<servername>, validated from the zone's DS down, against the
    key of the certificate the server presents after STARTTLS (no CA check:
    DANE-EE trusts the key the signed zone names)."""
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    tlsa, _, error = validated(args, "_%d._tcp.%s" % (args.port, args.servername), "TLSA")
    if error:
        return {"ok": True, "validated": False, "error": error}
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    sock = socket.create_connection((args.host, args.port), TIMEOUT)
    try:
        refused = starttls(sock, TLS_START[args.port]) if TLS_START[args.port] else None
        if refused:
            return {"ok": False, "stage": "starttls", "error": refused}
        tls = ctx.wrap_socket(sock, server_hostname=args.servername)
        der = tls.getpeercert(binary_form=True)
        tls.close()
    finally:
        sock.close()
    spki = x509.load_der_x509_certificate(der).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.sha256(spki).hexdigest().upper()
    records = sorted("%d %d %d %s" % (r.usage, r.selector, r.mtype, r.cert.hex().upper()) for r in tlsa)
    return {"ok": True, "validated": True, "tlsa": records, "served": "3 1 1 " + digest, "match": ("3 1 1 " + digest) in records}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("action", choices=["features", "send", "imap", "arrange", "mailbox-state", "pop3", "dkim-verify", "tls", "managesieve", "dnssec", "dane"])
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--servername", required=True)
    ap.add_argument("--starttls", action="store_true")
    ap.add_argument("--user", default="")
    ap.add_argument("--sender", default="")
    ap.add_argument("--to", default="", help="send: recipients, comma-separated")
    ap.add_argument("--from-header", default=None, help="send: the From header (default: the sender)")
    ap.add_argument("--subject", default="")
    ap.add_argument("--body", default="")
    ap.add_argument("--header", action="append", help="send: one more header, 'Name: value' (repeatable)")
    ap.add_argument("--mailbox", default="INBOX", help="imap: the folder to list")
    ap.add_argument("--arrange", default="{}", help="arrange: JSON {create: [folder], flags: {subject: [flag]}, move: {subject: folder}}")
    ap.add_argument("--quota", action="store_true", help="imap: also report GETQUOTAROOT of INBOX")
    ap.add_argument("--script-name", default="", help="managesieve: the script's name")
    ap.add_argument("--dns", default="", help="DNS server for dkim-verify's key lookups and dnssec's queries")
    ap.add_argument("--zone", default="", help="dnssec, dane: the signed zone")
    ap.add_argument("--ds", default="", help="dnssec, dane: the zone's DS record at its parent, '<tag> <alg> <digest type> <hex>'")
    ap.add_argument("--qname", default="", help="dnssec: the name to validate")
    ap.add_argument("--qtype", default="A", help="dnssec: its type")
    ap.add_argument("--tls-version", choices=sorted(TLS_VERSIONS), default="1.2", help="tls: the only version offered")
    ap.add_argument("--ciphers", default="DEFAULT", help="tls: the OpenSSL cipher list offered (TLS 1.2 and older)")
    ap.add_argument("--anonymous", action="store_true", help="tls: do not check the certificate")
    args = ap.parse_args()
    actions = {
        "features": act_features, "send": act_send, "imap": act_imap, "arrange": act_arrange, "mailbox-state": act_mailbox_state, "pop3": act_pop3, "dkim-verify": act_dkim_verify,
        "tls": act_tls, "managesieve": act_managesieve, "dnssec": act_dnssec, "dane": act_dane,
    }
    result = actions[args.action](args)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
