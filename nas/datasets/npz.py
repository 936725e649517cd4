"""An uploaded ``.npz`` read within fixed bounds: the directory and headers first, data only once admitted.

``np.load`` decompresses a whole member before anyone sees its shape, so a 1 MB upload of compressed
zeros becomes a gigabyte in memory (a zip bomb). Here the zip's end record and central directory are
checked first (how many members, how they are compressed, how much they claim to inflate), then each
member's ``.npy`` header (NumPy's format, ``numpy.lib.format``: version, shape, dtype) is read without
its data. The caller judges the declared shape and dtype; ``NpzArchive.read`` then decompresses the
data in chunks into an array of exactly the declared size, refusing a member that holds more or less.

Every refusal is ``Refused``, holding ``nas.errors.Problem``s that name ``file`` (the archive as a
whole, the upload's form field) or the array ("images").
"""

from __future__ import annotations

import io
import math
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np
from numpy.lib import format as npy_format

from nas.errors import Problem

MAX_MEMBERS = 16  # images and labels, and a few extras a user's tool may add
MAX_DIRECTORY_BYTES = 64 * 1024  # the zip's central directory: about 100 bytes a member as np.savez writes it
MAX_RATIO = 100  # decoded / compressed for a member over RATIO_FLOOR: photos deflate 1-10x, zeros ~1000x
RATIO_FLOOR = 1024 * 1024  # smaller members (a few thousand constant labels) may compress further; harmless
MAX_HEADER_BYTES = 10_000  # numpy's own default bound on a .npy header
CHUNK_BYTES = 1024 * 1024  # data is decompressed this much at a time
METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # what np.savez and np.savez_compressed write
_END = b"PK\x05\x06"
_END_SIZE = 22
_ZIP64_LOCATOR = b"PK\x06\x07"
_READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError)


class Refused(Exception):
    """The archive, or an array in it, cannot be read safely: ``problems`` says why, each at its field."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Header:
    """What a member's ``.npy`` header declares; ``offset`` is where its data starts in the member."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    offset: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize  # Python integers: 10**12 elements do not overflow


class NpzArchive:
    """An ``.npz`` whose directory passed the checks; ``members`` maps each array's name (``images`` for
    the member ``images.npy``, as ``np.load`` names it) to its zip entry. ``max_bytes`` bounds what all
    members together declare decoded (their headers aside)."""

    def __init__(self, content: bytes, max_bytes: int) -> None:
        _check_end_record(content)
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(content))
        except _READ_ERRORS as error:
            raise Refused(Problem("file", f"not a NumPy .npz archive ({error.__class__.__name__}: {error})")) from None
        try:
            self.members = _members(self._zip.infolist(), max_bytes)
        except Refused:
            self._zip.close()
            raise

    def __enter__(self) -> NpzArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self._zip.close()

    def header(self, name: str) -> Header:
        """The ``.npy`` header of array ``name``, read without its data."""
        with _reading(name), self._zip.open(self.members[name]) as stream:
            version = npy_format.read_magic(stream)
            if version == (1, 0):
                shape, fortran_order, dtype = npy_format.read_array_header_1_0(stream, max_header_size=MAX_HEADER_BYTES)
            elif version == (2, 0):
                shape, fortran_order, dtype = npy_format.read_array_header_2_0(stream, max_header_size=MAX_HEADER_BYTES)
            else:
                raise Refused(Problem(name, f".npy format version {version[0]}.{version[1]} is not read; "
                                            "save it with np.savez (versions 1.0 and 2.0)"))
            offset = stream.tell()
        if dtype.hasobject:
            raise Refused(Problem(name, f"dtype {dtype} holds Python objects, which cannot be read without pickle"))
        return Header(tuple(shape), dtype, fortran_order, offset)

    def read(self, name: str, header: Header) -> np.ndarray:
        """The data of array ``name`` as ``header`` declares it, decompressed a chunk at a time into an
        array of exactly ``header.nbytes``: a member holding more or less is refused, the larger before
        any of it is decompressed (zipfile stops at the directory's size and checks the CRC there)."""
        held = self.members[name].file_size - header.offset
        if held != header.nbytes:
            raise Refused(Problem(name, f"the member holds {held:,} bytes of data but its header declares "
                                        f"{header.nbytes:,} (shape {header.shape}, dtype {header.dtype})"))
        flat = np.empty(math.prod(header.shape), header.dtype)
        raw = flat.view(np.uint8)
        with _reading(name), self._zip.open(self.members[name]) as stream:
            stream.read(header.offset)
            filled = 0
            while filled < len(raw):
                got = stream.readinto(raw[filled:filled + CHUNK_BYTES])
                if not got:
                    raise Refused(Problem(name, f"the data ends after {filled:,} of {len(raw):,} bytes"))
                filled += got
            if stream.read(1):
                raise Refused(Problem(name, f"the member holds more than the {len(raw):,} bytes its header declares"))
        return flat.reshape(header.shape, order="F" if header.fortran_order else "C")


