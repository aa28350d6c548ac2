"""The in-process SSH signature check (ledger.audit.sshsig) on tags signed by the real git + ssh-keygen:
it accepts exactly the genuine ed25519 signatures of allowed principals, leaves everything
else to `git verify-tag`, and `ledger verify` says the same with and without it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.audit import sshsig

from test_verify import DIR, TAG, make_tag, tag_text

ALICE = "alice@example.com"


def tag_object(box, tag: str = TAG) -> bytes:
    return box.sh("git", "cat-file", "tag", tag).stdout.encode()


def signers(box) -> bytes:
    return (box.root / ".ledger" / "allowed_signers").read_bytes()


def pub(key: Path) -> str:
    return key.with_suffix(".key.pub").read_text().strip()


def test_genuine_signature_of_the_tagger_is_accepted(promoted):
    checker = sshsig.Checker(signers(promoted))
    assert checker.principal(tag_object(promoted), f"<{ALICE}>") == ALICE
    assert checker.principal(tag_object(promoted), "<ALICE@example.com>") == ALICE  # as ledger compares


def test_every_byte_of_the_payload_is_covered(promoted):
    obj = tag_object(promoted)
    payload, armored = sshsig.split_signed(obj)
    assert payload + armored == obj and armored.startswith(sshsig.MARKER)
    checker = sshsig.Checker(signers(promoted))
    for i in range(0, len(payload), max(1, len(payload) // 40)):  # a flipped bit anywhere in the payload
        forged = bytearray(obj)
        forged[i] ^= 0x01
        assert checker.principal(bytes(forged), f"<{ALICE}>") is None, i
    assert checker.principal(obj.replace(b"object ", b"object  ", 1), f"<{ALICE}>") is None
    assert checker.principal(payload, f"<{ALICE}>") is None  # signature stripped


def test_wrong_principal_unknown_key_and_other_namespace_are_left_to_git(promoted):
    checker = sshsig.Checker(signers(promoted))
    assert checker.principal(tag_object(promoted), "<bob@example.com>") is None

    mallory = promoted.keygen("mallory")
    commit = promoted.git("rev-parse", f"{TAG}^{{commit}}")
    make_tag(promoted, TAG, commit, tag_text(promoted, TAG), key=mallory)
    assert checker.principal(tag_object(promoted), f"<{ALICE}>") is None

    # a signature made for another namespace (ssh-keygen -Y sign -n file) over the same payload
    payload, _ = sshsig.split_signed(tag_object(promoted))
    data = promoted.root.parent / "payload"
    data.write_bytes(payload)
    promoted.sh("ssh-keygen", "-q", "-Y", "sign", "-n", "file", "-f", str(promoted.root.parent / "alice.key"),
                str(data))
    other_ns = payload + (data.parent / "payload.sig").read_bytes()
    assert sshsig.split_signed(other_ns) is not None
    assert checker.principal(other_ns, f"<{ALICE}>") is None


@pytest.mark.parametrize("line", [
    '{email} namespaces="git",valid-before="20991231" {key}',
    '{email} cert-authority {key}',
    '*@example.com namespaces="git" {key}',
    '{email},bob@example.com namespaces="git" {key}',
    '{email} namespaces="g*" {key}',
    '{email} namespaces="git {key}',
])
def test_allowed_signers_features_it_does_not_implement_go_to_git(promoted, line):
    text = line.format(email=ALICE, key=pub(promoted.root.parent / "alice.key")) + "\n"
    assert sshsig.Checker(text.encode()).principal(tag_object(promoted), f"<{ALICE}>") is None


def test_other_namespaces_other_key_types_revocation_and_the_switch(promoted, monkeypatch):
    key = pub(promoted.root.parent / "alice.key")
    obj = tag_object(promoted)
    assert sshsig.Checker(f'{ALICE} namespaces="file" {key}\n'.encode()).principal(obj, ALICE) is None
    assert sshsig.Checker(f'# a comment\n\n{ALICE} namespaces="file,git" {key} alice\n'.encode()
                          ).principal(obj, ALICE) == ALICE
    ecdsa = promoted.root.parent / "ecdsa.key"
    promoted.sh("ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", str(ecdsa))
    mixed = f"{ALICE} {key}\nbob@example.com {ecdsa.with_suffix('.key.pub').read_text().strip()}\n"
    assert sshsig.Checker(mixed.encode()).principal(obj, ALICE) is None
    assert sshsig.Checker(signers(promoted), revocation_configured=True).principal(obj, ALICE) is None
    assert sshsig.Checker(None).principal(obj, ALICE) is None
    monkeypatch.setenv("LEDGER_SIGCHECK", "git")
    assert sshsig.Checker(signers(promoted)).principal(obj, ALICE) is None


def test_verify_uses_the_fast_path_and_git_stays_the_fallback(promoted):
    # With a gpg.ssh.program that does not exist, git cannot check any SSH signature: the
    # genuine one still verifies (in process), and forcing git shows git really could not.
    no_ssh = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "gpg.ssh.program",
              "GIT_CONFIG_VALUE_0": str(promoted.root.parent / "no-ssh-keygen")}
    fast = promoted.ledger("verify", env=no_ssh)
    assert fast.returncode == 0 and f"OK    {DIR} (signed by {ALICE})" in fast.stdout, fast.stdout + fast.stderr
    slow = promoted.ledger("verify", env={**no_ssh, "LEDGER_SIGCHECK": "git"})
    assert slow.returncode == 1 and "bad or untrusted signature" in slow.stdout


def test_verify_reports_the_same_with_and_without_the_fast_path(promoted):
    bob, mallory = promoted.keygen("bob"), promoted.keygen("mallory")
    promoted.allow(bob, "bob@example.com")
    promoted.commit_all("allow bob")
    promoted.use_key(bob, "bob@example.com")
    assert promoted.ledger("promote", "lead2-news", "--as", "baseline", "--id", "b2", "--reason", "bob's").returncode == 0
    commit = promoted.git("rev-parse", "HEAD")
    # forged tagger (bob's allowed key, alice's name) and an unknown key on synthetic tags
    make_tag(promoted, "promote/baseline/x1", commit, tag_text(promoted, TAG), key=bob, email=ALICE)
    make_tag(promoted, "promote/baseline/x2", commit, tag_text(promoted, TAG), key=mallory, email=ALICE)
    make_tag(promoted, "promote/baseline/x3", commit, tag_text(promoted, TAG))  # unsigned
    # alice's own key under bob's name (the claim sorts after the signer: both orders are caught)
    make_tag(promoted, "promote/baseline/x4", commit, tag_text(promoted, TAG), key=promoted.root.parent / "alice.key",
             email="bob@example.com")
    fast = promoted.ledger("verify", "--json")
    slow = promoted.ledger("verify", "--json", env={"LEDGER_SIGCHECK": "git"})
    assert fast.returncode == slow.returncode == 1
    assert json.loads(fast.stdout) == json.loads(slow.stdout)
    results = {r["tag"]: r for r in json.loads(fast.stdout)["results"]}
    assert results[TAG]["ok"] and results[TAG]["signer"] == ALICE
    assert results["promote/baseline/b2"]["ok"] and results["promote/baseline/b2"]["signer"] == "bob@example.com"
    assert any("signed by bob@example.com but the tagger claims" in p for p in results["promote/baseline/x1"]["problems"])
    assert any("bad or untrusted signature" in p for p in results["promote/baseline/x2"]["problems"])
    assert any("not signed" in p for p in results["promote/baseline/x3"]["problems"])
    assert any("signed by alice@example.com but the tagger claims" in p for p in results["promote/baseline/x4"]["problems"])


@pytest.mark.parametrize("label", ["ssh-dss", "ecdsa-sha2-nistp256", "ssh-rsa", "sk-ssh-ed25519@openssh.com"])
def test_a_key_written_under_another_type_name_is_left_to_git(promoted, label):
    """alice's ed25519 key blob under another type name (sorting before and after
    `ssh-ed25519`): the line is not one the fast path reads; git decides."""
    obj = tag_object(promoted)
    (line,) = [ln for ln in signers(promoted).decode().splitlines() if ln.startswith(ALICE)]
    assert sshsig.Checker(line.encode()).principal(obj, ALICE) == ALICE
    assert " ssh-ed25519 " in line
    assert sshsig.Checker(line.replace(" ssh-ed25519 ", f" {label} ").encode()).principal(obj, ALICE) is None


def test_base64_with_nonzero_trailing_bits_is_not_canonical():
    """b"\\x00\\x0f" is `AA8=`; `AA+=` and `AA/=` decode to the same bytes (Python drops the
    extra bits) but are not their encoding, and they sort below it: equality, never order."""
    assert sshsig._canonical_b64(b"AA8=") == b"\x00\x0f"
    for text in (b"AA+=", b"AA/=", b"AA9=", b"AA8", b"AA8=="):
        assert sshsig._canonical_b64(text) is None, text


@pytest.mark.parametrize("obj", [b"object 1\ntype commit\ntag x\n\nno newline at the end",
                                 b"object 1\n\n-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----",
                                 b"", b"\n", b"no newline"])
def test_split_signed_reads_objects_that_do_not_end_with_a_newline(obj):
    import signal

    def hung(*_):
        raise TimeoutError("split_signed did not return: a loop that never reaches the end")

    old = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, 5)
    try:
        payload = sshsig.split_signed(obj)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    if b"BEGIN SSH" in obj:
        assert payload == (b"object 1\n\n", obj[len(b"object 1\n\n"):])
    else:
        assert payload is None
