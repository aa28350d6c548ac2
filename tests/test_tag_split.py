"""Tag messages are read with one `%(contents)` and split into message and signature in Python
(gitops.signature_start). The split must be git's own: for every shape of tag object an attacker
can write (hash-object --literally writes anything), the signature ledger sees is exactly git's
`%(contents:signature)` and the message is the rest, and a real signed tag keeps verifying."""

from __future__ import annotations

import json
import subprocess

import pytest

from ledger.gitops import Git

SSH = "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"
PGP = "-----BEGIN PGP SIGNATURE-----\nwsBcBAAB\n-----END PGP SIGNATURE-----\n"
X509 = "-----BEGIN SIGNED MESSAGE-----\nMIAGCSqG\n-----END SIGNED MESSAGE-----\n"
MSG = json.dumps({"schema": "x", "a": 1}, indent=2) + "\n"

MESSAGES = {
    "unsigned": MSG,
    "ssh": MSG + SSH,
    "pgp": MSG + PGP,
    "x509": MSG + X509,
    "pgp then ssh (the last marker wins)": MSG + PGP + SSH,
    "ssh then pgp": MSG + SSH + PGP,
    "marker mid-line is no marker": MSG.rstrip("\n") + " " + SSH,
    "indented marker is no marker": MSG + "  " + SSH,
    "marker on the first line": SSH + MSG,
    "only a marker, no newline": SSH.splitlines()[0],
    "pgp message marker": MSG + "-----BEGIN PGP MESSAGE-----\nabc\n",
    "marker with a suffix": MSG + "-----BEGIN SSH SIGNATURE-----X\nabc\n",
    "leading blank lines": "\n\n" + MSG + SSH,
    "CRLF lines": MSG.replace("\n", "\r\n") + SSH.replace("\n", "\r\n"),
    "two paragraphs": "subject\n\nbody line\n" + SSH,
    "a non-marker BEGIN line after the signature": MSG + SSH + "-----BEGIN CERTIFICATE-----\nx\n",
    "a non-marker BEGIN line before it": MSG + "-----BEGIN CERTIFICATE-----\nx\n" + SSH,
    "only a non-marker BEGIN line": "-----BEGIN CERTIFICATE-----\n" + MSG,
    "empty": "",
}


@pytest.fixture(scope="module")
def tagged(tmp_path_factory):
    root = tmp_path_factory.mktemp("tags")
    env_git = ["git", "-C", str(root)]
    subprocess.run([*env_git, "init", "-q"], check=True)
    subprocess.run([*env_git, "-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-q",
                    "--allow-empty", "-m", "c"], check=True)
    head = subprocess.run([*env_git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    names = {}
    for i, (shape, message) in enumerate(MESSAGES.items()):
        name = f"t/{i:02d}"
        body = (f"object {head}\ntype commit\ntag {name}\ntagger A <a@example.com> 1700000000 +0000\n\n"
                + message).encode()
        oid = subprocess.run([*env_git, "hash-object", "-t", "tag", "-w", "--literally", "--stdin"], input=body,
                             capture_output=True, check=True).stdout.decode().strip()
        subprocess.run([*env_git, "update-ref", f"refs/tags/{name}", oid], check=True)
        names[name] = shape
    return root, names


def _git_field(root, name: str, field: str) -> str:
    return subprocess.run(["git", "-C", str(root), "for-each-ref", f"--format=%({field})", f"refs/tags/{name}"],
                          capture_output=True, check=True).stdout.decode()[:-1]  # the newline for-each-ref adds


def test_signature_split_is_gits_for_every_shape(tagged):
    root, names = tagged
    seen = {t.name: t for t in Git(root).tags("t/")}
    assert set(seen) == set(names)
    for name, shape in names.items():
        tag = seen[name]
        contents = _git_field(root, name, "contents")
        assert tag.signature == _git_field(root, name, "contents:signature"), shape
        assert tag.message == contents[:len(contents) - len(tag.signature)].strip(), shape
        assert contents.endswith(tag.signature), shape
    by_shape = {shape: seen[name] for name, shape in names.items()}
    assert json.loads(by_shape["pgp then ssh (the last marker wins)"].message.split("-----BEGIN PGP")[0]) == {
        "schema": "x", "a": 1}
    assert by_shape["pgp then ssh (the last marker wins)"].signature == SSH
    assert by_shape["marker mid-line is no marker"].signature == ""
    assert by_shape["unsigned"].signature == "" and json.loads(by_shape["unsigned"].message)["a"] == 1
    assert by_shape["marker on the first line"].message == ""


def test_a_real_signed_promotion_still_verifies(promoted):
    tag = Git(promoted.root).tag_info("promote/baseline/b1")
    assert tag.signature.startswith("-----BEGIN SSH SIGNATURE-----") and json.loads(tag.message)["promoted_id"] == "b1"
    out = promoted.ledger("verify")
    assert "b1" in out.stdout and out.returncode == 0, out.stdout + out.stderr


def test_streamed_tags_are_the_listed_ones_for_every_shape(tagged):
    # list/log and list --json read tags as git writes them (Git.iter_tags): the same TagInfo,
    # shape by shape, in the same order, as one read of git's whole output
    root, names = tagged
    git = Git(root)
    assert list(git.iter_tags(["refs/tags/t/"])) == git.tags("t/") and len(git.tags("t/")) == len(names)
    assert list(git.iter_tags(["refs/tags/none/"])) == []
