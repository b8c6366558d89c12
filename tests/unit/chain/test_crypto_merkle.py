import stat

from hypothesis import given, strategies as st

from engine.chain import crypto, merkle
from engine.chain.crypto import KeyStore, PrivateKey


def test_signatures_are_interchangeable_between_backends(monkeypatch):
    key = PrivateKey.from_seed("x")
    digest = bytes(range(32))
    fast_signature = key.sign_digest(digest)
    assert crypto.verify(key.public_key, fast_signature, digest)
    monkeypatch.setattr(crypto, "coincurve", None)
    slow_key = PrivateKey.from_seed("x")
    assert slow_key.sign_digest(digest) == fast_signature  # RFC 6979 + low s: the very same bytes
    assert crypto.verify(key.public_key, fast_signature, digest)
    assert not crypto.verify(key.public_key, fast_signature, bytes(32))


def test_a_signature_from_another_key_or_garbage_does_not_verify():
    alice, bob = PrivateKey.from_seed("alice"), PrivateKey.from_seed("bob")
    digest = bytes(32)
    assert not crypto.verify(bob.public_key, alice.sign_digest(digest), digest)
    assert not crypto.verify(alice.public_key, "zz" * 64, digest)
    assert not crypto.verify(alice.public_key, "00" * 10, digest)


def test_keystore_files_are_private_and_keys_never_printed(tmp_path):
    store = KeyStore(tmp_path / "keys")
    key = store.get_or_create("data_detective")
    path = tmp_path / "keys" / "data_detective.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.get_or_create("data_detective").address == key.address
    secret_hex = key._secret.hex()
    assert secret_hex not in repr(key) and secret_hex not in str(key)


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40), st.data())
def test_every_merkle_proof_verifies_and_a_forged_one_does_not(leaves, data):
    hashes = [leaf.hex() for leaf in leaves]
    root = merkle.merkle_root(hashes)
    index = data.draw(st.integers(0, len(hashes) - 1))
    proof = merkle.build_proof(hashes, index)
    assert merkle.verify_proof(proof, root)
    forged = merkle.MerkleProof("ab" * 32, index, proof.steps, root)
    assert forged.tx_hash == proof.tx_hash or not merkle.verify_proof(forged, root)


def test_merkle_root_distinguishes_a_duplicated_last_transaction():
    a, b, c = ("aa" * 32, "bb" * 32, "cc" * 32)
    assert merkle.merkle_root([a, b, c]) != merkle.merkle_root([a, b, c, c])
