-- Accounts, the credit ledger, jobs and their chunks, logs and files.
--
-- Timestamps are RFC 3339 text in UTC with exactly six fractional digits
-- (`2026-11-01T09:30:00.123456Z`): fixed width, so text order is time order, and
-- microseconds, so a value round-trips through PostgreSQL's timestamptz unchanged.
-- They are always bound by the application, never defaulted here, so every row has
-- the same format.

CREATE TABLE profiles (
    id                     TEXT PRIMARY KEY NOT NULL,
    email                  TEXT NOT NULL DEFAULT '',
    credits_remaining      INTEGER NOT NULL DEFAULT 0 CHECK (credits_remaining >= 0),
    max_credits            INTEGER NOT NULL DEFAULT 0,
    plan_type              TEXT NOT NULL DEFAULT 'free',
    subscription_status    TEXT NOT NULL DEFAULT 'inactive',
    renewal_date           TEXT,
    stripe_customer_id     TEXT,
    stripe_subscription_id TEXT,
    stripe_price_id        TEXT,
    stripe_payment_brand   TEXT,
    stripe_payment_last4   TEXT,
    created_at             TEXT NOT NULL
);

CREATE INDEX profiles_email ON profiles (lower(email));

-- Append-only. The balance in `profiles` only ever changes together with a row here.
CREATE TABLE ledger (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         TEXT NOT NULL REFERENCES profiles (id),
    change          INTEGER NOT NULL,
    amount_usd      REAL,
    reason          TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    balance_after   INTEGER NOT NULL,
    ts              TEXT NOT NULL,
    UNIQUE (user_id, idempotency_key)
);

CREATE INDEX ledger_user_id ON ledger (user_id, id);

-- No foreign key to `profiles`: `JobStore` and `CreditLedger` are separate ports, and a
-- job store may be used without accounts (the CLI, an embedder with its own billing).
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY NOT NULL,
    user_id          TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'in_progress', 'succeeded', 'failed', 'cancelled')),
    filename         TEXT NOT NULL,
    rows             INTEGER NOT NULL CHECK (rows >= 0),
    chunks_total     INTEGER NOT NULL DEFAULT 0 CHECK (chunks_total >= 0),
    rows_processed   INTEGER NOT NULL DEFAULT 0,
    progress_percent REAL NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    result_path      TEXT,
    error            TEXT,
    meta_json        TEXT NOT NULL,
    timing_json      TEXT,
    attempt          INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    credits_charged  INTEGER NOT NULL DEFAULT 0,
    credits_refunded INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX jobs_user_created ON jobs (user_id, created_at);
CREATE INDEX jobs_status_created ON jobs (status, created_at);

-- One row per finished chunk; the first record wins. Progress is derived from these
-- rows, never from a counter that concurrent chunks could overwrite.
CREATE TABLE job_chunks (
    job_id            TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    chunk             INTEGER NOT NULL CHECK (chunk >= 0),
    rows              INTEGER NOT NULL,
    fallbacks         INTEGER NOT NULL,
    refundable        INTEGER NOT NULL,
    search_calls      INTEGER NOT NULL,
    llm_calls         INTEGER NOT NULL,
    cache_hits        INTEGER NOT NULL,
    retries           INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    millis            INTEGER NOT NULL,
    created_at        TEXT NOT NULL,
    PRIMARY KEY (job_id, chunk)
);

CREATE TABLE job_logs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id     TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step       INTEGER NOT NULL,
    total      INTEGER NOT NULL,
    message    TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE INDEX job_logs_job_id ON job_logs (job_id, id);

-- File metadata. Recording the same storage path twice (a finalize task delivered
-- twice) keeps the first row.
CREATE TABLE files (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL,
    job_id        TEXT REFERENCES jobs (id) ON DELETE CASCADE,
    original_name TEXT NOT NULL,
    storage_path  TEXT NOT NULL,
    file_type     TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    UNIQUE (user_id, storage_path)
);

CREATE INDEX files_job_id ON files (job_id);
