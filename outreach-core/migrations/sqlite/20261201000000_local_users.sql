-- Password sign-in for servers without Supabase Auth (`LocalAccounts`). Credits and
-- plans stay in `profiles`, under the same id; no foreign key, because the profile is
-- created by the ledger port (and may be created first, by `outreach token`).
-- Emails are stored trimmed and lower-cased, so the unique index is case-insensitive.

CREATE TABLE local_users (
    id            TEXT PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
