"""The in-process allowed_signers reading is a strict subset of ssh-keygen's: whenever the fast
path would accept a signature for a principal, the real `ssh-keygen -Y verify` (what `git
verify-tag` runs) accepts it for that principal too. Differential, over generated
allowed_signers files with control bytes, Unicode separators, CR, quotes, patterns, duplicated
and unknown options, other keys."""

from __future__ import annotations

import base64
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.audit import sshsig

PAYLOAD = b"object 0000000000000000000000000000000000000000\ntype commit\ntag t\n\nmessage\n"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    out = {}
    for name in ("signer", "other"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(d / name)], check=True)
        out[name] = (d / f"{name}.pub").read_text().split()[1]
    (d / "payload").write_bytes(PAYLOAD)
    subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-n", "git", "-f", str(d / "signer"), str(d / "payload")],
                   check=True, capture_output=True)
    sig = (d / "payload.sig").read_bytes()
    signer_blob = base64.b64decode(out["signer"])
    assert sshsig.signing_key(PAYLOAD, sig) == signer_blob
    raw = base64.b64decode(b"".join(sig.strip().split(b"\n")[1:-1]))  # the SSHSIG blob inside the armor
    return {"dir": d, "signer": out["signer"], "other": out["other"], "sig": sig, "blob": signer_blob, "raw": raw}


SEPARATORS = [b" ", b"  ", b"\t", b"\r", b"\x0b", b"\x0c", b"\x00", b"\x1c", b"\x1e", "\u2028".encode(),
              "\u00a0".encode(), "\u0085".encode(), b"\x7f"]
PRINCIPALS = [b"alice@example.com", b"Alice@example.com", b"mallory@example.com", b"*", b"*@example.com",
              b"alice@example.com,mallory@example.com", b'"alice@example.com"', b"!alice@example.com",
              b"alice@example.com\x00x"]
OPTIONS = [b"", b'namespaces="git"', b'namespaces="file"', b'namespaces="git",namespaces="file"',
           b'namespaces="file",namespaces="git"', b'NAMESPACES="git"', b"cert-authority",
           b'valid-before="20200101"', b'namespaces="g*"', b'namespaces="git,file"', b'namespaces="gi"t"',
           b'namespaces=xgit"', b'valid-before="git"', b'cert-authority,namespaces="git"',
           b'namespaces="git",cert-authority', b"namespaces=git"]


