"""The only package that talks to git: the git binary for plumbing, signing and verification
(_proc: one process per call, `LC_ALL=C` so messages are stable), GitPython for the persistent
`git cat-file --batch` reads (objects). GitPython is imported on first use: `ledger list` and
`ledger log` never load it (its import alone costs more than reading 1,000 tags)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from ..errors import LedgerError, NotFound, Refused
from ..hashing import light_sha256
from ._proc import begun, failed as _failed, git as _git, git_pieces as _git_pieces
from .objects import ObjectReads
from .remotes import Remotes
from .tagformat import SIGNATURE_MARKERS, TagInfo, parse_tags as _parse_tags, signature_start, tag_args as _tag_args, \
    tag_of as _tag_of

__all__ = ["Git", "SIGNATURE_MARKERS", "TagInfo", "find_root", "signature_start"]


def find_root(start: str | Path | None = None) -> Path:
    try:
        where = Path(start or os.getcwd())
    except OSError:
        raise NotFound("the current directory no longer exists") from None
    if not where.is_dir():
        raise NotFound(f"not inside a git repository: {where}")
    status, out, _ = _git(where, ["rev-parse", "--is-bare-repository", "--show-toplevel"])
    lines = out.splitlines()
    if lines[:1] == ["true"]:
        raise NotFound("bare repositories are not supported: run ledger in a checkout")
    if status != 0 or len(lines) != 2 or not lines[1]:
        raise NotFound(f"not inside a git repository: {where}")
    return Path(lines[1]).resolve()


class Git(ObjectReads, Remotes):
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._repo = None

    @property
    def repo(self):
        """GitPython's Repo, made on first use (only the cat-file batch reads need it)."""
        if self._repo is None:
            import git as gitpython

            self._repo = gitpython.Repo(self.root)
        return self._repo

    # -- plumbing -------------------------------------------------------
    def run(self, *args: str, check: bool = True, strip: bool = True) -> str:
        status, out, err = _git(self.root, list(args), strip)
        if check and status != 0:
            _failed(args, status, out, err)
        return out

    def started(self, *args: str, strip: bool = True):
        """`run(*args)` begun now, in a thread that drains git's output (a full pipe would stop
        git): git works while the caller does. Calling the result waits and returns what `run`
        would (or raises what it would)."""
        done = begun(_git, self.root, list(args), strip)

        def result() -> str:
            status, out, err = done()
            if status != 0:
                _failed(args, status, out, err)
            return out
        return result

    def run_full(self, *args: str) -> tuple[int, str, str]:
        return _git(self.root, list(args))

    def rev_parse(self, rev: str) -> str | None:
        status, out, _ = self.run_full("rev-parse", "--verify", "--quiet", rev)
        return out.strip() if status == 0 else None

    def head(self) -> str | None:
        return self.rev_parse("HEAD^{commit}")

    def branch(self) -> str | None:
        status, out, _ = self.run_full("symbolic-ref", "--quiet", "--short", "HEAD")
        return out.strip() if status == 0 else None

    def config(self, key: str) -> str | None:
        status, out, _ = self.run_full("config", "--get", key)
        return out.strip() if status == 0 and out.strip() else None

    def user_cache(self, kind: str) -> Path | None:
        """This clone's `kind` file in the user's cache directory (`$XDG_CACHE_HOME/ledger/<kind>/`,
        default `~/.cache`), named by the clone's git directory; None when that cannot be named.
        Never in the repository: commands that only read it stay read-only."""
        try:
            common = (self.plain_git_dir() or self.root / self.run("rev-parse", "--git-common-dir")).resolve()
            home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        except (LedgerError, OSError, RuntimeError, KeyError):
            return None
        return Path(home) / "ledger" / kind / f"{light_sha256(bytes(common)).hexdigest()[:32]}.json"

    def plain_git_dir(self, *env: str) -> Path | None:
        """`.git` when it is this checkout's own git directory -- a plain directory, not a linked
        worktree's, with neither GIT_DIR nor GIT_COMMON_DIR (nor any of `env`) set: what rev-parse
        would answer there, without a git process. None otherwise: ask git."""
        dot = self.root / ".git"
        if dot.is_dir() and not (dot / "commondir").exists() and not {"GIT_DIR", "GIT_COMMON_DIR", *env} & set(os.environ):
            return dot
        return None

    def identity(self) -> tuple[str, str]:
        name, email = self.config("user.name"), self.config("user.email")
        if not name or not email:
            raise Refused("git user.name and user.email must be set (git config user.email you@example.com)")
        return name, email

    # -- working tree ---------------------------------------------------
    def status(self, *paths: str) -> list[tuple[str, str]]:
        """(XY code, path) for changed and untracked (not ignored) files. Read-only: without
        `--no-optional-locks`, status takes index.lock to write back the stat data it refreshed
        (a 10 MB index at 10,000 promotions: 20-30 ms), and a git command the user runs meanwhile
        fails on that lock. `paths` are paths, never globs."""
        args = ["--literal-pathspecs", "--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=all"]
        if paths:
            args += ["--", *paths]
        out = self.run(*args, strip=False)
        entries, items = [], out.split("\0")
        i = 0
        while i < len(items):
            item = items[i]
            if not item:
                i += 1
                continue
            code, path = item[:2], item[3:]
            if code[0] in "RC":  # rename/copy: next item is the source path
                i += 1
            entries.append((code, path))
            i += 1
        return entries

    def staged_started(self):
        """The paths staged (`git diff --cached`), read by git while the caller works on
        (`started`: at 10,000 promotions that read is the 10 MB index, ~12 ms); calling the
        result waits for them."""
        out = self.started("diff", "--cached", "--name-only", "-z", strip=False)
        return lambda: [p for p in out().split("\0") if p]

    def diff_bytes(self, *paths: str) -> bytes:
        out = self.run("diff", "HEAD", "--binary", "--no-ext-diff", "--", *paths, strip=False)
        return out.encode("utf-8", "surrogateescape")

    def commit(self, message: str) -> str:
        """Commits the index as it is, as `git commit --no-verify --cleanup=verbatim` would, by
        plumbing: write-tree, commit-tree, then update-ref from the HEAD it was made on (a HEAD
        moved meanwhile is an error, never overwritten). `git commit` first refreshes the stat
        data of every index entry (0.1 s at 90,000 files: 10,000 promoted dirs) and runs the
        prepare-commit-msg and post-commit hooks; this commit's message is ledger's, verbatim.
        Signed when commit.gpgSign says so, as `git commit` would (commit-tree ignores it). The
        housekeeping `git commit` runs after committing is `auto_maintenance`, for the caller to
        run when its own work is complete."""
        return self.commit_tree(self.head(), self.run("write-tree"), message)

    def commit_tree(self, old: str | None, tree: str, message: str, old_tree: str | None = None) -> str:
        """Commits `tree` on `old` (HEAD, or None: the first commit; `old_tree` its tree when known)
        as `commit` does the index's."""
        if old is not None and tree == (old_tree or self.rev_parse(f"{old}^{{tree}}")):
            raise LedgerError("git commit: nothing to commit (the index equals HEAD)")
        sign = self.run("config", "--type=bool", "--default=false", "commit.gpgsign") == "true"
        with _message_file(message) as path:
            new = self.run("commit-tree", *(["-S"] if sign else []), *(["-p", old] if old else []), "-F", path, tree)
        subject = message.split("\n", 1)[0]
        self.run("update-ref", "-m", f"commit{'' if old else ' (initial)'}: {subject}", "HEAD", new, old or "")
        return new

    def auto_maintenance(self) -> None:
        """What `git commit` runs after committing and `commit` above does not (gitops/upkeep.py)."""
        from .upkeep import after_commit

        after_commit(self)

    def reset_branch(self, old_head: str, touched: list[str]) -> None:
        """Undo a commit we made: move the branch back and restore the index for our paths."""
        self.run("reset", "--soft", old_head)
        self.run("reset", "--quiet", old_head, "--", *touched, check=False)

    def unstage(self, *paths: str) -> None:
        if self.head():
            self.run("reset", "--quiet", "HEAD", "--", *paths, check=False)
        else:
            self.run("rm", "--cached", "--quiet", "-r", "--ignore-unmatch", "--", *paths, check=False)

    # -- tags -----------------------------------------------------------
    def tag_exists(self, name: str) -> bool:
        return self.rev_parse(f"refs/tags/{name}") is not None

    def create_tag(self, name: str, commit: str, message: str, sign: bool) -> None:
        with _message_file(message) as path:
            status, _, err = self.run_full("tag", "-s" if sign else "-a", "-F", path, "--cleanup=verbatim", name, commit)
        if status == 0 and sign and not self.tag_info(name).signature.strip():
            # git 2.39 with gpg.format ssh: when ssh-keygen cannot sign (user.signingkey is not a
            # key), git prints the error but exits 0 and writes an UNSIGNED tag.
            self.delete_tag(name)
            last = err.strip().splitlines()
            raise Refused(f"could not sign tag {name}: {last[-1] if last else 'git wrote no signature'}")
        if status != 0:
            last = err.strip().splitlines()
            raise Refused(f"could not create tag {name}: {last[-1] if last else 'git tag failed'}")

    def delete_tag(self, name: str) -> None:
        self.run("tag", "-d", name, check=False)

    def tags(self, prefix: str) -> list[TagInfo]:
        """Annotated (or not) tags under refs/tags/`prefix` (a for-each-ref pattern), by refname."""
        return self._read_tags([f"refs/tags/{prefix}"])

    def tags_light(self, prefix: str) -> list[TagInfo]:
        """Tags under refs/tags/`prefix` with name, type, commit and object id only (message,
        signature and tagger left empty: git reads no tag bodies for them)."""
        out = self.run("for-each-ref", "--format=%(refname:strip=2)%00%(objecttype)%00%(*objectname)%00%(objectname)",
                       f"refs/tags/{prefix}", strip=False)
        tags = []
        for line in out.split("\n"):
            if line:
                name, otype, peeled, oid = line.split("\0")
                tags.append(TagInfo(name, otype, peeled or oid, "", "", "", "", oid))
        return tags

    def tags_matching(self, patterns: list[str]) -> list[TagInfo]:
        """Tags whose full ref matches any of `patterns` (for-each-ref patterns)."""
        return self._read_tags(patterns)

    def tags_started(self, prefix: str):
        """`tags(prefix)` read by git while the caller works on (`started`); calling the result
        waits for it and parses."""
        out = self.started(*_tag_args([f"refs/tags/{prefix}"]), strip=False)
        return lambda: _parse_tags(out())

    def _read_tags(self, patterns: list[str]) -> list[TagInfo]:
        return _parse_tags(self.run(*_tag_args(patterns), strip=False))

    def iter_tags(self, patterns: list[str]):
        """`tags_matching(patterns)`, each tag handed over as soon as git has written it: the
        caller's work on one overlaps git's reading of the next (10,000 promotion tags: git
        takes ~0.12 s to write them, parsing their records in Python ~0.2 s)."""
        for piece in _git_pieces(self.root, _tag_args(patterns), b"\0\x01"):
            tag = _tag_of(piece.decode("utf-8", "surrogateescape"))
            if tag is not None:
                yield tag

    def has_refs(self, prefix: str) -> bool:
        """Whether any ref starts with `prefix` (stops at the first)."""
        return bool(self.run("for-each-ref", "--count=1", "--format=x", prefix))

    def tag_info(self, name: str) -> TagInfo:
        found = [t for t in self.tags(name) if t.name == name]
        if not found:
            raise NotFound(f"no tag {name}")
        return found[0]

    def verify_tag(self, name: str, allowed_signers: Path) -> tuple[int, str]:
        """Runs `git verify-tag`; returns (exit status, combined messages)."""
        status, out, err = self.run_full(
            "-c", f"gpg.ssh.allowedSignersFile={allowed_signers}", "-c", "gpg.minTrustLevel=fully",
            "verify-tag", "--raw", f"refs/tags/{name}",
        )
        return status, (err + "\n" + out).strip()

    # -- history and trees ----------------------------------------------
    def is_ancestor(self, a: str, b: str) -> bool:
        return self.run_full("merge-base", "--is-ancestor", a, b)[0] == 0

    def ever_touched(self, rev: str, path: str) -> bool:
        """Whether any commit in `rev`'s history added, changed or removed `path`."""
        return bool(self.run("rev-list", "-1", rev, "--", path).strip())

    def tree_id(self, rev: str, path: str) -> str | None:
        return self.rev_parse(f"{rev}:{path}")

    def commit_message(self, rev: str) -> str:
        return self.run("log", "-1", "--format=%B", rev)

    def commits_touching(self, rng: str, path: str) -> list[str]:
        return self.run("rev-list", rng, "--", path).split()

    def changed_paths(self, base: str, head: str, *paths: str) -> list[tuple[str, str]]:
        out = self.run("diff", "--no-renames", "--name-status", "-z", base, head, "--", *paths, strip=False)
        items = [i for i in out.split("\0") if i]
        return list(zip(items[0::2], items[1::2]))

    def commits_in_range(self, rng: str) -> list[str]:
        return self.run("rev-list", "--reverse", rng).split()

    # -- review (PR report) ---------------------------------------------
    def merge_base(self, a: str, b: str) -> str | None:
        status, out, _ = self.run_full("merge-base", a, b)
        return out.strip() if status == 0 and out.strip() else None

    def log_entries(self, rng: str) -> list[dict[str, object]]:
        """Oldest first: sha, parents, subject, author, date and trailers {key: [values]} of each commit."""
        fmt = "%H%x00%P%x00%s%x00%an <%ae>%x00%aI%x00%(trailers:only,unfold)%x00%x01"
        out = self.run("log", "--reverse", f"--format={fmt}", rng, strip=False)
        entries = []
        for rec in out.split("\0\x01"):
            rec = rec.lstrip("\n")
            if not rec:
                continue
            sha, parents, subject, author, date, trailer_text = rec.split("\0")
            trailers: dict[str, list[str]] = {}
            for line in trailer_text.splitlines():
                key, sep, value = line.partition(":")
                if sep:
                    trailers.setdefault(key.strip(), []).append(value.strip())
            entries.append({"sha": sha, "parents": parents.split(), "subject": subject, "author": author,
                            "date": date, "trailers": trailers})
        return entries

    def commit_changes(self, sha: str, *paths: str) -> list[tuple[str, str]]:
        """(status, path) a commit changes below `paths`; for a merge only what differs from every
        parent (--cc), so a clean merge reports nothing."""
        out = self.run("diff-tree", "-r", "-z", "--cc", "--no-renames", "--name-status", "--no-commit-id",
                       "--root", sha, "--", *paths, strip=False)
        items = [i for i in out.split("\0") if i]
        return list(zip(items[0::2], items[1::2]))

    def tagger(self, name: str) -> str | None:
        """'Name <email>' of an annotated tag's tagger."""
        out = self.run("for-each-ref", "--format=%(taggername) %(taggeremail)", f"refs/tags/{name}")
        return out.strip() or None


@contextmanager
def _message_file(text: str):
    import tempfile  # only when a tag is made: every command imports this module

    with tempfile.NamedTemporaryFile("w", suffix=".msg", delete=False, encoding="utf-8") as fh:
        fh.write(text)
    try:
        yield fh.name
    finally:
        os.unlink(fh.name)
