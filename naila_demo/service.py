"""`async with` for things that have async start() and stop()."""

from __future__ import annotations

from typing import Self


class AsyncService:
    """Base: `async with x:` runs start(), then stop() on exit, and also when start() fails."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        """Must be safe after a partial start() and when called twice."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
