//! [`JobQueue`] on Redis Streams (cargo feature `redis`): one queue shared by worker
//! processes on any number of machines.
//!
//! Why our own Streams code rather than a job framework (apalis + apalis-redis): the
//! port is four methods, the engine already owns retries, attempts and dead-lettering,
//! and a framework would bring its own worker loop, task storage format and
//! dependency tree to replace ~one file of Redis commands. Streams with a consumer group
//! give exactly the port's semantics: XREADGROUP hands each entry to one consumer and
//! keeps it in the group's pending list (PEL) until XACK; an entry whose consumer went
//! silent for longer than the visibility timeout is claimed by another (XCLAIM).
//!
//! Layout, for a queue named `S`:
//! - `S` — the stream. Each entry has the fields `task` (the task's JSON) and
//!   `attempt` (the attempt number of its first delivery: 1 when enqueued, n+1 when
//!   re-queued by `retry`). Consumer group `outreach-workers`.
//! - `S:delayed` — a sorted set of retried tasks waiting for their delay: score = due
//!   time (ms, Redis clock), member = `attempt|origin entry id|task JSON` (the origin id
//!   keeps two identical tasks from collapsing into one member).
//! - `S:dead` — a stream of entries that could not be decoded (written by someone else,
//!   or by an incompatible version), moved aside so they cannot jam the queue.
//!
//! How each operation keeps the contract:
//! - `receive` runs one Lua script (atomic, so two workers never move or claim the same
//!   entry twice) that moves due retries into the stream, claims one entry idle longer
//!   than the visibility timeout (a redelivery), or else reads one new entry
//!   (XREADGROUP `>`). The claim is `XPENDING … IDLE <timeout> - + 1` then XCLAIM of
//!   that id, rather than XAUTOCLAIM: to claim a single entry XAUTOCLAIM needs COUNT 1,
//!   which inspects at most 10 PEL entries per call, so an expired entry behind many
//!   busy ones (a long PEL is normal with hundreds of chunks in flight) would need a
//!   cursor loop of unbounded length; XPENDING's IDLE filter finds it in one call. Only when all three come back empty does it block, with
//!   XREADGROUP BLOCK on a connection of its own, for at most a poll interval
//!   (`min(visibility/4, 1 s)`) or until the next retry is due, then looks again; so
//!   redeliveries and retries are noticed while waiting, and an enqueue wakes a blocked
//!   worker at once.
//! - The lease is the visibility timeout: `renew` (the worker's heartbeat) resets the
//!   entry's idle time with `XCLAIM … JUSTID` (which does not count a delivery) after
//!   checking, in the same script, that the delivery count is still ours; so a running
//!   task never looks idle, and a dead worker's task is claimed one lease after its last
//!   heartbeat.
//! - `attempt` of a delivery = the entry's `attempt` field + (times delivered − 1); the
//!   delivery count is Redis's own (XPENDING), incremented by every XREADGROUP and XCLAIM.
//! - A delivery id is `entry id:delivery count:queue name`. `ack`/`retry` act only if
//!   the entry is still pending *with that delivery count*, checked in the same script
//!   that acts: a late ack from a worker presumed dead cannot remove the redelivery now
//!   running elsewhere. Acked entries are deleted (XACK + XDEL), so the stream holds
//!   only live work.
//! - Times (idle, due) are all on the Redis server's clock, so workers' clocks may differ.
//!
//! Surviving a Redis restart: commands go through a [`ConnectionManager`], which
//! reconnects; each command is retried a few times on connection errors. Blocking reads
//! use their own connections (a blocked connection cannot carry other commands, and the
//! manager's response timeout would cut the block short); one that fails is dropped and
//! a fresh one made. A restart without persistence loses the consumer group: a `NOGROUP`
//! error recreates it (from the start of the stream, so nothing enqueued since is
//! skipped) and the operation is retried; `ack`/`retry` of a delivery from before the
//! restart are then no-ops, as for any unknown id. Tasks held only in memory by a
//! non-persistent Redis are lost with it; `JobSystem::recover` re-queues unfinished jobs.
//!
//! Needs Redis 6.2 or newer (XPENDING IDLE); tested with 7.0.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::streams::{StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, AsyncConnectionConfig, Client, RedisError, RedisResult, Script};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::ports::queue::{Delivery, JobQueue, Task};

