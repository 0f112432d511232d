-- Per-account campaign settings (`CampaignSettings`): push destinations with their API
-- keys sealed by the server (never stored in clear), the do-not-contact list (entries
-- normalised: `jane@acme.com` or `@acme.com`), and the outgoing webhook.

CREATE TABLE account_destinations (
    user_id    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    campaign   TEXT NOT NULL,
    sealed_key TEXT NOT NULL,
    key_hint   TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (user_id, kind)
);

CREATE TABLE account_suppressions (
    user_id    TEXT NOT NULL,
    entry      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, entry)
);

CREATE TABLE account_webhooks (
    user_id       TEXT PRIMARY KEY NOT NULL,
    url           TEXT NOT NULL,
    sealed_secret TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
