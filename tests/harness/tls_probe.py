#!/usr/bin/env python3
"""What a TLS peer of ZooKeeper can do: a real TLS client (kazoo) on the secure client port, or a
TLS handshake on a member's election port as another member would make it.

Usage:
  tls_probe.py client HOSTS CA_FILE
      kazoo with use_ssl, checking the servers against CA_FILE: {"connect": ..., "write": ...}
  tls_probe.py quorum HOST:PORT CA_FILE CERT_FILE|-
      a handshake presenting CERT_FILE (key and certificate, PEM; -: none), checking the member
      against CA_FILE and its address: {"handshake": "accepted"} once the member waits for the
      election protocol, else "refused: <why>".
  tls_probe.py foreign IP DIR
      another cluster's CA and a member certificate for IP from it (Python's cryptography, not
      mesos-boot): DIR/ca.pem and DIR/member.pem (key and certificate): {"ca": ..., "member": ...}
Prints one line of JSON; "ok" or the exception's class name for each step.
"""
import json
import socket
import ssl
import sys


def client(hosts, ca):
    from kazoo.client import KazooClient

    out = {}
    zk = KazooClient(hosts=hosts, use_ssl=True, ca=ca, verify_certs=True, timeout=5)
    try:
        zk.start(timeout=15)
        out["connect"] = "ok"
    except Exception as e:  # noqa: BLE001 - the class name is the answer
        out["connect"] = type(e).__name__
        zk.close()
        return out
    try:
        zk.create("/tls-probe-", b"x", ephemeral=True, sequence=True)
        out["write"] = "ok"
    except Exception as e:  # noqa: BLE001
        out["write"] = type(e).__name__
    zk.stop()
    zk.close()
    return out


def quorum(addr, ca, cert):
    host, port = addr.rsplit(":", 1)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    if cert != "-":
        ctx.load_cert_chain(cert)
    try:
        raw = socket.create_connection((host, int(port)), timeout=5)
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            # A member that accepted us waits for the election protocol's header (seconds);
            # one that did not trust our certificate ends the connection at once.
            s.settimeout(2)
            try:
                data = s.recv(1)
                return {"handshake": "refused: closed" if not data else "accepted"}
            except socket.timeout:
                return {"handshake": "accepted"}
    except (ssl.SSLError, OSError) as e:
        return {"handshake": f"refused: {type(e).__name__}: {e}"}


def foreign(ip, out_dir):
    import datetime
    import ipaddress
    import os

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def build(subject, issuer, key, signer, ca, san=None):
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False).add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
        return b.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = build("another cluster's CA", "another cluster's CA", ca_key, ca_key, True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = build(ip, "another cluster's CA", key, ca_key, False, [x509.IPAddress(ipaddress.ip_address(ip))])
    pem = serialization.Encoding.PEM
    ca_path, member_path = os.path.join(out_dir, "ca.pem"), os.path.join(out_dir, "member.pem")
    with open(ca_path, "wb") as f:
        f.write(ca.public_bytes(pem))
    with open(member_path, "wb") as f:
        f.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        f.write(cert.public_bytes(pem))
    return {"ca": ca_path, "member": member_path}


def main():
    mode = sys.argv[1]
    if mode == "client":
        out = client(sys.argv[2], sys.argv[3])
    elif mode == "foreign":
        out = foreign(sys.argv[2], sys.argv[3])
    elif mode == "quorum":
        out = quorum(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(f"tls_probe.py: unknown mode {mode}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