/// The consumer group every worker joins.
pub const GROUP: &str = "outreach-workers";

/// Longest single block on XREADGROUP before looking for redeliveries and due retries.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Shortest poll interval, whatever the visibility timeout.
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);
/// Retried tasks moved into the stream per `receive`, at most (bounds the script's run).
const MOVE_BATCH: u32 = 100;
/// Expired entries examined per `receive`, at most (only entries deleted from the stream
/// behind our back make it look at more than one).
const CLAIM_TRIES: u32 = 10;
/// Answer timeout for ordinary commands and scripts (all O(1) or bounded above).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Tries per command when the connection fails (a restart, a failover): with the
/// backoff below, about 1.5 s of retrying before the error reaches the caller.
const COMMAND_TRIES: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Margin over the requested block after which a blocking read is presumed lost (a
/// half-open TCP connection would otherwise wait forever: it has no response timeout).
const BLOCK_GRACE: Duration = Duration::from_secs(5);
/// Idle blocking connections kept for reuse.
const MAX_IDLE_BLOCKING: usize = 16;

/// Moves due retries, then claims one expired delivery or reads one new entry.
///
/// KEYS: stream, delayed set. ARGV: group, consumer, visibility (ms), move batch, claim
/// tries. Returns `{entry id, {field, value, …}, delivery count, ms until the next retry
/// is due (-1: none)}`, with an empty id when nothing was ready.
const POLL_SCRIPT: &str = r#"
local stream, delayed = KEYS[1], KEYS[2]
local group, consumer = ARGV[1], ARGV[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
for _, member in ipairs(due) do
  local a = string.find(member, '|', 1, true)
  local b = a and string.find(member, '|', a + 1, true)
  if b then
    redis.call('XADD', stream, '*', 'task', string.sub(member, b + 1), 'attempt', string.sub(member, 1, a - 1))
  else
    redis.call('XADD', stream .. ':dead', '*', 'delayed', member, 'reason', 'malformed delayed member')
  end
  redis.call('ZREM', delayed, member)
end

for _ = 1, tonumber(ARGV[5]) do
  local idle = redis.call('XPENDING', stream, group, 'IDLE', ARGV[3], '-', '+', 1)
  if not idle[1] then break end
  local id = idle[1][1]
  local claimed = redis.call('XCLAIM', stream, group, consumer, ARGV[3], id)
  local entry = claimed[1]
  if type(entry) == 'table' and type(entry[2]) == 'table' then
    local pending = redis.call('XPENDING', stream, group, id, id, 1)
    return {id, entry[2], pending[1][4], -1}
  end
  -- Pending but deleted from the stream (by someone else): nothing to deliver.
  redis.call('XACK', stream, group, id)
end

local read = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', 1, 'STREAMS', stream, '>')
if read and read[1] and read[1][2][1] then
  local entry = read[1][2][1]
  return {entry[1], entry[2], 1, -1}
end

local head = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
local next_due = -1
if head[2] then next_due = math.max(0, tonumber(head[2]) - now) end
return {'', {}, 0, next_due}
"#;

/// Acks (XACK + XDEL) an entry if it is still pending with the given delivery count.
///
/// KEYS: stream. ARGV: group, entry id, delivery count. Returns 1 if acked, else 0.
const ACK_SCRIPT: &str = r#"
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #pending == 0 or tonumber(pending[1][4]) ~= tonumber(ARGV[3]) then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1
"#;

/// Renews a lease: resets the entry's idle time if it is still pending with the given
/// delivery count. XCLAIM with JUSTID does not count a delivery, so the delivery id stays
/// valid; min-idle-time 0 claims it whatever its idle time (the count check already says
/// it was not redelivered).
///
/// KEYS: stream. ARGV: group, consumer, entry id, delivery count. Returns 1 if renewed.
const RENEW_SCRIPT: &str = r#"
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #pending == 0 or tonumber(pending[1][4]) ~= tonumber(ARGV[4]) then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
"#;

/// Re-queues an entry if it is still pending with the given delivery count: into the
/// delayed set (due now + delay) or, with no delay, straight back into the stream (which
/// wakes blocked readers); then acks and deletes the original.
///
/// KEYS: stream, delayed set. ARGV: group, entry id, delivery count, delay (ms).
/// Returns 1 if re-queued, else 0.
const RETRY_SCRIPT: &str = r#"
local stream, delayed = KEYS[1], KEYS[2]
local group, id = ARGV[1], ARGV[2]
local pending = redis.call('XPENDING', stream, group, id, id, 1)
if #pending == 0 or tonumber(pending[1][4]) ~= tonumber(ARGV[3]) then return 0 end
local entries = redis.call('XRANGE', stream, id, id)
if entries[1] then
  local fields = entries[1][2]
  local task, base = nil, 1
  for i = 1, #fields, 2 do
    if fields[i] == 'task' then task = fields[i + 1]
    elseif fields[i] == 'attempt' then base = tonumber(fields[i + 1]) or 1 end
  end
  if task then
    local attempt = string.format('%d', base + tonumber(ARGV[3]))
    local delay = tonumber(ARGV[4])
    if delay <= 0 then
      redis.call('XADD', stream, '*', 'task', task, 'attempt', attempt)
    else
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      redis.call('ZADD', delayed, now + delay, attempt .. '|' .. id .. '|' .. task)
    end
  end
end
redis.call('XACK', stream, group, id)
redis.call('XDEL', stream, id)
return 1
"#;

/// Removes consumers that hold no pending entry and have been idle longer than a limit,
/// except the caller. KEYS: stream. ARGV: group, idle limit (ms), the caller's name.
/// Returns how many were removed.
const PRUNE_SCRIPT: &str = r#"
local removed = 0
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for i = 1, #consumer, 2 do info[consumer[i]] = consumer[i + 1] end
  if info['name'] ~= ARGV[3] and tonumber(info['pending']) == 0
      and tonumber(info['idle']) > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
    removed = removed + 1
  end
end
return removed
"#;

/// Consumers idle this long with nothing pending are removed when a process connects:
/// every process start adds a consumer name, and without pruning the group's consumer
/// list would only grow. A live worker polls at least every second, so it is never idle
/// this long (and if it were, its next read would simply recreate it).
pub const PRUNE_IDLE_CONSUMERS_AFTER: Duration = Duration::from_secs(3600);

/// A [`JobQueue`] on a Redis stream. Cheap to clone: clones share connections.
///
/// Dropping a `receive` future while it blocks may leave an entry delivered to this
/// consumer but never returned; like any unacked delivery it is redelivered after the
/// visibility timeout.
#[derive(Clone)]
pub struct RedisQueue {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    commands: ConnectionManager,
    /// Idle connections for blocking reads (no response timeout).
    blocking: Mutex<Vec<MultiplexedConnection>>,
    stream: String,
    delayed: String,
    dead: String,
    /// This process's name in the group: `host-pid-random`.
    consumer: String,
    visibility_timeout: Duration,
    poll_interval: Duration,
    poll: Script,
    ack: Script,
    retry: Script,
    renew: Script,
}

impl fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisQueue")
            .field("stream", &self.inner.stream)
            .field("consumer", &self.inner.consumer)
            .field("visibility_timeout", &self.inner.visibility_timeout)
            .finish_non_exhaustive()
    }
}

