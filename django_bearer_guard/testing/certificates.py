"""Real client certificates for tests and the demo: a workload CA and the headers proxies send.

>>> ca = WorkloadCA()
>>> workload = ca.issue("spiffe://example.org/ns/prod/sa/billing")
>>> meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_CLIENT_CERT": xfcc_header(workload.xfcc())}

``workload.thumbprint`` is the RFC 8705 ``x5t#S256`` a certificate-bound token's ``cnf`` names.
Nothing here is used by the library at run time.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["WorkloadCA", "WorkloadCertificate", "xfcc_header"]

# What Envoy's grammar allows in an unquoted value (a backslash is quoted too, to be plain).
_PLAIN = re.compile(r'[^,;="\\\s]*')


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _plain_or_quoted(value: str) -> str:
    return value if _PLAIN.fullmatch(value) else _quoted(value)


@dataclass(frozen=True)
class WorkloadCertificate:
    """A client certificate issued by a :class:`WorkloadCA`, with its private key."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> str:
        """The certificate in PEM (what ``SSL_CLIENT_CERT`` holds)."""
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def der(self) -> bytes:
        """The DER certificate."""
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def thumbprint(self) -> str:
        """RFC 8705 ``x5t#S256``: the base64url SHA-256 of the DER certificate, unpadded."""
        return base64.urlsafe_b64encode(hashlib.sha256(self.der).digest()).rstrip(b"=").decode("ascii")

    @property
    def sha256_hex(self) -> str:
        """The lower-case hex SHA-256 of the DER certificate (Envoy's ``Hash``)."""
        return hashlib.sha256(self.der).hexdigest()

    @property
    def uris(self) -> tuple[str, ...]:
        """The certificate's URI SANs."""
        return tuple(self._sans().get_values_for_type(x509.UniformResourceIdentifier))

    @property
    def dns(self) -> tuple[str, ...]:
        """The certificate's DNS SANs."""
        return tuple(self._sans().get_values_for_type(x509.DNSName))

    def _sans(self) -> x509.SubjectAlternativeName:
        try:
            return self.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return x509.SubjectAlternativeName([])

    def escaped_pem(self) -> str:
        """The URL-encoded PEM, like nginx's ``$ssl_client_escaped_cert``."""
        return quote(self.pem, safe="")

    def xfcc(self, *, by: str | None = None, hash: bool = True, uri: bool = True, subject: bool = False) -> str:
        """One ``X-Forwarded-Client-Cert`` element for this certificate, written the way Envoy does.

        ``by`` is the proxy's own URI SAN; ``hash``, ``uri`` and ``subject`` add the ``Hash``, the
        ``URI`` entries (``URI=`` when the certificate has none) and the quoted ``Subject``. The
        ``Cert`` (URL-encoded PEM) and any ``DNS`` SANs are always included.
        """
        pairs = [] if by is None else [f"By={_quoted(by)}"]
        if hash:
            pairs.append(f"Hash={self.sha256_hex}")
        pairs.append(f"Cert={_quoted(self.escaped_pem())}")
        if subject:
            pairs.append(f"Subject={_quoted(self.certificate.subject.rfc4514_string())}")
        if uri:
            pairs.extend(f"URI={_plain_or_quoted(value)}" for value in self.uris or ("",))
        pairs.extend(f"DNS={_plain_or_quoted(value)}" for value in self.dns)
        return ";".join(pairs)


class WorkloadCA:
    """A certificate authority with an EC P-256 key that issues workload client certificates."""

    def __init__(self, name: str = "Test workload CA") -> None:
        self.name = name
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.private_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(datetime(2000, 1, 1, tzinfo=timezone.utc))
            .not_valid_after(datetime(2100, 1, 1, tzinfo=timezone.utc))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .sign(self.private_key, hashes.SHA256())
        )

    @property
    def pem(self) -> str:
        """The CA certificate in PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def issue(
        self,
        spiffe_id: str | None = None,
        *,
        uris: Sequence[str] | None = None,
        dns: Sequence[str] = (),
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> WorkloadCertificate:
        """A client certificate with a fresh EC P-256 key.

        Its URI SANs are ``uris`` when given (zero, two, or not SPIFFE IDs, for tests of refusals),
        else ``spiffe_id`` alone, else none; ``dns`` adds DNS SANs. It is valid from
        ``not_before`` (default: a day ago) to ``not_after`` (default: a year from now).
        """
        now = datetime.now(timezone.utc)
        key = ec.generate_private_key(ec.SECP256R1())
        san_uris = list(uris) if uris is not None else [spiffe_id] if spiffe_id else []
        names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(u) for u in san_uris]
        names += [x509.DNSName(d) for d in dns]
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.name),
                x509.NameAttribute(NameOID.COMMON_NAME, "test workload"),
            ]
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1) if not_before is None else not_before)
            .not_valid_after(now + timedelta(days=365) if not_after is None else not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return WorkloadCertificate(builder.sign(self.private_key, hashes.SHA256()), key)


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def xfcc_header(*elements: str) -> str:
    """An ``X-Forwarded-Client-Cert`` value: ``elements`` (from :meth:`WorkloadCertificate.xfcc`) joined by ``,``."""
    return ",".join(elements)
