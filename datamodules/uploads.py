"""Safe intake of user data: zip extraction with limits, and image-folder scanning with a report.

A zip from a browser is untrusted: no member may escape the target folder (absolute paths, `..`,
symlinks), and total size, file count and compression ratio are capped so a zip bomb cannot fill the
disk. Bad files are skipped and listed; they never crash the intake.
"""

from __future__ import annotations

import re
import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from PIL import Image, UnidentifiedImageError

from genlab.core.atomic import atomic_folder
from genlab.core.errors import DataError
from genlab.core.paths import uploads_dir

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
MAX_TOTAL_BYTES = 2 * 1024**3
MAX_FILES = 200_000
MAX_RATIO = 200.0  # uncompressed / compressed, per member
MAX_PIXELS = 40_000_000


@dataclass
class IntakeReport:
    """What an upload or folder scan found: usable files and every file skipped, with the reason."""

    accepted: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)

    def summary(self) -> str:
        text = f"{len(self.accepted)} usable file(s)"
        if self.skipped:
            shown = "; ".join(f"{n}: {r}" for n, r in self.skipped[:5])
            more = f" (and {len(self.skipped) - 5} more)" if len(self.skipped) > 5 else ""
            text += f", {len(self.skipped)} skipped: {shown}{more}"
        return text


def safe_name(name: str) -> str:
    """An upload name usable as a folder name."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip()).strip("._")
    if not cleaned:
        raise DataError("Give the upload a name made of letters, digits, '.', '_' or '-'")
    return cleaned[:80]


def extract_zip(
    zip_path: str | Path,
    dest: str | Path,
    *,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_files: int = MAX_FILES,
    max_ratio: float = MAX_RATIO,
) -> IntakeReport:
    """Extract a zip into dest safely; raises DataError when the archive as a whole is unusable."""
    dest = Path(dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    report = IntakeReport()
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as err:
        why = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise DataError(f"{Path(zip_path).name} is not a readable .zip file ({why}); upload a .zip of images") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > max_files:
            raise DataError(
                f"The zip holds {len(members)} files; the limit is {max_files}. Split it into smaller uploads."
            )
        total = sum(m.file_size for m in members)
        if total > max_total_bytes:
            raise DataError(
                f"The zip unpacks to {total / 1e9:.1f} GB; the limit is {max_total_bytes / 1e9:.1f} GB. Upload fewer or smaller images."
            )
        for m in members:
            name = m.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                report.skipped.append((name, "path escapes the upload folder"))
                continue
            if stat.S_ISLNK(m.external_attr >> 16):
                report.skipped.append((name, "symbolic link"))
                continue
            if any(p.startswith(".") or p == "__MACOSX" for p in parts):
                report.skipped.append((name, "hidden or system file"))
                continue
            if any(len(p.encode("utf-8", "surrogateescape")) > 255 for p in parts) or len(name) > 1024:
                report.skipped.append((name[:80] + ("..." if len(name) > 80 else ""), "file name too long"))
                continue
            if m.compress_size and m.file_size / m.compress_size > max_ratio:
                report.skipped.append((name, f"compression ratio over {max_ratio:.0f}:1 (zip bomb guard)"))
                continue
            target = (dest / Path(*parts)).resolve()
            if not target.is_relative_to(dest):
                report.skipped.append((name, "path escapes the upload folder"))
                continue
            if m.flag_bits & 0x1:
                report.skipped.append((name, "encrypted (password-protected zips are not supported)"))
                continue
            if m.compress_type not in _READABLE_COMPRESSION:
                report.skipped.append((name, f"compressed with an unsupported method ({m.compress_type})"))
                continue
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(m) as src, open(target, "wb") as out:
                    _copy_limited(src, out, m.file_size)
            except (
                zipfile.BadZipFile,
                OSError,
                ValueError,
                RuntimeError,
                NotImplementedError,
                EOFError,
                zlib.error,
            ) as err:
                target.unlink(missing_ok=True)
                if isinstance(err, OSError) and err.errno == 28:
                    raise DataError("The disk is full: free some space (or delete old runs) and upload again") from None
                report.skipped.append((name, f"could not be extracted: {_member_error(err)}"))
                continue
            report.accepted.append(target)
    return report


_READABLE_COMPRESSION = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


def _member_error(err: BaseException) -> str:
    """Why one member could not be read, in words (never a server path)."""
    if isinstance(err, zlib.error | EOFError | zipfile.BadZipFile):
        return "corrupt data (the zip is damaged)"
    if isinstance(err, RuntimeError) and "encrypt" in str(err).lower():
        return "encrypted"
    if isinstance(err, NotImplementedError):
        return "unsupported compression"
    if isinstance(err, OSError):
        return err.strerror or type(err).__name__
    return str(err)


def _copy_limited(src, out, declared: int) -> None:
    """Copy at most the declared size: a member whose header lies about its size is rejected."""
    written = 0
    while chunk := src.read(1 << 20):
        written += len(chunk)
        if written > declared:
            raise ValueError("member is larger than its header says")
        out.write(chunk)


def check_image(path: Path) -> str | None:
    """None when the file is a decodable image of sane size, else the reason it is not."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return "not an image file (by extension)"
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_PIXELS:
                return f"too large ({im.width}x{im.height})"
            im.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        return f"corrupt or unreadable image ({type(err).__name__})"
    return None


