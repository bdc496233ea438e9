-- Holds, confirmation, the waitlist, the at-close draw and the receipts of
-- issue 14. Rows from before it keep their values: no hold, instant draw.

ALTER TABLE {{schema}}.campaigns
  ADD COLUMN hold_s          bigint NOT NULL DEFAULT 0,         -- seconds a win holds its unit; 0: final
  ADD COLUMN draw            text NOT NULL DEFAULT 'instant',   -- instant, at_close
  ADD COLUMN entropy_source  text NOT NULL DEFAULT '',          -- the committed source, in words
  ADD COLUMN merkle_root     text,                              -- hex, from CampaignClosed
  ADD COLUMN merkle_leaves   bigint,
  ADD COLUMN entropy_value   text,                              -- the value revealed at close
  ADD COLUMN confirmed       bigint NOT NULL DEFAULT 0,
  ADD COLUMN expired         bigint NOT NULL DEFAULT 0,
  ADD COLUMN waitlisted      bigint NOT NULL DEFAULT 0,         -- drawn WAITLISTED, ever
  ADD COLUMN promoted        bigint NOT NULL DEFAULT 0;         -- current rank = waitlist_rank - promoted

-- entries.outcome gains confirmed, expired and waitlisted (a promoted entry is
-- won); decided_at / decided_sequence are those of the event that last
-- changed it (draw, cancellation, confirmation, expiry, promotion).
ALTER TABLE {{schema}}.entries
  ADD COLUMN hold_until      timestamptz,                       -- a held win's deadline (kept once set)
  ADD COLUMN confirmed_at    timestamptz,                       -- EntryConfirmed's time
  ADD COLUMN pass_id         text,                              -- the pass the confirmation named
  ADD COLUMN waitlist_rank   bigint,                            -- the place drawn at close (kept once promoted)
  ADD COLUMN promoted_at     timestamptz;

-- "the waitlist of campaign X, in order": only the entries still on it.
-- ("the confirmed of campaign X" is entries_by_outcome.)
CREATE INDEX entries_waitlist ON {{schema}}.entries (campaign, waitlist_rank)
  WHERE outcome = 'waitlisted';
