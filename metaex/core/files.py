"""How metaex writes outputs: complete or invisible, with the user's umask, never over an input.

- `atomic_file` / `atomic_dir`: the output is built under a hidden temp name beside its target
  (`.NAME.PID@HOST.XXXX.tmp`) and renamed into place last, so a killed command leaves the old output or the new
  one, never half of one. The next write of the same target on the same host removes temps that a dead process
  left behind (another host's pids cannot be judged here).
- Temp files and folders get the permissions any file of the user's gets (mkstemp/mkdtemp make them 0600/0700).
- `guard_outputs`: one check, before anything is written, that no output is an input, lies inside an input folder
  or any folder of ours (a model, run, probe, report or study: `markers`), holds an input, or is a thing of another
  kind (a file where a folder goes, a folder without this command's marker).
- `commit_point`: every rename into place passes here. With `METAEX_FAULT_AT=N` in the environment (tests only)
  the process exits hard (`os._exit`, no cleanup, as a kill would) just before its Nth commit; with
  `METAEX_FAULT_LOG=FILE` every commit is logged there, so a test can count them.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TypeVar

from metaex.core import markers
from metaex.core.errors import InputError

_T = TypeVar("_T")
FAULT_ENV, FAULT_LOG_ENV = "METAEX_FAULT_AT", "METAEX_FAULT_LOG"
FAULT_EXIT = 86
_commits = 0
_counting = os.getpid()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def commit_point(what: str | Path) -> None:
    """Count one commit (a rename into place); the test-only fault hook exits hard before the chosen one.
    A file renamed inside a folder still being built (a temp folder) is no commit: nothing is visible yet."""
    global _commits, _counting
    if any(_TEMP.match(part) for part in Path(what).parts):
        return
    if _counting != os.getpid():   # a forked child counts its own commits from 0
        _commits, _counting = 0, os.getpid()
    _commits += 1
    log = os.environ.get(FAULT_LOG_ENV)
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {_commits} {what}\n")
    at = os.environ.get(FAULT_ENV)
    if at and _commits == int(at):
        os._exit(FAULT_EXIT)


# the writer's host is in a temp's name: on a filesystem that several machines share (a cluster's), a pid says
# whether its writer is dead only on the writer's own host, so the temps of other hosts are never judged by it
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname().split(".")[0]) or "host"


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.{os.getpid()}@{_HOST}."


_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)(?:@(?P<host>[A-Za-z0-9-]+))?\.[^.]+\.tmp$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(target: str | Path) -> list[Path]:
    """Remove the temps of `target` left by processes that no longer run (a kill mid-write); returns them."""
    target = Path(target)
    return _clean(target.parent, lambda name: name in (target.name, f"{target.name}.old"))


def clean_folder(folder: str | Path, any_host: bool = False) -> list[Path]:
    """Remove every temp in `folder` left by a process that no longer runs; returns them. `any_host`: the caller
    holds the lock of everything written there (a study cell's), so another host's temp is a dead writer's too."""
    return _clean(Path(folder), lambda name: True, any_host)


def _clean(folder: Path, wanted: Callable[[str], bool], any_host: bool = False) -> list[Path]:
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        m = _TEMP.match(p.name)
        if not m or not wanted(m["name"]):
            continue
        if (m["host"] in (None, _HOST) and not _alive(int(m["pid"]))) or (any_host and m["host"] not in (None, _HOST)):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
    return removed


# errno of a failed write (a full disk, a quota, a read-only or unwritable folder, a file size limit, an I/O error)
_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.EIO)
_OS_ERROR = re.compile(r"os error (\d+)")           # safetensors: "I/O error: No space left on device (os error 28)"
_TORCH_WRITE = ("inline_container", "PytorchStreamWriter", "file write failed")   # torch.save's own errors