@st.composite
def allowed_file(draw):
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        sep = draw(st.sampled_from(SEPARATORS))
        parts = [draw(st.sampled_from(PRINCIPALS))]
        option = draw(st.sampled_from(OPTIONS))
        if option:
            parts.append(option)
        parts += [draw(st.sampled_from([b"ssh-ed25519", b"SSH-ED25519", b"ssh-rsa"])),
                  draw(st.sampled_from(["signer", "other", "sig!ner", "signer=", "sig ner"])).encode()]
        lead = draw(st.sampled_from([b"", b" ", b"\t", b"#", b"\r"]))
        end = draw(st.sampled_from([b"", b" comment", b"\r", "\u2028x".encode()]))
        lines.append(lead + sep.join(parts) + end)
    return b"\n".join(lines) + draw(st.sampled_from([b"\n", b"", b"\r\n"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(allowed_file())
def test_fast_path_accepts_only_what_ssh_keygen_accepts(keys, template):
    key = keys["signer"].encode()
    data = (template.replace(b"sig!ner", key[:20] + b"!" + key[20:]).replace(b"sig ner", key[:20] + b" " + key[20:])
            .replace(b"signer", key).replace(b"other", keys["other"].encode()))
    allowed = sshsig.parse_allowed_signers(data)
    lines = (allowed or {}).get(keys["blob"], [])
    if allowed is None or len(lines) != 1 or "," in lines[0]:
        return  # the fast path declines: git verify-tag decides
    principal = lines[0]
    path = keys["dir"] / "allowed"
    path.write_bytes(data)
    proc = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(path), "-I", principal, "-n", "git",
                           "-s", str(keys["dir"] / "payload.sig")], input=PAYLOAD, capture_output=True)
    assert proc.returncode == 0, (data, principal, proc.stderr)


def test_the_shapes_the_review_found_are_declined(keys):
    key = keys["signer"].encode()
    for data in (b'mallory@example.com\x1calice@example.com namespaces="git" ssh-ed25519 ' + key + b"\n",
                 b'alice@example.com namespaces="file",namespaces="git" ssh-ed25519 ' + key + b"\n",
                 b'alice@example.com\xc2\xa0namespaces="git" ssh-ed25519 ' + key + b"\n",
                 b'alice@example.com namespaces="git" ssh-ed25519 ' + key + b"\r\n",
                 b'alice@example.com\x7fnamespaces="git" ssh-ed25519 ' + key + b"\n",  # DEL
                 b'alice@example.com namespaces="git" ssh-ed25519\n',  # no key
                 b"alice@example.com ssh-ed25519\n", b"alice@example.com\n", b"ssh-ed25519 " + key + b"\n"):
        assert sshsig.parse_allowed_signers(data) is None, data
    assert sshsig.parse_allowed_signers(b'alice@example.com namespaces="git" ssh-ed25519 ' + key + b"\n") == {
        keys["blob"]: ["alice@example.com"]}


def test_a_key_on_two_lines_is_left_to_git(keys):
    """Two principals for one key: which one git reports is git's answer (find-principals), so
    the fast path declines instead of picking the first."""
    key = keys["signer"].encode()
    data = (b'alice@example.com namespaces="git" ssh-ed25519 ' + key + b"\n"
            + b'mallory@example.com namespaces="git" ssh-ed25519 ' + key + b"\n")
    assert sshsig.parse_allowed_signers(data) == {keys["blob"]: ["alice@example.com", "mallory@example.com"]}
    checker = sshsig.Checker(data)
    tag = PAYLOAD + keys["sig"]
    assert checker.principal(tag, "alice@example.com") is None
    single = sshsig.Checker(b'alice@example.com namespaces="git" ssh-ed25519 ' + key + b"\n")
    assert single.principal(tag, "alice@example.com") == "alice@example.com"


def test_truncated_or_garbled_signature_blobs_are_declined_not_crashed(keys):
    """Every prefix of a real SSHSIG blob, and a few length fields lying about their size: the
    parser answers None (git decides), never raises."""
    blob = keys["raw"]

    def armored(raw: bytes) -> bytes:
        body = base64.b64encode(raw)
        return b"-----BEGIN SSH SIGNATURE-----\n" + body + b"\n-----END SSH SIGNATURE-----\n"

    assert sshsig.signing_key(PAYLOAD, armored(blob)) == keys["blob"]
    for cut in range(0, len(blob) - 1, 3):
        assert sshsig.signing_key(PAYLOAD, armored(blob[:cut])) is None
    for pos in (10, 14, 40):
        lying = blob[:pos] + b"\xff\xff\xff\xff" + blob[pos + 4:]
        assert sshsig.signing_key(PAYLOAD, armored(lying)) is None


def _keygen_verifies(keys, allowed: bytes, sig: bytes, principal: str = "alice@example.com") -> bool:
    (keys["dir"] / "allowed").write_bytes(allowed)
    (keys["dir"] / "case.sig").write_bytes(sig)
    proc = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(keys["dir"] / "allowed"), "-I", principal,
                           "-n", "git", "-s", str(keys["dir"] / "case.sig")], input=PAYLOAD, capture_output=True)
    return proc.returncode == 0


@pytest.mark.parametrize("insert", [b"!", b".", b"-", b"*", b"=", b"=="])
def test_a_key_that_is_not_strict_base64_is_declined_as_ssh_keygen_does(keys, insert):
    """A character outside base64 inside the key, or surplus padding after it: a lenient decoder
    drops it and grants the key; ssh-keygen reads no key from that line (hypothesis found `KEY=`)."""
    key = keys["signer"].encode()
    at = len(key) if insert.startswith(b"=") else 20
    line = b'alice@example.com namespaces="git" ssh-ed25519 ' + key[:at] + insert + key[at:] + b"\n"
    assert not _keygen_verifies(keys, line, keys["sig"])
    assert sshsig.parse_allowed_signers(line) is None


