"""HTTPS for the simulator: a fresh test CA and a server certificate it signs.

Corporate GitLab instances often sit behind a certificate from an internal CA that
certifi does not know. ``Simulator.start(tls=True)`` reproduces that: the server's
certificate (for ``127.0.0.1`` and ``localhost``) is signed by a CA created for this
simulator only, whose PEM file is ``sim.ca_bundle``. Nothing trusts it unless told to.

``trustme`` (a dev dependency) makes the CA; it is imported only when TLS is asked for,
so the demo and ``python -m lore.sim serve`` without ``--tls`` never need it.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import tempfile
from pathlib import Path


class TestCertificates:
    """A throwaway CA plus a server certificate for the loopback names, as files."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> None:
        try:
            import trustme
        except ImportError as exc:  # pragma: no cover - dev extra missing
            raise RuntimeError(
                "the simulator's TLS mode needs the 'trustme' package (pip install trustme)"
            ) from exc
        self.directory = Path(tempfile.mkdtemp(prefix="lore-sim-tls-"))
        ca = trustme.CA(organization_name="lore simulator test CA")
        cert = ca.issue_cert(*hosts)
        self.ca_bundle = self.directory / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_bundle))
        self.cert_chain = self.directory / "server-chain.pem"
        with open(self.cert_chain, "wb") as fh:
            for blob in cert.cert_chain_pems:
                fh.write(blob.bytes())
        self.key = self.directory / "server-key.pem"
        cert.private_key_pem.write_to_path(str(self.key))

    def server_context(self) -> ssl.SSLContext:
        """A server-side context presenting the certificate (TLS 1.2+)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self.cert_chain), str(self.key))
        return context

    def cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def wrap_listener(sock: socket.socket, context: ssl.SSLContext) -> ssl.SSLSocket:
    """Wrap the listening socket; the handshake is left to each connection's thread
    (:func:`handshake`) so one stalled client cannot block ``accept``."""
    return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)


def handshake(conn: socket.socket, timeout_seconds: float = 10.0) -> bool:
    """Finish the TLS handshake on an accepted connection; False if the client gave up
    (for example because it does not trust the certificate)."""
    if not isinstance(conn, ssl.SSLSocket):
        return True
    previous = conn.gettimeout()
    try:
        conn.settimeout(timeout_seconds)
        conn.do_handshake()
        return True
    except (ssl.SSLError, OSError):
        return False
    finally:
        with contextlib.suppress(OSError):
            conn.settimeout(previous)