def disk_error(err: BaseException, target: str | Path) -> OSError | None:
    """`err` as an OSError naming the user's `target` when it is a failed write, else None. An OSError keeps its
    errno and its file unless that is a hidden temp; safetensors and torch wrap the OS error in their own (torch's
    sometimes says no more than "unexpected pos"): these become the OSError they stand for."""
    if isinstance(err, OSError):
        if err.errno not in _WRITE_ERRNOS:
            return None
        name = err.filename
        code = err.errno
        if name is not None and not any(_TEMP.match(part) for part in Path(str(name)).parts):
            return err
    else:
        message = str(err)
        m = _OS_ERROR.search(message)
        by_text = [c for c in _WRITE_ERRNOS if os.strerror(c) in message]
        if m:
            code = int(m[1])
        elif by_text:
            code = by_text[0]
        elif any(s in message for s in _TORCH_WRITE):
            code = errno.ENOSPC if _nearly_full(Path(target)) else errno.EIO
        else:
            return None
    return OSError(code, os.strerror(code), str(target))


def _nearly_full(target: Path) -> bool:
    folder = next((p for p in (target, *target.parents) if p.exists()), Path("."))
    try:
        return shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        return False


@contextmanager
def writing_to(target: str | Path) -> Iterator[None]:
    """Failed writes in the block (`disk_error`) come out as an OSError naming `target`, the user's path."""
    try:
        yield
    except Exception as err:
        named = disk_error(err, target)
        if named is None or named is err:
            raise
        raise named from err


def _temp_beside(target: Path, make: Callable[..., _T]) -> _T:
    """`make` (mkstemp or mkdtemp) a temp beside `target`, its folder created first. Another command may remove
    that folder while it is still empty (`_check_own`: an empty folder a kill left is removed, as if never begun;
    two shards of a study start on one new folder at once), so a folder gone before the temp is made is made again,
    as git does when it races an empty-directory prune."""
    for attempt in range(8):
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            return make(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent)
        except FileNotFoundError:
            if attempt == 7:
                raise
    raise AssertionError("unreachable")


