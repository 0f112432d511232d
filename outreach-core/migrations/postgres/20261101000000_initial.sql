-- Accounts, the credit ledger, jobs and their chunks, logs and files (PostgreSQL).
--
-- The same tables and rules as migrations/sqlite, in native types: timestamps are
-- `timestamptz` (microseconds, bound by the application as UTC), JSON is `jsonb`,
-- counters are `bigint` (the application reads every integer as i64), generated ids
-- are identity columns.

CREATE TABLE profiles (
    id                     text PRIMARY KEY,
    email                  text NOT NULL DEFAULT '',
    credits_remaining      bigint NOT NULL DEFAULT 0 CHECK (credits_remaining >= 0),
    max_credits            bigint NOT NULL DEFAULT 0,
    plan_type              text NOT NULL DEFAULT 'free',
    subscription_status    text NOT NULL DEFAULT 'inactive',
    renewal_date           timestamptz,
    stripe_customer_id     text,
    stripe_subscription_id text,
    stripe_price_id        text,
    stripe_payment_brand   text,
    stripe_payment_last4   text,
    created_at             timestamptz NOT NULL
);

CREATE INDEX profiles_email ON profiles (lower(email));

-- Append-only. The balance in `profiles` only ever changes together with a row here,
-- in one transaction that holds the profile's row lock, so ids (drawn while the lock is
-- held) follow the order in which the balance changes.
CREATE TABLE ledger (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         text NOT NULL REFERENCES profiles (id),
    change          bigint NOT NULL,
    amount_usd      double precision,
    reason          text NOT NULL,
    idempotency_key text NOT NULL,
    balance_after   bigint NOT NULL CHECK (balance_after >= 0),
    ts              timestamptz NOT NULL,
    CONSTRAINT ledger_idempotency UNIQUE (user_id, idempotency_key)
);

CREATE INDEX ledger_user_id ON ledger (user_id, id);

-- No foreign key to `profiles`: `JobStore` and `CreditLedger` are separate ports, and a
-- job store may be used without accounts (the CLI, an embedder with its own billing).
-- `seq` orders jobs created within the same microsecond (SQLite uses its rowid).
CREATE TABLE jobs (
    id               text PRIMARY KEY,
    seq              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    user_id          text NOT NULL,
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'in_progress', 'succeeded', 'failed', 'cancelled')),
    filename         text NOT NULL,
    rows             bigint NOT NULL CHECK (rows >= 0),
    chunks_total     bigint NOT NULL DEFAULT 0 CHECK (chunks_total >= 0),
    rows_processed   bigint NOT NULL DEFAULT 0,
    progress_percent double precision NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz,
    result_path      text,
    error            text,
    meta_json        jsonb NOT NULL,
    timing_json      jsonb,
    attempt          bigint NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    credits_charged  bigint NOT NULL DEFAULT 0,
    credits_refunded bigint NOT NULL DEFAULT 0
);

CREATE INDEX jobs_user_created ON jobs (user_id, created_at, seq);
CREATE INDEX jobs_status_created ON jobs (status, created_at, seq);

-- One row per finished chunk; the first record wins. Progress is derived from these
-- rows, never from a counter that concurrent chunks could overwrite.
CREATE TABLE job_chunks (
    job_id            text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    chunk             bigint NOT NULL CHECK (chunk >= 0),
    rows              bigint NOT NULL CHECK (rows >= 0),
    fallbacks         bigint NOT NULL CHECK (fallbacks >= 0),
    refundable        bigint NOT NULL CHECK (refundable >= 0),
    search_calls      bigint NOT NULL CHECK (search_calls >= 0),
    llm_calls         bigint NOT NULL CHECK (llm_calls >= 0),
    cache_hits        bigint NOT NULL CHECK (cache_hits >= 0),
    retries           bigint NOT NULL CHECK (retries >= 0),
    prompt_tokens     bigint NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens bigint NOT NULL CHECK (completion_tokens >= 0),
    millis            bigint NOT NULL CHECK (millis >= 0),
    created_at        timestamptz NOT NULL,
    PRIMARY KEY (job_id, chunk)
);

CREATE TABLE job_logs (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id     text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step       bigint NOT NULL,
    total      bigint NOT NULL,
    message    text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE INDEX job_logs_job_id ON job_logs (job_id, id);

-- File metadata. Recording the same storage path twice (a finalize task delivered
-- twice) keeps the first row.
CREATE TABLE files (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       text NOT NULL,
    job_id        text REFERENCES jobs (id) ON DELETE CASCADE,
    original_name text NOT NULL,
    storage_path  text NOT NULL,
    file_type     text NOT NULL,
    created_at    timestamptz NOT NULL,
    CONSTRAINT files_user_path UNIQUE (user_id, storage_path)
);

CREATE INDEX files_job_id ON files (job_id);