def scan_image_folder(
    folder: str | Path, label: str | None = None
) -> tuple[list[Path], list[int] | None, list[str], IntakeReport]:
    """Find usable images under a folder; subfolder names become class labels when there are two or more.

    label: how messages name the folder (an upload's name; messages never show a server path for it).
    """
    folder = Path(folder)
    label = label or str(folder)
    if not folder.is_dir():
        raise DataError(f"Image folder not found: {label}")
    report = IntakeReport()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if any(part.startswith(".") or part == "__MACOSX" for part in rel.parts):
            continue
        reason = check_image(path)
        if reason:
            report.skipped.append((str(rel), reason))
        else:
            report.accepted.append(path)
    if not report.accepted:
        detail = f" ({report.summary()})" if report.skipped else ""
        raise DataError(
            f"No usable images in {label}{detail}. Upload PNG or JPEG images, optionally in one subfolder per class."
        )
    top = {p.relative_to(folder).parts[0] for p in report.accepted if len(p.relative_to(folder).parts) > 1}
    flat = any(len(p.relative_to(folder).parts) == 1 for p in report.accepted)
    if len(top) >= 2 and not flat:
        class_names = sorted(top)
        index = {c: i for i, c in enumerate(class_names)}
        labels = [index[p.relative_to(folder).parts[0]] for p in report.accepted]
        return report.accepted, labels, class_names, report
    return report.accepted, None, [], report


def import_zip_upload(name: str, zip_path: str | Path) -> tuple[Path, IntakeReport]:
    """Store an uploaded zip of images as uploads/<name>/ (replacing an older one of that name).

    Extracted into a hidden temp folder and renamed into place only when it holds usable images: a failed
    or interrupted upload leaves nothing behind and never replaces a good older upload.
    """
    target = uploads_dir() / safe_name(name)
    shutil.rmtree(target.with_name(target.name + ".incoming"), ignore_errors=True)  # left by older versions
    try:
        with atomic_folder(target) as staging:
            report = extract_zip(zip_path, staging)
            _, _, _, scan = scan_image_folder(staging, label=f"the upload {target.name!r}")
            # The upload's report counts images only: extracted non-image files are listed as skipped, and
            # what is listed as skipped is not kept (a nested zip, a text file).
            for rel, _ in scan.skipped:
                (staging / rel).unlink(missing_ok=True)
            report.accepted = [target / p.relative_to(staging) for p in scan.accepted]
            report.skipped += [s for s in scan.skipped if s not in report.skipped]
    except OSError as err:
        if err.errno == 28:
            raise DataError("The disk is full: free some space (or delete old runs) and upload again") from None
        raise DataError(f"Could not store the upload {target.name!r}: {err.strerror or type(err).__name__}") from None
    return target, report


def list_uploads() -> list[str]:
    return sorted(
        p.name
        for p in uploads_dir().iterdir()
        if p.is_dir() and not p.name.endswith(".incoming") and not p.name.startswith(".")
    )