@contextmanager
def atomic_file(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """A temp file beside `path`, renamed into place only if the block succeeds (removed if it fails)."""
    target = Path(path)
    if target.is_dir():
        raise InputError("is a directory, expected a file name", str(path))
    clean_stale(target)
    with writing_to(target):
        fd, tmp = _temp_beside(target, tempfile.mkstemp)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        commit_point(target)
        os.replace(tmp, target)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        named = disk_error(err, target)
        if named is not None and named is not err:
            raise named from err
        raise


@contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """A temp folder beside `target`; when the block succeeds it replaces `target` (removed if it fails)."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise InputError("is a file, expected a folder", str(target))
    clean_stale(target)
    with writing_to(target):
        tmp = Path(_temp_beside(target, tempfile.mkdtemp))
    try:
        yield tmp
        _share(tmp)
        commit_point(target)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=_temp_prefix(target.with_name(target.name + ".old")), suffix=".tmp",
                                        dir=target.parent))
            os.replace(target, old / target.name)
            os.replace(tmp, target)
            shutil.rmtree(old)
        else:
            os.replace(tmp, target)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        named = disk_error(err, target)
        if named is not None and named is not err:
            raise named from err
        raise


def _share(folder: Path) -> None:
    """The folder (made 0700 by mkdtemp) and everything in it get the permissions of the user's umask."""
    mask = _umask()
    os.chmod(folder, 0o777 & ~mask)
    for p in folder.rglob("*"):
        if p.is_symlink():
            continue
        if p.is_dir():
            os.chmod(p, 0o777 & ~mask)
        elif not p.stat().st_mode & 0o111:   # data files a writer made private (safetensors, mkstemp) get the umask
            os.chmod(p, 0o666 & ~mask)


def remove_outputs(paths: Iterable[str | Path]) -> None:
    """Remove a step's earlier outputs before it writes new ones, so that a kill between two of its writes leaves
    a missing output (redone on resume), never an old one beside a new one."""
    for p in map(Path, paths):
        if str(p) == "-":
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


_WRITING_IN: list[Path] = []   # folders whose own commands write inside them now (a study's steps)


@contextmanager
def writing_inside(folder: str | Path) -> Iterator[None]:
    """Outputs inside `folder` belong to it for the duration (the study runner's steps write in its folder)."""
    _WRITING_IN.append(Path(folder).resolve())
    try:
        yield
    finally:
        _WRITING_IN.pop()


def _check_ancestors(out: Path, raw: str | Path) -> None:
    """An output may not land inside a folder that belongs to a model, run, probe, report or study."""
    for folder in out.parents:
        if folder in _WRITING_IN:
            continue
        kind = markers.folder_kind(folder)
        what = markers.describe(kind) if kind else "a model folder" if markers.is_model_folder(folder) else None
        if what:
            raise InputError(f"lies inside {folder}, {what}: writing there would change it; choose an output "
                             "outside it", str(raw))


def guard_outputs(inputs: Sequence[str | Path | None],
                  outputs: Sequence[tuple[str | Path | None, str] | tuple[str | Path | None, str, str]]) -> None:
    """Refuse, before anything is written, an output that would destroy something (InputError naming it).

    outputs: (path, "file") or (path, "folder", KIND) with KIND a `markers.KINDS` key; None is skipped, and so is
    `-` (stdout) for a file, while a folder output may not be `-`. An output may not be an input, lie inside an
    input folder, contain an input, or lie inside any folder of a model, run, probe, parts, report or study (their
    markers say so; a study's own steps write inside it under `writing_inside`); two outputs may not be the same
    path; a file output may not be an existing folder, nor a folder output an existing file. An existing non-empty
    folder output must carry the marker of KIND (an earlier output of this command): anything else is refused.
    Temps a killed earlier run left in (or beside) an output are removed first.
    """
    if sum(p is not None and str(p) == "-" for p in inputs) > 1:
        raise InputError("is given for two inputs: stdin holds one of them; give the others as files", "-")
    ins = [Path(p).resolve() for p in inputs if p is not None and str(p) != "-"]
    seen: list[Path] = []
    for raw, kind, *own in outputs:
        if raw is not None and str(raw) == "-" and kind == "folder":
            raise InputError("`-` (standard output) cannot be a folder: give a folder name", "-")
        if raw is None or str(raw) == "-":
            continue
        out = Path(raw).resolve()
        for i in ins:
            if out == i:
                raise InputError("is also an input of this command: choose another output", str(raw))
            if _inside(out, i):
                raise InputError(f"lies inside the input {i}: choose an output outside it", str(raw))
            if _inside(i, out):
                raise InputError(f"holds the input {i}: writing there would replace it; choose another output",
                                 str(raw))
        if out in seen:
            raise InputError("is given twice as an output", str(raw))
        seen.append(out)
        _check_ancestors(out, raw)
        if kind == "file" and out.is_dir():
            raise InputError("is a folder, expected a file name", str(raw))
        if kind == "file":
            clean_stale(out)    # temps that a killed earlier write of this file left beside it
        if kind == "folder" and out.exists() and not out.is_dir():
            raise InputError("is a file, expected a folder", str(raw))
        if kind == "folder" and out.is_dir():
            _check_own(out, raw, own[0])


def _check_own(out: Path, raw: str | Path, kind: str) -> None:
    """A folder output holds nothing or an earlier output of the same kind; temps of dead runs are removed only then
    (nothing is ever removed from a folder that is not ours). Inside a study folder its runner writes in, an unmarked
    folder is the study's own (a parts folder, or a probe a kill cut short, of a study begun before markers)."""
    found = markers.folder_kind(out)
    ours = found == kind or (found is None and any(root in out.parents for root in _WRITING_IN))
    if not ours and any(not _TEMP.match(p.name) for p in out.iterdir()):
        what = f" ({markers.describe(found)})" if found else ""
        raise InputError(f"is a folder this command did not write{what}; choose a new or empty folder", str(raw))
    clean_folder(out)    # temps that a killed earlier run of this command left
    if not any(out.iterdir()):   # a kill before the folder's first file: as if it had never begun
        out.rmdir()
