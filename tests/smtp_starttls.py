"""An SMTP server for Medallion's STARTTLS test: aiosmtpd on a free loopback port that refuses
mail until the client has said STARTTLS and logged in (AUTH PLAIN or LOGIN, only after TLS),
with a certificate for 127.0.0.1 signed by a throwaway CA made here, at start.

    python smtp_starttls.py DIR

The user name and password it accepts come from the environment (SMTP_TEST_USER,
SMTP_TEST_PASSWORD), never from the command line. It writes DIR/ca.pem (the CA a client must
trust), delivers what it receives into the maildir DIR/maildir, appends each login attempt to
DIR/logins (`ok USER` or `refused USER`), prints `listening PORT` when it accepts connections,
and stops when its standard input closes.
"""

import datetime
import ipaddress
import os
import socket
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def certificates(out_dir):
    """A CA (written to ca.pem) and a server certificate for 127.0.0.1 signed by it; returns the
    paths of the server's certificate and key."""
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=2)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Medallion SMTP test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    with open(os.path.join(out_dir, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(pem))
    cert_path = os.path.join(out_dir, "server.pem")
    key_path = os.path.join(out_dir, "server.key")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(pem))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                pem,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


class Authenticator:
    """Accepts exactly one user and password; records every attempt."""

    def __init__(self, user, password, log_path):
        self.user, self.password, self.log_path = user, password, log_path

    def __call__(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        ok = user == self.user and auth_data.password.decode("utf-8", "replace") == self.password
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(f"{'ok' if ok else 'refused'} {user} {mechanism}\n")
        return AuthResult(success=ok, handled=False)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    out_dir = sys.argv[1]
    user, password = os.environ["SMTP_TEST_USER"], os.environ["SMTP_TEST_PASSWORD"]
    cert, key = certificates(out_dir)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    port = free_port()
    controller = Controller(
        Mailbox(os.path.join(out_dir, "maildir")),
        hostname="127.0.0.1",
        port=port,
        server_hostname="127.0.0.1",
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=Authenticator(user, password, os.path.join(out_dir, "logins")),
    )
    controller.start()
    print(f"listening {port}", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
