"""What git says of a tag, read with one `for-each-ref` format: `TagInfo`, and where a tag's
signature block starts (git's own split; the in-process signature check splits raw objects here
too). Used by gitops' tag readers (Git.tags, iter_tags, tags_started)."""

from __future__ import annotations

from collections import namedtuple

TYPE_CHECKING = False  # annotations only: importing typing costs `ledger list`/`log` ~1.3 ms
if TYPE_CHECKING:
    from typing import AnyStr

# The lines git takes to start a signature (gpg-interface.c: OpenPGP, x509, ssh).
SIGNATURE_MARKERS = ("-----BEGIN PGP SIGNATURE-----", "-----BEGIN PGP MESSAGE-----",
                     "-----BEGIN SIGNED MESSAGE-----", "-----BEGIN SSH SIGNATURE-----")
_MARKERS_BYTES = tuple(m.encode() for m in SIGNATURE_MARKERS)


def signature_start(contents: AnyStr) -> int:
    """Where a tag message's (str) or tag object's (bytes) signature block starts (len(contents)
    when it has none), split where git splits it (`parse_signed_buffer`): at the LAST line that
    starts with a marker. One `%(contents)` split here costs git a third less than
    `%(contents:subject/body/signature)`; the in-process signature check splits raw objects here too."""
    markers, begin = ((SIGNATURE_MARKERS, "\n-----BEGIN ") if isinstance(contents, str)
                      else (_MARKERS_BYTES, b"\n-----BEGIN "))
    end = len(contents)
    while True:  # from the last line starting "-----BEGIN " backwards to one that is a marker
        at = contents.rfind(begin, 0, end) + 1
        if contents.startswith(markers, at):
            return at
        if at == 0:
            return len(contents)
        end = at - 1


# A tag as for-each-ref describes it; a named tuple (not a dataclass: `import dataclasses` is
# ~5 ms of every list/log; collections', not typing's: importing typing is ~1.3 ms more):
#   name          refs/tags/... stripped
#   objecttype    "tag" for annotated, "commit" for lightweight
#   commit        the commit it points at (peeled)
#   tagger_email, tagger_date
#   message       without the signature block
#   signature
#   oid           the tag object itself (for a lightweight tag: the commit); default ""
#   created       git's %(creatordate:unix): the tagger's date, a lightweight tag's commit's; default 0
TagInfo = namedtuple("TagInfo", "name objecttype commit tagger_email tagger_date message signature oid created",
                     defaults=("", 0))


def tag_args(patterns: list[str]) -> list[str]:
    fmt = "%00".join(["%(refname:strip=2)", "%(objecttype)", "%(*objectname)", "%(objectname)",
                      "%(taggeremail:trim)", "%(taggerdate:iso-strict)", "%(creatordate:unix)",
                      "%(contents)"]) + "%00%01"
    return ["for-each-ref", f"--format={fmt}", *patterns]


def parse_tags(out: str) -> list[TagInfo]:
    return [tag for tag in map(tag_of, out.split("\0\x01")) if tag is not None]


def tag_of(rec: str) -> TagInfo | None:
    """One record of `tag_args`' format (None for the empty one after the last)."""
    rec = rec.lstrip("\n")
    if not rec:
        return None
    name, otype, peeled, oid, email, date, created, contents = rec.split("\0")
    at = signature_start(contents)
    return TagInfo(name, otype, peeled or oid, email, date, contents[:at].strip(), contents[at:], oid,
                   int(created) if created.lstrip("-").isdigit() else 0)
