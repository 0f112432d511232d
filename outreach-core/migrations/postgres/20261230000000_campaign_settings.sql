-- Per-account campaign settings (`CampaignSettings`); the same tables as
-- migrations/sqlite. API keys and webhook secrets are sealed by the server (AEAD)
-- before they reach the database.

CREATE TABLE account_destinations (
    user_id    text NOT NULL,
    kind       text NOT NULL,
    campaign   text NOT NULL,
    sealed_key text NOT NULL,
    key_hint   text NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, kind)
);

CREATE TABLE account_suppressions (
    user_id    text NOT NULL,
    entry      text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, entry)
);

CREATE TABLE account_webhooks (
    user_id       text PRIMARY KEY,
    url           text NOT NULL,
    sealed_secret text NOT NULL,
    updated_at    timestamptz NOT NULL
);