def test_an_armor_without_its_exact_end_line_is_declined_as_ssh_keygen_does(keys):
    lines = keys["sig"].strip().split(b"\n")
    body, end = lines[:-1], lines[-1]
    shapes = {"no end line": body + [b"AAAA"], "truncated end": body + [end[:-1]],
              "not base64 inside": [body[0], b"!" + body[1], *body[2:], end],
              "surplus padding": [*body, b"=", end],
              "end with a suffix": body + [end + b"x"], "a line after the end": body + [end, b"AAAA"]}
    allowed = b'alice@example.com namespaces="git" ssh-ed25519 ' + keys["signer"].encode() + b"\n"
    assert _keygen_verifies(keys, allowed, keys["sig"]) and sshsig.signing_key(PAYLOAD, keys["sig"])
    for shape, armor in shapes.items():
        sig = b"\n".join(armor) + b"\n"
        # ssh-keygen takes an end line with a suffix or a line after it; declining is the safe side
        keygen_takes = shape in ("end with a suffix", "a line after the end")
        assert _keygen_verifies(keys, allowed, sig) == keygen_takes, shape
        assert sshsig.signing_key(PAYLOAD, sig) is None, shape


def _rearmor(raw: bytes) -> bytes:
    body = base64.b64encode(raw)
    lines = [body[i:i + 70] for i in range(0, len(body), 70)]
    return b"\n".join([sshsig.MARKER, *lines, b"-----END SSH SIGNATURE-----"]) + b"\n"


@pytest.mark.parametrize("kind", [b"ssh-dss", b"ecdsa-sha2-nistp256", b"ssh-ed25519-cert-v01@openssh.com", b""])
def test_a_signature_labelled_as_another_algorithm_is_declined_as_ssh_keygen_does(keys, kind):
    """The ed25519 signature bytes are genuine, but the blob says they are of another kind."""
    blob = keys["raw"]
    fields = sshsig._strings(blob[10:], 5)
    inner = sshsig._strings(fields[4], 2)
    forged = blob[:10] + b"".join(sshsig._string(f) for f in fields[:4]) + sshsig._string(
        sshsig._string(kind) + sshsig._string(inner[1]))
    assert _rearmor(blob) and sshsig.signing_key(PAYLOAD, _rearmor(blob)) == keys["blob"]
    allowed = b'alice@example.com namespaces="git" ssh-ed25519 ' + keys["signer"].encode() + b"\n"
    assert not _keygen_verifies(keys, allowed, _rearmor(forged))
    assert sshsig.signing_key(PAYLOAD, _rearmor(forged)) is None


def test_a_begin_line_with_a_suffix_is_declined(keys):
    lines = keys["sig"].strip().split(b"\n")
    sig = b"\n".join([lines[0] + b"x", *lines[1:]]) + b"\n"
    assert sshsig.signing_key(PAYLOAD, sig) is None  # whatever ssh-keygen makes of it: git decides


def test_an_empty_namespaces_list_grants_nothing_and_spoils_nothing(keys):
    """`namespaces=""` names no namespace: ssh-keygen skips the line for git, and so does the
    fast path, which still reads the rest of the file."""
    key = keys["signer"].encode()
    data = (b'mallory@example.com namespaces="" ssh-ed25519 ' + keys["other"].encode() + b"\n"
            + b'alice@example.com namespaces="git" ssh-ed25519 ' + key + b"\n")
    assert sshsig.parse_allowed_signers(data) == {keys["blob"]: ["alice@example.com"]}
    lone = b'alice@example.com namespaces="" ssh-ed25519 ' + key + b"\n"
    assert sshsig.parse_allowed_signers(lone) == {}
    assert not _keygen_verifies(keys, lone, keys["sig"])


@pytest.mark.parametrize("shape", ["magic", "version 2", "version 0"])
def test_a_blob_with_another_magic_or_version_is_declined_as_ssh_keygen_does(keys, shape):
    blob = keys["raw"]
    forged = {"magic": b"SSHSIX" + blob[6:], "version 2": blob[:6] + b"\0\0\0\x02" + blob[10:],
              "version 0": blob[:6] + b"\0\0\0\0" + blob[10:]}[shape]
    allowed = b'alice@example.com namespaces="git" ssh-ed25519 ' + keys["signer"].encode() + b"\n"
    # ssh-keygen refuses only versions above 1; declining version 0 too is the safe side
    assert _keygen_verifies(keys, allowed, _rearmor(forged)) == (shape == "version 0")
    assert sshsig.signing_key(PAYLOAD, _rearmor(forged)) is None


