"""Commands packed by hiredis are byte for byte what redis-py would send."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import DataError

from streams.adapters.redis_connection import redis_client, with_hiredis_packing
from streams.adapters.redis_fields import snapshot_writes, update_message

EXPECTED_SNAPSHOT = Path(__file__).parents[1] / "fixtures" / "replay_basic.expected.json"


def publish_commands(snapshot: dict) -> list[tuple]:
    """The commands of one publish, as RedisPublisher builds its pipeline."""
    commands: list[tuple] = []
    for write in snapshot_writes(snapshot):
        fields = [part for pair in write.fields.items() for part in pair]
        commands.append(("DEL", write.key))
        commands.append(("HSET", write.key, *fields))
    commands.append(("SADD", "ccpulse:queues", *snapshot["queues"]))
    commands.append(("PUBLISH", "ccpulse:updates", update_message(snapshot)))
    return commands


def packed(connection: Connection, commands: list[tuple]) -> bytes:
    return b"".join(connection.pack_commands(commands))


def test_a_real_publish_packs_to_the_same_bytes() -> None:
    snapshot = orjson.loads(EXPECTED_SNAPSHOT.read_bytes())
    commands = publish_commands(snapshot)
    assert len(commands) > 3
    fast = with_hiredis_packing(Connection)()
    assert packed(fast, commands) == packed(Connection(), commands)


@pytest.mark.parametrize(
    "command",
    [
        ("HSET", "ccpulse:queue:sales ü", "asa_seconds", 12.25, "offered", 4, b"raw", b"\x00\xff"),
        ("CONFIG GET", "maxmemory"),  # a two-word command name is split, as redis-py does
        (b"CLIENT SETNAME", "ccpulse"),
        ("SET", "big", "x" * 100_000),  # past redis-py's own chunking cut-off
        ("SET", "float", 1e-7),
        ("SET", "negative", -3),
    ],
)
def test_arguments_pack_as_redis_py_packs_them(command: tuple) -> None:
    fast = with_hiredis_packing(Connection)()
    assert packed(fast, [command]) == packed(Connection(), [command])


@pytest.mark.parametrize("bad", [True, None, {"a": 1}])
def test_an_unencodable_argument_is_a_data_error_as_in_redis_py(bad: object) -> None:
    with pytest.raises(DataError):
        with_hiredis_packing(Connection)().pack_command("SET", "key", bad)


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("redis://127.0.0.1:6379/0", Connection),
        ("rediss://127.0.0.1:6380/0", SSLConnection),
        ("unix:///run/redis.sock", UnixDomainSocketConnection),
    ],
)
def test_the_url_scheme_still_picks_the_connection_class(url: str, base: type) -> None:
    client = redis_client(url, socket_timeout=2.0)
    connection_class = client.connection_pool.connection_class
    assert issubclass(connection_class, base)
    assert connection_class.pack_command is not base.pack_command
    assert client.connection_pool.connection_kwargs["socket_timeout"] == 2.0


class _RecordingWriter:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def writelines(self, data: list[bytes]) -> None:
        self.written += data

    async def drain(self) -> None:
        return None


@pytest.mark.parametrize("socket_timeout", [2.0, None])
def test_a_command_is_on_the_socket_before_the_first_wait(socket_timeout: float | None) -> None:
    """With a socket timeout redis-py sends from a task of its own (`asyncio.wait_for` on
    Python 3.11): the bytes would leave only after the caller's next wait for the loop."""
    connection_class = redis_client(
        "redis://127.0.0.1:6379/0", socket_timeout=socket_timeout
    ).connection_pool.connection_class
    connection = connection_class(socket_timeout=socket_timeout)
    writer = _RecordingWriter()
    connection._reader, connection._writer = object(), writer  # connected, as far as it knows
    packed_command = connection.pack_command("PUBLISH", "ccpulse:updates", "{}")

    async def send_then_look() -> list[bytes]:
        sending = asyncio.ensure_future(connection.send_packed_command(packed_command))
        await asyncio.sleep(0)  # the send runs up to its first wait
        sent_by_then = list(writer.written)
        await sending
        return sent_by_then

    assert asyncio.run(send_then_look()) == packed_command
    assert writer.written == packed_command  # written once