/// What one look at the queue found.
enum Polled {
    Delivered(Delivery),
    /// An undecodable entry was moved to the dead stream: look again at once.
    Discarded,
    /// Nothing ready; the earliest delayed retry is due after this long.
    Empty(Option<Duration>),
}

/// An entry as the scripts and XREADGROUP return it.
struct RawEntry {
    id: String,
    fields: Vec<(String, String)>,
    deliveries: u64,
}

impl RedisQueue {
    /// Connects to `url` (`redis://[user:password@]host:port[/db]`) and joins the
    /// consumer group of the stream `stream_name`, creating both if needed. A delivery
    /// not acked within `visibility_timeout` is delivered again, to any worker.
    pub async fn connect(
        url: &str,
        stream_name: &str,
        visibility_timeout: Duration,
    ) -> Result<Self> {
        if stream_name.is_empty() {
            return Err(Error::Config("the Redis queue needs a stream name".into()));
        }
        if visibility_timeout < Duration::from_millis(1) {
            return Err(Error::Config(
                "the queue's visibility timeout must be at least 1 ms".into(),
            ));
        }
        let client = Client::open(url)
            .map_err(|e| Error::Config(format!("REDIS_URL is not a usable Redis URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_connection_timeout(Some(CONNECT_TIMEOUT));
        let commands = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| redis_error("connect to Redis", &e))?;
        let poll_interval = (visibility_timeout / 4).clamp(MIN_POLL_INTERVAL, MAX_POLL_INTERVAL);
        let queue = Self {
            inner: Arc::new(Inner {
                client,
                commands,
                blocking: Mutex::new(Vec::new()),
                stream: stream_name.to_owned(),
                delayed: format!("{stream_name}:delayed"),
                dead: format!("{stream_name}:dead"),
                consumer: consumer_name(),
                visibility_timeout,
                poll_interval,
                poll: Script::new(POLL_SCRIPT),
                ack: Script::new(ACK_SCRIPT),
                retry: Script::new(RETRY_SCRIPT),
                renew: Script::new(RENEW_SCRIPT),
            }),
        };
        queue.ensure_group().await?;
        match queue.prune_consumers(PRUNE_IDLE_CONSUMERS_AFTER).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, stream = stream_name, "removed idle consumers"),
            // Housekeeping only: the queue works without it.
            Err(e) => tracing::warn!(error = %e, "could not prune idle consumers"),
        }
        tracing::debug!(stream = stream_name, consumer = %queue.inner.consumer, "joined the Redis queue");
        Ok(queue)
    }

