-- When each node started, so that a node just started is not counted as up
-- before the router sends it anything (its health checks need a few rounds):
-- nodes with cluster routing place a table on the first node of its slot's
-- ranking among the nodes up (docs/design.md, "Where a table runs"). A node
-- sets it when it announces itself at start, and keeps `seen_at` fresh on its
-- keeper's schedule; a clean stop deletes the node's row.
ALTER TABLE nodes ADD COLUMN started_at TIMESTAMPTZ NOT NULL DEFAULT now();

-- The node a lease was released to (a hand-off: the table belongs on that
-- node now), cleared by the next take; so the node that takes it can tell a
-- hand-off from a takeover (pokerd_handoffs_total, pokerd_takeovers_total).
ALTER TABLE leases ADD COLUMN handed_to TEXT;
