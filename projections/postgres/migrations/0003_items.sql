-- Items, quantities and choosing on admission (issue 15). Rows from before
-- it keep their values: no items (no rows in items), no item on an entry.

ALTER TABLE {{schema}}.campaigns
  ADD COLUMN per_user_max       bigint NOT NULL DEFAULT 1,      -- most units one user may take in all
  ADD COLUMN choose             text NOT NULL DEFAULT '',       -- at_entry, on_admission; '' without items
  ADD COLUMN choose_s           bigint NOT NULL DEFAULT 0,      -- on_admission: seconds to choose
  ADD COLUMN admitted_choosing  bigint NOT NULL DEFAULT 0,      -- admitted, not chosen, not expired
  ADD COLUMN chosen             bigint NOT NULL DEFAULT 0,
  ADD COLUMN choices_expired    bigint NOT NULL DEFAULT 0;

-- One row per item of a campaign: its config and its counters, in units.
-- stock_left + taken - returned = stock + restocked.
CREATE TABLE {{schema}}.items (
  campaign      text NOT NULL,
  item_id       text NOT NULL,
  ordinal       integer NOT NULL,                 -- its place in the campaign's config, from 0
  label         text NOT NULL DEFAULT '',
  stock         bigint NOT NULL,                  -- units at creation
  per_user_max  bigint NOT NULL,                  -- 0: the campaign's
  stock_left    bigint NOT NULL,
  taken         bigint NOT NULL DEFAULT 0,        -- won: draws, choices, promotions
  returned      bigint NOT NULL DEFAULT 0,        -- given back or expired
  restocked     bigint NOT NULL DEFAULT 0,
  confirmed     bigint NOT NULL DEFAULT 0,
  waitlisted    bigint NOT NULL DEFAULT 0,        -- entries drawn onto this item's waitlist
  promoted      bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign, item_id)
);

-- entries.outcome gains admitted and choice_expired. item_id / quantity: what
-- the entry asked for at entry, or took by a choice; NULL without items.
ALTER TABLE {{schema}}.entries
  ADD COLUMN item_id       text,
  ADD COLUMN quantity      integer,
  ADD COLUMN choose_until  timestamptz;                -- an admission's choice deadline (kept once set)

ALTER TABLE {{schema}}.stock_changes
  ADD COLUMN item_id          text,                    -- with items: the item whose units changed
  ADD COLUMN item_stock_left  bigint;

-- "who booked slot X" (campaign, item, outcome), paginated by position.
CREATE INDEX entries_by_item ON {{schema}}.entries (campaign, item_id, outcome, position)
  WHERE item_id IS NOT NULL;
