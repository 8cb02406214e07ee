"""Big bodies are read into reused buffers and hashed on a helper thread; still verified, resumed, safe."""

from __future__ import annotations

import hashlib
import io

import pytest

from xnat.exceptions import XNATChecksumError
from xnat.transfer import download as download_module
from xnat.transfer.hashing import BackgroundMD5

from .conftest import generated

SIZE = download_module.READINTO_MIN_SIZE + 3 * 1024 * 1024 + 17  # not a whole number of buffers
MD5 = hashlib.md5(b"".join(generated(SIZE))).hexdigest()


@pytest.fixture
def buffered_reads(monkeypatch):
    """How many bodies took the reused-buffer path (so the tests below know they tested it)."""
    calls = []
    real = download_module._copy_into_buffers

    def spy(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(download_module, "_copy_into_buffers", spy)
    return calls


def test_a_big_download_is_verified_through_reused_buffers(transferer, server, tmp_path, buffered_reads):
    result = transferer.download(f"/gen/{SIZE}", tmp_path / "big.bin", expected_md5=MD5)
    assert result.md5 == MD5 and (tmp_path / "big.bin").stat().st_size == SIZE
    assert len(buffered_reads) == 1


def test_a_corrupt_big_body_is_caught_and_leaves_nothing(transferer, server, tmp_path, buffered_reads):
    server.faults.add("flip", "/gen/", at=SIZE - 5, times=10)
    with pytest.raises(XNATChecksumError, match="MD5"):
        transferer.download(f"/gen/{SIZE}", tmp_path / "big.bin", expected_md5=MD5)
    assert list(tmp_path.iterdir()) == [] and buffered_reads


def test_a_cut_big_body_resumes_and_verifies(transferer, server, tmp_path, buffered_reads):
    server.faults.add("cut", "/gen/", at=5 * 1024 * 1024 + 3)
    result = transferer.download(f"/gen/{SIZE}", tmp_path / "big.bin", expected_md5=MD5)
    assert result.attempts == 2 and result.md5 == MD5
    assert server.faults.ranges("/gen/")[1].startswith("bytes=")


def test_a_stream_that_keeps_what_it_is_given_gets_copies(transferer, server, buffered_reads):
    class Keeper(io.RawIOBase):
        def __init__(self) -> None:
            self.kept: list[object] = []

        def writable(self) -> bool:
            return True

        def write(self, data) -> int:
            self.kept.append(data)  # a reference, not a copy: a reused buffer would change under it
            return len(data)

    keeper = Keeper()
    transferer.download_stream(f"/gen/{SIZE}", keeper, expected_md5=MD5)
    assert all(isinstance(part, bytes) for part in keeper.kept)
    assert hashlib.md5(b"".join(keeper.kept)).hexdigest() == MD5 and buffered_reads


def test_the_buffer_pool_is_bounded_and_buffers_come_back() -> None:
    md5 = BackgroundMD5(depth=2, size=4)
    first, second = md5.take(), md5.take()
    first[:3] = b"abc"
    md5.submit(first, 3)
    second[:3] = b"def"
    md5.submit(second, 3)
    assert md5.hexdigest() == hashlib.md5(b"abcdef").hexdigest()
    again = {id(md5.take()), id(md5.take())}
    assert again == {id(first), id(second)}  # the same two buffers, back in the pool
    md5.update(b"ghi")  # plain chunks still work beside the pool
    assert md5.hexdigest() == hashlib.md5(b"abcdefghi").hexdigest()