@pytest.mark.parametrize("namespace", ["gitx", "zz", "gi", "file", "Git"])
def test_a_signature_for_any_other_namespace_is_declined(keys, namespace):
    d = keys["dir"]
    (d / f"p-{namespace}").write_bytes(PAYLOAD)
    subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-n", namespace, "-f", str(d / "signer"), str(d / f"p-{namespace}")],
                   check=True, capture_output=True)
    sig = (d / f"p-{namespace}.sig").read_bytes()
    assert sshsig.signing_key(PAYLOAD, sig, namespace.encode()) == keys["blob"]  # genuine, for its namespace
    assert sshsig.signing_key(PAYLOAD, sig) is None
    allowed = b'alice@example.com ssh-ed25519 ' + keys["signer"].encode() + b"\n"
    assert not _keygen_verifies(keys, allowed, sig)


@pytest.mark.parametrize("option", [b'namespaces=xgit"', b'foo="git"', b'aaa="git"', b'expiry-time="git"'])
def test_an_option_that_is_not_exactly_namespaces_is_declined(keys, option):
    line = b"alice@example.com " + option + b" ssh-ed25519 " + keys["signer"].encode() + b"\n"
    assert sshsig.parse_allowed_signers(line) is None


def test_a_line_without_options_grants_its_key():
    """The most common allowed_signers line, `principal ssh-ed25519 KEY [comment]`, is read by
    the fast path itself (never declined to git for want of options)."""
    key_line = "AAAAC3NzaC1lZDI1NTE5AAAAIOXPm3nt1netx7Ic5qzSuu5GmWD+3O8fOkvomSqc8Cn+"
    blob = base64.b64decode(key_line)
    for tail in (b"", b" comment", b" ssh-comment"):
        data = b"alice@example.com ssh-ed25519 " + key_line.encode() + tail + b"\n"
        assert sshsig.parse_allowed_signers(data) == {blob: ["alice@example.com"]}, tail


@pytest.mark.parametrize("kind", [b"ssh-rsa", b"ssh-ed25519-cert-v01@openssh.com", b"ssh-ed448", b"sk-ssh-ed25519@openssh.com",
                                  b"ssh-dss", b"ecdsa-sha2-nistp256"])
def test_a_public_key_labelled_as_another_type_is_declined_as_ssh_keygen_does(keys, kind):
    blob = keys["raw"]
    fields = sshsig._strings(blob[10:], 5)
    raw_key = sshsig._strings(fields[0], 2)[1]
    forged_key = sshsig._string(kind) + sshsig._string(raw_key)
    forged = blob[:10] + sshsig._string(forged_key) + b"".join(sshsig._string(f) for f in fields[1:])
    line = (b"alice@example.com namespaces=\"git\" ssh-ed25519 " + base64.b64encode(forged_key) + b"\n")
    assert not _keygen_verifies(keys, line, _rearmor(forged))
    assert sshsig.signing_key(PAYLOAD, _rearmor(forged)) is None
    assert sshsig.parse_allowed_signers(line) is None


def test_every_short_option_string_the_fast_path_grants_ssh_keygen_grants_too(keys):
    """Exhaustive over option strings of up to five pieces from the characters that matter to
    option parsing (quotes, commas, '='): wherever the fast path would grant alice's key for
    git, the real `ssh-keygen -Y verify` verifies alice's signature with that line."""
    import itertools

    key = keys["signer"].encode()
    pieces = [b'"', b",", b"git", b"x", b"=", b"namespaces", b"namespaces=", b'"git"']
    granted, checked = set(), 0
    for n in range(1, 6):
        for combo in itertools.product(pieces, repeat=n):
            option = b"".join(combo)
            line = b"alice@example.com " + option + b" ssh-ed25519 " + key + b"\n"
            checked += 1
            allowed = sshsig.parse_allowed_signers(line)
            if allowed and allowed.get(keys["blob"]) == ["alice@example.com"]:
                granted.add(line)
    assert checked > 30000 and len(granted) >= 3  # namespaces="git" and friends are granted
    for line in sorted(granted):
        assert _keygen_verifies(keys, line, keys["sig"]), line


