"""RSA-2048, RSASSA-PKCS1-v1_5 over SHA-256, base64 signatures: the signed requests a client
sends and the webhooks the bank signs, with ``cryptography`` (the production adapter uses
pycryptodome; this is an independent implementation on purpose).

- a request's signed message: ``METHOD "\\n" PATH "\\n" TIMESTAMP "\\n" REQUEST_ID "\\n" BODY``;
- a webhook's: ``TIMESTAMP "." BODY``.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

KEY_BITS = 2048
MIN_CLIENT_KEY_BITS = 2048


def new_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    """The SubjectPublicKeyInfo PEM (``-----BEGIN PUBLIC KEY-----``) of ``key``."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """An RSA public key of at least 2048 bits from PEM (SubjectPublicKeyInfo or PKCS#1);
    ``ValueError`` with a message for the client otherwise."""
    try:
        key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError("must be a PEM-encoded RSA public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("must be an RSA public key")
    if key.key_size < MIN_CLIENT_KEY_BITS:
        raise ValueError(f"must be an RSA key of at least {MIN_CLIENT_KEY_BITS} bits")
    return key


def request_message(method: str, path: str, timestamp: str, request_id: str, body: bytes) -> bytes:
    head = f"{method.upper()}\n{path}\n{timestamp}\n{request_id}\n"
    return head.encode("utf-8") + body


def webhook_message(timestamp: str, body: bytes) -> bytes:
    return timestamp.encode("ascii") + b"." + body


def sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verifies(key: rsa.RSAPublicKey, signature: str, message: bytes) -> bool:
    """True when ``signature`` (strict base64) is ``key``'s signature of ``message``."""
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
