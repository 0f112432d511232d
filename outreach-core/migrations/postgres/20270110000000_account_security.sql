-- Sign-out and password changes revoke tokens: a session token carries the account's
-- `token_version` and is refused once the version moved on. Free credits wait for a
-- verified email (`email_verified_at`). Accounts made before this migration were
-- granted their credits at sign-up, so they count as verified. (As migrations/sqlite.)

ALTER TABLE local_users
    ADD COLUMN token_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN email_verified_at timestamptz;
UPDATE local_users SET email_verified_at = created_at;