def _check_end_record(content: bytes) -> None:
    """Refuse, before ``zipfile`` parses the central directory, an archive whose end record claims more
    members or a larger directory than an upload needs (parsing 100,000 entries costs memory), or that
    has zip64 end records (never needed below 65,535 members and 4 GiB). Finds the end record as
    ``zipfile`` does; without one, ``zipfile`` says the file is not an archive."""
    if content[-_END_SIZE:-_END_SIZE + 4] == _END and content[-2:] == b"\0\0":
        end = len(content) - _END_SIZE
    else:
        end = content.rfind(_END, max(0, len(content) - _END_SIZE - 0xFFFF))
        if end < 0 or end + _END_SIZE > len(content):
            return
    if end >= 20 and content[end - 20:end - 16] == _ZIP64_LOCATOR:
        raise Refused(Problem("file", "a zip64 archive; an .npz of this size is a plain zip (save it with np.savez)"))
    entries = int.from_bytes(content[end + 10:end + 12], "little")
    directory = int.from_bytes(content[end + 12:end + 16], "little")
    if entries > MAX_MEMBERS:
        raise Refused(Problem("file", f"{entries:,} members; an .npz of 'images' and 'labels' needs at most "
                                      f"{MAX_MEMBERS}"))
    if directory > MAX_DIRECTORY_BYTES:
        raise Refused(Problem("file", f"a {directory:,}-byte zip directory, more than the {MAX_DIRECTORY_BYTES:,} "
                                      f"bytes {MAX_MEMBERS} members need"))


def _members(infos: list[zipfile.ZipInfo], max_bytes: int) -> dict[str, zipfile.ZipInfo]:
    if len(infos) > MAX_MEMBERS:
        raise Refused(Problem("file", f"{len(infos):,} members; an .npz of 'images' and 'labels' needs at most "
                                      f"{MAX_MEMBERS}"))
    members: dict[str, zipfile.ZipInfo] = {}
    problems = []
    for info in infos:
        name = info.filename.removesuffix(".npy")
        if name in members:
            problems.append(Problem("file", f"member {info.filename!r} appears twice"))
        members[name] = info
        if info.flag_bits & 0x1:
            problems.append(Problem("file", f"member {info.filename!r} is encrypted"))
        if info.compress_type not in METHODS:
            problems.append(Problem("file", f"member {info.filename!r} uses zip compression method "
                                            f"{info.compress_type}; np.savez (stored) and np.savez_compressed "
                                            "(deflate) are read"))
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            problems.append(Problem("file", f"member {info.filename!r} inflates {info.compress_size:,} bytes to "
                                            f"{info.file_size:,}, more than {MAX_RATIO}x; a calibration set "
                                            "compresses far less (is it mostly zeros?)"))
    declared = sum(info.file_size for info in infos)
    if declared > max_bytes + len(infos) * MAX_HEADER_BYTES:
        problems.append(Problem("file", f"the members decode to {declared:,} bytes, more than the {max_bytes:,} "
                                        "a calibration set may hold"))
    if problems:
        raise Refused(*problems)
    return members


@contextmanager
def _reading(name: str) -> Iterator[None]:
    """Errors of reading a member (a bad zip entry, a corrupt stream, a malformed header) as ``Refused``."""
    try:
        yield
    except _READ_ERRORS as error:
        raise Refused(Problem(name, f"could not be read ({error.__class__.__name__}: {error})")) from None