@pytest.mark.parametrize("option", [b'namespaces="x"",git,"', b'namespaces="",git,"'])
def test_quotes_inside_the_namespaces_value_are_declined_as_ssh_keygen_does(keys, option):
    """ssh-keygen ends a quoted value at its first closing quote and then wants a comma, so a
    value quoted in pieces is a bad line and ends its search; splitting the inner text on commas
    instead would grant `git`."""
    line = b"alice@example.com " + option + b" ssh-ed25519 " + keys["signer"].encode() + b"\n"
    assert not _keygen_verifies(keys, line, keys["sig"])
    assert sshsig.parse_allowed_signers(line) is None


def test_a_namespaces_option_naming_git_is_read_by_the_fast_path(keys):
    for option in (b'namespaces="git"', b'namespaces="file,git"', b'Namespaces="git"'):
        line = b"alice@example.com " + option + b" ssh-ed25519 " + keys["signer"].encode() + b"\n"
        assert sshsig.parse_allowed_signers(line) == {keys["blob"]: ["alice@example.com"]}, option
        assert _keygen_verifies(keys, line, keys["sig"]), option


@pytest.mark.parametrize("byte", [*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, 0x80, 0xC2, 0xFF])
def test_any_byte_but_tab_newline_and_printable_ascii_is_declined(keys, byte):
    """The docstring's promise, byte by byte: each one put in a principal, between fields, or in
    a comment sends the whole file to git."""
    key = keys["signer"].encode()
    b = bytes([byte])
    for line in (b"alice" + b + b"@example.com ssh-ed25519 " + key, b"alice@example.com" + b + b"ssh-ed25519 " + key,
                 b"alice@example.com ssh-ed25519 " + key + b" comment" + b, b"# " + b):
        data = line + b"\nalice@example.com ssh-ed25519 " + key + b"\n"
        assert sshsig.parse_allowed_signers(data) is None, data
    assert sshsig.parse_allowed_signers(b"alice@example.com ssh-ed25519 " + key + b" ~\n") is not None


def test_a_quoted_principal_is_declined(keys):
    """ssh-keygen strips the quotes of `"alice@example.com"`; compared as written, a tagger
    whose email is the quoted text would be granted alice's key."""
    for principals in (b'"alice@example.com"', b'"alice@example.com",bob@example.com', b"!alice@example.com"):
        line = principals + b" ssh-ed25519 " + keys["signer"].encode() + b"\n"
        assert sshsig.parse_allowed_signers(line) is None, principals


@pytest.mark.parametrize("where", ["after the signature", "after the key", "after the fields"])
def test_trailing_bytes_inside_the_blob_are_declined_as_ssh_keygen_does(keys, where):
    blob = keys["raw"]
    fields = sshsig._strings(blob[10:], 5)
    if where == "after the signature":
        fields[4] += b"\0"
    elif where == "after the key":
        fields[0] += b"\0"
    forged = blob[:10] + b"".join(sshsig._string(f) for f in fields) + (b"\0" if where == "after the fields" else b"")
    allowed = b'alice@example.com namespaces="git" ssh-ed25519 ' + keys["signer"].encode() + b"\n"
    assert not _keygen_verifies(keys, allowed, _rearmor(forged))
    assert sshsig.signing_key(PAYLOAD, _rearmor(forged)) is None


@pytest.mark.parametrize("hash_alg", [b"sha384", b"sha1", b"SHA512", b""])
def test_a_signature_over_another_hash_is_declined_not_crashed(keys, hash_alg):
    blob = keys["raw"]
    fields = sshsig._strings(blob[10:], 5)
    fields[3] = hash_alg
    forged = blob[:10] + b"".join(sshsig._string(f) for f in fields)
    allowed = b'alice@example.com namespaces="git" ssh-ed25519 ' + keys["signer"].encode() + b"\n"
    assert not _keygen_verifies(keys, allowed, _rearmor(forged))
    assert sshsig.signing_key(PAYLOAD, _rearmor(forged)) is None