    pub fn stream_name(&self) -> &str {
        &self.inner.stream
    }

    /// This process's consumer name in the group.
    pub fn consumer_name(&self) -> &str {
        &self.inner.consumer
    }

    pub fn visibility_timeout(&self) -> Duration {
        self.inner.visibility_timeout
    }

    /// Tasks not yet acked: in the stream (ready or in flight) plus waiting for a retry.
    pub async fn len(&self) -> Result<u64> {
        let (stream, delayed) = (&self.inner.stream, &self.inner.delayed);
        self.with_retries("count the queue", |mut conn| async move {
            redis::pipe()
                .xlen(stream)
                .zcard(delayed)
                .query_async::<(u64, u64)>(&mut conn)
                .await
        })
        .await
        .map(|(ready, waiting)| ready + waiting)
    }

    pub async fn is_empty(&self) -> Result<bool> {
        Ok(self.len().await? == 0)
    }

    /// Removes the group's consumers (other than this one) that have nothing pending and
    /// were idle longer than `idle`; returns how many. [`Self::connect`] does this with
    /// [`PRUNE_IDLE_CONSUMERS_AFTER`].
    pub async fn prune_consumers(&self, idle: Duration) -> Result<u64> {
        let inner = &*self.inner;
        let idle_ms = millis(idle);
        self.with_retries("prune idle consumers", |mut conn| async move {
            Script::new(PRUNE_SCRIPT)
                .key(&inner.stream)
                .arg(GROUP)
                .arg(idle_ms)
                .arg(&inner.consumer)
                .invoke_async::<u64>(&mut conn)
                .await
        })
        .await
    }

    /// Creates the stream and the group if missing; an existing group is kept as is.
    async fn ensure_group(&self) -> Result<()> {
        let stream = &self.inner.stream;
        let created = self
            .with_retries("create the consumer group", |mut conn| async move {
                // From id 0: after a restart that lost the group but not the stream, or
                // tasks enqueued before the group existed, nothing already there is skipped.
                match conn
                    .xgroup_create_mkstream::<_, _, _, ()>(stream, GROUP, "0")
                    .await
                {
                    Ok(()) => Ok(true),
                    Err(e) if e.code() == Some("BUSYGROUP") => Ok(false),
                    Err(e) => Err(e),
                }
            })
            .await?;
        if created {
            tracing::info!(stream = %stream, group = GROUP, "created the queue's consumer group");
        }
        Ok(())
    }

    /// Runs `op` on the command connection, retrying connection failures with backoff.
    async fn with_retries<T, F, Fut>(&self, what: &'static str, op: F) -> Result<T>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        self.with_retries_raw(op)
            .await
            .map_err(|e| redis_error(what, &e))
    }

