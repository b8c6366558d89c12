"""secp256k1 keys, signatures and addresses.

Signatures are 64-byte compact r||s with low s, RFC 6979 deterministic nonces. libsecp256k1 (coincurve) signs
and verifies when installed; the pure-python `ecdsa` package is the key format and the fallback. Both produce
and accept the same signatures.
"""
from __future__ import annotations

import hashlib
import os
import stat
from functools import lru_cache
from pathlib import Path

import ecdsa
from ecdsa.util import sigdecode_string, sigencode_string_canonize

try:
    import coincurve
    from coincurve.ecdsa import cdata_to_der, deserialize_compact
except ImportError:  # pragma: no cover - exercised only where coincurve is missing
    coincurve = None

BACKEND = "libsecp256k1 (coincurve)" if coincurve else "python-ecdsa"


def address_of(public_key_hex: str) -> str:
    """Address = last 20 bytes of sha256 over the compressed public key, hex."""
    return hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[-40:]


class PrivateKey:
    def __init__(self, secret: bytes):
        if len(secret) != 32:
            raise ValueError("a secp256k1 private key is 32 bytes")
        self._signing_key = ecdsa.SigningKey.from_string(secret, curve=ecdsa.SECP256k1)
        self._secret = secret
        self.public_key = self._signing_key.get_verifying_key().to_string("compressed").hex()
        self.address = address_of(self.public_key)
        self._fast = coincurve.PrivateKey(secret) if coincurve else None

    @classmethod
    def generate(cls) -> PrivateKey:
        return cls(ecdsa.SigningKey.generate(curve=ecdsa.SECP256k1).to_string())

    @classmethod
    def from_seed(cls, seed: str) -> PrivateKey:
        """Deterministic key for tests and reproducible demos; never for keys that guard value."""
        return cls(hashlib.sha256(f"rca-tui-key:{seed}".encode()).digest())

    def sign_digest(self, digest: bytes) -> str:
        if self._fast is not None:
            return self._fast.sign_recoverable(digest, hasher=None)[:64].hex()
        return self._signing_key.sign_digest_deterministic(
            digest, sigencode=sigencode_string_canonize, hashfunc=hashlib.sha256
        ).hex()

    def __repr__(self) -> str:  # keys are never printed
        return f"PrivateKey(address={self.address})"

    def save(self, path: Path) -> None:
        """Write the key PEM with mode 0600 from the first byte (no window where others can read it)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "wb") as handle:
            handle.write(self._signing_key.to_pem())

    @classmethod
    def load(cls, path: Path) -> PrivateKey:
        key = ecdsa.SigningKey.from_pem(path.read_bytes())
        return cls(key.to_string())


def verify(public_key_hex: str, signature_hex: str, digest: bytes) -> bool:
    try:
        signature = bytes.fromhex(signature_hex)
        if len(signature) != 64:
            return False
        if coincurve is not None:
            return _fast_public_key(public_key_hex).verify(
                cdata_to_der(deserialize_compact(signature)), digest, hasher=None
            )
        return _slow_verify(public_key_hex, signature, digest)
    except (ValueError, TypeError):
        return False


@lru_cache(maxsize=4096)
def _fast_public_key(public_key_hex: str):
    return coincurve.PublicKey(bytes.fromhex(public_key_hex))


def _slow_verify(public_key_hex: str, signature: bytes, digest: bytes) -> bool:
    key = ecdsa.VerifyingKey.from_string(bytes.fromhex(public_key_hex), curve=ecdsa.SECP256k1)
    r, s = sigdecode_string(signature, ecdsa.SECP256k1.order)
    if s > ecdsa.SECP256k1.order // 2:  # libsecp256k1 rejects high-s; keep both backends in agreement
        return False
    try:
        return key.verify_digest(signature, digest, sigdecode=sigdecode_string)
    except ecdsa.BadSignatureError:
        return False


class KeyStore:
    """One PEM file per named key, mode 0600, in a directory beside the database."""

    def __init__(self, directory: Path):
        self.directory = directory

    def get_or_create(self, name: str) -> PrivateKey:
        path = self.directory / f"{name}.pem"
        if path.exists():
            return PrivateKey.load(path)
        key = PrivateKey.generate()
        key.save(path)
        return key
