"""kombu's Redis transport, with fewer round trips for the one process that feeds a worker.

A Celery worker's consumer process fetches, reserves, hands out and acknowledges every task,
and with kombu's own transport each task costs it three round trips to Redis, one after the
other: BRPOP the message, MULTI/ZADD/HSET/EXEC to keep it in `unacked` until it is
acknowledged, MULTI/ZREM/HDEL/EXEC to acknowledge it. While that process waits, a free pool
process has nothing to run. This transport keeps kombu's keys, formats and recovery (`unacked`,
`unacked_index`, restore after the visibility timeout) and changes three things:

- Fetch and reserve in one script. While the last fetch found a message, the next one pops the
  first non-empty list (same priority and queue order as kombu's BRPOP) and records it in
  `unacked` atomically. Only when the queues are empty does the consumer fall back to kombu's
  blocking BRPOP. A message is never out of Redis's lists without being in `unacked` (with
  BRPOP, a consumer killed between the pop and the reserve loses it).
- Acknowledgements ride along. An ack is recorded at once (the consumer may fetch again) and
  sent to Redis with the consumer's next round trip: the next fetch if one is about to go,
  else before the event loop waits again, or when the consumer is cancelled or closed. A
  process killed in that moment has its message restored after the visibility timeout, as it
  would if killed just before acknowledging.
- One Redis client object per channel instead of one per call: redis-py's constructor copies a
  few hundred reply callbacks each time. The object holds no connection (each command borrows
  one from the channel's pool); it is made again in a forked process.

A message that is not a kombu message (not JSON, or without the envelope's delivery tag and
info) is moved to the list UNREADABLE_KEY and logged; kombu would hand it to the consumer, which
stops the worker ("Unrecoverable error") after the message is already popped and lost.

Consumers that take messages without acknowledgements (`no_ack`, e.g. Celery's control
replies) and channels without a prefetch limit keep kombu's path unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import deque
from functools import cached_property
from queue import Empty
from time import monotonic, time
from typing import Any

import redis
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

from tasklane_contract import leases
from tasklane_contract.records import REQUEUED_KEY_PREFIX, RESULT_KEY_PREFIX
from tasklane_contract.reservations import (
    ACKNOWLEDGE_FUNCTION,
    ACKNOWLEDGE_HELD,
    GIVE_BACK_HELD,
    HOLDER_PROPERTY,
    HOLDERS_KEY,
    INTERRUPTED,
    REQUEUED_TOTAL_KEY,
    SHUTDOWN,
    holder_record,
    reserve_popped_script,
    reserved_entry,
)

logger = logging.getLogger(__name__)

# Where a message that is not a kombu message goes instead of to a consumer: kombu would pop it
# and crash the worker's consumer ("Unrecoverable error"), losing the message. Kept here, it can
# be read and removed by hand (`LRANGE`, `DEL`).
UNREADABLE_KEY = "tasklane:unreadable-messages"

# KEYS: unacked hash, unacked index, unreadable list, holders hash, then the lists in fetch
# order. ARGV: reservation time, holder ('' for a consumer without one), number of acknowledged
# tags, the tags.
# Returns false, or {position of the list among the lists, message, 1 if reserved or 0 if it
# was set aside as unreadable}.
FETCH_AND_RESERVE = (
    ACKNOWLEDGE_FUNCTION
    + r"""
