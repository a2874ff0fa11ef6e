"""Outbound chunking by Exotel's rules: whole 20 ms frames, PCM multiples of 320 bytes,
at least the minimum chunk (3,200 bytes of PCM) except the padded last chunk of an
utterance, at most 100 KB.

Sans-I/O: push wire-format bytes in with :meth:`Chunker.push`, get the chunks to send back;
call :meth:`Chunker.end_utterance` when the bot's utterance is over (it pads the tail with
silence to a whole frame) and :meth:`Chunker.drop` on ``clear``. See docs/exotel.md section 1.
"""

from __future__ import annotations

from gateway.media_format import MediaFormat


class Chunker:
    """Holds at most one chunk's worth of audio; never splits a frame."""

    __slots__ = ("_buf", "_frame", "_max", "_min", "_silence", "_target")

    def __init__(self, fmt: MediaFormat, target_ms: int = 200) -> None:
        """``target_ms`` is the preferred chunk length for long utterances (smaller chunks
        make barge-in faster, since ``clear`` lets the playing chunk finish)."""
        self._frame = fmt.frame_bytes
        self._min = fmt.min_chunk_bytes
        self._max = fmt.max_chunk_bytes
        target = max(self._min, fmt.ms_to_bytes(target_ms) // self._frame * self._frame)
        self._target = min(target, self._max // 2 // self._frame * self._frame)
        self._silence = fmt.silence_byte
        self._buf = bytearray()

    @property
    def held(self) -> int:
        """Bytes held back (waiting for more audio or the end of the utterance)."""
        return len(self._buf)

    def push(self, data: bytes) -> list[bytes]:
        """Add audio of the current utterance; returns the chunks that can go out now."""
        buf = self._buf
        if not buf:
            n = len(data)
            if n < self._min:
                buf += data
                return []
            if n % self._frame == 0 and n < 2 * self._target:
                return [data]  # the common case: one ready chunk, no copy
        buf += data
        whole = len(buf) - len(buf) % self._frame
        if whole < self._min:
            return []
        target = self._target
        chunks: list[bytes] = []
        start = 0
        # Chunks of `target` bytes, then one of between target and 2*target (or the rest).
        while whole - start >= 2 * target:
            chunks.append(bytes(buf[start : start + target]))
            start += target
        chunks.append(bytes(buf[start:whole]))
        del buf[:whole]
        return chunks

    def end_utterance(self) -> list[bytes]:
        """Flush the tail padded with silence to a whole frame (may be under the minimum)."""
        if not self._buf:
            return []
        pad = -len(self._buf) % self._frame
        if pad:
            self._buf += self._silence * pad
        out = bytes(self._buf)
        self._buf.clear()
        return [out]

    def drop(self) -> int:
        """Discard what is held (on ``clear``); returns how many bytes were dropped."""
        dropped = len(self._buf)
        self._buf.clear()
        return dropped
