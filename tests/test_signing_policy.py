"""Promote refuses what verify would reject (a key not granted to the committer's email, a
forged tagger, OpenPGP), before anything is written; verify refuses OpenPGP-signed promotions
even when the verifier's keyring trusts the key (item 4: bound to the committed allow-list)."""

from __future__ import annotations

import subprocess

import pytest

ARGS = ("promote", "lead1-news", "--as", "baseline", "--id", "b1", "--reason", "r")


def refused(proc, needle):
    err = proc.stderr.strip()
    assert proc.returncode == 2 and err.startswith("error: ") and "\n" not in err, (proc.returncode, proc.stderr)
    assert needle in err, err


@pytest.mark.parametrize("shape", ["unknown key", "key granted to someone else", "tagger claims another email",
                                   "namespace other than git", "openpgp format"])
def test_promote_refuses_a_signature_verify_would_reject(repo, shape):
    if shape == "unknown key":
        repo.git("config", "user.signingkey", str(repo.keygen("mallory")))
    elif shape == "key granted to someone else":
        key = repo.keygen("bob")
        repo.allow(key, "bob@example.com")
        repo.commit_all("allow bob")
        repo.git("config", "user.signingkey", str(key))  # alice signs with bob's key
    elif shape == "tagger claims another email":
        repo.git("config", "user.email", "bob@example.com")  # alice's key, bob's name on the tag
    elif shape == "namespace other than git":
        path = repo.root / ".ledger/allowed_signers"
        path.write_text(path.read_text().replace('namespaces="git"', 'namespaces="file"'))
        repo.commit_all("file namespace only")
    else:
        repo.git("config", "gpg.format", "openpgp")
    before = repo.snapshot()
    needle = "gpg.format is openpgp" if shape == "openpgp format" else "does not grant your signing key"
    refused(repo.ledger(*ARGS), needle)
    assert repo.snapshot() == before


def test_a_granted_key_only_in_the_working_tree_is_not_enough(repo):
    key = repo.keygen("carol")
    repo.allow(key, "carol@example.com")  # written, not committed: verify reads the committed file
    repo.git("config", "user.signingkey", str(key))
    repo.git("config", "user.email", "carol@example.com")
    refused(repo.ledger(*ARGS), "at HEAD does not grant your signing key to carol@example.com")


@pytest.fixture
def gpg_home(tmp_path):
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    env = {"GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key",
                    "Alice <alice@example.com>", "ed25519", "sign", "1y"], env={**__import__("os").environ, **env},
                   check=True, capture_output=True)
    yield env
    # gpg started an agent for this home: stop it, or it outlives the test run
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**__import__("os").environ, **env}, capture_output=True)


@pytest.mark.parametrize("mode", ["plain", "range"])
def test_verify_refuses_an_openpgp_signed_promotion_the_keyring_trusts(promoted, gpg_home, mode):
    box = promoted
    base = box.git("rev-parse", "HEAD~1")
    message = box.sh("git", "cat-file", "tag", "promote/baseline/b1").stdout.split("\n\n", 1)[1]
    message = message.split("-----BEGIN SSH SIGNATURE-----", 1)[0]
    (box.root.parent / "msg").write_text(message)
    commit = box.git("rev-parse", "promote/baseline/b1^{commit}")
    box.sh("git", "-c", "gpg.format=openpgp", "-c", "user.signingkey=alice@example.com", "tag", "-f", "-s",
           "--cleanup=verbatim", "-F", str(box.root.parent / "msg"), "promote/baseline/b1", commit, env=gpg_home)
    assert "BEGIN PGP SIGNATURE" in box.sh("git", "cat-file", "tag", "promote/baseline/b1").stdout
    assert box.sh("git", "verify-tag", "promote/baseline/b1", env=gpg_home, check=False).returncode == 0  # gpg trusts it
    args = ("--range", f"{base}..HEAD", "--signers-from", base) if mode == "range" else ()
    proc = box.ledger("verify", *args, env=gpg_home)
    assert proc.returncode == 1 and "OpenPGP signature: only ssh signatures by keys committed in" in proc.stdout, \
        proc.stdout + proc.stderr
    refused(box.ledger("gate", "lead2-news", "--baseline", "b1", "--tier", "base", env=gpg_home), "does not verify")


def test_an_ssh_key_without_gpg_format_ssh_gets_the_hint(repo):
    repo.git("config", "--unset", "gpg.format")
    before = repo.snapshot()
    refused(repo.ledger(*ARGS), "gpg.format is openpgp: promotions are signed with ssh keys")
    assert "`git config gpg.format ssh`" in repo.ledger(*ARGS).stderr
    assert repo.snapshot() == before