acknowledge(KEYS[1], KEYS[2], KEYS[4], ARGV[2], 4, 3 + tonumber(ARGV[3]))
for k = 5, #KEYS do
    local raw = redis.call('RPOP', KEYS[k])
    if raw then
        local ok, message = pcall(cjson.decode, raw)
        local properties = ok and type(message) == 'table' and message['properties']
        local tag = type(properties) == 'table' and properties['delivery_tag']
        local info = type(properties) == 'table' and properties['delivery_info']
        if type(tag) ~= 'string' or type(info) ~= 'table' then
            redis.call('LPUSH', KEYS[3], raw)
            return {k - 4, raw, 0}
        end
        redis.call('ZADD', KEYS[2], ARGV[1], tag)
        -- kombu's form of a reserved message: [message, exchange, routing key]
        redis.call('HSET', KEYS[1], tag, '[' .. raw .. ',' .. cjson.encode(info['exchange'] or '')
            .. ',' .. cjson.encode(info['routing_key'] or '') .. ']')
        if ARGV[2] ~= '' then
            redis.call('HSET', KEYS[4], tag, ARGV[2] .. '\n' .. #raw .. '\n' .. KEYS[k])
        end
        return {k - 4, raw, 1}
    end
end
return false
"""
)


def envelope(raw: bytes | str) -> dict[str, Any] | None:
    """The decoded message if it has kombu's envelope (the fields a consumer needs), else None;
    the same rule as the fetch script's."""
    try:
        message = loads(bytes_to_str(raw))
    except ValueError:
        return None
    properties = message.get("properties") if isinstance(message, dict) else None
    if not isinstance(properties, dict):
        return None
    if isinstance(properties.get("delivery_tag"), str) and isinstance(
        properties.get("delivery_info"), dict
    ):
        return message  # type: ignore[no-any-return]
    return None


class QoS(kombu_redis.QoS):
    channel: Channel

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Acked, not yet sent. A deque: a threads pool acknowledges from its own threads, and
        # appending and popping a deque are atomic, so no ack is dropped while others are sent.
        self.pending_acks: deque[str] = deque()
        # Set while a message the fetch script already reserved is being delivered.
        self.reserved_in_redis = False

    def append(self, message: Any, delivery_tag: str) -> None:
        holder = self.channel.reservation_holder()
        if holder:
            # The task's process stores its results only while this holder holds it.
            message.properties[HOLDER_PROPERTY] = holder
        if self.reserved_in_redis:
            virtual.QoS.append(self, message, delivery_tag)
            return
        popped, self.channel.popped = self.channel.popped, None
        info = message.delivery_info
        if popped is None:  # not from BRPOP (basic_get): kombu's reservation, no holder
            self.flush_acks()
            kombu_redis.QoS.append(self, message, delivery_tag)
            return
        source_list, raw = popped
        entry, length = reserved_entry(raw, info["exchange"], info["routing_key"])
        record = holder_record(holder, length, source_list) if holder else ""
        self._run_with_acks(self._reserve_popped, [holder, time(), delivery_tag, entry, record])
        virtual.QoS.append(self, message, delivery_tag)

    def ack(self, delivery_tag: str) -> None:
        self.pending_acks.append(delivery_tag)
        virtual.QoS.ack(self, delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if requeue and self.channel.holder:
            self.flush_acks()
            self.give_back([delivery_tag])
            virtual.QoS.ack(self, delivery_tag)
        elif requeue:
            super().reject(delivery_tag, requeue=True)
        else:  # dropped: removed from Redis like an acknowledgement
            self.ack(delivery_tag)

    def flush_acks(self) -> None:
        if self.pending_acks:
            self._run_with_acks(self._acknowledge, [self.channel.holder])

    def _run_with_acks(self, script: Any, args: list[Any]) -> None:
        """`script` with the pending acks after `args`, in one round trip."""
        acks = self.take_acks()
        try:
            with self.channel.conn_or_acquire() as client:
                script(keys=self._keys, args=[*args, *acks], client=client)
        except Exception:
            self.give_back_acks(acks)
            raise

    def take_acks(self) -> list[str]:
        taken = []
        with contextlib.suppress(IndexError):
            while True:
                taken.append(self.pending_acks.popleft())
        return taken

    def give_back_acks(self, acks: list[str]) -> None:
        """Acks whose sending failed, to send again (removing a tag twice is harmless)."""
        self.pending_acks.extendleft(reversed(acks))

    def give_back(self, tags: list[str]) -> None:
        """Give the tags this channel's holder still holds back to their queue at once."""
        keeper = leases.current()
        reason = SHUTDOWN if keeper is not None and keeper.stopping else INTERRUPTED
        with self.channel.conn_or_acquire() as client:
            self._give_back_held(
                keys=[*self._keys, REQUEUED_TOTAL_KEY],
                args=[
                    self.channel.holder,
                    reason,
                    self.channel.requeued_marker_s,
                    RESULT_KEY_PREFIX,
                    REQUEUED_KEY_PREFIX,
                    *tags,
                ],
                client=client,
            )

    def restore_unacked(self, client: Any = None) -> None:
        self.flush_acks()  # an acknowledged message must not be restored
        if not self.channel.holder:
            super().restore_unacked(client)
            return
        self._flush()
        tags = list(self._delivered)
        if tags:
            self.give_back(tags)
        self._delivered.clear()

    def _remove_from_indices(self, delivery_tag: str, pipe: Any = None) -> Any:
        # kombu's own removals (restore after the visibility timeout) drop the holder record.
        return super()._remove_from_indices(delivery_tag, pipe).hdel(HOLDERS_KEY, delivery_tag)

    @property
    def _keys(self) -> list[str]:
        return [HOLDERS_KEY, self.unacked_key, self.unacked_index_key]

    @cached_property
    def _acknowledge(self) -> Any:
        return self.channel.client.register_script(ACKNOWLEDGE_HELD)

    @cached_property
    def _reserve_popped(self) -> Any:
        with self.channel.conn_or_acquire() as client:
            version = str(client.info("server").get("redis_version", "0"))
        return self.channel.client.register_script(reserve_popped_script(version))

    @cached_property
    def _give_back_held(self) -> Any:
        return self.channel.client.register_script(GIVE_BACK_HELD)


class Channel(kombu_redis.Channel):
    QoS = QoS
    _brpop_sent_at: Any = None
    _in_poll: Any = False
    _shared_client: tuple[int, Any, Any] | None = None  # (pid, pool, client)

    # Seconds a task's requeued marker is kept (the results' lifetime), from transport options.
    requeued_marker_s = 86400
    from_transport_options = (  # type: ignore[assignment]
        *kombu_redis.Channel.from_transport_options,
        "requeued_marker_s",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._holder: str | None = None
        # (list, message) that BRPOP just took, while it is delivered
        self.popped: tuple[str, bytes] | None = None
        super().__init__(*args, **kwargs)
        self._no_ack_tags: set[str] = set()
        self._queues_may_hold_more = True  # so the first fetch tries the script
        # (queues in fetch order, acks sent) while a fetch script's reply is awaited
        self.script_fetch: tuple[list[str], list[str]] | None = None

    def basic_consume(
        self, queue: str, no_ack: bool, callback: Any, consumer_tag: str, **kwargs: Any
    ) -> Any:
        if no_ack:
            self._no_ack_tags.add(consumer_tag)  # kombu returns no tag: the one given is kept
        return super().basic_consume(queue, no_ack, callback, consumer_tag, **kwargs)

    def basic_cancel(self, consumer_tag: str) -> Any:
        self._no_ack_tags.discard(consumer_tag)
        if self.script_fetch is None and not self._closing:  # close() has sent them already
            self.qos.flush_acks()
        return super().basic_cancel(consumer_tag)

    def reservation_holder(self) -> str:
        """This channel's holder id, taken with its lease on first use; '' in a process without
        a lease keeper (not a worker), whose reservations are kombu's, without a holder."""
        if self._holder is None:
            keeper = leases.current()
            if keeper is None:
                return ""
            self._holder = keeper.new_holder()
        return self._holder

    @property
    def holder(self) -> str:
        """The holder id if this channel has reserved under one, else ''."""
        return self._holder or ""

    def close(self) -> None:
        try:
            if not self.closed:
                if self.script_fetch is not None and self._in_poll:
                    with contextlib.suppress(Empty):
                        self._brpop_read()  # its message, if any, is given back below
                if self._qos is not None:
                    # If Redis is gone, what this channel held comes back once its lease
                    # expires (or after the visibility timeout, without a lease).
                    with contextlib.suppress(*self.connection_errors):
                        self._qos.flush_acks()
            super().close()
        finally:
            self._end_lease()

    def _end_lease(self) -> None:
        holder, self._holder = self._holder, None
        keeper = leases.current()
        if holder and keeper is not None:
            # Whatever the close could not give back, the next sweep does.
            keeper.release(holder, expire_now=True)

    def _on_connection_disconnect(self, connection: Any) -> None:
        # The fetch connection dropped with a script's reply outstanding (kombu forgets the
        # fetch then): whether its acks were applied is unknown, so they go with the next one.
        if self.script_fetch is not None and self._in_poll is connection:
            _queues, acks = self.script_fetch
            self.script_fetch = None
            self.qos.give_back_acks(acks)
        super()._on_connection_disconnect(connection)

    def _brpop_start(self, timeout: Any = None) -> None:
        # Sent like kombu's BRPOP on the fetch connection, its reply read when the socket is
        # readable: the event loop goes on with the pool meanwhile.
        if not (self._queues_may_hold_more and self._fetches_by_script()):
            super()._brpop_start(timeout)
            return
        queues = self._queue_cycle.consume(len(self.active_queues))
        if not queues:
            return
        lists = [self._q_for_pri(queue, pri) for pri in self.priority_steps for queue in queues]
        qos = self.qos
        holder = self.reservation_holder()
        acks = qos.take_acks()
        self.script_fetch = (queues, acks)
        connection = self.client.connection
        self._in_poll = connection
        self._brpop_sent_at = monotonic()
        # EVAL, not EVALSHA: Redis caches the script by its hash either way, and a Redis that
        # restarted or flushed its scripts cannot answer NOSCRIPT in the middle of the loop.
        connection.send_command(
            "EVAL",
            FETCH_AND_RESERVE,
            4 + len(lists),
            qos.unacked_key,
            qos.unacked_index_key,
            UNREADABLE_KEY,
            HOLDERS_KEY,
            *lists,
            time(),
            holder,
            len(acks),
            *acks,
        )

    def _brpop_read(self, **options: Any) -> Any:
        fetch, self.script_fetch = self.script_fetch, None
        try:
            if fetch is None:
                return self._read_brpop_reply(**options)
            return self._read_script_reply(*fetch, **options)
        finally:
            self._in_poll = None
            self._flush_brpop_reauth()

    def _read_brpop_reply(self, **options: Any) -> bool:
        try:
            found = self.client.parse_response(self.client.connection, "BRPOP", **options)
        except self.connection_errors:
            self.client.connection.disconnect()  # the next turn reconnects
            raise
        if not found:
            raise Empty()
        key, raw = found
        queue = bytes_to_str(key).rsplit(self.sep, 1)[0]  # a priority list's queue
        self._queue_cycle.rotate(queue)
        self._queues_may_hold_more = True  # a message came: more may follow it
        message = envelope(raw)
        if message is None:
            self._create_client().lpush(UNREADABLE_KEY, raw)
            self._report_unreadable(queue, raw)
            raise Empty()
        self.popped = (bytes_to_str(key), raw)  # for the reservation, in QoS.append
        try:
            self.connection._deliver(message, queue)
        finally:
            self.popped = None
        return True

    def _read_script_reply(self, queues: list[str], acks: list[str], **options: Any) -> bool:
        try:
            found = self.client.parse_response(self.client.connection, "EVAL", **options)
        except Exception:
            self.qos.give_back_acks(acks)  # unknown whether they were applied
            self.client.connection.disconnect()
            raise
        if not found:
            self._queues_may_hold_more = False  # BRPOP waits for the next one
            raise Empty()
        position, raw, reserved = found
        queue = queues[(int(position) - 1) % len(queues)]
        self._queue_cycle.rotate(queue)
        if not reserved:
            self._report_unreadable(queue, raw)
            raise Empty()
        qos = self.qos
        qos.reserved_in_redis = True
        try:
            self.connection._deliver(loads(bytes_to_str(raw)), queue)
        finally:
            qos.reserved_in_redis = False
        return True

    @staticmethod
    def _report_unreadable(queue: str, raw: bytes) -> None:
        logger.error(
            "queue %s held a message that is not a kombu message (%d bytes, starting %r); "
            "moved to the Redis list %s",
            queue,
            len(raw),
            raw[:80],
            UNREADABLE_KEY,
        )

    def _poll_error(self, type: str, **options: Any) -> Any:
        if type == "BRPOP" and self.script_fetch is not None:
            return self._brpop_read(**options)
        return super()._poll_error(type, **options)

    def _fetches_by_script(self) -> bool:
        return not self._no_ack_tags and bool(self.qos.prefetch_count) and not self.global_keyprefix

    def _create_client(self, asynchronous: bool = False) -> Any:
        if self.connection is None or self.connection.client is None:
            # The transport was closed under this channel: Celery closes a connection again
            # after a connection error, and kombu then builds a pool from no address (an
            # AttributeError, which stops the worker). A connection error is what it is.
            raise redis.exceptions.ConnectionError("the channel's connection is closed")
        if asynchronous:  # the blocking fetch's own client, which kombu already keeps
            return super()._create_client(asynchronous=True)
        shared = self._shared_client
        if shared is None or shared[0] != os.getpid() or shared[1] is not self.pool:
            client = super()._create_client()
            shared = (os.getpid(), self.pool, client)
            self._shared_client = shared
        return shared[2]


class Poller(kombu_redis.MultiChannelPoller):
    def on_poll_start(self) -> None:
        super().on_poll_start()  # fetches may carry the pending acks
        for channel in self._channels:
            if channel.script_fetch is None:  # else the next fetch, right after it, takes them
                channel.qos.flush_acks()  # before the loop waits


class Transport(kombu_redis.Transport):
    Channel = Channel
    cycle: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cycle = Poller()


# The `broker_transport` setting: kombu takes it over the URL's scheme.
TRANSPORT = f"{__name__}:Transport"
