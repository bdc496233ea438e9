-- The PostgreSQL read model of the ledger. {{schema}} is the schema the
-- migration is applied to: the live one, or a rebuild's until it is swapped in.

-- One row per campaign: its configuration and live counters.
CREATE TABLE {{schema}}.campaigns (
  campaign          text PRIMARY KEY,
  title             text NOT NULL DEFAULT '',
  stock             bigint NOT NULL DEFAULT 0,
  win_bps           integer NOT NULL DEFAULT 0,
  admission_rate_per_s integer NOT NULL DEFAULT 0,
  queueing          text NOT NULL DEFAULT 'fifo',
  seed_commitment   text NOT NULL DEFAULT '',
  seed              text,                      -- hex, once revealed
  status            text NOT NULL DEFAULT 'open',
  admission_paused  boolean NOT NULL DEFAULT false,
  entries           bigint NOT NULL DEFAULT 0, -- positions handed out
  serving           bigint NOT NULL DEFAULT 0, -- the serving counter
  stock_left        bigint NOT NULL DEFAULT 0,
  won               bigint NOT NULL DEFAULT 0,
  lost              bigint NOT NULL DEFAULT 0,
  sold_out          bigint NOT NULL DEFAULT 0,
  cancelled         bigint NOT NULL DEFAULT 0,
  restocked         bigint NOT NULL DEFAULT 0,
  rejected          bigint NOT NULL DEFAULT 0,
  prequeued         bigint NOT NULL DEFAULT 0,
  created_at        timestamptz,
  ledger_partition  integer NOT NULL,
  last_sequence     bigint NOT NULL            -- the last ledger sequence applied to this row
);

-- One row per queue position: who, and what the draw decided.
CREATE TABLE {{schema}}.entries (
  campaign          text NOT NULL,
  position          bigint NOT NULL,
  user_id           text NOT NULL,
  outcome           text,                      -- NULL while queued; won, lost, sold_out, cancelled
  draw_value        numeric(20, 0),            -- the 64-bit draw value
  entered_at        timestamptz NOT NULL,
  decided_at        timestamptz,
  ledger_partition  integer NOT NULL,
  entered_sequence  bigint NOT NULL,           -- ledger sequence of QueueEntered
  decided_sequence  bigint,                    -- ledger sequence of the DrawResolved / EntryCancelled
  PRIMARY KEY (campaign, position)
);
-- "winners of campaign X", paginated by position as the cursor.
CREATE INDEX entries_by_outcome ON {{schema}}.entries (campaign, outcome, position);
-- "what happened to user Y".
CREATE INDEX entries_by_user ON {{schema}}.entries (user_id, campaign);

-- Every stock change (restocks, cancellations of wins).
CREATE TABLE {{schema}}.stock_changes (
  ledger_partition  integer NOT NULL,
  sequence          bigint NOT NULL,
  campaign          text NOT NULL,
  delta             bigint NOT NULL,
  reason            text NOT NULL,
  stock_left        bigint NOT NULL,
  changed_at        timestamptz NOT NULL,
  PRIMARY KEY (ledger_partition, sequence)
);
CREATE INDEX stock_changes_by_campaign ON {{schema}}.stock_changes (campaign, sequence);

-- The projector's checkpoint per ledger partition, written in the same
-- transaction as the rows it accounts for.
CREATE TABLE {{schema}}.checkpoints (
  ledger_partition  integer PRIMARY KEY,
  next_offset       bigint NOT NULL,
  next_sequence     bigint NOT NULL
);
