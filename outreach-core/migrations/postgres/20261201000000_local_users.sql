-- Password sign-in for servers without Supabase Auth (`LocalAccounts`); the same table
-- as migrations/sqlite. Named `local_users`, not `users`, so it is never confused with
-- Supabase's `auth.users` in a Supabase database.

CREATE TABLE local_users (
    id            text PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL
);
