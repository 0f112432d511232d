-- Credits a refund or dispute took back but the balance could not cover (the balance
-- never goes below zero). The next credits the account receives pay this first, each
-- repayment written to the ledger as its own entry.
ALTER TABLE profiles ADD COLUMN credit_debt bigint NOT NULL DEFAULT 0 CHECK (credit_debt >= 0);