    async fn with_retries_raw<T, F, Fut>(&self, op: F) -> RedisResult<T>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let mut backoff = FIRST_BACKOFF;
        let mut tries = 1;
        loop {
            match op(self.inner.commands.clone()).await {
                Err(e) if is_transient(&e) && tries < COMMAND_TRIES => {
                    tracing::debug!(error = %e, tries, "Redis command failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    tries += 1;
                }
                other => return other,
            }
        }
    }

    /// One look: move due retries, claim an expired delivery or read a new entry.
    async fn poll(&self) -> Result<Polled> {
        let inner = &*self.inner;
        let visibility_ms = millis(inner.visibility_timeout).max(1);
        let run = || {
            self.with_retries_raw(|mut conn| async move {
                inner
                    .poll
                    .key(&inner.stream)
                    .key(&inner.delayed)
                    .arg(GROUP)
                    .arg(&inner.consumer)
                    .arg(visibility_ms)
                    .arg(MOVE_BATCH)
                    .arg(CLAIM_TRIES)
                    .invoke_async::<(String, Vec<String>, u64, i64)>(&mut conn)
                    .await
            })
        };
        let reply = match run().await {
            Err(e) if is_no_group(&e) => {
                self.group_vanished().await?;
                run().await
            }
            other => other,
        };
        let (id, flat, deliveries, next_due) =
            reply.map_err(|e| redis_error("poll the queue", &e))?;
        if id.is_empty() {
            let next_due = u64::try_from(next_due).ok().map(Duration::from_millis);
            return Ok(Polled::Empty(next_due));
        }
        let fields = pairs(flat);
        self.decode(RawEntry {
            id,
            fields,
            deliveries,
        })
        .await
    }

    async fn group_vanished(&self) -> Result<()> {
        tracing::warn!(
            stream = %self.inner.stream,
            "the queue's consumer group is gone (Redis restarted without persistence, or it was deleted); recreating it"
        );
        self.ensure_group().await
    }

    /// Turns an entry into a delivery; an entry that cannot be one goes to the dead stream.
    async fn decode(&self, entry: RawEntry) -> Result<Polled> {
        let field = |name: &str| {
            entry
                .fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let decoded = (|| -> std::result::Result<(Task, u32), String> {
            let task = field("task").ok_or("no `task` field")?;
            let task = serde_json::from_str(task)
                .map_err(|e| format!("the task is not valid JSON for a Task: {e}"))?;
            let base = match field("attempt") {
                None => 1,
                Some(text) => text
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or("the `attempt` field is not a positive number")?,
            };
            Ok((task, base))
        })();
        let reason = match decoded {
            Ok((task, base)) => {
                if entry.deliveries > 1 {
                    // Only a claim (XCLAIM after the lease lapsed) delivers an entry twice;
                    // a retry is a new entry.
                    crate::telemetry::redelivered();
                }
                let extra = u32::try_from(entry.deliveries.saturating_sub(1)).unwrap_or(u32::MAX);
                return Ok(Polled::Delivered(Delivery {
                    id: format!("{}:{}:{}", entry.id, entry.deliveries, self.inner.stream),
                    task,
                    attempt: base.saturating_add(extra),
                }));
            }
            Err(reason) => reason,
        };
        tracing::error!(
            stream = %self.inner.stream,
            entry = %entry.id,
            %reason,
            dead = %self.inner.dead,
            "an entry in the queue cannot be decoded; moving it to the dead stream"
        );
        let mut record = entry.fields.clone();
        record.push(("origin".into(), entry.id.clone()));
        record.push(("reason".into(), reason));
        let dead = &self.inner.dead;
        let record = &record;
        self.with_retries("move an undecodable entry aside", |mut conn| async move {
            conn.xadd::<_, _, _, _, String>(dead, "*", record.as_slice())
                .await
        })
        .await?;
        self.ack_entry(&entry.id, entry.deliveries).await?;
        Ok(Polled::Discarded)
    }

    /// Blocks on XREADGROUP for up to `block`, on a connection of its own.
    async fn block_read(&self, block: Duration) -> Result<Option<Polled>> {
        let inner = &*self.inner;
        let mut conn = match self.take_blocking() {
            Some(conn) => conn,
            None => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(None);
                inner
                    .client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(|e| redis_error("open a connection for blocking reads", &e))?
            }
        };
        let options = StreamReadOptions::default()
            .group(GROUP, &inner.consumer)
            .count(1)
            .block(usize::try_from(millis(block).max(1)).unwrap_or(usize::MAX));
        let keys = [&inner.stream];
        let read = conn.xread_options::<_, _, Option<StreamReadReply>>(&keys, &[">"], &options);
        let reply = match tokio::time::timeout(block + BLOCK_GRACE, read).await {
            Ok(reply) => reply,
            Err(_) => {
                tracing::warn!(stream = %inner.stream, "a blocking read never returned; dropping its connection");
                return Ok(None);
            }
        };
        match reply {
            Ok(reply) => {
                self.put_blocking(conn);
                let Some(entry) = reply
                    .and_then(|r| r.keys.into_iter().next())
                    .and_then(|key| key.ids.into_iter().next())
                else {
                    return Ok(None);
                };
                let mut fields = Vec::with_capacity(entry.map.len());
                for (name, value) in entry.map {
                    // A field that is not text cannot be ours; decode() reports it.
                    let value = redis::from_redis_value::<String>(value).unwrap_or_default();
                    fields.push((name, value));
                }
                let raw = RawEntry {
                    id: entry.id,
                    fields,
                    deliveries: 1,
                };
                self.decode(raw).await.map(Some)
            }
            Err(e) if is_no_group(&e) => {
                self.put_blocking(conn);
                self.group_vanished().await?;
                Ok(None)
            }
            Err(e) => {
                // The connection is dropped here; the next read makes a fresh one. A
                // short pause keeps a persistent failure from spinning; the next poll
                // reports it if it lasts.
                tracing::debug!(error = %e, "blocking read failed; reconnecting");
                tokio::time::sleep(FIRST_BACKOFF).await;
                Ok(None)
            }
        }
    }

    fn blocking_pool(&self) -> std::sync::MutexGuard<'_, Vec<MultiplexedConnection>> {
        // The pool is a plain Vec, consistent after every push/pop: a poisoned lock is
        // still usable.
        self.inner
            .blocking
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn take_blocking(&self) -> Option<MultiplexedConnection> {
        self.blocking_pool().pop()
    }

    fn put_blocking(&self, conn: MultiplexedConnection) {
        let mut pool = self.blocking_pool();
        if pool.len() < MAX_IDLE_BLOCKING {
            pool.push(conn);
        }
    }

    async fn ack_entry(&self, id: &str, deliveries: u64) -> Result<()> {
        let inner = &*self.inner;
        let outcome = self
            .with_retries_raw(|mut conn| async move {
                inner
                    .ack
                    .key(&inner.stream)
                    .arg(GROUP)
                    .arg(id)
                    .arg(deliveries)
                    .invoke_async::<i64>(&mut conn)
                    .await
            })
            .await;
        match outcome {
            Ok(_) => Ok(()),
            // No group: the delivery is from before a restart, an unknown id.
            Err(e) if is_no_group(&e) => Ok(()),
            Err(e) => Err(redis_error("ack a task", &e)),
        }
    }

    /// The entry id and delivery count in one of *our* delivery ids.
    fn parse_delivery<'a>(&self, delivery: &'a Delivery) -> Option<(&'a str, u64)> {
        let mut parts = delivery.id.splitn(3, ':');
        let (id, deliveries, stream) = (parts.next()?, parts.next()?, parts.next()?);
        if stream != self.inner.stream || id.is_empty() {
            return None;
        }
        Some((id, deliveries.parse().ok()?))
    }
}

#[async_trait]
impl JobQueue for RedisQueue {
    async fn enqueue(&self, task: Task) -> Result<()> {
        let json = serde_json::to_string(&task)
            .map_err(|e| Error::Database(format!("could not encode a task: {e}")))?;
        let stream = &self.inner.stream;
        let fields = [("task", json.as_str()), ("attempt", "1")];
        let fields = &fields[..];
        // A retry after a timeout may add the task twice; that is at-least-once delivery,
        // which every handler tolerates.
        self.with_retries("enqueue a task", |mut conn| async move {
            conn.xadd::<_, _, _, _, String>(stream, "*", fields).await
        })
        .await?;
        Ok(())
    }

    async fn receive(&self, wait: Duration) -> Result<Option<Delivery>> {
        let give_up = Instant::now() + wait;
        loop {
            let next_due = match self.poll().await? {
                Polled::Delivered(delivery) => return Ok(Some(delivery)),
                Polled::Discarded => continue,
                Polled::Empty(next_due) => next_due,
            };
            let now = Instant::now();
            if now >= give_up {
                return Ok(None);
            }
            let mut block = (give_up - now).min(self.inner.poll_interval);
            if let Some(due) = next_due {
                block = block.min(due.max(Duration::from_millis(1)));
            }
            match self.block_read(block).await? {
                Some(Polled::Delivered(delivery)) => return Ok(Some(delivery)),
                Some(Polled::Discarded | Polled::Empty(_)) | None => {}
            }
        }
    }

    async fn ack(&self, delivery: &Delivery) -> Result<()> {
        match self.parse_delivery(delivery) {
            Some((id, deliveries)) => self.ack_entry(id, deliveries).await,
            None => Ok(()),
        }
    }

    fn lease(&self) -> Duration {
        self.inner.visibility_timeout
    }

    /// Entries in the stream (acked ones are deleted, so: waiting or leased) plus
    /// delayed retries.
    async fn depth(&self) -> Result<Option<u64>> {
        let (stream, delayed) = (&self.inner.stream, &self.inner.delayed);
        let (live, waiting): (u64, u64) = self
            .with_retries("measure the queue", |mut conn| async move {
                redis::pipe()
                    .xlen(stream)
                    .zcard(delayed)
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Ok(Some(live + waiting))
    }

    async fn renew(&self, delivery: &Delivery) -> Result<bool> {
        let Some((id, deliveries)) = self.parse_delivery(delivery) else {
            return Ok(false);
        };
        let inner = &*self.inner;
        let outcome = self
            .with_retries_raw(|mut conn| async move {
                inner
                    .renew
                    .key(&inner.stream)
                    .arg(GROUP)
                    .arg(&inner.consumer)
                    .arg(id)
                    .arg(deliveries)
                    .invoke_async::<i64>(&mut conn)
                    .await
            })
            .await;
        match outcome {
            Ok(renewed) => Ok(renewed == 1),
            Err(e) if is_no_group(&e) => Ok(false),
            Err(e) => Err(redis_error("renew a task's lease", &e)),
        }
    }

    async fn retry(&self, delivery: &Delivery, delay: Duration) -> Result<()> {
        let Some((id, deliveries)) = self.parse_delivery(delivery) else {
            return Ok(());
        };
        let inner = &*self.inner;
        let delay_ms = millis(delay);
        let outcome = self
            .with_retries_raw(|mut conn| async move {
                inner
                    .retry
                    .key(&inner.stream)
                    .key(&inner.delayed)
                    .arg(GROUP)
                    .arg(id)
                    .arg(deliveries)
                    .arg(delay_ms)
                    .invoke_async::<i64>(&mut conn)
                    .await
            })
            .await;
        match outcome {
            Ok(_) => Ok(()),
            Err(e) if is_no_group(&e) => Ok(()),
            Err(e) => Err(redis_error("retry a task", &e)),
        }
    }
}

/// `host-pid-random`: unique per process (and per queue handle), readable in XINFO.
fn consumer_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &random[..8])
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// `[k1, v1, k2, v2, …]` → `[(k1, v1), …]`.
fn pairs(flat: Vec<String>) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut items = flat.into_iter();
    while let (Some(k), Some(v)) = (items.next(), items.next()) {
        out.push((k, v));
    }
    out
}

/// The group (or the stream) is gone. Inside a script the error's code may arrive
/// wrapped in the script's own error text, so the message is checked too.
fn is_no_group(e: &RedisError) -> bool {
    e.code() == Some("NOGROUP") || e.to_string().contains("NOGROUP")
}

/// Worth retrying on the same command: the connection broke or timed out, or the
/// server asked to wait (loading, failover).
pub(crate) fn is_transient(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || matches!(
            e.retry_method(),
            redis::RetryMethod::WaitAndRetry | redis::RetryMethod::RetryImmediately
        )
}

/// Logs the driver's detail and returns an error that names the operation.
pub(crate) fn redis_error(what: &str, e: &RedisError) -> Error {
    tracing::error!(error = %e, what, "Redis operation failed");
    Error::Database(format!("Redis: could not {what}"))
}
